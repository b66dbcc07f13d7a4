//go:build linux

package esp

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkTunnel measures TCP goodput end to end between two namespaces
// through two userspace engines (root only). Each op is 64 KiB written on
// a TCP connection whose receiver discards the data.
func BenchmarkTunnel(b *testing.B) {
	requireRoot(b)
	for _, encap := range []bool{true, false} {
		name := "userspace/aes128gcm16/raw-esp"
		if encap {
			name = "userspace/aes128gcm16/udp-encap"
		}
		b.Run(name, func(b *testing.B) {
			nsA, nsB := nsPair(b)
			a := startEngine(b, nsA, netip.MustParseAddr("198.51.100.1"), addrsA)
			e := startEngine(b, nsB, netip.MustParseAddr("198.51.100.2"), addrsB)
			installNS(b, a, e, testSuites[0], encap)
			ap, _ := tcpListenDiscard(b, nsB, innerB4)
			c := tcpDial(b, nsA, ap)
			defer c.Close()
			chunk := make([]byte, 64<<10)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func tcpListenDiscard(b *testing.B, ns string, addr netip.Addr) (netip.AddrPort, <-chan struct{}) {
	ap, res := tcpListen(b, ns, addr)
	done := make(chan struct{})
	go func() { <-res; close(done) }()
	_ = io.Discard
	return ap, done
}
