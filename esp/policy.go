package esp

import (
	"fmt"
	"math/bits"
	"net/netip"
)

// Action is what a matching policy does with a packet (RFC 4301 section 4.4.1).
type Action uint8

// Policy actions.
const (
	ActionProtect Action = 0 // send through / require the SA with the policy's ReqID
	ActionBypass  Action = 1 // pass in the clear (only meaningful with transport-mode setups)
	ActionDiscard Action = 2 // drop
)

// String returns "protect", "bypass" or "discard".
func (a Action) String() string {
	switch a {
	case ActionProtect:
		return "protect"
	case ActionBypass:
		return "bypass"
	case ActionDiscard:
		return "discard"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Selector is one traffic selector as IKEv2 carries it (RFC 7296 section
// 3.13.1): an inclusive address range, an IP protocol (0 = any) and an
// inclusive port range. The zero Selector matches nothing; use AnySelector.
type Selector struct {
	// Start and End are the first and last address of the range.
	Start, End netip.Addr
	// Proto is the IP protocol, 0 for any.
	Proto uint8
	// StartPort and EndPort are the first and last port of the range.
	StartPort, EndPort uint16
}

// AnySelector returns a selector covering every address of one family
// (IPv4 if ipv4 is true, else IPv6), every protocol and port.
func AnySelector(ipv4 bool) Selector {
	if ipv4 {
		return Selector{Start: netip.IPv4Unspecified(), End: netip.AddrFrom4([4]byte{255, 255, 255, 255}), EndPort: 65535}
	}
	var all [16]byte
	for i := range all {
		all[i] = 0xff
	}
	return Selector{Start: netip.IPv6Unspecified(), End: netip.AddrFrom16(all), EndPort: 65535}
}

// PrefixSelector returns a selector for all protocols and ports within p.
func PrefixSelector(p netip.Prefix) Selector {
	p = p.Masked()
	start := p.Addr()
	b := start.AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := range 8 {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	end, _ := netip.AddrFromSlice(b)
	return Selector{Start: start, End: end, EndPort: 65535}
}

// String formats the selector like strongSwan: "192.0.2.0..192.0.2.255[6/80-80]".
func (s Selector) String() string {
	return fmt.Sprintf("%s..%s[%d/%d-%d]", s.Start, s.End, s.Proto, s.StartPort, s.EndPort)
}

func (s Selector) validate() error {
	if !s.Start.IsValid() || !s.End.IsValid() || s.Start.Is4() != s.End.Is4() || s.End.Less(s.Start) {
		return fmt.Errorf("esp: selector %s: invalid address range", s)
	}
	if s.EndPort < s.StartPort {
		return fmt.Errorf("esp: selector %s: invalid port range", s)
	}
	return nil
}

// matches reports whether address a with protocol proto and port port
// (0 when the protocol has none or the packet is a non-first fragment)
// falls inside s. ICMP type/code ride in the port fields as in RFC 4301
// section 4.4.1.3, so ICMP with a full port range matches any message.
func (s *Selector) matches(a netip.Addr, proto uint8, port uint16) bool {
	if a.Less(s.Start) || s.End.Less(a) {
		return false
	}
	if s.Proto != 0 && s.Proto != proto {
		return false
	}
	if s.StartPort == 0 && s.EndPort == 65535 {
		return true
	}
	return port >= s.StartPort && port <= s.EndPort
}

// single reports whether s names exactly one address, any port (the shape
// of a road-warrior's virtual IP), so lookups can use a hash index.
func (s *Selector) single() bool {
	return s.Start == s.End && s.Proto == 0 && s.StartPort == 0 && s.EndPort == 65535
}

// Policy is one entry of the security policy database: packets from Src to
// Dst (as seen in the direction Dir) get Action, and protected traffic uses
// the SAs with ReqID. For tunnel-mode IKEv2 CHILD SAs the IKE engine adds
// one DirOut policy (local TS -> remote TS) and one DirIn policy (remote TS
// -> local TS) per selector pair.
type Policy struct {
	// Dir is the direction the policy applies to.
	Dir Direction
	// Src and Dst select the packets by source and destination.
	Src, Dst Selector
	// Action is what happens to matching packets.
	Action Action
	// ReqID names the SAs protecting matching traffic (see SA.ReqID).
	ReqID uint32
	// Priority orders overlapping policies: lower values win, as in XFRM.
	// 0 (the usual value) lets the data plane compute it from the
	// selectors' specificity with AutoPriority, so a client's /32 wins
	// over another peer's 0.0.0.0/0 whatever their installation order.
	Priority uint32
	// IfID is the XFRM interface ID of the kernel data plane (package
	// xfrm) for this policy: 0 selects the data plane's default
	// (xfrm.WithIfID). Policies with identical selectors coexist in the
	// kernel when their IDs differ, so peers with overlapping traffic
	// selectors each get their own xfrm interface. The userspace engine
	// ignores it (its policy database is keyed by direction and selectors
	// alone).
	IfID uint32
}

// String describes the policy.
func (p *Policy) String() string {
	if p.IfID != 0 {
		return fmt.Sprintf("esp policy %s %s -> %s %s reqid=%d prio=%d if_id=%d", p.Dir, p.Src, p.Dst, p.Action, p.ReqID, p.Priority, p.IfID)
	}
	return fmt.Sprintf("esp policy %s %s -> %s %s reqid=%d prio=%d", p.Dir, p.Src, p.Dst, p.Action, p.ReqID, p.Priority)
}

// Policy priorities as strongSwan's kernel-netlink plugin computes them for
// its default (not routed, not fallback) policies: a base from which each
// prefix bit of either selector takes 512, a protocol 256 and each port
// mask bit 4, minus 1 for a policy that is not a trap (routed) policy.
const (
	prioBase    = 200000
	prioDefault = 2 * prioBase
)

// AutoPriority returns the priority a policy with Priority 0 gets from
// src and dst: the more specific the selectors, the lower (stronger) the
// value, with strongSwan's weights (prefix lengths, then protocol, then
// ports), so both data planes pick the longest match, as the kernel does
// for strongSwan's policies. An address range that is not a prefix counts
// as the smallest prefix covering it, a port range likewise.
func AutoPriority(src, dst Selector) uint32 {
	return AutoPriorityBits(rangeBits(src.Start, src.End), rangeBits(dst.Start, dst.End),
		src.Proto != 0 || dst.Proto != 0, portBits(src.StartPort, src.EndPort), portBits(dst.StartPort, dst.EndPort))
}

// AutoPriorityBits is AutoPriority from prefix lengths, whether a
// protocol is set and port mask lengths (0 for any port, 16 for one): the
// form a kernel selector has (package xfrm uses it for every prefix a
// range is split into).
func AutoPriorityBits(srcBits, dstBits int, proto bool, srcPortBits, dstPortBits int) uint32 {
	p := uint32(prioDefault)
	p -= uint32(srcBits+dstBits) * 512
	if proto {
		p -= 256
	}
	p -= uint32(srcPortBits+dstPortBits) * 4
	return p - 1
}

// rangeBits is the length of the longest prefix that contains both a and b.
func rangeBits(a, b netip.Addr) int {
	if !a.IsValid() || !b.IsValid() || a.Is4() != b.Is4() {
		return 0
	}
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		n += bits.LeadingZeros8(d)
		break
	}
	if a.Is4() {
		n -= 96
	}
	return n
}

// portBits is the mask length of the smallest port block covering lo..hi
// (0 for the full range).
func portBits(lo, hi uint16) int {
	if lo == 0 && hi == 65535 {
		return 0
	}
	return bits.LeadingZeros16(lo ^ hi)
}

// key identifies a policy for DeletePolicy, like XFRM's (selector, dir).
type policyKey struct {
	dir      Direction
	src, dst Selector
}

func (p *Policy) key() policyKey { return policyKey{p.Dir, p.Src, p.Dst} }

func (p *Policy) validate() error {
	if p.Dir != DirIn && p.Dir != DirOut {
		return fmt.Errorf("esp: policy %s: invalid direction", p)
	}
	if err := p.Src.validate(); err != nil {
		return err
	}
	if err := p.Dst.validate(); err != nil {
		return err
	}
	if p.Src.Start.Is4() != p.Dst.Start.Is4() {
		return fmt.Errorf("esp: policy %s: selectors of different address families", p)
	}
	if p.Action > ActionDiscard {
		return fmt.Errorf("esp: policy %s: invalid action", p)
	}
	return nil
}
