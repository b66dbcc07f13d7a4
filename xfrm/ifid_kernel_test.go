//go:build linux

package xfrm

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/vishvananda/netlink"
)

// TestKernelPerSAIfID is a gateway with two site-to-site peers whose
// traffic selectors are identical (198.51.100.0/24 <-> 203.0.113.0/24):
// without interface IDs the second peer's policies collide, with one ID
// per peer (WithIfIDRange, esp.SA.IfID, esp.Policy.IfID) both install,
// the kernel holds them on their IDs, traffic routed into each peer's
// xfrm interface leaves through that peer's SA, and Close removes both.
// Stale removal then claims exactly the IDs of the range.
func TestKernelPerSAIfID(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	outer := dummy(t, h, "outer", "192.0.2.1/24")
	dummy(t, h, "inner", "198.51.100.1/24")
	ctx := context.Background()
	d := newDP(t, ns, WithIfIDRange(10, 19), WithReqIDRange(1, 99))
	local, remote := pfx("198.51.100.0/24"), pfx("203.0.113.0/24")
	pols := func(reqid, ifid uint32) []esp.Policy {
		return []esp.Policy{
			{Dir: esp.DirOut, Src: local, Dst: remote, ReqID: reqid, IfID: ifid},
			{Dir: esp.DirIn, Src: remote, Dst: local, ReqID: reqid, IfID: ifid},
		}
	}

	// Without interface IDs: the second peer's identical selectors take
	// the kernel policies over (the newest SA carries the traffic, as in
	// strongSwan), its Delete gives them back to the first; the same
	// ReqID twice is a duplicate; another data plane collides in the
	// kernel.
	kernelReqIDs := func() map[netlink.Dir]int {
		l, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		m := map[netlink.Dir]int{}
		for _, p := range l {
			if len(p.Tmpls) == 1 && p.Dst.String() == remote.Start.String()+"/24" || len(p.Tmpls) == 1 && p.Src.String() == remote.Start.String()+"/24" {
				m[p.Dir] = p.Tmpls[0].Reqid
			}
		}
		return m
	}
	wantReqIDs := func(stage string, want int) {
		t.Helper()
		got := kernelReqIDs()
		if len(got) != 3 {
			t.Errorf("%s: kernel policies %v, want out, in and fwd", stage, got)
		}
		for dir, r := range got {
			if r != want {
				t.Errorf("%s: kernel %v policy carries ReqID %d, want %d", stage, dir, r, want)
			}
		}
	}
	for _, p := range pols(1, 0) {
		if err := d.AddPolicy(ctx, p); err != nil {
			t.Fatalf("first peer without if_id: %v", err)
		}
	}
	for _, p := range pols(2, 0) {
		if err := d.AddPolicy(ctx, p); err != nil {
			t.Fatalf("second peer, same selectors, no if_id: %v", err)
		}
	}
	wantReqIDs("second peer added", 2)
	if err := d.AddPolicy(ctx, pols(2, 0)[0]); !errors.Is(err, esp.ErrPolicyExists) {
		t.Errorf("same selectors and ReqID again: %v, want ErrPolicyExists", err)
	}
	other := newDP(t, ns, WithReqIDRange(100, 199))
	if err := other.AddPolicy(ctx, pols(100, 0)[0]); !errors.Is(err, esp.ErrPolicyExists) {
		t.Errorf("same selectors, no if_id, from another data plane: %v, want the kernel's EEXIST as ErrPolicyExists", err)
	}
	for _, p := range pols(2, 0) {
		if err := d.DeletePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	wantReqIDs("second peer deleted", 1)
	for _, p := range pols(1, 0) {
		if err := d.DeletePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := kernelReqIDs(); len(got) != 0 {
		t.Errorf("kernel policies left: %v", got)
	}
	// IDs outside {default} and the range are refused.
	if err := d.AddPolicy(ctx, pols(1, 20)[0]); err == nil {
		t.Error("policy with if_id 20 outside WithIfIDRange 10-19 accepted")
	}
	bad := testSuites[0].fill(&esp.SA{SPI: 0x9999, Dir: esp.DirOut, Src: netip.AddrPortFrom(addrA, 0),
		Dst: netip.AddrPortFrom(addrB, 0), ReqID: 1, IfID: 9})
	if err := d.AddSA(ctx, bad); err == nil {
		t.Error("SA with if_id 9 outside WithIfIDRange 10-19 accepted")
	}

	// Two peers, one interface ID each.
	type peer struct {
		ifid, reqid uint32
		addr, host  netip.Addr // outer address; inner host routed into its interface
		out, in     *esp.SA
	}
	peers := []*peer{
		{ifid: 11, reqid: 1, addr: netip.MustParseAddr("192.0.2.10"), host: netip.MustParseAddr("203.0.113.5")},
		{ifid: 12, reqid: 2, addr: netip.MustParseAddr("192.0.2.20"), host: netip.MustParseAddr("203.0.113.6")},
	}
	for i, p := range peers {
		spi := uint32(0x7100 + 0x10*i)
		p.out = testSuites[0].fill(&esp.SA{SPI: spi, Dir: esp.DirOut, Src: netip.AddrPortFrom(addrA, 0),
			Dst: netip.AddrPortFrom(p.addr, 0), ReqID: p.reqid, IfID: p.ifid})
		p.in = testSuites[0].fill(&esp.SA{SPI: spi + 1, Dir: esp.DirIn, Src: netip.AddrPortFrom(p.addr, 0),
			Dst: netip.AddrPortFrom(addrA, 0), ReqID: p.reqid, IfID: p.ifid})
		if p.ifid == 12 {
			// Expire events on an ID of the range are ours.
			p.in.Lifetime.Soft.Time = time.Second
		}
		for _, sa := range []*esp.SA{p.out, p.in} {
			if err := d.AddSA(ctx, sa); err != nil {
				t.Fatalf("peer if_id %d: AddSA: %v", p.ifid, err)
			}
		}
		for _, pol := range pols(p.reqid, p.ifid) {
			if err := d.AddPolicy(ctx, pol); err != nil {
				t.Fatalf("peer if_id %d: AddPolicy: %v", p.ifid, err)
			}
		}
	}

	// Read back from the kernel.
	states, err := h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	gotState := map[uint32]int{}
	for _, st := range states {
		gotState[uint32(st.Spi)] = st.Ifid
	}
	for _, p := range peers {
		for _, sa := range []*esp.SA{p.out, p.in} {
			if got, ok := gotState[sa.SPI]; !ok || got != int(p.ifid) {
				t.Errorf("state 0x%x: if_id %d (present %t), want %d", sa.SPI, got, ok, p.ifid)
			}
		}
	}
	kpols, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	type polID struct {
		dir  netlink.Dir
		ifid int
	}
	gotPol := map[polID]netlink.XfrmPolicy{}
	for _, kp := range kpols {
		gotPol[polID{kp.Dir, kp.Ifid}] = kp
	}
	if len(kpols) != 6 {
		t.Errorf("%d kernel policies, want 6 (out, in, fwd for each peer): %v", len(kpols), kpols)
	}
	for _, p := range peers {
		for _, dir := range []netlink.Dir{netlink.XFRM_DIR_OUT, netlink.XFRM_DIR_IN, netlink.XFRM_DIR_FWD} {
			kp, ok := gotPol[polID{dir, int(p.ifid)}]
			if !ok {
				t.Errorf("no %s policy on if_id %d", dir, p.ifid)
				continue
			}
			src, dst := "198.51.100.0/24", "203.0.113.0/24"
			if dir != netlink.XFRM_DIR_OUT {
				src, dst = dst, src
			}
			if kp.Src.String() != src || kp.Dst.String() != dst || len(kp.Tmpls) != 1 || kp.Tmpls[0].Reqid != int(p.reqid) {
				t.Errorf("%s policy on if_id %d: %v, want %s -> %s reqid %d", dir, p.ifid, kp, src, dst, p.reqid)
			} else if dir == netlink.XFRM_DIR_OUT && !kp.Tmpls[0].Dst.Equal(p.addr.AsSlice()) {
				t.Errorf("out policy on if_id %d sends to %s, want the peer %s", p.ifid, kp.Tmpls[0].Dst, p.addr)
			}
		}
	}

	// Traffic: one xfrm interface per peer; a host behind each peer is
	// routed into its interface, and the packets must leave through that
	// peer's SA even though both policies match them. The ESP packets
	// themselves go out on the dummy device and are dropped there.
	for _, p := range peers {
		name := map[uint32]string{11: "xfrmA", 12: "xfrmB"}[p.ifid]
		if err := h.LinkAdd(&netlink.Xfrmi{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: outer.Attrs().Index}, Ifid: p.ifid}); err != nil {
			t.Fatalf("xfrm interface if_id %d: %v", p.ifid, err)
		}
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: p.host.AsSlice(), Mask: net.CIDRMask(32, 32)},
			Src: net.ParseIP("198.51.100.1"), Scope: netlink.SCOPE_LINK}); err != nil {
			t.Fatalf("route %s dev %s: %v", p.host, name, err)
		}
	}
	sent := map[uint32]uint64{}
	for _, p := range peers {
		inNS(t, ns, func() {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: p.host.AsSlice(), Port: 9})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 3 {
				if _, err := c.Write([]byte("to peer")); err != nil {
					t.Errorf("send to %s: %v", p.host, err)
				}
			}
		})
		sent[p.ifid] += 3
		for _, q := range peers {
			st, err := d.SAStats(q.out.ID())
			if err != nil {
				t.Fatal(err)
			}
			if st.Packets != sent[q.ifid] {
				t.Errorf("after sending to %s (if_id %d): SA of if_id %d has %d packets, want %d",
					p.host, p.ifid, q.ifid, st.Packets, sent[q.ifid])
			}
		}
	}

	ev := nextEvent(t, d, esp.EventSoftExpire, 10*time.Second)
	if ev.SA != peers[1].in.ID() || ev.ReqID != 2 {
		t.Errorf("soft expiry %s, want SA %s reqid 2 (if_id 12)", ev, peers[1].in.ID())
	}

	// Close removes both peers' states and policies, not the other data
	// plane's (which holds none now) nor anything else.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if states, _ := h.XfrmStateList(netlink.FAMILY_ALL); len(states) != 0 {
		t.Errorf("%d states after Close", len(states))
	}
	if kpols, _ := h.XfrmPolicyList(netlink.FAMILY_ALL); len(kpols) != 0 {
		t.Errorf("%d policies after Close", len(kpols))
	}

	// Stale removal claims the range and nothing else: a crashed instance
	// left state on if_id 15; if_id 25 and untagged state are foreign.
	for i, ifid := range []int{15, 25, 0} {
		st := &netlink.XfrmState{Dst: addrB.AsSlice(), Src: addrA.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL,
			Spi: 0x7200 + i, Reqid: 50, Ifid: ifid, Aead: &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: make([]byte, 20), ICVLen: 128}}
		if err := h.XfrmStateAdd(st); err != nil {
			t.Fatal(err)
		}
		_, n, _ := net.ParseCIDR("198.51.100.0/24")
		if err := h.XfrmPolicyAdd(&netlink.XfrmPolicy{Src: n, Dst: n, Dir: netlink.XFRM_DIR_OUT, Ifid: ifid,
			Tmpls: []netlink.XfrmPolicyTmpl{{Dst: addrB.AsSlice(), Src: addrA.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: 50}}}); err != nil {
			t.Fatal(err)
		}
	}
	newDP(t, ns, WithIfIDRange(10, 19), WithRemoveStale())
	states, _ = h.XfrmStateList(netlink.FAMILY_ALL)
	kpols, _ = h.XfrmPolicyList(netlink.FAMILY_ALL)
	left := map[int]int{}
	for _, st := range states {
		left[st.Ifid]++
	}
	for _, kp := range kpols {
		left[kp.Ifid]++
	}
	if left[15] != 0 || left[25] != 2 || left[0] != 2 {
		t.Errorf("after stale removal, states+policies per if_id %v, want none on 15, both on 25 and 0", left)
	}
}
