package ikev1

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1/wire"
)

// selectorOf converts a Quick Mode ID payload (RFC 2407 section 4.6.2:
// an address, subnet or range with protocol and port) into a selector.
func selectorOf(id *wire.ID) (esp.Selector, error) {
	s := esp.Selector{Proto: id.Protocol, StartPort: id.Port, EndPort: id.Port}
	if id.Port == 0 {
		s.EndPort = 65535
	}
	d := id.Data
	addr := func(b []byte) (netip.Addr, bool) { return netip.AddrFromSlice(b) }
	switch id.IDType {
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		a, ok := addr(d)
		if !ok || (id.IDType == wire.IDIPv4Addr) != (len(d) == 4) {
			return s, fmt.Errorf("%s ID of %d bytes", id.IDType, len(d))
		}
		s.Start, s.End = a, a
	case wire.IDIPv4AddrSubnet, wire.IDIPv6AddrSubnet:
		n := 4
		if id.IDType == wire.IDIPv6AddrSubnet {
			n = 16
		}
		if len(d) != 2*n {
			return s, fmt.Errorf("%s ID of %d bytes", id.IDType, len(d))
		}
		a, _ := addr(d[:n])
		m, _ := addr(d[n:])
		bits := maskBits(m)
		if bits < 0 {
			return s, fmt.Errorf("%s ID with a non-contiguous mask %s", id.IDType, m)
		}
		ps := esp.PrefixSelector(netip.PrefixFrom(a, bits))
		s.Start, s.End = ps.Start, ps.End
	case wire.IDIPv4AddrRange, wire.IDIPv6AddrRange:
		n := 4
		if id.IDType == wire.IDIPv6AddrRange {
			n = 16
		}
		if len(d) != 2*n {
			return s, fmt.Errorf("%s ID of %d bytes", id.IDType, len(d))
		}
		s.Start, _ = addr(d[:n])
		s.End, _ = addr(d[n:])
		if s.End.Less(s.Start) {
			return s, errors.New("address range ends before it starts")
		}
	default:
		return s, fmt.Errorf("%s is not a traffic selector", id.IDType)
	}
	return s, nil
}

// maskBits returns the prefix length of a contiguous netmask, -1 for
// another mask.
func maskBits(m netip.Addr) int {
	b := m.AsSlice()
	bits, done := 0, false
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			one := x&(1<<i) != 0
			switch {
			case one && done:
				return -1
			case one:
				bits++
			default:
				done = true
			}
		}
	}
	return bits
}

// idOfSelector encodes a selector as a Quick Mode ID payload.
func idOfSelector(s esp.Selector) *wire.ID {
	id := &wire.ID{Protocol: s.Proto}
	if s.StartPort == s.EndPort {
		id.Port = s.StartPort
	}
	v6 := s.Start.Is6()
	switch {
	case s.Start == s.End:
		id.IDType = wire.IDIPv4Addr
		if v6 {
			id.IDType = wire.IDIPv6Addr
		}
		id.Data = s.Start.AsSlice()
	default:
		if p, ok := prefixOf(s); ok {
			id.IDType = wire.IDIPv4AddrSubnet
			if v6 {
				id.IDType = wire.IDIPv6AddrSubnet
			}
			id.Data = append(p.Addr().AsSlice(), maskOf(p)...)
			return id
		}
		id.IDType = wire.IDIPv4AddrRange
		if v6 {
			id.IDType = wire.IDIPv6AddrRange
		}
		id.Data = append(s.Start.AsSlice(), s.End.AsSlice()...)
	}
	return id
}

// prefixOf returns the prefix a selector's range is, if it is one.
func prefixOf(s esp.Selector) (netip.Prefix, bool) {
	for bits := 0; bits <= s.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(s.Start, bits)
		if p.Masked().Addr() != s.Start {
			continue
		}
		ps := esp.PrefixSelector(p)
		if ps.End == s.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func maskOf(p netip.Prefix) []byte {
	m := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

func idTypeOfAddr(a netip.Addr) wire.IDType {
	if a.Is4() {
		return wire.IDIPv4Addr
	}
	return wire.IDIPv6Addr
}

// contains reports whether selector outer holds all of inner.
func contains(outer, inner esp.Selector) bool {
	if outer.Start.Is4() != inner.Start.Is4() {
		return false
	}
	if inner.Start.Less(outer.Start) || outer.End.Less(inner.End) {
		return false
	}
	if outer.Proto != 0 && outer.Proto != inner.Proto {
		return false
	}
	return inner.StartPort >= outer.StartPort && inner.EndPort <= outer.EndPort
}

// childFor finds the ChildConfig whose selectors hold the peer's Quick
// Mode IDs (RFC 2409 leaves no room to narrow: the responder accepts the
// selectors or refuses them with INVALID-ID-INFORMATION). It returns the
// selector of our side to install: ourTS, or for a transport-mode
// configuration whose own selector is a single host with a port (an
// L2TP server's udp/1701) and a peer that names that host with any port
// (IDcr udp/0, as some L2TP clients send), the configuration's narrower
// one: the IDs go back unchanged, the policies admit only what we serve.
func (sa *isakmpSA) childFor(peerTS, ourTS esp.Selector, sap *wire.SA) (ChildConfig, esp.Selector, error) {
	children := sa.cfg.Children
	if len(children) == 0 {
		children = []ChildConfig{{Name: sa.cfg.Name}}
	}
	if sa.xa != nil && sa.xa.lease.IsValid() {
		// A Mode Config client: its virtual address only, to our side's
		// networks (the configuration's or the split-include ones).
		remote, local := sa.xauthSelectors()
		for _, cc := range children {
			l := local
			if len(cc.LocalTS) > 0 {
				l = cc.LocalTS
			}
			if anyContains(remote, peerTS) && anyContains(l, ourTS) {
				if cc.Name == "" {
					cc.Name = sa.cfg.Name
				}
				return cc, ourTS, nil
			}
		}
		return ChildConfig{}, ourTS, fmt.Errorf("selectors %s === %s are not the client's virtual address %s", selString(ourTS), selString(peerTS), sa.xa.lease)
	}
	for _, cc := range children {
		remote, local := cc.RemoteTS, cc.LocalTS
		if len(remote) == 0 {
			remote = []esp.Selector{hostSel(sa.remote.Addr())}
		}
		if len(local) == 0 {
			local = []esp.Selector{hostSel(sa.local.Addr())}
		}
		// A peer behind a NAT names its private address: with the
		// default selectors any single host is its "dynamic" address.
		natHost := len(cc.RemoteTS) == 0 && sa.nat.remote && isHost(peerTS)
		if !natHost && !anyContains(remote, peerTS) {
			continue
		}
		if cc.Name == "" {
			cc.Name = sa.cfg.Name
		}
		if anyContains(local, ourTS) {
			return cc, ourTS, nil
		}
		if cc.Transport && isHost(ourTS) {
			for _, l := range cc.LocalTS {
				if isHost(l) && l.Proto != 0 && contains(ourTS, l) {
					return cc, l, nil
				}
			}
		}
	}
	return ChildConfig{}, ourTS, fmt.Errorf("no IPsec SA configuration for %s === %s", selString(ourTS), selString(peerTS))
}

func anyContains(l []esp.Selector, s esp.Selector) bool {
	for _, o := range l {
		if contains(o, s) {
			return true
		}
	}
	return false
}

// selString is strongSwan's notation: 10.0.0.0/24[udp/1701].
func selString(s esp.Selector) string {
	var base string
	if p, ok := prefixOf(s); ok {
		base = p.String()
	} else {
		base = s.Start.String() + ".." + s.End.String()
	}
	switch {
	case s.Proto == 0 && s.StartPort == 0 && s.EndPort == 65535:
		return base
	case s.StartPort == s.EndPort:
		return fmt.Sprintf("%s[%d/%d]", base, s.Proto, s.StartPort)
	}
	return fmt.Sprintf("%s[%d/%d-%d]", base, s.Proto, s.StartPort, s.EndPort)
}
