package ppp

import (
	"crypto/rand"
	"net/netip"

	"github.com/goipsec/ipsec"
)

// IPCP options, RFC 1332 section 3 and RFC 1877.
const (
	ipcpAddresses   = 1 // deprecated, RFC 1172
	ipcpCompression = 2 // Van Jacobson: rejected
	ipcpAddress     = 3
	ipcpDNS1        = 129
	ipcpNBNS1       = 130
	ipcpDNS2        = 131
	ipcpNBNS2       = 132
)

// ipcpState is the IPv4 side of a session.
type ipcpState struct {
	fixed     netip.Addr // the user's own address (ipsec.User.Addresses)
	peer      netip.Addr // the client's address once assigned
	leased    bool       // peer came from Config.Pool
	sendLocal bool       // we still ask for LocalAddr
	failed    bool       // no address could be had
	gaveUp    bool       // and IPCP was closed for it
}

func netipFirst4(u *ipsec.User) netip.Addr {
	if u == nil {
		return netip.Addr{}
	}
	for _, a := range u.Addresses {
		if a.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// assignAddr picks the client's address the first time IPCP needs it:
// the user's fixed one, else a pool lease (the requested one if the pool
// grants it). false: none available.
func (s *Session) assignAddr(requested netip.Addr) bool {
	st := &s.ip4
	if st.peer.IsValid() {
		return true
	}
	if st.fixed.IsValid() {
		st.peer = st.fixed
		return true
	}
	if s.cfg.Pool == nil {
		return false
	}
	if requested.IsUnspecified() || !s.cfg.Pool.Prefix().Contains(requested) {
		requested = netip.Addr{}
	}
	ctx, cancel := lookupCtx()
	defer cancel()
	a, err := s.cfg.Pool.Acquire(ctx, s.user, requested)
	if err != nil || !a.Is4() {
		if err == nil {
			s.cfg.Pool.Release(a)
		}
		s.log.Warn("ppp no address for client", "user", s.user, "err", err)
		return false
	}
	st.peer, st.leased = a, true
	return true
}

func (s *Session) releaseAddr() {
	if s.ip4.leased && s.cfg.Pool != nil {
		s.cfg.Pool.Release(s.ip4.peer)
	}
	s.ip4.leased = false
}

// ipcpHandler is the Session seen as IPCP's fsmHandler.
type ipcpHandler Session

func (h *ipcpHandler) s() *Session { return (*Session)(h) }

func (h *ipcpHandler) resetCI() { h.ip4.sendLocal = h.cfg.LocalAddr.IsValid() }

func (h *ipcpHandler) appendCI(dst []byte) []byte {
	if h.ip4.sendLocal {
		a := h.cfg.LocalAddr.As4()
		dst = appendOption(dst, ipcpAddress, a[:]...)
	}
	return dst
}

func (h *ipcpHandler) nakCI(opts []option) bool {
	for _, op := range opts {
		if op.typ == ipcpAddress && len(op.data) != 4 {
			return false
		}
		// A client naking our own address is told the same again: the
		// gateway's address is not the client's to choose.
	}
	return true
}

func (h *ipcpHandler) rejCI(opts []option) bool {
	for _, op := range opts {
		if op.typ == ipcpAddress {
			h.ip4.sendLocal = false
		}
	}
	return true
}

func (h *ipcpHandler) reqCI(opts []option, rejectIfDisagree bool) (uint8, []byte, bool) {
	s := h.s()
	var nak, rej []byte
	sawAddr := false
	for _, op := range opts {
		switch op.typ {
		case ipcpAddress:
			if len(op.data) != 4 {
				rej = append(rej, op.raw...)
				continue
			}
			sawAddr = true
			req := netip.AddrFrom4([4]byte(op.data))
			if !s.assignAddr(req) {
				h.ip4.failed = true
				rej = append(rej, op.raw...)
				continue
			}
			if req != h.ip4.peer {
				if rejectIfDisagree {
					rej = append(rej, op.raw...)
					continue
				}
				a := h.ip4.peer.As4()
				nak = appendOption(nak, ipcpAddress, a[:]...)
			}
		case ipcpDNS1, ipcpDNS2:
			i := 0
			if op.typ == ipcpDNS2 {
				i = 1
			}
			if len(op.data) != 4 || i >= len(s.cfg.DNS) {
				rej = append(rej, op.raw...)
				continue
			}
			if want := s.cfg.DNS[i].As4(); netip.AddrFrom4([4]byte(op.data)) != s.cfg.DNS[i] {
				if rejectIfDisagree {
					rej = append(rej, op.raw...)
					continue
				}
				nak = appendOption(nak, op.typ, want[:]...)
			}
		default:
			// IP-Addresses, VJ compression, NBNS (we have none), the rest.
			rej = append(rej, op.raw...)
		}
	}
	if !sawAddr && rej == nil && !rejectIfDisagree {
		// The client asked for no address: tell it the one it gets
		// (what pppd does when it has an address for the peer).
		if s.assignAddr(netip.Addr{}) {
			a := h.ip4.peer.As4()
			nak = appendOption(nak, ipcpAddress, a[:]...)
		} else {
			h.ip4.failed = true
		}
	}
	switch {
	case rej != nil:
		return codeConfRej, rej, true
	case nak != nil:
		return codeConfNak, nak, true
	}
	return codeConfAck, nil, true
}

// ipcpGiveUp ends IPCP when the client cannot get an address (after the
// Configure-Reject went out): without IPv6 the link ends, else LCP stays
// up for IPV6CP.
func (s *Session) ipcpGiveUp() {
	if s.ip4.gaveUp {
		return
	}
	s.ip4.gaveUp = true
	s.logf("no IPv4 address for the client", "user", s.user)
	if !s.cfg.IPv6 {
		s.lcp.close()
		return
	}
	s.ipcp.close()
}

func (h *ipcpHandler) up() {
	s := h.s()
	s.log.Info("ppp IPCP up", "user", s.user, "addr", h.ip4.peer)
	s.addr4 = h.ip4.peer
	s.networkUp()
}

func (h *ipcpHandler) down() {}

func (h *ipcpHandler) finished() {
	s := h.s()
	// Without IPCP and without IPV6CP the link carries nothing.
	if s.lcp.state == StateOpened && (!s.cfg.IPv6 || s.ip6cp.state <= StateStopped) {
		s.lcp.close()
	}
}

func (h *ipcpHandler) extCode(packet) bool          { return false }
func (h *ipcpHandler) codeRejected(code uint8) bool { return false }

// IPV6CP options, RFC 5072 section 4.
const (
	ipv6cpIID         = 1
	ipv6cpCompression = 2
)

// ipv6cpState is the IPv6 side of a session: interface identifiers only.
type ipv6cpState struct {
	our, peer [8]byte
	sendOur   bool
}

// peerAddr is the client's link-local address.
func (st *ipv6cpState) peerAddr() netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], st.peer[:])
	return netip.AddrFrom16(a)
}

func randomIID(avoid [8]byte) [8]byte {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		b[0] &^= 0x02 // RFC 4291 appendix A: not a universal identifier
		if b != ([8]byte{}) && b != avoid {
			return b
		}
	}
}

type ipv6cpHandler Session

func (h *ipv6cpHandler) s() *Session { return (*Session)(h) }

func (h *ipv6cpHandler) resetCI() {
	if h.ip6.our == ([8]byte{}) {
		h.ip6.our = randomIID([8]byte{})
	}
	h.ip6.sendOur = true
}

func (h *ipv6cpHandler) appendCI(dst []byte) []byte {
	if h.ip6.sendOur {
		dst = appendOption(dst, ipv6cpIID, h.ip6.our[:]...)
	}
	return dst
}

func (h *ipv6cpHandler) nakCI(opts []option) bool {
	for _, op := range opts {
		if op.typ != ipv6cpIID {
			continue
		}
		if len(op.data) != 8 {
			return false
		}
		// RFC 5072 4.1: take the suggestion unless it clashes.
		if iid := [8]byte(op.data); iid != ([8]byte{}) && iid != h.ip6.peer {
			h.ip6.our = iid
		} else {
			h.ip6.our = randomIID(h.ip6.peer)
		}
	}
	return true
}

func (h *ipv6cpHandler) rejCI(opts []option) bool {
	for _, op := range opts {
		if op.typ == ipv6cpIID {
			h.ip6.sendOur = false
		}
	}
	return true
}

func (h *ipv6cpHandler) reqCI(opts []option, rejectIfDisagree bool) (uint8, []byte, bool) {
	var nak, rej []byte
	saw := false
	for _, op := range opts {
		switch {
		case op.typ == ipv6cpIID && len(op.data) == 8:
			saw = true
			iid := [8]byte(op.data)
			if iid == ([8]byte{}) || iid == h.ip6.our {
				if rejectIfDisagree {
					rej = append(rej, op.raw...)
					continue
				}
				sug := randomIID(h.ip6.our)
				nak = appendOption(nak, ipv6cpIID, sug[:]...)
				continue
			}
			h.ip6.peer = iid
		default:
			rej = append(rej, op.raw...)
		}
	}
	if !saw && rej == nil && !rejectIfDisagree {
		sug := randomIID(h.ip6.our)
		nak = appendOption(nak, ipv6cpIID, sug[:]...)
	}
	switch {
	case rej != nil:
		return codeConfRej, rej, true
	case nak != nil:
		return codeConfNak, nak, true
	}
	return codeConfAck, nil, true
}

func (h *ipv6cpHandler) up() {
	s := h.s()
	s.log.Info("ppp IPV6CP up", "user", s.user, "addr", h.ip6.peerAddr())
	s.addr6 = h.ip6.peerAddr()
}

func (h *ipv6cpHandler) down() {}

func (h *ipv6cpHandler) finished() {
	s := h.s()
	if s.lcp.state == StateOpened && s.ipcp.state <= StateStopped {
		s.lcp.close()
	}
}

func (h *ipv6cpHandler) extCode(packet) bool          { return false }
func (h *ipv6cpHandler) codeRejected(code uint8) bool { return false }
