package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/goipsec/ipsec/esp"
)

func TestPolicySelector(t *testing.T) {
	a := netip.MustParseAddr
	tcp80 := esp.Selector{Start: a("192.0.2.7"), End: a("192.0.2.7"), Proto: 6, StartPort: 80, EndPort: 80}
	cases := []struct {
		name string
		p    esp.Policy
		want []kselector
		err  bool
	}{
		{"prefixes", esp.Policy{Src: pfx("198.51.100.0/24"), Dst: esp.AnySelector(true)},
			[]kselector{{src: netip.MustParsePrefix("198.51.100.0/24"), dst: netip.MustParsePrefix("0.0.0.0/0")}}, false},
		{"ipv6 host", esp.Policy{Src: pfx("2001:db8::1/128"), Dst: pfx("2001:db8:1::/48")},
			[]kselector{{src: netip.MustParsePrefix("2001:db8::1/128"), dst: netip.MustParsePrefix("2001:db8:1::/48")}}, false},
		{"one port", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.1"), Proto: 6, EndPort: 65535}, Dst: tcp80},
			[]kselector{{src: netip.MustParsePrefix("192.0.2.1/32"), dst: netip.MustParsePrefix("192.0.2.7/32"), proto: 6, dstPort: 80}}, false},
		{"address range", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.10"), EndPort: 65535}, Dst: pfx("203.0.113.0/24")},
			ranged([]string{"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/31", "192.0.2.10/32"}, "203.0.113.0/24"), false},
		{"misaligned pair", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.2"), EndPort: 65535}, Dst: pfx("203.0.113.0/24")},
			ranged([]string{"192.0.2.1/32", "192.0.2.2/32"}, "203.0.113.0/24"), false},
		{"whole space but one", esp.Policy{Src: esp.Selector{Start: a("0.0.0.1"), End: a("255.255.255.255"), EndPort: 65535}, Dst: pfx("203.0.113.0/24")},
			ranged(wholeButOne(), "203.0.113.0/24"), false},
		{"too many prefixes", esp.Policy{Src: esp.Selector{Start: a("2001:db8::1"), End: a("2001:db8::ffff:ffff:ffff:fffe"), EndPort: 65535}, Dst: pfx("2001:db8:1::/48")}, nil, true},
		{"port range", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.1"), Proto: 6, StartPort: 1000, EndPort: 2000}, Dst: tcp80}, nil, true},
		{"protocols differ", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.1"), Proto: 17, EndPort: 65535}, Dst: tcp80}, nil, true},
		{"families differ", esp.Policy{Src: pfx("2001:db8::/32"), Dst: esp.AnySelector(true)}, nil, true},
		{"icmp type", esp.Policy{Src: esp.Selector{Start: a("192.0.2.1"), End: a("192.0.2.1"), Proto: 1, StartPort: 0x0800, EndPort: 0x0800}, Dst: esp.AnySelector(true)}, nil, true},
		{"zero selector", esp.Policy{Dst: esp.AnySelector(true)}, nil, true},
	}
	for _, c := range cases {
		got, err := policySelectors(&c.p)
		if c.err {
			if !errors.Is(err, ErrSelector) {
				t.Errorf("%s: %v, want ErrSelector", c.name, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
}

func ranged(srcs []string, dst string) []kselector {
	var out []kselector
	for _, s := range srcs {
		out = append(out, kselector{src: netip.MustParsePrefix(s), dst: netip.MustParsePrefix(dst)})
	}
	return out
}

// wholeButOne lists the prefixes of 0.0.0.1-255.255.255.255: /32, /31,
// /30, ... /1 starting at 1, 2, 4, ... 2^31.
func wholeButOne() []string {
	var out []string
	for bits := 32; bits >= 1; bits-- {
		start := uint32(1) << (32 - bits)
		out = append(out, netip.AddrFrom4([4]byte{byte(start >> 24), byte(start >> 16), byte(start >> 8), byte(start)}).String()+fmt.Sprintf("/%d", bits))
	}
	return out
}

// TestSelectorWireRoundTrip encodes selectors as struct xfrm_selector and
// decodes them back, as acquire messages carry them.
func TestSelectorWireRoundTrip(t *testing.T) {
	for _, k := range []kselector{
		{src: netip.MustParsePrefix("198.51.100.0/24"), dst: netip.MustParsePrefix("0.0.0.0/0")},
		{src: netip.MustParsePrefix("2001:db8::/64"), dst: netip.MustParsePrefix("2001:db8:ffff::1/128"), proto: 17, srcPort: 500, dstPort: 4500},
	} {
		b := make([]byte, sizeofSelector)
		putSelector(b, &k)
		got, err := getSelector(b)
		if err != nil || got != k {
			t.Errorf("round trip of %v: %v %v", k, got, err)
		}
	}
}

// TestPolicyPriorityLongestMatch: policies left at priority 0 get
// strongSwan's values per kernel selector, so a client's /32 beats a
// 0.0.0.0/0 in the kernel whatever the order; explicit priorities stay.
func TestPolicyPriorityLongestMatch(t *testing.T) {
	pfx := netip.MustParsePrefix
	wide := kselector{src: pfx("0.0.0.0/0"), dst: pfx("0.0.0.0/0")}
	host := kselector{src: pfx("0.0.0.0/0"), dst: pfx("192.0.2.10/32")}
	port := kselector{src: pfx("192.0.2.1/32"), dst: pfx("192.0.2.10/32"), proto: 6, dstPort: 80}
	if got := kernelPriority(0, &wide); got != 399999 {
		t.Errorf("0/0 priority %d, want strongSwan's 399999", got)
	}
	if got := kernelPriority(0, &host); got != 399999-32*512 {
		t.Errorf("/32 priority %d, want %d", got, 399999-32*512)
	}
	if got := kernelPriority(0, &port); got != 399999-64*512-256-16*4 {
		t.Errorf("port policy priority %d", got)
	}
	if kernelPriority(0, &host) >= kernelPriority(0, &wide) || kernelPriority(0, &port) >= kernelPriority(0, &host) {
		t.Error("a more specific selector must get a lower (stronger) priority")
	}
	if got := kernelPriority(1000, &host); got != 1000 {
		t.Errorf("explicit priority replaced: %d", got)
	}
}
