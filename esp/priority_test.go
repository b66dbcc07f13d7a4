package esp

import (
	"net/netip"
	"testing"
)

// TestAutoPriorityValues checks the formula against strongSwan's values
// for its default policies (kernel_netlink_ipsec.c get_priority): a
// host-to-host policy and a 0/0 one.
func TestAutoPriorityValues(t *testing.T) {
	any4 := AnySelector(true)
	host := func(s string) Selector { return PrefixSelector(netip.MustParsePrefix(s)) }
	for _, tc := range []struct {
		name     string
		src, dst Selector
		want     uint32
	}{
		{"0/0 <-> 0/0", any4, any4, 399999},
		{"0/0 -> /32", any4, host("192.0.2.2/32"), 399999 - 32*512},
		{"/24 -> /24", host("198.51.100.0/24"), host("203.0.113.0/24"), 399999 - 48*512},
		{"::/0 -> /128", AnySelector(false), host("2001:db8::2/128"), 399999 - 128*512},
		{"tcp/80 host to host", host("192.0.2.1/32"), Selector{Start: netip.MustParseAddr("192.0.2.2"), End: netip.MustParseAddr("192.0.2.2"), Proto: 6, StartPort: 80, EndPort: 80}, 399999 - 64*512 - 256 - 16*4},
		{"range counts as covering prefix", Selector{Start: netip.MustParseAddr("192.0.2.1"), End: netip.MustParseAddr("192.0.2.6"), EndPort: 65535}, any4, 399999 - 29*512},
	} {
		if got := AutoPriority(tc.src, tc.dst); got != tc.want {
			t.Errorf("%s: AutoPriority = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSPDLongestMatch: with priorities left at 0, a client's /32 policy
// wins over a wider policy installed earlier (another peer's 0/0), in both
// directions, and an explicit priority still overrides.
func TestSPDLongestMatch(t *testing.T) {
	any4 := AnySelector(true)
	client := PrefixSelector(netip.MustParsePrefix("192.0.2.10/32"))
	subnet := PrefixSelector(netip.MustParsePrefix("192.0.2.0/24"))
	out, in := newSPD(true), newSPD(false)
	seq := uint64(0)
	add := func(d *spd, p Policy) {
		seq++
		d.add(newPolicyState(p, seq))
	}
	add(&out, Policy{Dir: DirOut, Src: any4, Dst: any4, ReqID: 1})
	add(&in, Policy{Dir: DirIn, Src: any4, Dst: any4, ReqID: 1})
	add(&out, Policy{Dir: DirOut, Src: any4, Dst: subnet, ReqID: 2})
	add(&out, Policy{Dir: DirOut, Src: any4, Dst: client, ReqID: 3})
	add(&in, Policy{Dir: DirIn, Src: client, Dst: any4, ReqID: 3})

	lookup := func(d *spd, src, dst string) uint32 {
		f := &flow{src: netip.MustParseAddr(src), dst: netip.MustParseAddr(dst), proto: 1}
		ps := d.lookup(f)
		if ps == nil {
			return 0
		}
		return ps.p.ReqID
	}
	for _, tc := range []struct {
		d        *spd
		src, dst string
		want     uint32
	}{
		{&out, "203.0.113.1", "192.0.2.10", 3},
		{&out, "203.0.113.1", "192.0.2.11", 2},
		{&out, "203.0.113.1", "198.51.100.7", 1},
		{&in, "192.0.2.10", "203.0.113.1", 3},
		{&in, "192.0.2.11", "203.0.113.1", 1},
	} {
		if got := lookup(tc.d, tc.src, tc.dst); got != tc.want {
			t.Errorf("%s -> %s: policy of ReqID %d, want %d", tc.src, tc.dst, got, tc.want)
		}
	}
	// An explicit priority is the operator's: it wins over specificity.
	add(&out, Policy{Dir: DirOut, Src: PrefixSelector(netip.MustParsePrefix("203.0.113.0/24")), Dst: any4, ReqID: 4, Priority: 100})
	if got := lookup(&out, "203.0.113.1", "192.0.2.10"); got != 4 {
		t.Errorf("explicit priority: policy of ReqID %d, want 4", got)
	}
}
