package xfrm

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
)

// ErrSelector reports a policy whose traffic selectors XFRM cannot express
// exactly: XFRM matches an address prefix and either one port or all of
// them. Address ranges are split into prefixes (one kernel policy each, at
// most 64 per policy; a range needing more is refused); port ranges other than one port or all are
// rejected, because widening them (as some daemons do) would let traffic
// the peer never agreed to through.
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

// maxKernelSelectors bounds the kernel policies one esp.Policy may turn
// into when its address ranges are not prefixes (a hostile or careless
// peer's TS must not make us install thousands of policies).
const maxKernelSelectors = 64

// selectorPrefixes returns the fewest prefixes that together cover exactly
// s's address range.
func selectorPrefixes(s esp.Selector) ([]netip.Prefix, error) {
	if !s.Start.IsValid() || !s.End.IsValid() || s.Start.Is4() != s.End.Is4() || s.End.Less(s.Start) {
		return nil, fmt.Errorf("%w: %s: invalid address range", ErrSelector, s)
	}
	var out []netip.Prefix
	start := s.Start
	for {
		// The largest aligned block starting at start that ends within s.
		var p netip.Prefix
		var last netip.Addr
		for bits := 0; bits <= start.BitLen(); bits++ {
			q := netip.PrefixFrom(start, bits)
			if q.Masked().Addr() != start {
				continue
			}
			if l := esp.PrefixSelector(q).End; !s.End.Less(l) {
				p, last = q, l
				break
			}
		}
		out = append(out, p)
		if len(out) > maxKernelSelectors {
			return nil, fmt.Errorf("%w: %s needs more than %d prefixes", ErrSelector, s, maxKernelSelectors)
		}
		if last == s.End {
			return out, nil
		}
		start = last.Next()
	}
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

// policySelectors converts a policy's selectors into the XFRM selectors
// that together match exactly the same traffic.
func policySelectors(p *esp.Policy) ([]kselector, error) {
	proto := p.Src.Proto
	if proto == 0 {
		proto = p.Dst.Proto
	} else if p.Dst.Proto != 0 && p.Dst.Proto != proto {
		return nil, fmt.Errorf("%w: source protocol %d differs from destination protocol %d", ErrSelector, p.Src.Proto, p.Dst.Proto)
	}
	srcs, err := selectorPrefixes(p.Src)
	if err != nil {
		return nil, err
	}
	dsts, err := selectorPrefixes(p.Dst)
	if err != nil {
		return nil, err
	}
	if srcs[0].Addr().Is4() != dsts[0].Addr().Is4() {
		return nil, fmt.Errorf("%w: selectors of different address families", ErrSelector)
	}
	if len(srcs)*len(dsts) > maxKernelSelectors {
		return nil, fmt.Errorf("%w: %s -> %s needs more than %d kernel policies", ErrSelector, p.Src, p.Dst, maxKernelSelectors)
	}
	sp, err := selectorPort(p.Src, proto)
	if err != nil {
		return nil, err
	}
	dp, err := selectorPort(p.Dst, proto)
	if err != nil {
		return nil, err
	}
	if proto == 0 && (sp != 0 || dp != 0) {
		// A port without a protocol means nothing to XFRM (and to RFC 7296).
		return nil, fmt.Errorf("%w: ports given without an IP protocol", ErrSelector)
	}
	out := make([]kselector, 0, len(srcs)*len(dsts))
	for _, s := range srcs {
		for _, d := range dsts {
			out = append(out, kselector{src: s, dst: d, proto: proto, srcPort: sp, dstPort: dp})
		}
	}
	return out, nil
}

// kernelPriority is the XFRM priority of kernel selector k of a policy
// whose esp.Policy.Priority is prio: prio itself when set, else
// esp.AutoPriorityBits of k (strongSwan's values, so the most specific
// policy wins in the kernel whatever the installation order).
func kernelPriority(prio uint32, k *kselector) uint32 {
	if prio != 0 {
		return prio
	}
	sp, dp := 0, 0
	if k.srcPort != 0 {
		sp = 16
	}
	if k.dstPort != 0 {
		dp = 16
	}
	return esp.AutoPriorityBits(k.src.Bits(), k.dst.Bits(), k.proto != 0, sp, dp)
}
