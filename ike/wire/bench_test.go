package wire_test

import (
	"testing"

	"github.com/goipsec/ipsec/ike/wire"
)

// BenchmarkParse decodes a captured IKE_SA_INIT (NCP client, ikev2_nat_t
// frame 1) and our sealed sample IKE_AUTH (outer chain only; see
// BenchmarkOpen for decryption).
func BenchmarkParse(b *testing.B) {
	init := capturedMessages(b, "testdata/ikev2_nat_t.pcapng")[0].Payload
	auth, err := sampleMessages()[1].AppendSealed(nil, newGCM(testKey), &zeroRand{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
	}{{"IKE_SA_INIT", init}, {"IKE_AUTH", auth}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			for b.Loop() {
				if _, err := wire.Parse(tc.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen verifies, decrypts and parses the sample IKE_AUTH into a
// reused buffer.
func BenchmarkOpen(b *testing.B) {
	c := newGCM(testKey)
	auth, _ := sampleMessages()[1].AppendSealed(nil, c, &zeroRand{})
	b.Run("IKE_AUTH/aes128gcm16", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(auth)))
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			m, err := wire.Parse(auth)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = m.Open(c, buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAppend encodes into a reused buffer (0 allocs/op expected).
// IKE_AUTH includes sealing with AES-128-GCM; the anchor is the raw AEAD
// seal of the same plaintext length, so IKE_AUTH/anchor-aead divided by
// IKE_AUTH is the share of time the codec adds.
func BenchmarkAppend(b *testing.B) {
	msgs := sampleMessages()
	c := newGCM(testKey)
	b.Run("IKE_SA_INIT", func(b *testing.B) {
		b.ReportAllocs()
		buf, _ := msgs[0].Append(nil)
		b.SetBytes(int64(len(buf)))
		if a := testing.AllocsPerRun(10, func() { buf, _ = msgs[0].Append(buf[:0]) }); a != 0 {
			b.Fatalf("Append into a reused buffer allocates: %v allocs", a)
		}
		for b.Loop() {
			buf, _ = msgs[0].Append(buf[:0])
		}
	})
	b.Run("IKE_AUTH", func(b *testing.B) {
		b.ReportAllocs()
		r := &zeroRand{}
		buf, _ := msgs[1].AppendSealed(nil, c, r)
		b.SetBytes(int64(len(buf)))
		if a := testing.AllocsPerRun(10, func() { buf, _ = msgs[1].AppendSealed(buf[:0], c, r) }); a != 0 {
			b.Fatalf("AppendSealed into a reused buffer allocates: %v allocs", a)
		}
		for b.Loop() {
			buf, _ = msgs[1].AppendSealed(buf[:0], c, r)
		}
	})
	b.Run("IKE_AUTH/anchor-aead", func(b *testing.B) {
		b.ReportAllocs()
		sealed, _ := msgs[1].AppendSealed(nil, c, &zeroRand{})
		pt := make([]byte, len(sealed)-wire.HeaderLen-4-c.IVLen()-c.ICVLen())
		aad := sealed[:wire.HeaderLen+4]
		iv := make([]byte, 8)
		buf := make([]byte, 0, len(pt)+16)
		b.SetBytes(int64(len(sealed)))
		for b.Loop() {
			buf = c.Seal(buf[:0], iv, pt, aad, nil)
		}
	})
	b.Run("IKE_AUTH/fragments-1280", func(b *testing.B) {
		b.ReportAllocs()
		big := bigAuth()
		for b.Loop() {
			if _, err := big.AppendFragments(nil, c, &zeroRand{}, wire.FragmentSize(1280, true, true)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
