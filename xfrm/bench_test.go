//go:build linux

package xfrm

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/esp"
	"github.com/vishvananda/netlink"
)

// BenchmarkInstall measures how fast a gateway can bring CHILD SAs up in
// the kernel: per iteration one inbound and one outbound SA (AES-GCM, ESP
// in UDP, ESN) and one outbound and one inbound policy (the latter with
// its forward policy), i.e. 2 states + 3 kernel policies, the way a
// road-warrior client's tunnel is installed. Run it in the VM:
//
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST go test -exec "$PWD/scripts/vmtest/run-in-vm" -run '^$' -bench Install ./xfrm
func BenchmarkInstall(b *testing.B) {
	vmOnly(b)
	for _, c := range []struct {
		name             string
		states, policies bool
	}{{"tunnel/states+policies", true, true}, {"states", true, false}, {"policies", false, true}} {
		b.Run(c.name, func(b *testing.B) { benchInstall(b, c.states, c.policies) })
	}
	// The anchor: the same five kernel objects added straight through
	// vishvananda/netlink, so the ratio shows this package's overhead
	// (absolute numbers in a TCG guest on a shared host are noise).
	b.Run("anchor/netlink-library", benchLibraryInstall)
}

func benchLibraryInstall(b *testing.B) {
	_, h := newNS(b)
	key := make([]byte, 20)
	gcm := func() *netlink.XfrmStateAlgo {
		return &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: key, ICVLen: 128}
	}
	a1, a2 := net.ParseIP("192.0.2.1").To4(), net.ParseIP("192.0.2.2").To4()
	_, local, _ := net.ParseCIDR("::/0")
	base := netip.MustParseAddr("2001:db8:100::").As16()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		v := base
		v[12], v[13], v[14], v[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		remote := &net.IPNet{IP: v[:], Mask: net.CIDRMask(128, 128)}
		for _, st := range []*netlink.XfrmState{
			{Src: a2, Dst: a1, Spi: 0x10000000 + i, Reqid: i},
			{Src: a1, Dst: a2, Spi: 0x20000000 + i, Reqid: i},
		} {
			st.Proto, st.Mode, st.Aead, st.ESN, st.ReplayWindow = netlink.XFRM_PROTO_ESP, netlink.XFRM_MODE_TUNNEL, gcm(), true, 1024
			st.Encap = &netlink.XfrmStateEncap{Type: netlink.XFRM_ENCAP_ESPINUDP, SrcPort: 4500, DstPort: 4500}
			if err := h.XfrmStateAdd(st); err != nil {
				b.Fatal(err)
			}
		}
		for _, p := range []*netlink.XfrmPolicy{
			{Src: local, Dst: remote, Dir: netlink.XFRM_DIR_OUT, Tmpls: []netlink.XfrmPolicyTmpl{{Src: a1, Dst: a2, Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: i}}},
			{Src: remote, Dst: local, Dir: netlink.XFRM_DIR_IN, Tmpls: []netlink.XfrmPolicyTmpl{{Src: net.IPv4zero.To4(), Dst: net.IPv4zero.To4(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: i}}},
			{Src: remote, Dst: local, Dir: netlink.XFRM_DIR_FWD, Tmpls: []netlink.XfrmPolicyTmpl{{Src: net.IPv4zero.To4(), Dst: net.IPv4zero.To4(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: i}}},
		} {
			if err := h.XfrmPolicyAdd(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "tunnels/s")
	b.ReportMetric(float64(5*b.N)/sec, "states+policies/s")
}

func benchInstall(b *testing.B, states, policies bool) {
	{
		ns, _ := newNS(b)
		d := newDP(b, ns)
		ctx := context.Background()
		s := testSuites[0]
		in := s.fill(&esp.SA{Dir: esp.DirIn, Src: netip.MustParseAddrPort("192.0.2.2:4500"), Dst: netip.MustParseAddrPort("192.0.2.1:4500"), ESN: true})
		out := s.fill(&esp.SA{Dir: esp.DirOut, Src: netip.MustParseAddrPort("192.0.2.1:4500"), Dst: netip.MustParseAddrPort("192.0.2.2:4500"), ESN: true})
		local := esp.AnySelector(false)
		base := netip.MustParseAddr("2001:db8:100::").As16()
		i := uint32(0)
		b.ReportAllocs()
		for b.Loop() {
			i++
			in.SPI, out.SPI = 0x10000000+i, 0x20000000+i
			in.ReqID, out.ReqID = i, i
			v := base
			v[12], v[13], v[14], v[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			client := netip.AddrFrom16(v)
			remote := esp.Selector{Start: client, End: client, EndPort: 65535}
			if states {
				if err := d.AddSA(ctx, in); err != nil {
					b.Fatal(err)
				}
				if err := d.AddSA(ctx, out); err != nil {
					b.Fatal(err)
				}
			}
			if !policies {
				continue
			}
			if err := d.AddPolicy(ctx, esp.Policy{Dir: esp.DirOut, Src: local, Dst: remote, ReqID: i}); err != nil {
				b.Fatal(err)
			}
			if err := d.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: remote, Dst: local, ReqID: i}); err != nil {
				b.Fatal(err)
			}
		}
		sec := b.Elapsed().Seconds()
		objs := 0
		if states {
			objs += 2
		}
		if policies {
			objs += 3 // out, in, fwd
		}
		b.ReportMetric(float64(b.N)/sec, "tunnels/s")
		b.ReportMetric(float64(objs*b.N)/sec, "states+policies/s")
	}
}
