package esp

import (
	"errors"
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

// TestIdenticalSelectors: two peers' SAs with identical selectors (two
// site-to-site peers with the same subnets, a client reconnecting without
// INITIAL_CONTACT) both install; the newest carries the traffic; deleting
// it gives the traffic back to the older one, deleting the older one
// first leaves the newest in place; the same ReqID twice is a duplicate.
func TestIdenticalSelectors(t *testing.T) {
	u := &Userspace{t: newTables()}
	ctx := t.Context()
	sel := func(s string) Selector { return PrefixSelector(netip.MustParsePrefix(s)) }
	pol := func(dir Direction, reqid uint32) Policy {
		if dir == DirOut {
			return Policy{Dir: DirOut, Src: sel("198.51.100.0/24"), Dst: sel("203.0.113.0/24"), ReqID: reqid}
		}
		return Policy{Dir: DirIn, Src: sel("203.0.113.0/24"), Dst: sel("198.51.100.0/24"), ReqID: reqid}
	}
	out := func() uint32 {
		ps := u.t.spdOut.lookup(&flow{src: netip.MustParseAddr("198.51.100.7"), dst: netip.MustParseAddr("203.0.113.7"), proto: 1})
		if ps == nil {
			return 0
		}
		return ps.p.ReqID
	}
	inbound := func(reqid uint32) bool {
		return u.t.inboundAllowed(reqid, &flow{src: netip.MustParseAddr("203.0.113.7"), dst: netip.MustParseAddr("198.51.100.7"), proto: 1})
	}
	for _, r := range []uint32{1, 2, 3} {
		for _, d := range []Direction{DirOut, DirIn} {
			if err := u.AddPolicy(ctx, pol(d, r)); err != nil {
				t.Fatalf("AddPolicy %s reqid %d: %v", d, r, err)
			}
		}
		if got := out(); got != r {
			t.Fatalf("after adding reqid %d the traffic goes to reqid %d", r, got)
		}
	}
	if err := u.AddPolicy(ctx, pol(DirOut, 2)); !errors.Is(err, ErrPolicyExists) {
		t.Errorf("same selectors and ReqID again: %v, want ErrPolicyExists", err)
	}
	for _, r := range []uint32{1, 2, 3} {
		if !inbound(r) {
			t.Errorf("inbound traffic of the waiting SA %d refused", r)
		}
	}
	// The oldest goes first: the newest keeps the traffic.
	for _, d := range []Direction{DirOut, DirIn} {
		if err := u.DeletePolicy(ctx, pol(d, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out(); got != 3 || inbound(1) || !inbound(3) {
		t.Errorf("after deleting the oldest: traffic to %d, inbound 1 %v, 3 %v", got, inbound(1), inbound(3))
	}
	// The newest goes: the one below takes over.
	for _, d := range []Direction{DirOut, DirIn} {
		if err := u.DeletePolicy(ctx, pol(d, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out(); got != 2 || !inbound(2) {
		t.Errorf("after deleting the newest: traffic to %d, inbound 2 %v", got, inbound(2))
	}
	if err := u.DeletePolicy(ctx, pol(DirOut, 3)); !errors.Is(err, ErrPolicyNotFound) {
		t.Errorf("deleting a removed ReqID: %v", err)
	}
	for _, d := range []Direction{DirOut, DirIn} {
		if err := u.DeletePolicy(ctx, pol(d, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out(); got != 0 || len(u.t.spdOut.shadow) != 0 || len(u.t.spdIn.shadow) != 0 || len(u.t.inReq) != 0 {
		t.Errorf("left behind: traffic to %d, shadows %d/%d, inReq %d", got, len(u.t.spdOut.shadow), len(u.t.spdIn.shadow), len(u.t.inReq))
	}
}
