//go:build linux

package xfrm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

func newDP(tb testing.TB, ns netns.NsHandle, opts ...Option) *DataPlane {
	tb.Helper()
	d, err := New(append([]Option{WithNetNS(ns)}, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// readState fetches a state through the library (independent decoding).
func readState(t *testing.T, h *netlink.Handle, dst netip.Addr, spi uint32) (*netlink.XfrmState, error) {
	t.Helper()
	return h.XfrmStateGet(&netlink.XfrmState{Dst: dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Spi: int(spi)})
}

// wantAlgs is what the kernel should report for s, from the kernel's
// algorithm names (crypto/xfrm/xfrm_algo.c) and RFC ICV sizes.
func wantAlgs(s suite, sa *esp.SA) (aead, crypt, auth *netlink.XfrmStateAlgo) {
	icv := map[uint16]int{18: 64, 19: 96, 20: 128, 14: 64, 15: 96, 16: 128, 28: 128, 21: 128}
	names := map[uint16]string{
		18: "rfc4106(gcm(aes))", 19: "rfc4106(gcm(aes))", 20: "rfc4106(gcm(aes))",
		14: "rfc4309(ccm(aes))", 15: "rfc4309(ccm(aes))", 16: "rfc4309(ccm(aes))",
		28: "rfc7539esp(chacha20,poly1305)", 21: "rfc4543(gcm(aes))",
		12: "cbc(aes)", 13: "rfc3686(ctr(aes))", 3: "cbc(des3_ede)", 11: "ecb(cipher_null)",
		23: "cbc(camellia)", 24: "rfc3686(ctr(camellia))",
	}
	integ := map[uint16]struct {
		n string
		t int
	}{1: {"hmac(md5)", 96}, 2: {"hmac(sha1)", 96}, 5: {"xcbc(aes)", 96}, 6: {"hmac(md5)", 128},
		7: {"hmac(sha1)", 160}, 8: {"cmac(aes)", 96}, 12: {"hmac(sha256)", 128}, 13: {"hmac(sha384)", 192}, 14: {"hmac(sha512)", 256}}
	if n, ok := icv[uint16(s.encr)]; ok {
		return &netlink.XfrmStateAlgo{Name: names[uint16(s.encr)], Key: sa.EncrKey, ICVLen: n}, nil, nil
	}
	in := integ[uint16(s.integ)]
	return nil, &netlink.XfrmStateAlgo{Name: names[uint16(s.encr)], Key: sa.EncrKey},
		&netlink.XfrmStateAlgo{Name: in.n, Key: sa.IntegKey, TruncateLen: in.t}
}

func TestKernelStates(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	d := newDP(t, ns)
	ctx := context.Background()
	spi := uint32(0x1000)
	for i, s := range testSuites {
		for _, esn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/esn=%t", s, esn), func(t *testing.T) {
				spi++
				encap := i%2 == 1
				sa := s.fill(&esp.SA{SPI: spi, Dir: esp.DirOut, Src: netip.AddrPortFrom(addrA, 0), Dst: netip.AddrPortFrom(addrB, 0),
					ESN: esn, ReqID: uint32(100 + i), ReplayWindow: 64 * (i + 1),
					Lifetime: esp.Lifetime{Soft: esp.Limits{Bytes: 1 << 30, Packets: 1 << 20, Time: time.Hour}, Hard: esp.Limits{Time: 2 * time.Hour}}})
				if encap {
					sa.Src, sa.Dst = netip.AddrPortFrom(addrA, 4500), netip.AddrPortFrom(addrB, 4501)
				}
				if i%3 == 0 {
					sa.Mode = esp.ModeTransport
				}
				if err := d.AddSA(ctx, sa); err != nil {
					t.Fatalf("AddSA: %v", err)
				}
				if err := d.AddSA(ctx, sa); !errors.Is(err, esp.ErrSAExists) {
					t.Fatalf("second AddSA: %v, want ErrSAExists", err)
				}
				got, err := readState(t, h, addrB, spi)
				if err != nil {
					t.Fatalf("XfrmStateGet: %v", err)
				}
				aead, crypt, auth := wantAlgs(s, sa)
				for _, c := range []struct {
					name      string
					got, want *netlink.XfrmStateAlgo
				}{{"aead", got.Aead, aead}, {"crypt", got.Crypt, crypt}, {"auth", got.Auth, auth}} {
					if diff := cmp.Diff(c.want, c.got); diff != "" {
						t.Errorf("%s algorithm (-want +got):\n%s", c.name, diff)
					}
				}
				wantMode := netlink.XFRM_MODE_TUNNEL
				if sa.Mode == esp.ModeTransport {
					wantMode = netlink.XFRM_MODE_TRANSPORT
				}
				if got.Mode != wantMode || got.Reqid != int(sa.ReqID) || !got.Src.Equal(addrA.AsSlice()) {
					t.Errorf("mode %v reqid %d src %v, want %v %d %v", got.Mode, got.Reqid, got.Src, wantMode, sa.ReqID, addrA)
				}
				if got.Limits.ByteSoft != 1<<30 || got.Limits.PacketSoft != 1<<20 || got.Limits.TimeSoft != 3600 || got.Limits.TimeHard != 7200 || got.Limits.ByteHard != xfrmInf {
					t.Errorf("limits %+v", got.Limits)
				}
				if encap {
					if got.Encap == nil || got.Encap.Type != netlink.XFRM_ENCAP_ESPINUDP || got.Encap.SrcPort != 4500 || got.Encap.DstPort != 4501 {
						t.Errorf("encap %v, want espinudp 4500->4501", got.Encap)
					}
				} else if got.Encap != nil {
					t.Errorf("encap %v, want none", got.Encap)
				}
				raw, err := d.getStateLocked(addrB, spi)
				if err != nil {
					t.Fatal(err)
				}
				if raw.esn != esn || raw.replayESN == nil || he.Uint32(raw.replayESN[20:]) != uint32(sa.ReplayWindow) {
					t.Errorf("esn %t window attr %x, want esn %t window %d", raw.esn, raw.replayESN, esn, sa.ReplayWindow)
				}

				// Update: lifetimes and (for ESP in UDP) ports change in place.
				up := *sa
				up.Lifetime.Hard.Time = 3 * time.Hour
				if encap {
					up.Dst = netip.AddrPortFrom(addrB, 34567)
				}
				if err := d.UpdateSA(ctx, sa.ID(), &up); err != nil {
					t.Fatalf("UpdateSA: %v", err)
				}
				got, err = readState(t, h, addrB, spi)
				if err != nil {
					t.Fatal(err)
				}
				if got.Limits.TimeHard != 3*3600 {
					t.Errorf("after update hard time %d, want %d", got.Limits.TimeHard, 3*3600)
				}
				if encap && (got.Encap == nil || got.Encap.DstPort != 34567) {
					t.Errorf("after update encap %v, want dport 34567", got.Encap)
				}
				bad := up
				bad.ESN = !bad.ESN
				if err := d.UpdateSA(ctx, sa.ID(), &bad); err == nil {
					t.Error("UpdateSA changing the algorithm succeeded")
				}
				if err := d.DeleteSA(ctx, sa.ID()); err != nil {
					t.Fatalf("DeleteSA: %v", err)
				}
				if _, err := readState(t, h, addrB, spi); !errors.Is(err, unix.ESRCH) {
					t.Errorf("state after delete: %v, want ESRCH", err)
				}
				if err := d.DeleteSA(ctx, sa.ID()); !errors.Is(err, esp.ErrSANotFound) {
					t.Errorf("second DeleteSA: %v, want ErrSANotFound", err)
				}
				if _, err := d.SAStats(sa.ID()); !errors.Is(err, esp.ErrSANotFound) {
					t.Errorf("SAStats after delete: %v, want ErrSANotFound", err)
				}
			})
		}
	}
}

// policiesOf lists the kernel's policies, keyed "dir src dst".
func policiesOf(t *testing.T, h *netlink.Handle) map[string]netlink.XfrmPolicy {
	t.Helper()
	l, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]netlink.XfrmPolicy{}
	for _, p := range l {
		m[fmt.Sprintf("%s %s %s", p.Dir, p.Src, p.Dst)] = p
	}
	return m
}

func TestKernelPolicies(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	d := newDP(t, ns)
	ctx := context.Background()
	s := testSuites[0]
	in := s.fill(&esp.SA{SPI: 0x2001, Dir: esp.DirIn, Src: netip.AddrPortFrom(addrB, 0), Dst: netip.AddrPortFrom(addrA, 0), ReqID: 7})
	out := s.fill(&esp.SA{SPI: 0x3001, Dir: esp.DirOut, Src: netip.AddrPortFrom(addrA, 0), Dst: netip.AddrPortFrom(addrB, 0), ReqID: 7})
	pout := esp.Policy{Dir: esp.DirOut, Src: pfx("198.51.100.0/24"), Dst: pfx("203.0.113.0/24"), ReqID: 7, Priority: 1000}
	pin := esp.Policy{Dir: esp.DirIn, Src: pfx("203.0.113.0/24"), Dst: pfx("198.51.100.0/24"), ReqID: 7, Priority: 1000}
	// Policies first: the outbound template takes the addresses of the
	// inbound SA, reversed, until the outbound SA exists.
	for _, p := range []esp.Policy{pout, pin} {
		if err := d.AddPolicy(ctx, p); err != nil {
			t.Fatalf("AddPolicy %s: %v", &p, err)
		}
	}
	if err := d.AddPolicy(ctx, pout); !errors.Is(err, esp.ErrPolicyExists) {
		t.Fatalf("second AddPolicy: %v, want ErrPolicyExists", err)
	}
	if err := d.AddSA(ctx, in); err != nil {
		t.Fatal(err)
	}
	pols := policiesOf(t, h)
	if len(pols) != 3 {
		t.Fatalf("%d kernel policies, want out, in, fwd: %v", len(pols), pols)
	}
	o := pols["dir out 198.51.100.0/24 203.0.113.0/24"]
	if len(o.Tmpls) != 1 || !o.Tmpls[0].Dst.Equal(addrB.AsSlice()) || !o.Tmpls[0].Src.Equal(addrA.AsSlice()) ||
		o.Tmpls[0].Reqid != 7 || o.Tmpls[0].Mode != netlink.XFRM_MODE_TUNNEL || o.Priority != 1000 || o.Action != netlink.XFRM_POLICY_ALLOW {
		t.Errorf("out policy %v", o)
	}
	for _, dir := range []string{"in", "fwd"} {
		p := pols["dir "+dir+" 203.0.113.0/24 198.51.100.0/24"]
		if len(p.Tmpls) != 1 || p.Tmpls[0].Reqid != 7 || !p.Tmpls[0].Src.IsUnspecified() {
			t.Errorf("%s policy %v, want wildcard template reqid 7", dir, p)
		}
	}
	if err := d.AddSA(ctx, out); err != nil {
		t.Fatal(err)
	}
	// MOBIKE: the peer moved; the outbound template follows the SA.
	moved := *out
	moved.Dst = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.22"), 4500)
	moved.Src = netip.AddrPortFrom(addrA, 4500)
	if err := d.UpdateSA(ctx, out.ID(), &moved); err != nil {
		t.Fatalf("UpdateSA to a new address: %v", err)
	}
	if _, err := readState(t, h, addrB, out.SPI); !errors.Is(err, unix.ESRCH) {
		t.Errorf("old state after move: %v, want ESRCH", err)
	}
	if st, err := readState(t, h, moved.Dst.Addr(), out.SPI); err != nil || st.Encap == nil || st.Encap.DstPort != 4500 {
		t.Errorf("moved state %v, %v", st, err)
	}
	o = policiesOf(t, h)["dir out 198.51.100.0/24 203.0.113.0/24"]
	if len(o.Tmpls) != 1 || !o.Tmpls[0].Dst.Equal(moved.Dst.Addr().AsSlice()) {
		t.Errorf("out template after move %v, want dst %s", o.Tmpls, moved.Dst.Addr())
	}
	if _, err := d.SAStats(moved.ID()); err != nil {
		t.Errorf("SAStats under the new ID: %v", err)
	}

	// Transport mode, a port selector, bypass and discard.
	tr := []esp.Policy{
		{Dir: esp.DirOut, Src: esp.Selector{Start: addrA, End: addrA, Proto: 6, EndPort: 65535}, Dst: esp.Selector{Start: addrB, End: addrB, Proto: 6, StartPort: 80, EndPort: 80}, Action: esp.ActionBypass, Priority: 10},
		{Dir: esp.DirIn, Src: pfx("0.0.0.0/0"), Dst: pfx("192.0.2.128/25"), Action: esp.ActionDiscard, Priority: 5000},
	}
	for _, p := range tr {
		if err := d.AddPolicy(ctx, p); err != nil {
			t.Fatalf("AddPolicy %s: %v", &p, err)
		}
	}
	pols = policiesOf(t, h)
	by := pols["dir out 192.0.2.1/32 192.0.2.2/32"]
	if by.Proto != netlink.Proto(6) || by.DstPort != 80 || by.SrcPort != 0 || len(by.Tmpls) != 0 || by.Action != netlink.XFRM_POLICY_ALLOW {
		t.Errorf("bypass policy %v", by)
	}
	if dp := pols["dir in 0.0.0.0/0 192.0.2.128/25"]; dp.Action != netlink.XFRM_POLICY_BLOCK {
		t.Errorf("discard policy %v", dp)
	}
	// A range that is no prefix becomes one kernel policy per prefix.
	rangeSel := esp.Policy{Dir: esp.DirOut, Src: esp.Selector{Start: addrA, End: addrB, EndPort: 65535}, Dst: pfx("0.0.0.0/0"), Action: esp.ActionDiscard}
	if err := d.AddPolicy(ctx, rangeSel); err != nil {
		t.Errorf("range selector: %v", err)
	}
	pols = policiesOf(t, h)
	for _, k := range []string{"dir out 192.0.2.1/32 0.0.0.0/0", "dir out 192.0.2.2/32 0.0.0.0/0"} {
		if p, ok := pols[k]; !ok || p.Action != netlink.XFRM_POLICY_BLOCK {
			t.Errorf("range policy part %q: %v %t", k, p, ok)
		}
	}
	portRange := esp.Policy{Dir: esp.DirOut, Src: esp.Selector{Start: addrA, End: addrA, Proto: 6, StartPort: 1, EndPort: 1023}, Dst: pfx("0.0.0.0/0")}
	if err := d.AddPolicy(ctx, portRange); !errors.Is(err, ErrSelector) {
		t.Errorf("port range: %v, want ErrSelector", err)
	}
	for _, p := range append(tr, pout, pin, rangeSel) {
		if err := d.DeletePolicy(ctx, p); err != nil {
			t.Errorf("DeletePolicy %s: %v", &p, err)
		}
	}
	if err := d.DeletePolicy(ctx, pin); !errors.Is(err, esp.ErrPolicyNotFound) {
		t.Errorf("second DeletePolicy: %v, want ErrPolicyNotFound", err)
	}
	if pols := policiesOf(t, h); len(pols) != 0 {
		t.Errorf("policies left after DeletePolicy: %v", pols)
	}

	// Close removes our states and policies and nothing else.
	foreign := &netlink.XfrmState{Dst: addrB.AsSlice(), Src: addrA.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL,
		Spi: 0x9999, Aead: &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: make([]byte, 20), ICVLen: 128}}
	if err := h.XfrmStateAdd(foreign); err != nil {
		t.Fatal(err)
	}
	if err := d.AddPolicy(ctx, pout); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	states, err := h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Spi != 0x9999 {
		t.Errorf("states after Close: %v, want only the foreign one", states)
	}
	if pols := policiesOf(t, h); len(pols) != 0 {
		t.Errorf("policies after Close: %v", pols)
	}
	if err := d.AddSA(ctx, in); !errors.Is(err, esp.ErrClosed) {
		t.Errorf("AddSA after Close: %v, want ErrClosed", err)
	}
	if _, ok := <-d.Events(); ok {
		t.Error("Events not closed by Close")
	}
}

// nextEvent waits for an event of kind k, failing after timeout.
func nextEvent(t *testing.T, d *DataPlane, k esp.EventKind, timeout time.Duration) esp.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-d.Events():
			if e.Kind == k {
				return e
			}
			t.Logf("skipping %s", e)
		case <-deadline:
			t.Fatalf("no %s event within %s", k, timeout)
		}
	}
}

func TestKernelExpire(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	d := newDP(t, ns)
	ctx := context.Background()
	sa := testSuites[0].fill(&esp.SA{SPI: 0x4001, Dir: esp.DirIn, Src: netip.AddrPortFrom(addrB, 0), Dst: netip.AddrPortFrom(addrA, 0), ReqID: 9,
		Lifetime: esp.Lifetime{Soft: esp.Limits{Time: time.Second}, Hard: esp.Limits{Time: 3 * time.Second}}})
	start := time.Now()
	if err := d.AddSA(ctx, sa); err != nil {
		t.Fatal(err)
	}
	soft := nextEvent(t, d, esp.EventSoftExpire, 10*time.Second)
	softAt := time.Since(start)
	if soft.SA != sa.ID() || soft.ReqID != 9 {
		t.Errorf("soft event %s, want SA %s reqid 9", soft, sa.ID())
	}
	hard := nextEvent(t, d, esp.EventHardExpire, 10*time.Second)
	if hard.SA != sa.ID() || hard.ReqID != 9 {
		t.Errorf("hard event %s", hard)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("hard expiry after %s, before the 3 s limit", el)
	}
	t.Logf("soft expiry event after %s, hard after %s (limits 1 s and 3 s)", softAt, time.Since(start))
	if softAt > 2500*time.Millisecond {
		t.Errorf("soft expiry only after %s", softAt)
	}
	if _, err := readState(t, h, addrA, sa.SPI); !errors.Is(err, unix.ESRCH) {
		t.Errorf("state after hard expiry: %v, want ESRCH", err)
	}
	if _, err := d.SAStats(sa.ID()); !errors.Is(err, esp.ErrSANotFound) {
		t.Errorf("SAStats after hard expiry: %v", err)
	}
	if err := d.AddSA(ctx, sa); err != nil {
		t.Errorf("re-adding the expired SA: %v", err)
	}
}

// tunnel is two namespaces joined by veth, each with a data plane and an
// inner address on a dummy interface, e.g. A 198.51.100.1 <-> B 203.0.113.1.
type tunnel struct {
	nsA, nsB       netns.NsHandle
	hA, hB         *netlink.Handle
	dA, dB         *DataPlane
	saAB           [2]*esp.SA // A's out, B's in
	saBA           [2]*esp.SA // B's out, A's in
	innerA, innerB netip.Addr
}

// plan is the addressing of a tunnel: outer (veth) and inner (dummy).
type plan struct {
	name                 string
	outerA, outerB       string // with prefix length
	innerNetA, innerNetB string // inner networks
	innerA, innerB       string // inner host addresses
	outerBits, innerBits int
	transport            bool // transport mode between the outer addresses
}

var (
	plan4  = plan{"ipv4", "192.0.2.1", "192.0.2.2", "198.51.100.0/24", "203.0.113.0/24", "198.51.100.1", "203.0.113.1", 24, 24, false}
	plan6  = plan{"ipv6", "2001:db8::1", "2001:db8::2", "2001:db8:a::/64", "2001:db8:b::/64", "2001:db8:a::1", "2001:db8:b::1", 64, 64, false}
	plan64 = plan{"ipv6-in-ipv4", "192.0.2.1", "192.0.2.2", "2001:db8:a::/64", "2001:db8:b::/64", "2001:db8:a::1", "2001:db8:b::1", 24, 64, false}
	// Transport mode, as L2TP/IPsec clients use it (also behind NAT).
	planT = plan{"transport", "192.0.2.1", "192.0.2.2", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.1", "192.0.2.2", 24, 24, true}
)

func newTunnel(t *testing.T, s suite, encap, esn bool) *tunnel {
	return newTunnelPlan(t, plan4, s, encap, esn)
}

func newTunnelPlan(t *testing.T, pl plan, s suite, encap, esn bool) *tunnel {
	t.Helper()
	tn := &tunnel{innerA: netip.MustParseAddr(pl.innerA), innerB: netip.MustParseAddr(pl.innerB)}
	tn.nsA, tn.hA = newNS(t)
	tn.nsB, tn.hB = newNS(t)
	cidr := func(a string, bits int) string { return fmt.Sprintf("%s/%d", a, bits) }
	vethPair(t, tn.hA, tn.nsB, tn.hB, cidr(pl.outerA, pl.outerBits), cidr(pl.outerB, pl.outerBits))
	switch {
	case pl.transport:
		// The traffic is between the outer addresses themselves.
	case pl.outerA[0:3] == pl.innerA[0:3]:
		dummy(t, tn.hA, "inner", cidr(pl.innerA, pl.innerBits))
		dummy(t, tn.hB, "inner", cidr(pl.innerB, pl.innerBits))
		route(t, tn.hA, pl.innerNetB, pl.outerB, pl.innerA)
		route(t, tn.hB, pl.innerNetA, pl.outerA, pl.innerB)
	default:
		dummy(t, tn.hA, "inner", cidr(pl.innerA, pl.innerBits))
		dummy(t, tn.hB, "inner", cidr(pl.innerB, pl.innerBits))
		// Inner and outer families differ: the route needs no gateway of
		// the inner family, the policy sends the packets into the tunnel.
		for _, x := range []struct {
			h        *netlink.Handle
			dst, src string
		}{{tn.hA, pl.innerNetB, pl.innerA}, {tn.hB, pl.innerNetA, pl.innerB}} {
			l, err := x.h.LinkByName(map[*netlink.Handle]string{tn.hA: "va", tn.hB: "vb"}[x.h])
			if err != nil {
				t.Fatal(err)
			}
			_, n, _ := net.ParseCIDR(x.dst)
			if err := x.h.RouteAdd(&netlink.Route{Dst: n, LinkIndex: l.Attrs().Index, Src: net.ParseIP(x.src)}); err != nil {
				t.Fatalf("route %s: %v", x.dst, err)
			}
		}
	}
	tn.dA, tn.dB = newDP(t, tn.nsA), newDP(t, tn.nsB)
	port := uint16(0)
	if encap {
		port = 4500
	}
	oA, oB := netip.MustParseAddr(pl.outerA), netip.MustParseAddr(pl.outerB)
	mode := esp.ModeTunnel
	if pl.transport {
		mode = esp.ModeTransport
	}
	ab := s.fill(&esp.SA{SPI: 0xa0b0, Mode: mode, Src: netip.AddrPortFrom(oA, port), Dst: netip.AddrPortFrom(oB, port), ReqID: 1, ESN: esn})
	ba := s.fill(&esp.SA{SPI: 0xb0a0, Mode: mode, Src: netip.AddrPortFrom(oB, port), Dst: netip.AddrPortFrom(oA, port), ReqID: 1, ESN: esn})
	ctx := context.Background()
	for _, x := range []struct {
		d       *DataPlane
		out, in *esp.SA
		lo, rem string
	}{{tn.dA, ab, ba, pl.innerNetA, pl.innerNetB}, {tn.dB, ba, ab, pl.innerNetB, pl.innerNetA}} {
		in, out := *x.in, *x.out
		in.Dir, out.Dir = esp.DirIn, esp.DirOut
		if err := x.d.AddSA(ctx, &in); err != nil {
			t.Fatal(err)
		}
		if err := x.d.AddSA(ctx, &out); err != nil {
			t.Fatal(err)
		}
		if err := x.d.AddPolicy(ctx, esp.Policy{Dir: esp.DirOut, Src: pfx(x.lo), Dst: pfx(x.rem), ReqID: 1}); err != nil {
			t.Fatal(err)
		}
		if err := x.d.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: pfx(x.rem), Dst: pfx(x.lo), ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	tn.saAB = [2]*esp.SA{withDir(ab, esp.DirOut), withDir(ab, esp.DirIn)}
	tn.saBA = [2]*esp.SA{withDir(ba, esp.DirOut), withDir(ba, esp.DirIn)}
	if encap {
		// The receiving side of ESP in UDP: an IKE-style socket on 4500.
		network := "udp4"
		if oA.Is6() {
			network = "udp6"
		}
		for _, ns := range []netns.NsHandle{tn.nsA, tn.nsB} {
			var c *net.UDPConn
			inNS(t, ns, func() {
				var err error
				if c, err = net.ListenUDP(network, &net.UDPAddr{Port: 4500}); err != nil {
					t.Fatal(err)
				}
			})
			t.Cleanup(func() { c.Close() })
			if err := EnableUDPEncap(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tn
}

func withDir(sa *esp.SA, dir esp.Direction) *esp.SA {
	c := *sa
	c.Dir = dir
	return &c
}

// echo sends n UDP datagrams from A's inner address to an echo server on
// B's and checks each reply.
func (tn *tunnel) echo(t *testing.T, n int) {
	t.Helper()
	var srv, cli *net.UDPConn
	inNS(t, tn.nsB, func() {
		var err error
		if srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: tn.innerB.AsSlice(), Port: 7}); err != nil {
			t.Fatal(err)
		}
	})
	defer srv.Close()
	inNS(t, tn.nsA, func() {
		var err error
		if cli, err = net.DialUDP("udp", &net.UDPAddr{IP: tn.innerA.AsSlice()}, &net.UDPAddr{IP: tn.innerB.AsSlice(), Port: 7}); err != nil {
			t.Fatal(err)
		}
	})
	defer cli.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:k], from)
		}
	}()
	buf := make([]byte, 2048)
	for i := range n {
		msg := fmt.Appendf(nil, "ping %d through the tunnel", i)
		ok := false
		// The first packet may be lost to neighbour resolution; retry a little.
		for try := 0; try < 5 && !ok; try++ {
			if _, err := cli.Write(msg); err != nil {
				t.Fatal(err)
			}
			cli.SetReadDeadline(time.Now().Add(time.Second))
			k, err := cli.Read(buf)
			if err == nil && bytes.Equal(buf[:k], msg) {
				ok = true
			}
		}
		if !ok {
			for _, x := range []struct {
				d  *DataPlane
				sa *esp.SA
			}{{tn.dA, tn.saAB[0]}, {tn.dB, tn.saAB[1]}, {tn.dB, tn.saBA[0]}, {tn.dA, tn.saBA[1]}} {
				st, err := x.d.SAStats(x.sa.ID())
				t.Logf("%s: %+v %v", x.sa.ID(), st, err)
			}
			t.Fatalf("echo %d: no reply through the tunnel", i)
		}
	}
}

func TestKernelTunnel(t *testing.T) {
	vmOnly(t)
	for _, c := range []struct {
		pl         plan
		s          suite
		encap, esn bool
	}{
		{plan4, testSuites[0], false, false},
		{plan4, testSuites[0], true, true},
		{plan4, testSuites[7], true, false}, // chacha20poly1305 in UDP
		{plan4, testSuites[9], false, true}, // aes-cbc + sha256, ESN
		{plan4, testSuites[4], true, true},  // ccm
		{plan6, testSuites[1], false, true},
		{plan6, testSuites[0], true, false},
		{plan64, testSuites[0], true, true},
		{planT, testSuites[0], false, false},
		{planT, testSuites[9], true, true},
		{planT, testSuites[0], true, false},
		{planT, testSuites[9], false, true},
	} {
		t.Run(fmt.Sprintf("%s/%s/encap=%t/esn=%t", c.pl.name, c.s, c.encap, c.esn), func(t *testing.T) {
			tn := newTunnelPlan(t, c.pl, c.s, c.encap, c.esn)
			before := time.Now()
			tn.echo(t, 3)
			for _, x := range []struct {
				d  *DataPlane
				sa *esp.SA
			}{{tn.dA, tn.saAB[0]}, {tn.dB, tn.saAB[1]}, {tn.dB, tn.saBA[0]}, {tn.dA, tn.saBA[1]}} {
				st, err := x.d.SAStats(x.sa.ID())
				if err != nil {
					t.Fatal(err)
				}
				if st.Packets < 3 || st.Bytes == 0 || st.Seq < 3 || st.LastUse.Before(before) || st.AuthFailures != 0 {
					t.Errorf("%s: stats %+v, want >= 3 packets, seq >= 3, recent use", x.sa.ID(), st)
				}
			}
		})
	}
}

// TestKernelTunnelMOBIKE moves A to a new outer address mid-flow and
// checks that traffic continues with the sequence numbers carried over.
func TestKernelTunnelMOBIKE(t *testing.T) {
	vmOnly(t)
	for _, esn := range []bool{false, true} {
		t.Run(fmt.Sprintf("esn=%t", esn), func(t *testing.T) {
			tn := newTunnel(t, testSuites[0], true, esn)
			tn.echo(t, 3)
			before, err := tn.dA.SAStats(tn.saAB[0].ID())
			if err != nil {
				t.Fatal(err)
			}
			la, err := tn.hA.LinkByName("va")
			if err != nil {
				t.Fatal(err)
			}
			addAddr(t, tn.hA, la, "192.0.2.11/24")
			newA := netip.MustParseAddr("192.0.2.11")
			ctx := context.Background()
			upd := func(d *DataPlane, sa *esp.SA, src, dst netip.Addr) *esp.SA {
				n := *sa
				n.Src, n.Dst = netip.AddrPortFrom(src, 4500), netip.AddrPortFrom(dst, 4500)
				if err := d.UpdateSA(ctx, sa.ID(), &n); err != nil {
					t.Fatalf("UpdateSA %s: %v", sa.ID(), err)
				}
				return &n
			}
			abOut := upd(tn.dA, tn.saAB[0], newA, addrB)
			upd(tn.dB, tn.saAB[1], newA, addrB)
			upd(tn.dB, tn.saBA[0], addrB, newA)
			upd(tn.dA, tn.saBA[1], addrB, newA)
			tn.echo(t, 3)
			after, err := tn.dA.SAStats(abOut.ID())
			if err != nil {
				t.Fatal(err)
			}
			if after.Seq < before.Seq+3 || after.Packets < before.Packets+3 {
				t.Errorf("after the move seq %d packets %d, before %d %d: counters not carried over", after.Seq, after.Packets, before.Seq, before.Packets)
			}
		})
	}
}

func TestKernelAcquire(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	dummy(t, h, "inner", "198.51.100.1/24", "192.0.2.1/24")
	d := newDP(t, ns)
	ctx := context.Background()
	in := testSuites[0].fill(&esp.SA{SPI: 0x5001, Dir: esp.DirIn, Src: netip.AddrPortFrom(addrB, 0), Dst: netip.AddrPortFrom(addrA, 0), ReqID: 11})
	if err := d.AddSA(ctx, in); err != nil {
		t.Fatal(err)
	}
	p := esp.Policy{Dir: esp.DirOut, Src: pfx("198.51.100.0/24"), Dst: pfx("203.0.113.0/24"), ReqID: 11}
	if err := d.AddPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	route(t, h, "203.0.113.0/24", "192.0.2.2", "198.51.100.1")
	var from netip.AddrPort
	inNS(t, ns, func() {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP("203.0.113.9"), Port: 5353})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		from = c.LocalAddr().(*net.UDPAddr).AddrPort()
		c.Write([]byte("trigger")) // dropped or queued: no SA yet
	})
	e := nextEvent(t, d, esp.EventAcquire, 10*time.Second)
	dst := esp.Selector{Start: netip.MustParseAddr("203.0.113.9"), End: netip.MustParseAddr("203.0.113.9"), Proto: 17, StartPort: 5353, EndPort: 5353}
	src := netip.MustParseAddr("198.51.100.1") // the route's source address
	want := esp.Event{Kind: esp.EventAcquire, ReqID: 11, Policy: p, Dst: dst, Packet: dst,
		Src: esp.Selector{Start: src, End: src, Proto: 17, StartPort: from.Port(), EndPort: from.Port()}}
	if diff := cmp.Diff(want, e, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("acquire event (-want +got):\n%s", diff)
	}
}

// TestKernelIfIDCoexist runs two data planes with the same selectors and
// SPIs on different XFRM interface IDs in one namespace, then checks that
// WithRemoveStale removes exactly the stale state with its tags.
func TestKernelIfIDCoexist(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	ctx := context.Background()
	one := newDP(t, ns, WithIfID(1))
	two := newDP(t, ns, WithIfID(2), WithReqIDRange(1, 100))
	marked := newDP(t, ns, WithMark(0x10, 0xff))
	pout := esp.Policy{Dir: esp.DirOut, Src: pfx("10.0.0.0/24"), Dst: pfx("0.0.0.0/0"), ReqID: 5}
	for i, d := range []*DataPlane{one, two, marked} {
		// Different peers, same client range: only the if_id/mark tells them apart.
		peer := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
		sa := testSuites[0].fill(&esp.SA{SPI: 0x6001, Dir: esp.DirOut, Src: netip.AddrPortFrom(addrA, 0), Dst: netip.AddrPortFrom(peer, 0), ReqID: 5})
		if err := d.AddSA(ctx, sa); err != nil {
			t.Fatalf("data plane %d AddSA: %v", i, err)
		}
		if err := d.AddPolicy(ctx, pout); err != nil {
			t.Fatalf("data plane %d AddPolicy: %v", i, err)
		}
	}
	if err := two.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: pfx("0.0.0.0/0"), Dst: pfx("10.0.0.0/24"), ReqID: 500}); err == nil {
		t.Error("ReqID outside WithReqIDRange accepted")
	}
	pols, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	ifids := map[int]int{}
	for _, p := range pols {
		ifids[p.Ifid]++
		if p.Ifid == 0 && (p.Mark == nil || p.Mark.Value != 0x10 || p.Mark.Mask != 0xff) {
			t.Errorf("policy without if_id lacks the mark: %v", p)
		}
	}
	if ifids[1] != 1 || ifids[2] != 1 || ifids[0] != 1 {
		t.Errorf("policies per if_id %v, want one each for 1, 2 and the marked one", ifids)
	}
	// Close one: the others stay.
	if err := one.Close(); err != nil {
		t.Fatal(err)
	}
	states, _ := h.XfrmStateList(netlink.FAMILY_ALL)
	if len(states) != 2 {
		t.Errorf("%d states after closing one of three data planes, want 2", len(states))
	}
	// A crashed instance on if_id 3 left state behind; a foreign daemon
	// uses if_id 4. A new instance for if_id 3 removes only the former.
	for _, ifid := range []int{3, 4} {
		st := &netlink.XfrmState{Dst: addrB.AsSlice(), Src: addrA.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL,
			Spi: 0x7000 + ifid, Reqid: 3, Ifid: ifid, Aead: &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: make([]byte, 20), ICVLen: 128}}
		if err := h.XfrmStateAdd(st); err != nil {
			t.Fatal(err)
		}
		_, n, _ := net.ParseCIDR("10.9.0.0/16")
		if err := h.XfrmPolicyAdd(&netlink.XfrmPolicy{Src: n, Dst: n, Dir: netlink.XFRM_DIR_OUT, Ifid: ifid,
			Tmpls: []netlink.XfrmPolicyTmpl{{Dst: addrB.AsSlice(), Src: addrA.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: 3}}}); err != nil {
			t.Fatal(err)
		}
	}
	three := newDP(t, ns, WithIfID(3), WithRemoveStale())
	_ = three
	states, _ = h.XfrmStateList(netlink.FAMILY_ALL)
	pols, _ = h.XfrmPolicyList(netlink.FAMILY_ALL)
	for _, st := range states {
		if st.Ifid == 3 {
			t.Errorf("stale state left: %v", st)
		}
	}
	for _, p := range pols {
		if p.Ifid == 3 {
			t.Errorf("stale policy left: %v", p)
		}
	}
	if len(states) != 3 || len(pols) != 3 {
		t.Errorf("%d states and %d policies after stale removal, want 3 and 3 (two data planes and the foreign if_id 4)", len(states), len(pols))
	}
}

// TestKernelUDPEncapSocket documents what the IKE socket sees after
// EnableUDPEncap: IKE packets with their non-ESP marker, but neither NAT
// keepalives nor ESP.
func TestKernelUDPEncapSocket(t *testing.T) {
	vmOnly(t)
	ns, _ := newNS(t)
	var srv, cli *net.UDPConn
	inNS(t, ns, func() {
		var err error
		if srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4500}); err != nil {
			t.Fatal(err)
		}
		if cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4500}); err != nil {
			t.Fatal(err)
		}
	})
	defer srv.Close()
	defer cli.Close()
	if err := EnableUDPEncap(srv); err != nil {
		t.Fatal(err)
	}
	ike := append([]byte{0, 0, 0, 0}, bytes.Repeat([]byte{0x42}, 28)...)
	esp := append([]byte{0, 0, 0x12, 0x34, 0, 0, 0, 1}, bytes.Repeat([]byte{0x55}, 40)...)
	for _, p := range [][]byte{{0xff}, esp, ike} {
		if _, err := cli.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1500)
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := srv.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("IKE packet not delivered: %v", err)
	}
	if !bytes.Equal(buf[:n], ike) {
		t.Fatalf("socket got % x, want the IKE packet with its marker % x", buf[:n], ike)
	}
	srv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := srv.ReadFromUDP(buf); err == nil {
		t.Errorf("unexpected packet after the IKE one: % x", buf[:n])
	}
}

func TestKernelNATKeepalive(t *testing.T) {
	vmOnly(t)
	ns, _ := newNS(t)
	var ike, peer *net.UDPConn
	inNS(t, ns, func() {
		var err error
		if ike, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4500}); err != nil {
			t.Fatal(err)
		}
		if peer, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4501}); err != nil {
			t.Fatal(err)
		}
	})
	defer ike.Close()
	defer peer.Close()
	d := newDP(t, ns, WithNATKeepalive(ike, 300*time.Millisecond))
	lo := netip.MustParseAddr("127.0.0.1")
	sa := testSuites[0].fill(&esp.SA{SPI: 0x8001, Dir: esp.DirOut, Src: netip.AddrPortFrom(lo, 4500), Dst: netip.AddrPortFrom(lo, 4501), ReqID: 3, NATKeepalive: true})
	quiet := testSuites[0].fill(&esp.SA{SPI: 0x8002, Dir: esp.DirOut, Src: netip.AddrPortFrom(lo, 4500), Dst: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), 4501), ReqID: 4})
	for _, s := range []*esp.SA{sa, quiet} {
		if err := d.AddSA(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no NAT keepalive: %v", err)
	}
	if n != 1 || buf[0] != 0xff || from.Port() != 4500 {
		t.Errorf("got % x from %s, want ff from port 4500", buf[:n], from)
	}
}

// TestKernelSAStatsFailures sends forged ESP-in-UDP packets to B's inbound
// SA: an old sequence number counts as a replay (XFRM checks the window
// before the ICV), a fresh one with a bad ICV as an integrity failure.
func TestKernelSAStatsFailures(t *testing.T) {
	vmOnly(t)
	tn := newTunnel(t, testSuites[0], true, false)
	tn.echo(t, 3)
	var c *net.UDPConn
	inNS(t, tn.nsA, func() {
		var err error
		if c, err = net.DialUDP("udp4", &net.UDPAddr{IP: addrA.AsSlice(), Port: 4600}, &net.UDPAddr{IP: addrB.AsSlice(), Port: 4500}); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	if err := BypassSocket(c); err != nil {
		t.Fatal(err)
	}
	forge := func(seq uint32) []byte {
		p := make([]byte, 8+8+64+16) // SPI, seq, IV, payload, ICV
		binary.BigEndian.PutUint32(p, tn.saAB[1].SPI)
		binary.BigEndian.PutUint32(p[4:], seq)
		for i := 8; i < len(p); i++ {
			p[i] = byte(i)
		}
		return p
	}
	for _, seq := range []uint32{1, 2, 1000, 1001, 1002} {
		if _, err := c.Write(forge(seq)); err != nil {
			t.Fatal(err)
		}
	}
	var st esp.SAStats
	for range 50 {
		var err error
		if st, err = tn.dB.SAStats(tn.saAB[1].ID()); err != nil {
			t.Fatal(err)
		}
		if st.ReplayDrops >= 2 && st.AuthFailures >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.ReplayDrops != 2 || st.AuthFailures != 3 || st.Packets != 3 {
		t.Errorf("stats %+v, want 2 replay drops, 3 integrity failures, 3 good packets", st)
	}
}

// TestKernelLastUse checks that SAStats.LastUse follows the latest
// traffic, not the first packet (XFRM's use_time).
func TestKernelLastUse(t *testing.T) {
	vmOnly(t)
	tn := newTunnel(t, testSuites[0], false, false)
	id := tn.saAB[0].ID()
	if st, err := tn.dA.SAStats(id); err != nil || !st.LastUse.IsZero() {
		t.Fatalf("unused SA: LastUse %v, %v; want zero", st.LastUse, err)
	}
	tn.echo(t, 1)
	first, err := tn.dA.SAStats(id)
	if err != nil || first.LastUse.IsZero() {
		t.Fatalf("after traffic: %+v, %v", first, err)
	}
	time.Sleep(3 * time.Second)
	idle, _ := tn.dA.SAStats(id)
	if !idle.LastUse.Equal(first.LastUse) {
		t.Errorf("LastUse moved without traffic: %v -> %v", first.LastUse, idle.LastUse)
	}
	before := time.Now()
	tn.echo(t, 1)
	again, _ := tn.dA.SAStats(id)
	if again.LastUse.Before(before) {
		t.Errorf("LastUse %v after new traffic at %v: stuck at the first use", again.LastUse, before)
	}
	tn.dA.mu.Lock()
	raw, err := tn.dA.getStateLocked(tn.saAB[0].Dst.Addr(), tn.saAB[0].SPI)
	tn.dA.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel use_time %v, first traffic seen %v, second traffic at %v", time.Unix(int64(raw.useTime), 0), first.LastUse, before)
}
