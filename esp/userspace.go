package esp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec/internal/sockio"
)

// Userspace is the userspace ESP data plane: it reads clear-text packets
// from a TUN device, protects them per policy and sends them as ESP in
// UDP or raw ESP, and the reverse for packets arriving from peers. It
// needs no kernel IPsec support.
//
// Packets move in batches through a pipeline: one reader goroutine per
// source (TUN, each socket), a pool of crypto workers that seal or open
// whole batches in parallel, and one writer per direction that waits for
// batches in the order they were read, so packets of an SA leave in the
// order they arrived (wireguard-go's design). Batches come from fixed
// pools, which bounds memory and pushes back on the readers.
type Userspace struct {
	cfg config
	dev tun.Device
	mtu int

	mu sync.RWMutex
	t  tables
	hk wheel // the SAs with lifetimes or keepalives, by when they are due (housekeeping.go)

	udpAll     []*udpSock // senders (and readers with WithUDPConn)
	raw4, raw6 *rawSock

	link     *linkStats // the TUN device's kernel drop counters (nil: unknown)
	events   chan Event
	eventsMu sync.Mutex // guards closing events against senders
	cnt      counters

	work     chan *batch
	outOrder chan *batch
	inOrder  chan *batch
	outFree  chan *batch
	inFree   chan *batch

	closing   chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	wg        sync.WaitGroup
	pipes     sync.WaitGroup // readers, workers, writers
	feedMu    sync.RWMutex   // held by HandleUDPBatch while it queues; Close takes it before stopping the pipeline
	scratchs  sync.Pool      // *scratch for HandleUDP
}

var _ DataPlane = (*Userspace)(nil)

// NewUserspace starts an engine on dev, which the caller created (for
// example with tun.CreateTUN) and configured with addresses and routes.
// The engine owns dev from now on and closes it in Close.
func NewUserspace(dev tun.Device, opts ...Option) (*Userspace, error) {
	cf := defaultConfig()
	for _, o := range opts {
		o(&cf)
	}
	if err := cf.validate(); err != nil {
		return nil, err
	}
	if dev == nil {
		return nil, errors.New("esp: NewUserspace: nil TUN device")
	}
	mtu, err := dev.MTU()
	if err != nil {
		return nil, fmt.Errorf("esp: NewUserspace: TUN MTU: %w", err)
	}
	u := &Userspace{
		cfg:     cf,
		dev:     dev,
		mtu:     mtu,
		t:       newTables(),
		events:  make(chan Event, cf.events),
		closing: make(chan struct{}),
	}
	u.hk.tickNs = int64(cf.tick)
	u.scratchs.New = func() any { return newScratch() }
	if name, err := dev.Name(); err == nil {
		u.link = newLinkStats(name)
	}
	for _, c := range cf.udp {
		u.udpAll = append(u.udpAll, newUDPSock(c, cf.batch))
	}
	if cf.rawESP {
		if u.raw4, err = listenRaw(true, cf.batch); err != nil {
			return nil, fmt.Errorf("esp: WithRawESP: %w", err)
		}
		if u.raw6, err = listenRaw(false, cf.batch); err != nil {
			u.raw4.close()
			return nil, fmt.Errorf("esp: WithRawESP: %w", err)
		}
	}
	u.startPipeline()
	return u, nil
}

// RawESP reports whether the engine has raw ESP (IP protocol 50) sockets
// (WithRawESP), so SAs without UDP encapsulation can be installed. The IKE
// engine forces UDP encapsulation for every peer when this is false.
func (u *Userspace) RawESP() bool { return u.raw4 != nil }

// MTU returns the TUN device's MTU as it was when the engine started.
func (u *Userspace) MTU() int { return u.mtu }

// AddSA implements DataPlane.
func (u *Userspace) AddSA(ctx context.Context, sa *SA) error {
	if err := sa.validate(); err != nil {
		return err
	}
	c, err := newCrypter(sa)
	if err != nil {
		return err
	}
	sa = sa.clone()
	s := &saState{id: sa.ID(), suite: newSuite(c), added: u.cfg.now()}
	s.cfg.Store(sa)
	if sa.Dir == DirIn {
		s.id.Dst = netip.Addr{} // inbound SAs are unique by SPI alone
		s.replay = newReplayWindow(sa.ReplayWindow)
	} else {
		if err := u.checkSocket(sa); err != nil {
			return err
		}
		s.outer.Store(newOuterDst(sa, u.udpAll))
	}
	// Keys live on in the Crypter only.
	clear(sa.EncrKey)
	clear(sa.IntegKey)
	sa.EncrKey, sa.IntegKey = nil, nil

	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed.Load() {
		return ErrClosed
	}
	if sa.Dir == DirIn {
		if u.t.in[sa.SPI] != nil {
			return fmt.Errorf("%w: %s", ErrSAExists, s.id)
		}
		u.t.in[sa.SPI] = s
		u.schedule(s)
		return nil
	}
	if u.t.out[s.id] != nil {
		return fmt.Errorf("%w: %s", ErrSAExists, s.id)
	}
	u.t.out[s.id] = s
	u.t.outReq[sa.ReqID] = append(u.t.outReq[sa.ReqID], s)
	u.schedule(s)
	return nil
}

func (u *Userspace) checkSocket(sa *SA) error {
	switch {
	case sa.UDPEncap() && pickUDP(u.udpAll, sa.Src, sa.Dst) == nil:
		return fmt.Errorf("esp: SA 0x%08x: UDP encapsulation to %s needs a UDP socket of that family (WithUDPConn)", sa.SPI, sa.Dst)
	case !sa.UDPEncap() && u.raw4 == nil:
		return fmt.Errorf("esp: SA 0x%08x: raw ESP to %s needs WithRawESP", sa.SPI, sa.Dst.Addr())
	}
	return nil
}

// lookupSA finds an installed SA; the caller holds u.mu.
func (u *Userspace) lookupSA(id SAID) *saState {
	if id.Dir == DirIn {
		return u.t.in[id.SPI]
	}
	return u.t.out[id]
}

// UpdateSA implements DataPlane.
func (u *Userspace) UpdateSA(ctx context.Context, id SAID, sa *SA) error {
	if err := sa.validate(); err != nil {
		return err
	}
	if sa.Dir != id.Dir || sa.SPI != id.SPI {
		return fmt.Errorf("esp: UpdateSA %s: SPI and direction cannot change", id)
	}
	if sa.Dir == DirOut {
		if err := u.checkSocket(sa); err != nil {
			return err
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.lookupSA(id)
	if s == nil {
		return fmt.Errorf("%w: %s", ErrSANotFound, id)
	}
	if sa.Encr != s.cfg.Load().Encr || sa.Integ != s.cfg.Load().Integ || sa.EncrKeyBits != s.cfg.Load().EncrKeyBits || sa.ESN != s.cfg.Load().ESN || sa.Mode != s.cfg.Load().Mode {
		return fmt.Errorf("esp: UpdateSA %s: algorithms, ESN and mode cannot change (rekey instead)", id)
	}
	// Copy on write: packet goroutines read cfg without the lock.
	c := *s.cfg.Load()
	c.Src, c.Dst, c.Lifetime, c.NATKeepalive = sa.Src, sa.Dst, sa.Lifetime, sa.NATKeepalive
	if sa.Dir == DirOut {
		delete(u.t.out, s.id)
		s.id.Dst = sa.Dst.Addr()
		if u.t.out[s.id] != nil {
			u.t.out[id] = s
			return fmt.Errorf("%w: %s", ErrSAExists, s.id)
		}
		u.t.out[s.id] = s
		s.outer.Store(newOuterDst(&c, u.udpAll))
	}
	s.cfg.Store(&c)
	u.schedule(s) // its lifetimes or keepalives may have changed
	return nil
}

// DeleteSA implements DataPlane.
func (u *Userspace) DeleteSA(ctx context.Context, id SAID) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.lookupSA(id)
	if s == nil {
		return fmt.Errorf("%w: %s", ErrSANotFound, id)
	}
	u.removeLocked(s)
	return nil
}

func (u *Userspace) removeLocked(s *saState) {
	s.dead.Store(true)
	u.unschedule(s)
	if s.id.Dir == DirIn {
		if u.t.in[s.id.SPI] == s {
			delete(u.t.in, s.id.SPI)
		}
		return
	}
	if u.t.out[s.id] == s {
		delete(u.t.out, s.id)
	}
	r := s.cfg.Load().ReqID
	l := slices.DeleteFunc(u.t.outReq[r], func(x *saState) bool { return x == s })
	if len(l) == 0 {
		delete(u.t.outReq, r)
	} else {
		u.t.outReq[r] = l
	}
}

// AddPolicy implements DataPlane.
func (u *Userspace) AddPolicy(ctx context.Context, p Policy) error {
	if err := p.validate(); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.spd(p.Dir)
	k := p.key()
	if cur := d.byKey[k]; cur != nil {
		same := func(x *policyState) bool { return x.p.ReqID == p.ReqID }
		if same(cur) || slices.ContainsFunc(d.shadow[k], same) {
			return fmt.Errorf("%w: %s", ErrPolicyExists, &p)
		}
		// Identical selectors of another SA: the new one takes the
		// traffic, the old one waits below it.
		d.remove(k)
		d.shadow[k] = append(d.shadow[k], cur)
	}
	u.t.polSeqNo++
	ps := newPolicyState(p, u.t.polSeqNo)
	d.add(ps)
	if p.Dir == DirIn {
		u.t.inReq[p.ReqID] = append(u.t.inReq[p.ReqID], ps)
	}
	return nil
}

func (u *Userspace) spd(d Direction) *spd {
	if d == DirIn {
		return &u.t.spdIn
	}
	return &u.t.spdOut
}

// DeletePolicy implements DataPlane.
func (u *Userspace) DeletePolicy(ctx context.Context, p Policy) error {
	if p.Dir != DirIn && p.Dir != DirOut {
		return fmt.Errorf("esp: DeletePolicy %s: invalid direction", &p)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	d, k := u.spd(p.Dir), p.key()
	cur := d.byKey[k]
	if cur == nil {
		return fmt.Errorf("%w: %s", ErrPolicyNotFound, &p)
	}
	ps := cur
	sh := d.shadow[k]
	if cur.p.ReqID == p.ReqID {
		d.remove(k)
		if len(sh) > 0 {
			// The newest waiting policy of the same selectors takes over.
			d.add(sh[len(sh)-1])
			sh = sh[:len(sh)-1]
		}
	} else {
		i := slices.IndexFunc(sh, func(x *policyState) bool { return x.p.ReqID == p.ReqID })
		if i < 0 {
			return fmt.Errorf("%w: %s", ErrPolicyNotFound, &p)
		}
		ps = sh[i]
		sh = slices.Delete(sh, i, i+1)
	}
	if len(sh) == 0 {
		delete(d.shadow, k)
	} else {
		d.shadow[k] = sh
	}
	if p.Dir == DirIn {
		r := ps.p.ReqID
		l := slices.DeleteFunc(u.t.inReq[r], func(x *policyState) bool { return x == ps })
		if len(l) == 0 {
			delete(u.t.inReq, r)
		} else {
			u.t.inReq[r] = l
		}
	}
	return nil
}

// SAStats implements DataPlane.
func (u *Userspace) SAStats(id SAID) (SAStats, error) {
	u.mu.RLock()
	s := u.lookupSA(id)
	u.mu.RUnlock()
	if s == nil {
		return SAStats{}, fmt.Errorf("%w: %s", ErrSANotFound, id)
	}
	return s.stats(), nil
}

// Stats returns a snapshot of the engine-wide counters.
func (u *Userspace) Stats() Stats {
	st := u.cnt.snapshot()
	st.InSocketDrops = u.socketDrops()
	st.InTUNDrops, st.OutTUNDrops, _ = u.link.drops()
	return st
}

// socketDrops sums what the kernel dropped on the engine's sockets (UDP
// and raw) because their receive queues were full.
func (u *Userspace) socketDrops() uint64 {
	var n uint64
	for _, s := range u.udpAll {
		d, _ := sockio.Drops(s.c)
		n += d
	}
	for _, s := range []*rawSock{u.raw4, u.raw6} {
		if s != nil {
			d, _ := sockio.Drops(s.c)
			n += d
		}
	}
	return n
}

// Events implements DataPlane.
func (u *Userspace) Events() <-chan Event { return u.events }

// emit delivers an event without ever blocking the data path.
func (u *Userspace) emit(e Event) {
	u.eventsMu.Lock()
	defer u.eventsMu.Unlock()
	if u.closed.Load() {
		return
	}
	select {
	case u.events <- e:
	default:
		u.cnt.eventsDropped.Add(1)
	}
}

// Close implements DataPlane. It stops all goroutines, closes the TUN
// device and the raw sockets, and stops reading (but does not close) the
// UDP sockets handed in.
func (u *Userspace) Close() error {
	var err error
	u.closeOnce.Do(func() {
		u.eventsMu.Lock()
		u.closed.Store(true)
		close(u.events)
		u.eventsMu.Unlock()
		close(u.closing)
		err = u.dev.Close()
		u.link.close()
		for _, s := range u.udpAll {
			if s.reading {
				_ = s.c.SetReadDeadline(time.Unix(1, 0))
			}
		}
		if u.raw4 != nil {
			u.raw4.close()
			u.raw6.close()
		}
		u.wg.Wait()
		// closed is set: HandleUDPBatch calls that come after this wait
		// return ErrClosed instead of queueing.
		u.feedMu.Lock()
		//lint:ignore SA2001 the empty section waits for running HandleUDPBatch calls
		u.feedMu.Unlock()
		u.stopPipeline()
		for _, s := range u.udpAll {
			if s.reading {
				_ = s.c.SetReadDeadline(time.Time{})
			}
		}
		u.mu.Lock()
		u.t = newTables()
		u.mu.Unlock()
	})
	return err
}

func (u *Userspace) logErr(msg string, err error) {
	if !u.closed.Load() {
		u.cfg.logger.Warn(msg, slog.String("err", err.Error()))
	}
}

// stopped reports whether a read error means the engine is shutting down.
func (u *Userspace) stopped() bool {
	select {
	case <-u.closing:
		return true
	default:
		return false
	}
}

var _ = net.ErrClosed
