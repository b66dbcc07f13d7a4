//go:build linux

package xfrm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DataPlane is an esp.DataPlane on the Linux kernel's XFRM. It is safe
// for concurrent use; netlink requests are serialised.
type DataPlane struct {
	cfg  config
	tags stateTags
	h    *netlink.Handle
	raw  map[int]*nl.SocketHandle
	mon  *nl.NetlinkSocket

	events  chan esp.Event
	dropped atomic.Uint64
	done    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex // guards everything below and orders netlink requests
	closed bool
	// kaConns are the sockets NAT keepalives leave through (WithNATKeepalive,
	// UseTransport); kaRunning says the keepalive goroutine was started.
	kaConns   []*net.UDPConn
	kaRunning bool
	sas       map[esp.SAID]*saEntry
	byKern    map[kernKey]*saEntry
	byReq     map[uint32][]*saEntry // in add order, newest last
	pols      map[polKey]*polEntry
	// shadow: per key, older policies of other ReqIDs with the same
	// selectors, oldest first; the kernel holds only the newest (pols).
	shadow map[polKey][]*polEntry
	byKSel map[kselKey]*polEntry
	polReq map[uint32][]*polEntry
}

// kernKey identifies a state in the kernel: destination, SPI (ESP).
type kernKey struct {
	dst netip.Addr
	spi uint32
}

type saEntry struct {
	id  esp.SAID
	sa  *esp.SA // our copy, keys included (needed to replace the state)
	seq uint64  // add order
	// lastKA is when the last NAT keepalive went out (initially: added).
	lastKA time.Time
	// Last-use tracking (see observeLocked).
	statSeen    bool
	statPackets uint64
	lastUse     time.Time
}

// observeLocked returns the SA's last use as SAStats reports it. XFRM's
// curlft.use_time is the time of the FIRST packet (it drives use-based
// lifetimes), useless for DPD and idle timeouts; so the data plane notes
// when it sees the packet counter move. LastUse is therefore at most one
// SAStats polling interval late, and errs towards "recently used", never
// towards "idle".
func (e *saEntry) observeLocked(st *saInfo, now time.Time) time.Time {
	if st.packets != e.statPackets || (!e.statSeen && st.packets > 0) {
		e.lastUse = now
	}
	e.statSeen, e.statPackets = true, st.packets
	return e.lastUse
}

// polKey identifies a policy like the kernel does: direction, selectors
// and (effective) interface ID, so identical selectors on different
// xfrm interfaces are different policies.
type polKey struct {
	dir      esp.Direction
	src, dst esp.Selector
	ifID     uint32
}

type kselKey struct {
	dir  uint8
	sel  kselector
	ifID uint32
}

type polEntry struct {
	p     esp.Policy
	ifID  uint32      // p.IfID, or the data plane's default
	ksels []kselector // one kernel policy (per direction) each
	tmpl  tmplInfo
	fwd   bool // a forward policy was installed beside the inbound one
}

// tmplInfo is the template a protect policy currently carries.
type tmplInfo struct {
	mode     esp.Mode
	src, dst netip.Addr // zero: wildcard of family fam
	fam      uint16
}

var addSeq atomic.Uint64

// New opens netlink sockets (in the namespace of WithNetNS, if given),
// subscribes to the XFRM expire and acquire groups and, with
// WithRemoveStale, deletes the state an earlier instance left behind.
func New(opts ...Option) (*DataPlane, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &DataPlane{
		cfg:    cfg,
		tags:   stateTags{ifID: cfg.ifID, markValue: cfg.markValue, markMask: cfg.markMask},
		events: make(chan esp.Event, cfg.eventBuffer),
		done:   make(chan struct{}),
		sas:    map[esp.SAID]*saEntry{},
		byKern: map[kernKey]*saEntry{},
		byReq:  map[uint32][]*saEntry{},
		pols:   map[polKey]*polEntry{},
		shadow: map[polKey][]*polEntry{},
		byKSel: map[kselKey]*polEntry{},
		polReq: map[uint32][]*polEntry{},
	}
	var err error
	d.h, err = netlink.NewHandleAt(cfg.ns, unix.NETLINK_XFRM)
	if err != nil {
		return nil, fmt.Errorf("xfrm: netlink: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(cfg.ns, netns.None(), unix.NETLINK_XFRM)
	if err != nil {
		d.h.Close()
		return nil, fmt.Errorf("xfrm: netlink: %w", err)
	}
	d.raw = map[int]*nl.SocketHandle{unix.NETLINK_XFRM: {Socket: s}}
	d.mon, err = nl.SubscribeAt(cfg.ns, netns.None(), unix.NETLINK_XFRM, nl.XFRMNLGRP_ACQUIRE, nl.XFRMNLGRP_EXPIRE)
	if err != nil {
		d.h.Close()
		s.Close()
		return nil, fmt.Errorf("xfrm: subscribing to XFRM events: %w", err)
	}
	// Expiry bursts (a gateway's SAs added at once expire at once) must
	// not overflow the socket; ENOBUFS is still handled below.
	_ = d.mon.SetReceiveBufferSize(1<<20, false)
	if cfg.removeStale {
		if err := d.removeStale(); err != nil {
			d.closeSockets()
			return nil, err
		}
	}
	d.wg.Add(1)
	go d.readEvents()
	d.mu.Lock()
	d.kaConns = append(d.kaConns, cfg.kaConns...)
	d.startKeepalivesLocked()
	d.mu.Unlock()
	return d, nil
}

func (d *DataPlane) closeSockets() {
	d.h.Close()
	d.raw[unix.NETLINK_XFRM].Close()
	d.mon.Close()
}

// request sends one raw XFRM request and returns the replies of type
// resType (0 = just the acknowledgement).
func (d *DataPlane) request(typ uint16, flags int, payload []byte, resType uint16) ([][]byte, error) {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: typ, Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  d.raw,
	}
	req.AddRawData(payload)
	msgs, err := req.Execute(unix.NETLINK_XFRM, resType)
	clear(req.RawData) // may hold keys
	return msgs, err
}

// saError maps a netlink error of a state operation.
func saError(op string, id esp.SAID, err error) error {
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("xfrm: %s %s: %w", op, id, esp.ErrSAExists)
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("xfrm: %s %s: %w", op, id, esp.ErrSANotFound)
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("xfrm: %s %s: kernel lacks an algorithm or module (%w)", op, id, err)
	}
	return fmt.Errorf("xfrm: %s %s: %w", op, id, err)
}

// regKey is the registry key: inbound SAs are unique by SPI (we allocate
// them), outbound ones by SPI and destination.
func regKey(id esp.SAID) esp.SAID {
	if id.Dir == esp.DirIn {
		id.Dst = netip.Addr{}
	}
	return id
}

func checkSA(sa *esp.SA) error {
	switch {
	case sa == nil:
		return errors.New("xfrm: nil SA")
	case sa.Dir != esp.DirIn && sa.Dir != esp.DirOut:
		return fmt.Errorf("xfrm: SA 0x%08x: invalid direction %d", sa.SPI, sa.Dir)
	case sa.Mode != esp.ModeTunnel && sa.Mode != esp.ModeTransport:
		return fmt.Errorf("xfrm: SA 0x%08x: invalid mode %d", sa.SPI, sa.Mode)
	case sa.SPI < 256:
		// RFC 4303 section 2.1: SPIs 1-255 are reserved, 0 is local use.
		return fmt.Errorf("xfrm: SA 0x%08x: SPI values 0-255 are reserved (RFC 4303 section 2.1)", sa.SPI)
	case !sa.Src.Addr().IsValid() || !sa.Dst.Addr().IsValid():
		return fmt.Errorf("xfrm: SA 0x%08x: outer source and destination addresses are required", sa.SPI)
	case sa.Src.Addr().Unmap().Is4() != sa.Dst.Addr().Unmap().Is4():
		return fmt.Errorf("xfrm: SA 0x%08x: outer addresses of different families", sa.SPI)
	case (sa.Src.Port() == 0) != (sa.Dst.Port() == 0):
		return fmt.Errorf("xfrm: SA 0x%08x: UDP encapsulation needs both ports", sa.SPI)
	}
	return nil
}

func cloneSA(sa *esp.SA) *esp.SA {
	c := *sa
	c.EncrKey = append([]byte(nil), sa.EncrKey...)
	c.IntegKey = append([]byte(nil), sa.IntegKey...)
	c.Src = netip.AddrPortFrom(sa.Src.Addr().Unmap(), sa.Src.Port())
	c.Dst = netip.AddrPortFrom(sa.Dst.Addr().Unmap(), sa.Dst.Port())
	return &c
}

func wipe(sa *esp.SA) {
	clear(sa.EncrKey)
	clear(sa.IntegKey)
}

// AddSA implements esp.DataPlane.
func (d *DataPlane) AddSA(ctx context.Context, sa *esp.SA) error {
	if err := checkSA(sa); err != nil {
		return err
	}
	if !d.cfg.reqIDAllowed(sa.ReqID) {
		return fmt.Errorf("xfrm: SA 0x%08x: ReqID %d outside WithReqIDRange %d-%d", sa.SPI, sa.ReqID, d.cfg.reqMin, d.cfg.reqMax)
	}
	if !d.cfg.ifIDAllowed(sa.IfID) {
		return fmt.Errorf("xfrm: SA 0x%08x: if_id %d not allowed: %s", sa.SPI, sa.IfID, d.cfg.ifIDRangeString())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := cloneSA(sa)
	algs, err := kernelAlgs(c)
	if err != nil {
		return fmt.Errorf("xfrm: SA 0x%08x: %w", sa.SPI, err)
	}
	tags := d.tagsFor(c)
	msg, err := encodeState(c, algs, &tags)
	if err != nil {
		return err
	}
	defer clear(msg)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	id := c.ID()
	if _, ok := d.sas[regKey(id)]; ok {
		wipe(c)
		return fmt.Errorf("xfrm: add %s: %w", id, esp.ErrSAExists)
	}
	if _, err := d.request(msgNewSA, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg, 0); err != nil {
		wipe(c)
		return saError("add", id, err)
	}
	e := &saEntry{id: id, sa: c, seq: addSeq.Add(1)}
	if len(d.kaConns) > 0 && c.Dir == esp.DirOut && c.NATKeepalive {
		e.lastKA = time.Now() // the first keepalive is due an interval after the add
	}
	d.sas[regKey(id)] = e
	d.byKern[kernKey{id.Dst, id.SPI}] = e
	d.byReq[c.ReqID] = append(d.byReq[c.ReqID], e)
	d.cfg.logger.Debug("xfrm state added", "child_sa", c)
	return d.resyncLocked(c.ReqID)
}

// UpdateSA implements esp.DataPlane. Ports and lifetimes change in place;
// a new outer address or a switch between raw ESP and ESP in UDP
// replaces the state, keeping its sequence numbers, replay window and
// counters.
func (d *DataPlane) UpdateSA(ctx context.Context, id esp.SAID, sa *esp.SA) error {
	if err := checkSA(sa); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	e, ok := d.sas[regKey(id)]
	if !ok {
		return fmt.Errorf("xfrm: update %s: %w", id, esp.ErrSANotFound)
	}
	old := e.sa
	if sa.SPI != old.SPI || sa.Dir != old.Dir || sa.Mode != old.Mode || sa.Encr != old.Encr ||
		sa.EncrKeyBits != old.EncrKeyBits || sa.Integ != old.Integ || sa.ESN != old.ESN {
		// As esp.Userspace: keys, ReqID and IfID are taken from the
		// installed SA, the rest must match it.
		return fmt.Errorf("xfrm: update %s: algorithms, ESN and mode cannot change (rekey instead)", id)
	}
	n := cloneSA(old)
	n.Src, n.Dst = sa.Src, sa.Dst
	n.Src = netip.AddrPortFrom(sa.Src.Addr().Unmap(), sa.Src.Port())
	n.Dst = netip.AddrPortFrom(sa.Dst.Addr().Unmap(), sa.Dst.Port())
	n.Lifetime, n.NATKeepalive = sa.Lifetime, sa.NATKeepalive
	algs, err := kernelAlgs(n)
	if err != nil {
		wipe(n)
		return err
	}
	tags := d.tagsFor(n)
	msg, err := encodeState(n, algs, &tags)
	if err != nil {
		wipe(n)
		return err
	}
	defer clear(msg)
	inPlace := n.Src.Addr() == old.Src.Addr() && n.Dst.Addr() == old.Dst.Addr() && n.UDPEncap() == old.UDPEncap()
	if inPlace {
		if _, err := d.request(msgUpdSA, unix.NLM_F_ACK, msg, 0); err != nil {
			wipe(n)
			return saError("update", id, err)
		}
	} else if err := d.replaceLocked(old, n, msg); err != nil {
		wipe(n)
		return err
	}
	delete(d.byKern, kernKey{old.Dst.Addr(), old.SPI})
	delete(d.sas, regKey(e.id))
	wipe(old)
	e.sa, e.id = n, n.ID()
	d.sas[regKey(e.id)] = e
	d.byKern[kernKey{e.id.Dst, e.id.SPI}] = e
	return d.resyncLocked(n.ReqID)
}

// replaceLocked swaps the kernel state of old for n (encoded in msg):
// XFRM cannot change a state's addresses in place (they are its key).
func (d *DataPlane) replaceLocked(old, n *esp.SA, msg []byte) error {
	id := old.ID()
	st, err := d.getStateLocked(old.Dst.Addr(), old.SPI)
	if err != nil {
		return saError("update", id, err)
	}
	sameKey := old.Dst.Addr() == n.Dst.Addr()
	if sameKey {
		// Same destination and SPI: the new state can only be added
		// once the old one is gone.
		if err := d.delStateLocked(old.Dst.Addr(), old.SPI); err != nil {
			return saError("update", id, err)
		}
	}
	if _, err := d.request(msgNewSA, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg, 0); err != nil {
		if sameKey {
			d.restoreLocked(old, st)
		}
		return saError("update", id, err)
	}
	tags := d.tagsFor(n)
	ae := encodeNewAE(n.Dst.Addr(), n.Src.Addr(), n.SPI, n.ReqID, &tags, st)
	if _, err := d.request(msgNewAE, unix.NLM_F_REPLACE|unix.NLM_F_ACK, ae, 0); err != nil {
		// Without the old sequence numbers the peer would drop our
		// packets as replays; do not leave such a state behind.
		_ = d.delStateLocked(n.Dst.Addr(), n.SPI)
		if sameKey {
			d.restoreLocked(old, st)
		}
		return saError("update (carrying over the replay state)", id, err)
	}
	if !sameKey {
		if err := d.delStateLocked(old.Dst.Addr(), old.SPI); err != nil && !errors.Is(err, unix.ESRCH) {
			d.cfg.logger.Warn("xfrm: removing replaced state", "child_sa", id.String(), "err", err)
		}
	}
	return nil
}

// restoreLocked re-adds old after a failed replacement, best effort.
func (d *DataPlane) restoreLocked(old *esp.SA, st *saInfo) {
	algs, err := kernelAlgs(old)
	if err != nil {
		return
	}
	tags := d.tagsFor(old)
	msg, err := encodeState(old, algs, &tags)
	if err != nil {
		return
	}
	defer clear(msg)
	if _, err := d.request(msgNewSA, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg, 0); err != nil {
		d.cfg.logger.Warn("xfrm: restoring state after failed update", "child_sa", old.ID().String(), "err", err)
		return
	}
	ae := encodeNewAE(old.Dst.Addr(), old.Src.Addr(), old.SPI, old.ReqID, &tags, st)
	_, _ = d.request(msgNewAE, unix.NLM_F_REPLACE|unix.NLM_F_ACK, ae, 0)
}

// tagsFor returns the tags of sa's state: its own interface ID, or the
// data plane's default, and the data plane's mark.
func (d *DataPlane) tagsFor(sa *esp.SA) stateTags {
	t := d.tags
	t.ifID = d.cfg.effIfID(sa.IfID)
	return t
}

// getStateLocked and delStateLocked look states up by mark, destination
// and SPI, as the kernel does (xfrm_state_lookup ignores the interface
// ID), so the data plane's default tags serve for every SA.
func (d *DataPlane) getStateLocked(dst netip.Addr, spi uint32) (*saInfo, error) {
	msgs, err := d.request(msgGetSA, unix.NLM_F_ACK, encodeSAID(dst, spi, &d.tags), msgNewSA)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, unix.ESRCH
	}
	defer clear(msgs[0]) // the reply carries the keys
	return parseSAInfo(msgs[0], sizeofUsersaInfo)
}

func (d *DataPlane) delStateLocked(dst netip.Addr, spi uint32) error {
	_, err := d.request(msgDelSA, unix.NLM_F_ACK, encodeSAID(dst, spi, &d.tags), 0)
	return err
}

// DeleteSA implements esp.DataPlane.
func (d *DataPlane) DeleteSA(ctx context.Context, id esp.SAID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	e, ok := d.sas[regKey(id)]
	if !ok {
		return fmt.Errorf("xfrm: delete %s: %w", id, esp.ErrSANotFound)
	}
	err := d.delStateLocked(e.sa.Dst.Addr(), e.sa.SPI)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return saError("delete", id, err)
	}
	d.forgetLocked(e)
	if err != nil {
		// The kernel removed it already (hard expiry racing with us).
		return fmt.Errorf("xfrm: delete %s: %w", id, esp.ErrSANotFound)
	}
	return d.resyncLocked(e.sa.ReqID)
}

// forgetLocked drops e from the registry.
func (d *DataPlane) forgetLocked(e *saEntry) {
	delete(d.sas, regKey(e.id))
	delete(d.byKern, kernKey{e.id.Dst, e.id.SPI})
	removeIndexed(d.byReq, e.sa.ReqID, e)
	wipe(e.sa)
}

// removeIndexed deletes v from the list m[k], and the key with its last
// element.
func removeIndexed[K, V comparable](m map[K][]V, k K, v V) {
	l := m[k]
	for i, x := range l {
		if x == v {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
	}
}

// SAStats implements esp.DataPlane from XFRM_MSG_GETSA: curlft bytes,
// packets and use time, the replay and integrity failure counters, and
// the sequence numbers from XFRMA_REPLAY_ESN_VAL or XFRMA_REPLAY_VAL.
func (d *DataPlane) SAStats(id esp.SAID) (esp.SAStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.SAStats{}, esp.ErrClosed
	}
	e, ok := d.sas[regKey(id)]
	if !ok {
		return esp.SAStats{}, fmt.Errorf("xfrm: stats %s: %w", id, esp.ErrSANotFound)
	}
	st, err := d.getStateLocked(e.sa.Dst.Addr(), e.sa.SPI)
	if err != nil {
		return esp.SAStats{}, saError("stats", id, err)
	}
	s := esp.SAStats{
		Bytes:        st.bytes,
		Packets:      st.packets,
		ReplayDrops:  uint64(st.replayFail),
		AuthFailures: uint64(st.integrityFail),
		Seq:          st.seq,
	}
	if e.sa.Dir == esp.DirOut {
		s.Seq = st.oseq
		// Inbound failures are meaningless on an outbound state.
		s.ReplayDrops, s.AuthFailures = 0, 0
	}
	s.LastUse = e.observeLocked(st, time.Now())
	return s, nil
}

// Events implements esp.DataPlane.
func (d *DataPlane) Events() <-chan esp.Event { return d.events }

// EventsDropped returns how many events were dropped because the reader
// of Events fell behind or the kernel's netlink queue overflowed.
func (d *DataPlane) EventsDropped() uint64 { return d.dropped.Load() }

// Close implements esp.DataPlane: it removes every policy and state this
// data plane installed (and nothing else), stops the event reader and
// closes Events.
func (d *DataPlane) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var errs []error
	for _, pe := range d.pols {
		if err := d.delPolicyLocked(pe); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range d.sas {
		if err := d.delStateLocked(e.sa.Dst.Addr(), e.sa.SPI); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, saError("delete", e.id, err))
		}
		wipe(e.sa)
	}
	clear(d.sas)
	clear(d.pols)
	clear(d.shadow)
	d.mu.Unlock()
	close(d.done)
	d.mon.Close()
	d.wg.Wait()
	d.h.Close()
	d.raw[unix.NETLINK_XFRM].Close()
	close(d.events)
	return errors.Join(errs...)
}

// startKeepalivesLocked starts the keepalive goroutine once there is a
// socket to send on.
func (d *DataPlane) startKeepalivesLocked() {
	if d.kaRunning || len(d.kaConns) == 0 || d.cfg.kaInterval <= 0 {
		return
	}
	d.kaRunning = true
	d.wg.Add(1)
	go d.keepalives()
}

// keepalives sends NAT keepalives (RFC 3948 section 2.3) for idle
// outbound ESP-in-UDP SAs that ask for them, until Close.
func (d *DataPlane) keepalives() {
	defer d.wg.Done()
	iv := d.cfg.kaInterval
	t := time.NewTicker(max(iv/4, 10*time.Millisecond))
	defer t.Stop()
	ka := []byte{0xff}
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
		}
		now := time.Now()
		var due []netip.AddrPort
		d.mu.Lock()
		conns := d.kaConns
		for _, e := range d.sas {
			if e.sa.Dir != esp.DirOut || !e.sa.NATKeepalive || !e.sa.UDPEncap() || now.Sub(e.lastKA) < iv {
				continue
			}
			// Traffic keeps the NAT mapping alive as well as a keepalive:
			// only idle SAs need one.
			if st, err := d.getStateLocked(e.sa.Dst.Addr(), e.sa.SPI); err == nil {
				if used := e.observeLocked(st, now); !used.IsZero() && now.Sub(used) < iv {
					continue
				}
			}
			e.lastKA = now
			due = append(due, e.sa.Dst)
		}
		d.mu.Unlock()
		for _, to := range due {
			if _, err := keepaliveConn(conns, to.Addr()).WriteToUDPAddrPort(ka, to); err != nil {
				d.cfg.logger.Warn("xfrm: NAT keepalive", "peer", to.String(), "err", err)
			}
		}
	}
}

// keepaliveConn picks the socket a keepalive to dst leaves through: the
// first bound to an address of dst's family (an IPv6 wildcard socket
// serves IPv4 too unless it is IPv6-only, which the kernel then reports as
// a send error), else the first.
func keepaliveConn(conns []*net.UDPConn, dst netip.Addr) *net.UDPConn {
	for _, c := range conns {
		la, ok := c.LocalAddr().(*net.UDPAddr)
		if ok && (la.IP.To4() != nil) == dst.Unmap().Is4() {
			return c
		}
	}
	return conns[0]
}

// emit queues an event without blocking.
func (d *DataPlane) emit(e esp.Event) {
	select {
	case d.events <- e:
	default:
		d.dropped.Add(1)
	}
}
