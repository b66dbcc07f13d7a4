package wire_test

import (
	"crypto/aes"
	"crypto/sha256"
	"testing"

	"github.com/goipsec/ipsec/ikev1/wire"
)

func benchMessages(b *testing.B) (mm1, mm3 []byte) {
	b.Helper()
	raw := v1Messages(b, "testdata/ipsec-ikev1-isakmp-main-mode.pcap")
	return raw[0].Payload, raw[2].Payload
}

// BenchmarkParse decodes Main Mode message 1 (SA with four VIDs) and 3
// (KE, nonce, VIDs, NAT-D).
func BenchmarkParse(b *testing.B) {
	mm1, mm3 := benchMessages(b)
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"MM1", mm1}, {"MM3", mm3}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.msg)))
			for b.Loop() {
				if _, err := wire.Parse(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend encodes the same messages into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	mm1, mm3 := benchMessages(b)
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"MM1", mm1}, {"MM3", mm3}} {
		m, err := wire.Parse(c.msg)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 2048)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.msg)))
			for b.Loop() {
				if _, err := m.Append(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealOpen encrypts and decrypts a Quick Mode sized message with
// AES-256 and SHA2-256 IVs.
func BenchmarkSealOpen(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 32))
	c := wire.NewCrypto(block, sha256.New, make([]byte, 256), make([]byte, 256))
	m := &wire.Message{Header: wire.Header{Exchange: wire.QuickMode, MessageID: 1}, Payloads: []wire.Payload{
		&wire.Hash{Data: make([]byte, 32)}, &wire.Nonce{Data: make([]byte, 32)}, &wire.KE{Data: make([]byte, 256)}}}
	plain, err := m.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		ct, err := c.Seal(buf[:0], plain)
		if err != nil {
			b.Fatal(err)
		}
		pm, err := wire.Parse(ct)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Open(pm); err != nil {
			b.Fatal(err)
		}
	}
}
