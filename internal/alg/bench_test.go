package alg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

var benchSizes = []int{64, 1400}

// BenchmarkSeal measures Seal per transform at a small and an MTU-sized
// packet. "anchor-stdlib-aes128gcm" is crypto/cipher's AES-GCM called
// directly: compare the other rows against it in the same run.
func BenchmarkSeal(b *testing.B) {
	benchAnchor(b, false)
	for _, cc := range allCrypters {
		c := newTestCrypter(b, cc)
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", cc.name, size), func(b *testing.B) {
				iv, pt, aad, suffix := benchInputs(c, size)
				buf := make([]byte, 0, len(pt)+c.ICVLen())
				b.SetBytes(int64(len(pt)))
				b.ReportAllocs()
				for b.Loop() {
					c.Seal(buf, iv, pt, aad, suffix)
				}
			})
		}
	}
}

// BenchmarkOpen measures Open (verify then decrypt) of valid packets.
func BenchmarkOpen(b *testing.B) {
	benchAnchor(b, true)
	for _, cc := range allCrypters {
		c := newTestCrypter(b, cc)
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", cc.name, size), func(b *testing.B) {
				iv, pt, aad, suffix := benchInputs(c, size)
				sealed := c.Seal(nil, iv, pt, aad, suffix)
				buf := make([]byte, 0, len(sealed))
				b.SetBytes(int64(len(pt)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Open(buf, iv, sealed, aad, suffix); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func benchInputs(c Crypter, size int) (iv, pt, aad, suffix []byte) {
	iv = make([]byte, c.IVLen())
	rand.Read(iv)
	pt = make([]byte, roundUp(size, c.BlockLen()))
	aad = make([]byte, 8) // ESP: SPI || sequence number
	if !c.AEAD() {
		suffix = make([]byte, 4) // ESN high bits
	}
	return
}

func benchAnchor(b *testing.B, open bool) {
	block, _ := aes.NewCipher(make([]byte, 16))
	g, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	aad := make([]byte, 8)
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("anchor-stdlib-aes128gcm/%d", size), func(b *testing.B) {
			pt := make([]byte, size)
			sealed := g.Seal(nil, nonce, pt, aad)
			buf := make([]byte, 0, len(sealed))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if open {
					if _, err := g.Open(buf, nonce, sealed, aad); err != nil {
						b.Fatal(err)
					}
				} else {
					g.Seal(buf, nonce, pt, aad)
				}
			}
		})
	}
}

// BenchmarkKeyExchange measures one full exchange: both sides generate
// their values, the responder computes its secret from the initiator's
// KE data and the initiator from the reply.
func BenchmarkKeyExchange(b *testing.B) {
	for _, id := range allKE {
		b.Run(keName(id), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ini, _ := NewKeyExchange(id, rand.Reader)
				pub, err := ini.Public()
				if err != nil {
					b.Fatal(err)
				}
				res, _ := NewKeyExchange(id, rand.Reader)
				rpub, _, err := res.Respond(pub)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ini.Shared(rpub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPRF measures keying a PRF and hashing 64 bytes (the shape of
// SKEYSEED and each prf+ step).
func BenchmarkPRF(b *testing.B) {
	ids := []proposal.PRFID{proposal.PRFHMACMD5, proposal.PRFHMACSHA1, proposal.PRFHMACSHA2256, proposal.PRFHMACSHA2384, proposal.PRFHMACSHA2512, proposal.PRFAES128XCBC, proposal.PRFAES128CMAC}
	for _, id := range ids {
		p, err := NewPRF(id)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(prfName(id), func(b *testing.B) {
			key := make([]byte, p.KeyLen())
			data := make([]byte, 64)
			out := make([]byte, 0, 64)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				h := p.New(key)
				h.Write(data)
				h.Sum(out)
			}
		})
	}
}
