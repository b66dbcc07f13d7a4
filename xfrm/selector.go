package xfrm

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
)

// ErrSelector reports a policy whose traffic selectors XFRM cannot express
// exactly: XFRM matches an address prefix and either one port or all of
// them. Widening the selector (as some daemons do) would let traffic the
// peer never agreed to through, so the policy is rejected instead.
var ErrSelector = errors.New("xfrm: traffic selector not expressible as an XFRM selector")

// IP protocol numbers whose "ports" are ICMP type and code (RFC 7296
// section 3.13.1), which XFRM splits over the source and destination port.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// kselector is an XFRM selector (struct xfrm_selector) built from a pair
// of esp.Selectors. It is comparable and serves as the key that ties
// acquire messages back to the policy that caused them.
type kselector struct {
	src, dst         netip.Prefix
	proto            uint8
	srcPort, dstPort uint16 // 0 = any
}

// String formats the selector like ip xfrm does.
func (k kselector) String() string {
	return fmt.Sprintf("src %s dst %s proto %d sport %d dport %d", k.src, k.dst, k.proto, k.srcPort, k.dstPort)
}

// selectorPrefix returns the prefix that covers exactly s's address range.
func selectorPrefix(s esp.Selector) (netip.Prefix, error) {
	if !s.Start.IsValid() || !s.End.IsValid() || s.Start.Is4() != s.End.Is4() || s.End.Less(s.Start) {
		return netip.Prefix{}, fmt.Errorf("%w: %s: invalid address range", ErrSelector, s)
	}
	for bits := 0; bits <= s.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(s.Start, bits)
		if p.Masked().Addr() != s.Start {
			continue
		}
		if esp.PrefixSelector(p).End == s.End {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%w: %s is not a prefix", ErrSelector, s)
}

// selectorPort returns the XFRM port of s: 0 for all ports, else the one
// port s names.
func selectorPort(s esp.Selector, proto uint8) (uint16, error) {
	switch {
	case s.StartPort == 0 && s.EndPort == 65535:
		return 0, nil
	case proto == protoICMP || proto == protoICMPv6:
		return 0, fmt.Errorf("%w: %s: ICMP type/code ranges", ErrSelector, s)
	case s.StartPort == s.EndPort && s.StartPort != 0:
		return s.StartPort, nil
	}
	return 0, fmt.Errorf("%w: %s: port range is neither one port nor all", ErrSelector, s)
}

// policySelector converts a policy's selectors.
func policySelector(p *esp.Policy) (kselector, error) {
	var k kselector
	proto := p.Src.Proto
	if proto == 0 {
		proto = p.Dst.Proto
	} else if p.Dst.Proto != 0 && p.Dst.Proto != proto {
		return k, fmt.Errorf("%w: source protocol %d differs from destination protocol %d", ErrSelector, p.Src.Proto, p.Dst.Proto)
	}
	var err error
	if k.src, err = selectorPrefix(p.Src); err != nil {
		return k, err
	}
	if k.dst, err = selectorPrefix(p.Dst); err != nil {
		return k, err
	}
	if k.src.Addr().Is4() != k.dst.Addr().Is4() {
		return k, fmt.Errorf("%w: selectors of different address families", ErrSelector)
	}
	k.proto = proto
	if k.srcPort, err = selectorPort(p.Src, proto); err != nil {
		return k, err
	}
	if k.dstPort, err = selectorPort(p.Dst, proto); err != nil {
		return k, err
	}
	if proto == 0 && (k.srcPort != 0 || k.dstPort != 0) {
		// A port without a protocol means nothing to XFRM (and to RFC 7296).
		return k, fmt.Errorf("%w: ports given without an IP protocol", ErrSelector)
	}
	return k, nil
}
