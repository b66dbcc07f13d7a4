//go:build linux

package xfrm

import (
	"context"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/esp"
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
	b.Run("tunnel/states+policies", func(b *testing.B) {
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
			if err := d.AddSA(ctx, in); err != nil {
				b.Fatal(err)
			}
			if err := d.AddSA(ctx, out); err != nil {
				b.Fatal(err)
			}
			if err := d.AddPolicy(ctx, esp.Policy{Dir: esp.DirOut, Src: local, Dst: remote, ReqID: i}); err != nil {
				b.Fatal(err)
			}
			if err := d.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: remote, Dst: local, ReqID: i}); err != nil {
				b.Fatal(err)
			}
		}
		sec := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N)/sec, "tunnels/s")
		b.ReportMetric(float64(5*b.N)/sec, "states+policies/s")
	})
}
