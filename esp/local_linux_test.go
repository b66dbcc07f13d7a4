//go:build linux

package esp

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
)

// TestSendUDPRawESP runs SendUDP and local delivery over raw ESP (no NAT,
// IP protocol 50) between two namespaces, IPv4 and IPv6 outer addresses:
// the path real L2TP/IPsec clients without a NAT take (root only).
func TestSendUDPRawESP(t *testing.T) {
	nsA, nsB := nsPair(t)
	for _, outer := range [][2]string{{"198.51.100.1", "198.51.100.2"}, {"2001:db8:ff::1", "2001:db8:ff::2"}} {
		t.Run(outer[0], func(t *testing.T) {
			addrA, addrB := netip.MustParseAddr(outer[0]), netip.MustParseAddr(outer[1])
			start := func(ns string) (*Userspace, localSink) {
				sink := make(localSink, 4)
				var u *Userspace
				if err := inNetns(ns, func() error {
					var err error
					u, err = NewUserspace(newNullTUN(), WithRawESP(), WithLocalUDP(1701, sink.handle))
					return err
				}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { u.Close() })
				return u, sink
			}
			a, _ := start(nsA)
			b, sinkB := start(nsB)
			ts := testSuites[1]
			mk := func(dir Direction) *SA {
				return &SA{SPI: 0x7001, Dir: dir, Mode: ModeTransport, Src: netip.AddrPortFrom(addrA, 0), Dst: netip.AddrPortFrom(addrB, 0),
					Encr: ts.encr, EncrKeyBits: ts.bits, Integ: ts.integ, EncrKey: keyBytes(ts.encKeyLen, 1), IntegKey: keyBytes(ts.integKeyLen, 2), ReqID: 3}
			}
			ctx := context.Background()
			if err := a.AddSA(ctx, mk(DirOut)); err != nil {
				t.Fatal(err)
			}
			if err := b.AddSA(ctx, mk(DirIn)); err != nil {
				t.Fatal(err)
			}
			src, dst := udp1701Sel(addrA), udp1701Sel(addrB)
			if err := b.AddPolicy(ctx, Policy{Dir: DirIn, Src: src, Dst: dst, ReqID: 3}); err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte{0xc8}, 1300)
			if err := a.SendUDP(3, netip.AddrPortFrom(addrA, 1701), netip.AddrPortFrom(addrB, 1701), msg); err != nil {
				t.Fatal(err)
			}
			if d := sinkB.next(t); d.ReqID != 3 || d.Src != netip.AddrPortFrom(addrA, 1701) || d.Dst != netip.AddrPortFrom(addrB, 1701) || !bytes.Equal(d.Payload, msg) {
				t.Fatalf("delivered %+v", d)
			}
		})
	}
}

func udp1701Sel(a netip.Addr) Selector {
	return Selector{Start: a, End: a, Proto: protoUDP, StartPort: 1701, EndPort: 1701}
}
