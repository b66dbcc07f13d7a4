// Package iketest provides test doubles for the ike package: an in-memory
// network of IKE endpoints with loss, duplication, reordering and delay
// knobs, a deterministic random source, and a data plane that records
// what the engine installs. Under testing/synctest the delays run on the
// bubble's virtual clock, so exchange ladders with retransmissions run in
// microseconds.
package iketest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
)

// Network connects Endpoints by address. The zero knobs give a perfect
// network; set them before traffic starts.
type Network struct {
	// Loss, Duplicate and Reorder are probabilities (0..1) applied to each
	// packet: dropped, delivered twice, or delayed by an extra random
	// amount up to 3*Delay (at least 10 ms).
	Loss, Duplicate, Reorder float64
	// Delay is added to every delivery (0: delivered synchronously).
	Delay  time.Duration
	filter atomic.Pointer[func(p *ike.Packet) bool]

	mu        sync.Mutex
	rnd       *rand.Rand
	endpoints map[netip.Addr]*Endpoint
	nats      map[netip.Addr]netip.Addr         // private -> public address
	natOut    map[netip.AddrPort]netip.AddrPort // private -> public mapping
	natIn     map[netip.AddrPort]netip.AddrPort // public -> private mapping
	natPort   uint16
	sent      atomic.Uint64
	dropped   atomic.Uint64
}

// AddAddr gives endpoint e the further address addr (a second interface,
// or a new network it moved to): packets to addr reach e.
func (n *Network) AddAddr(e *Endpoint, addr netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.endpoints[addr] = e
}

// RemoveAddr takes addr off the network: packets to it are dropped.
func (n *Network) RemoveAddr(addr netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.endpoints, addr)
}

// NAT puts the host address private behind a NAT with the outside address
// public: packets from private leave with source public and a mapped port
// (one mapping per private address and port, as a NAT with endpoint-
// independent mapping keeps), and packets to a mapped public port are
// delivered to the private address and port behind it.
func (n *Network) NAT(private, public netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nats == nil {
		n.nats, n.natOut, n.natIn, n.natPort = map[netip.Addr]netip.Addr{}, map[netip.AddrPort]netip.AddrPort{}, map[netip.AddrPort]netip.AddrPort{}, 40000
	}
	n.nats[private] = public
}

// translate applies the NAT to a packet's source and destination; n.mu
// is held.
func (n *Network) translate(src, dst netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	if pub, ok := n.nats[src.Addr()]; ok {
		m, ok := n.natOut[src]
		if !ok {
			n.natPort++
			m = netip.AddrPortFrom(pub, n.natPort)
			n.natOut[src], n.natIn[m] = m, src
		}
		src = m
	}
	if priv, ok := n.natIn[dst]; ok {
		dst = priv
	}
	return src, dst
}

// NewNetwork returns a network whose random decisions follow seed.
func NewNetwork(seed uint64) *Network {
	return &Network{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), endpoints: map[netip.Addr]*Endpoint{}}
}

// SetFilter installs f, which sees every packet before the knobs;
// returning false drops it. It may modify p.Data in place. It may be
// called while traffic flows; nil removes the filter.
func (n *Network) SetFilter(f func(p *ike.Packet) bool) {
	if f == nil {
		n.filter.Store(nil)
		return
	}
	n.filter.Store(&f)
}

// Endpoint is one host: an ike.Conn on ports 500 and 4500 of addr. Like
// ike.Transport, it routes what arrives with an ike.Router, so a
// Responder and Initiators can share it.
type Endpoint struct {
	n      *Network
	addr   netip.Addr
	router ike.Router
}

// Endpoint returns the host with address addr, creating it.
func (n *Network) Endpoint(addr netip.Addr) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.endpoints[addr]; e != nil {
		return e
	}
	e := &Endpoint{n: n, addr: addr}
	n.endpoints[addr] = e
	return e
}

// Stats returns how many packets were sent and dropped.
func (n *Network) Stats() (sent, dropped uint64) { return n.sent.Load(), n.dropped.Load() }

// Addr returns the endpoint's address.
func (e *Endpoint) Addr() netip.Addr { return e.addr }

// Ports implements ike.Conn.
func (e *Endpoint) Ports() (uint16, uint16) { return ike.PortIKE, ike.PortNATT }

// LocalAddrs reports the endpoint's address on both ports.
func (e *Endpoint) LocalAddrs() []netip.AddrPort {
	return []netip.AddrPort{netip.AddrPortFrom(e.addr, ike.PortIKE), netip.AddrPortFrom(e.addr, ike.PortNATT)}
}

// Register implements ike.Conn.
func (e *Endpoint) Register(h ike.PacketHandler) (*ike.Registration, error) {
	return e.router.Register(h)
}

// Send implements ike.Conn: the packet reaches the endpoint at p.Remote.
func (e *Endpoint) Send(p ike.Packet) error {
	n := e.n
	n.sent.Add(1)
	src := p.Local
	if !src.Addr().IsValid() || src.Addr().IsUnspecified() {
		src = netip.AddrPortFrom(e.addr, src.Port())
	}
	n.mu.Lock()
	src, to := n.translate(src, p.Remote)
	n.mu.Unlock()
	out := ike.Packet{Data: append([]byte(nil), p.Data...), Local: to, Remote: src}
	if f := n.filter.Load(); f != nil && !(*f)(&out) {
		n.dropped.Add(1)
		return nil
	}
	n.mu.Lock()
	dst := n.endpoints[to.Addr()]
	lost := n.Loss > 0 && n.rnd.Float64() < n.Loss
	dup := n.Duplicate > 0 && n.rnd.Float64() < n.Duplicate
	delay := n.Delay
	if n.Reorder > 0 && n.rnd.Float64() < n.Reorder {
		delay += time.Duration(n.rnd.Int64N(int64(3 * max(n.Delay, 10*time.Millisecond))))
	}
	n.mu.Unlock()
	if dst == nil || lost {
		n.dropped.Add(1)
		return nil
	}
	copies := 1
	if dup {
		copies = 2
	}
	for range copies {
		pkt := ike.Packet{Data: append([]byte(nil), out.Data...), Local: out.Local, Remote: out.Remote}
		if delay == 0 {
			dst.receive(pkt)
		} else {
			time.AfterFunc(delay, func() { dst.receive(pkt) })
		}
	}
	return nil
}

func (e *Endpoint) receive(p ike.Packet) { e.router.Route(p) }

// Rand is a deterministic io.Reader for ike.WithRand: the same seed gives
// the same nonces, SPIs and keys. Safe for concurrent use.
type Rand struct {
	mu  sync.Mutex
	rnd *rand.ChaCha8
}

// NewRand returns a deterministic random source.
func NewRand(seed byte) *Rand {
	var s [32]byte
	s[0] = seed
	return &Rand{rnd: rand.NewChaCha8(s)}
}

// Read fills p.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rnd.Read(p)
}

// DataPlane is an esp.DataPlane that records SAs and policies in memory.
type DataPlane struct {
	mu       sync.Mutex
	sas      map[esp.SAID]esp.SA
	stats    map[esp.SAID]*saStats
	policies map[string]esp.Policy
	events   chan esp.Event
	adds     int
	// totalIn and totalOut count every packet Transmit counted, in SAs
	// since deleted too (Totals).
	totalIn, totalOut esp.SAStats
}

// saStats are an SA's simulated traffic counters and install order.
type saStats struct {
	esp.SAStats
	seq int
}

// NewDataPlane returns an empty recording data plane.
func NewDataPlane() *DataPlane {
	return &DataPlane{sas: map[esp.SAID]esp.SA{}, stats: map[esp.SAID]*saStats{}, policies: map[string]esp.Policy{}, events: make(chan esp.Event, 16)}
}

// ErrLost is what Transmit returns for a packet the receiver cannot
// decrypt.
var ErrLost = errors.New("iketest: packet lost: the receiver has no matching inbound SA")

// Transmit simulates one packet of size bytes leaving d through the
// outbound SA a real data plane would use (the newest one with ReqID
// reqid, or of any ReqID if reqid is 0) and arriving at peer. It returns
// ErrLost if peer has no inbound SA with that SPI, algorithms and keys,
// and an error if d has no outbound SA. The counters and last-use times
// of both SAs advance, as SAStats then reports.
func (d *DataPlane) Transmit(peer *DataPlane, reqid uint32, size int) error {
	d.mu.Lock()
	var (
		out   esp.SA
		outSt *saStats
	)
	for id, s := range d.sas {
		if id.Dir != esp.DirOut || (reqid != 0 && s.ReqID != reqid) {
			continue
		}
		if st := d.stats[id]; outSt == nil || st.seq > outSt.seq {
			out, outSt = s, st
		}
	}
	if outSt == nil {
		d.mu.Unlock()
		return fmt.Errorf("iketest: no outbound SA with ReqID %d", reqid)
	}
	now := time.Now()
	outSt.Bytes += uint64(size)
	outSt.Packets++
	outSt.LastUse = now
	d.totalOut.Bytes += uint64(size)
	d.totalOut.Packets++
	d.totalOut.LastUse = now
	d.mu.Unlock()

	peer.mu.Lock()
	defer peer.mu.Unlock()
	var (
		id esp.SAID
		in esp.SA
		ok bool
	)
	for pid, s := range peer.sas {
		if pid.Dir == esp.DirIn && pid.SPI == out.SPI {
			id, in, ok = pid, s, true
		}
	}
	if !ok || in.Encr != out.Encr || in.Integ != out.Integ || !bytes.Equal(in.EncrKey, out.EncrKey) || !bytes.Equal(in.IntegKey, out.IntegKey) {
		return ErrLost
	}
	st := peer.stats[id]
	st.Bytes += uint64(size)
	st.Packets++
	st.LastUse = now
	peer.totalIn.Bytes += uint64(size)
	peer.totalIn.Packets++
	peer.totalIn.LastUse = now
	return nil
}

// Totals returns what the data plane has counted since it was made, over
// all its SAs, the deleted ones included: the traffic an IKE engine's
// accounting must add up to across rekeys. A packet sent and lost counts
// as sent (out), as it does in the outbound SA's counters.
func (d *DataPlane) Totals() (in, out esp.SAStats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.totalIn, d.totalOut
}

// policyKey identifies a policy as esp.DataPlane does: by direction,
// selectors and ReqID (identical selectors of two SAs coexist).
func policyKey(p esp.Policy) string {
	return fmt.Sprintf("%s|%s|%s|%d", p.Dir, p.Src, p.Dst, p.ReqID)
}

// AddSA implements esp.DataPlane.
func (d *DataPlane) AddSA(_ context.Context, sa *esp.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sas[sa.ID()]; ok {
		return esp.ErrSAExists
	}
	c := *sa
	c.EncrKey = append([]byte(nil), sa.EncrKey...)
	c.IntegKey = append([]byte(nil), sa.IntegKey...)
	d.sas[sa.ID()] = c
	d.adds++
	d.stats[sa.ID()] = &saStats{seq: d.adds}
	return nil
}

// UpdateSA implements esp.DataPlane.
func (d *DataPlane) UpdateSA(_ context.Context, id esp.SAID, sa *esp.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.sas[id]
	if !ok {
		return esp.ErrSANotFound
	}
	old.Src, old.Dst, old.NATKeepalive, old.Lifetime = sa.Src, sa.Dst, sa.NATKeepalive, sa.Lifetime
	// An outbound SA's ID holds its destination, which may have moved.
	st := d.stats[id]
	delete(d.sas, id)
	delete(d.stats, id)
	d.sas[old.ID()], d.stats[old.ID()] = old, st
	return nil
}

// DeleteSA implements esp.DataPlane.
func (d *DataPlane) DeleteSA(_ context.Context, id esp.SAID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sas[id]; !ok {
		return esp.ErrSANotFound
	}
	delete(d.sas, id)
	delete(d.stats, id)
	return nil
}

// AddPolicy implements esp.DataPlane.
func (d *DataPlane) AddPolicy(_ context.Context, p esp.Policy) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := policyKey(p)
	if _, ok := d.policies[k]; ok {
		return esp.ErrPolicyExists
	}
	d.policies[k] = p
	return nil
}

// DeletePolicy implements esp.DataPlane.
func (d *DataPlane) DeletePolicy(_ context.Context, p esp.Policy) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := policyKey(p)
	if _, ok := d.policies[k]; !ok {
		return esp.ErrPolicyNotFound
	}
	delete(d.policies, k)
	return nil
}

// SAStats implements esp.DataPlane: the counters of simulated traffic
// (Transmit), zero without any.
func (d *DataPlane) SAStats(id esp.SAID) (esp.SAStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.stats[id]
	if !ok {
		return esp.SAStats{}, esp.ErrSANotFound
	}
	return st.SAStats, nil
}

// Events implements esp.DataPlane.
func (d *DataPlane) Events() <-chan esp.Event { return d.events }

// Close implements esp.DataPlane.
func (d *DataPlane) Close() error { return nil }

// SAs returns copies of the installed SAs.
func (d *DataPlane) SAs() []esp.SA {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]esp.SA, 0, len(d.sas))
	for _, s := range d.sas {
		out = append(out, s)
	}
	return out
}

// Policies returns copies of the installed policies.
func (d *DataPlane) Policies() []esp.Policy {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]esp.Policy, 0, len(d.policies))
	for _, p := range d.policies {
		out = append(out, p)
	}
	return out
}

// SA returns the installed SA with the given SPI and direction.
func (d *DataPlane) SA(spi uint32, dir esp.Direction) (esp.SA, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, s := range d.sas {
		if id.SPI == spi && id.Dir == dir {
			return s, true
		}
	}
	return esp.SA{}, false
}

// SPIBytes formats an SPI for messages.
func SPIBytes(spi uint32) []byte { return binary.BigEndian.AppendUint32(nil, spi) }

// Emit delivers an event as if the data plane had raised it (an SA
// reaching its soft or hard lifetime, for example).
func (d *DataPlane) Emit(ev esp.Event) { d.events <- ev }

// Expire raises the expiry event of the installed SA id with its
// counters, as a real data plane does; a hard expiry first removes the SA
// (its counters stay in Totals). It reports whether id was installed.
func (d *DataPlane) Expire(id esp.SAID, hard bool) bool {
	ev, ok := d.expire(id, hard)
	if ok {
		d.events <- ev
	}
	return ok
}

// ExpireLate removes the installed SA id at its hard lifetime, like
// Expire(id, true), but holds its expiry event back until deliver is
// called: the order in which a kernel may report it, after the IKE side
// went on (deleted the CHILD SA, say) without the SA's counters. It
// reports whether id was installed; deliver is nil if not.
func (d *DataPlane) ExpireLate(id esp.SAID) (deliver func(), ok bool) {
	ev, ok := d.expire(id, true)
	if !ok {
		return nil, false
	}
	return func() { d.events <- ev }, true
}

// expire makes the expiry event of id and, for a hard expiry, removes
// the SA.
func (d *DataPlane) expire(id esp.SAID, hard bool) (esp.Event, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sas[id]
	if !ok {
		return esp.Event{}, false
	}
	ev := esp.Event{Kind: esp.EventSoftExpire, SA: id, ReqID: s.ReqID, Stats: d.stats[id].SAStats}
	if hard {
		ev.Kind = esp.EventHardExpire
		delete(d.sas, id)
		delete(d.stats, id)
	}
	return ev, true
}
