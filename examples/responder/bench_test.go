package main

import (
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// BenchmarkPKCS12 measures what export does per client certificate
// (encode: two 3DES PBE derivations and the MAC at 2,048 iterations
// each) and what a start does with the server's PKCS#12 (decode).
func BenchmarkPKCS12(b *testing.B) {
	now := time.Now()
	ca, caKey, err := newCA("bench", now)
	if err != nil {
		b.Fatal(err)
	}
	cert, key, err := ensureClientCert(b.TempDir(), "bench", ca, caKey, now)
	if err != nil {
		b.Fatal(err)
	}
	pfx, err := encodePKCS12(cert, key, "bench-password")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pfx)))
		for b.Loop() {
			if _, err := encodePKCS12(cert, key, "bench-password"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pfx)))
		for b.Loop() {
			if _, _, err := decodePKCS12(pfx, "bench-password"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMetrics/Write/1000SAs is one Prometheus scrape of a server
// with 1,000 clients (the SA snapshot itself is not included).
func BenchmarkMetrics(b *testing.B) {
	pool, err := ipsec.NewPool(netip.MustParsePrefix("10.0.0.0/20"))
	if err != nil {
		b.Fatal(err)
	}
	sas := make([]ipsec.IKESAInfo, 1000)
	for i := range sas {
		if _, err := pool.Acquire(b.Context(), string(rune('a'+i%26))+strings.Repeat("x", i/26), netip.Addr{}); err != nil {
			b.Fatal(err)
		}
		sas[i] = ipsec.IKESAInfo{State: "ESTABLISHED", Children: []ipsec.ChildSAInfo{{State: "INSTALLED", BytesIn: 1 << 20, BytesOut: 1 << 21, PacketsIn: 1000, PacketsOut: 2000}}}
	}
	m := newMetrics()
	var out strings.Builder
	m.write(&out, sas, ike.Stats{}, []ipsec.AddressPool{pool})
	b.Run("Write/1000SAs", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(out.Len()))
		for b.Loop() {
			m.write(io.Discard, sas, ike.Stats{HalfOpen: 3}, []ipsec.AddressPool{pool})
		}
	})
}
