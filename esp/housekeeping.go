package esp

import (
	"context"
	"net/netip"
	"time"
)

// housekeeping enforces time lifetimes, removes SAs that hit a hard limit
// in the data path, and sends NAT keepalives. It runs once per tick so the
// packet path never looks at the clock for lifetimes.
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

func (u *Userspace) tick(now time.Time) {
	var dead []*saState
	var ka []*saState
	u.mu.RLock()
	check := func(s *saState) {
		lt := &s.cfg.Load().Lifetime
		age := now.Sub(s.added)
		if lt.Hard.Time != 0 && age >= lt.Hard.Time {
			u.expireHard(s)
		} else if lt.Soft.Time != 0 && age >= lt.Soft.Time {
			u.expireSoft(s)
		}
		if s.dead.Load() {
			dead = append(dead, s)
		}
	}
	for _, s := range u.t.in {
		check(s)
	}
	for _, s := range u.t.out {
		check(s)
		if d := s.outer.Load(); d.encap && d.keepalive && u.cfg.keepalive > 0 && !s.dead.Load() {
			idle := now.UnixNano() - max(s.lastUse.Load(), s.lastKeepalive.Load())
			if idle >= int64(u.cfg.keepalive) {
				ka = append(ka, s)
			}
		}
	}
	u.mu.RUnlock()
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
