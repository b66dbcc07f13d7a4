package esp

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// housekeeping enforces time lifetimes, removes SAs that hit a hard limit
// in the data path, and sends NAT keepalives. It runs once per tick so the
// packet path never looks at the clock for lifetimes. Each tick visits
// only the SAs with something due (the wheel below), not every SA: an
// idle gateway with 100,000 SAs does next to nothing per tick.
func (u *Userspace) housekeeping() {
	defer u.wg.Done()
	t := time.NewTicker(u.cfg.tick)
	defer t.Stop()
	for {
		select {
		case <-u.closing:
			return
		case <-t.C:
			u.tick(u.cfg.now())
		}
	}
}

// wheelSlots is the number of ticks the wheel spans (68 minutes at the
// default tick of a second); an SA due later sits in the slot of its due
// tick modulo this and is passed over until its time has come.
const wheelSlots = 4096

// wheel holds every SA with a time-driven duty (a soft or hard lifetime,
// NAT keepalives) in the slot of the tick it is next due, and the SAs the
// packet path stopped (hard byte or packet limits) until a tick removes
// them. An SA's saState.hk says where it is, so that removing it from the
// tables takes it out at once (no garbage lingers in the slots).
type wheel struct {
	mu     sync.Mutex
	tickNs int64 // the tick in nanoseconds (WithHousekeepingInterval), set once by NewUserspace
	slots  [wheelSlots][]*saState
	last   int64 // the last tick processed (0: none yet)
	urgent []*saState
}

// hkPos is an SA's place in the wheel (guarded by wheel.mu).
type hkPos struct {
	due  int64 // unix nanoseconds; 0: not in the wheel
	slot int32
	idx  int32
}

// nextDue is when s next has something to do: a lifetime to enforce or a
// keepalive to send (0: nothing, ever, unless its configuration changes).
// A keepalive's time is a lower bound: traffic may postpone it, which the
// visit then finds.
func (u *Userspace) nextDue(s *saState) int64 {
	var due int64
	at := func(t int64) {
		if due == 0 || t < due {
			due = t
		}
	}
	lt := &s.cfg.Load().Lifetime
	added := s.added.UnixNano()
	if lt.Hard.Time != 0 && !s.hardSent.Load() {
		at(added + int64(lt.Hard.Time))
	}
	if lt.Soft.Time != 0 && !s.softSent.Load() {
		at(added + int64(lt.Soft.Time))
	}
	if s.id.Dir == DirOut && u.cfg.keepalive > 0 {
		if d := s.outer.Load(); d != nil && d.encap && d.keepalive {
			at(max(s.lastUse.Load(), s.lastKeepalive.Load(), added) + int64(u.cfg.keepalive))
		}
	}
	return due
}

// schedule puts s into the wheel for its next duty (or takes it out when
// it has none).
func (u *Userspace) schedule(s *saState) {
	due := u.nextDue(s)
	w := &u.hk
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removeLocked(s)
	if due != 0 && !s.dead.Load() {
		w.insertLocked(s, due)
	}
}

// insertLocked puts s into the slot of the tick due falls in, or of the
// next tick to be processed when that one is past.
func (w *wheel) insertLocked(s *saState, due int64) {
	tick := max(due/w.tickNs, w.last+1)
	slot := int32(tick % wheelSlots)
	s.hk = hkPos{due: due, slot: slot, idx: int32(len(w.slots[slot]))}
	w.slots[slot] = append(w.slots[slot], s)
}

func (w *wheel) removeLocked(s *saState) {
	if s.hk.due == 0 {
		return
	}
	l := w.slots[s.hk.slot]
	last := l[len(l)-1]
	l[s.hk.idx], last.hk.idx = last, s.hk.idx
	l[len(l)-1] = nil
	w.slots[s.hk.slot] = l[:len(l)-1]
	s.hk = hkPos{}
}

// unschedule takes a removed SA out of the wheel.
func (u *Userspace) unschedule(s *saState) {
	u.hk.mu.Lock()
	u.hk.removeLocked(s)
	u.hk.mu.Unlock()
}

// hardStopped queues s, which reached a hard limit, for removal at the
// next tick.
func (u *Userspace) hardStopped(s *saState) {
	u.hk.mu.Lock()
	u.hk.urgent = append(u.hk.urgent, s)
	u.hk.mu.Unlock()
}

// dueLocked takes the SAs due by tick out of the wheel: those of the slots
// of every tick since the last one (each slot once, however long the
// pause). An SA may come out up to a tick early; its visit finds nothing
// to do yet and puts it into the next tick's slot.
func (w *wheel) dueLocked(tick int64) []*saState {
	var out []*saState
	first := w.last + 1
	if w.last == 0 || tick-w.last >= wheelSlots {
		first = tick - wheelSlots + 1
	}
	for t := first; t <= tick; t++ {
		slot := t % wheelSlots
		for i := 0; i < len(w.slots[slot]); {
			s := w.slots[slot][i]
			if s.hk.due/w.tickNs > tick {
				i++ // due in a later turn of the wheel
				continue
			}
			w.removeLocked(s) // moves the slot's last SA to i
			out = append(out, s)
		}
	}
	if tick > w.last {
		w.last = tick
	}
	out = append(out, w.urgent...)
	clear(w.urgent)
	w.urgent = w.urgent[:0]
	return out
}

func (u *Userspace) tick(now time.Time) {
	u.hk.mu.Lock()
	visit := u.hk.dueLocked(now.UnixNano() / u.hk.tickNs)
	u.hk.mu.Unlock()
	if len(visit) == 0 {
		return
	}
	var dead, ka []*saState
	for _, s := range visit {
		lt := &s.cfg.Load().Lifetime
		age := now.Sub(s.added)
		if lt.Hard.Time != 0 && age >= lt.Hard.Time {
			u.expireHard(s)
		} else if lt.Soft.Time != 0 && age >= lt.Soft.Time {
			u.expireSoft(s)
		}
		if s.dead.Load() {
			dead = append(dead, s)
			continue
		}
		if s.id.Dir == DirOut {
			if d := s.outer.Load(); d.encap && d.keepalive && u.cfg.keepalive > 0 {
				idle := now.UnixNano() - max(s.lastUse.Load(), s.lastKeepalive.Load())
				if idle >= int64(u.cfg.keepalive) {
					ka = append(ka, s)
				}
			}
		}
	}
	if len(dead) > 0 {
		u.mu.Lock()
		for _, s := range dead {
			u.removeLocked(s)
		}
		u.mu.Unlock()
	}
	for _, s := range ka {
		s.lastKeepalive.Store(now.UnixNano())
		if err := u.sendKeepalive(s.outer.Load()); err == nil {
			u.cnt.keepalivesSent.Add(1)
		}
	}
	// Back into the wheel for their next duty, unless removed meanwhile
	// (removeLocked took them out; schedule checks dead under the lock).
	for _, s := range visit {
		if !s.dead.Load() {
			u.scheduleLive(s)
		}
	}
}

// scheduleLive is schedule for an SA that may have been removed since it
// was visited: only one still in the tables goes back into the wheel.
func (u *Userspace) scheduleLive(s *saState) {
	u.mu.RLock()
	live := u.lookupSA(s.id) == s
	if live {
		u.schedule(s)
	}
	u.mu.RUnlock()
}

var keepalivePayload = []byte{0xff} // RFC 3948 section 2.3

func (u *Userspace) sendKeepalive(d *outerDst) error {
	if d.sock == nil {
		return ErrClosed
	}
	_, err := d.sock.c.WriteToUDP(keepalivePayload, d.udp)
	return err
}

// HandleUDP processes one ESP-in-UDP packet that a transport reading the
// shared port-4500 socket itself received from from; pkt starts at the SPI
// (the transport has already told ESP from IKE by the non-ESP marker and
// dropped keepalives). The packet is decrypted and written to the TUN
// device before HandleUDP returns; pkt is not retained and may be modified.
// Packets of one SA must be passed in the order received (one goroutine
// per socket), as the replay window and TCP expect.
func (u *Userspace) HandleUDP(pkt []byte, from netip.AddrPort) error {
	if u.closed.Load() {
		return ErrClosed
	}
	if len(pkt) < espHeaderLen {
		u.cnt.inTruncated.Add(1)
		return ErrTruncated
	}
	if len(pkt) > u.cfg.inBufSize-inReadOffset {
		u.cnt.inTruncated.Add(1)
		return ErrTruncated
	}
	// One slot batch so the regular inbound steps apply unchanged.
	b := u.getBatch(u.inFree)
	if b == nil {
		return ErrClosed
	}
	defer func() { u.inFree <- b }()
	p := &b.pkts[0]
	p.sa, p.err, p.off, p.n, p.from = nil, nil, inReadOffset, len(pkt), netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	copy(p.buf[inReadOffset:], pkt)
	b.n = 1
	u.classifyIn(b)
	if p.sa == nil {
		return p.err
	}
	sc := u.scratchs.Get().(*scratch)
	pl, nh, err := p.sa.suite.open(sc, p.buf[p.off:p.off+p.n], p.seq, p.sa.cfg.Load().ESN)
	u.scratchs.Put(sc)
	if err != nil {
		if err == ErrAuth {
			p.sa.authFailures.Add(1)
		}
		p.err = err
	} else {
		p.off += espHeaderLen + p.sa.suite.ivLen
		p.n, p.nh = len(pl), nh
	}
	u.finishIn(b)
	return p.err
}

var _ = context.Background
