package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"

	"github.com/goipsec/ipsec/proposal"
	"golang.org/x/crypto/chacha20poly1305"
)

var benchSizes = []int{64, 1400}

var benchSuites = []testSuite{
	testSuites[0],
	{"aes256gcm16", proposal.EncrAESGCM16, 256, proposal.IntegNone, 36, 0},
	testSuites[2],
	testSuites[1],
}

// BenchmarkSeal measures ESP sealing of an inner packet of the given size
// in place (header, IV, padding, trailer, AEAD or cipher+HMAC); compare
// with BenchmarkRawAEAD in the same run.
func BenchmarkSeal(b *testing.B) {
	for _, ts := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", ts.name, size), func(b *testing.B) {
				s := newTestSuite(b, ts)
				sc := newScratch()
				buf := make([]byte, Headroom+size+Tailroom)
				seq := uint64(0)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					seq++
					if _, err := s.seal(sc, buf, Headroom, size, protoIPv4, 0x1000, seq, false, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpen measures authenticating and decrypting one ESP packet in
// place, trailer parsing included; the packet is restored by a copy each
// round, as BenchmarkRawAEAD/open does.
func BenchmarkOpen(b *testing.B) {
	for _, ts := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", ts.name, size), func(b *testing.B) {
				s := newTestSuite(b, ts)
				sc := newScratch()
				buf := make([]byte, Headroom+size+Tailroom)
				pkt, err := s.seal(sc, buf, Headroom, size, protoIPv4, 0x1000, 7, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				orig := append([]byte(nil), pkt...)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					copy(pkt, orig)
					if _, _, err := s.open(sc, pkt, 7, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRawAEAD is the anchor: the bare AEAD from the standard library
// and x/crypto on the same bytes ESP protects (payload plus 2-byte
// trailer and 4-byte alignment, 8-byte AAD, 12-byte nonce).
func BenchmarkRawAEAD(b *testing.B) {
	mk := map[string]func() cipher.AEAD{
		"aes128gcm16": func() cipher.AEAD { blk, _ := aes.NewCipher(make([]byte, 16)); a, _ := cipher.NewGCM(blk); return a },
		"aes256gcm16": func() cipher.AEAD { blk, _ := aes.NewCipher(make([]byte, 32)); a, _ := cipher.NewGCM(blk); return a },
		"chacha20poly1305": func() cipher.AEAD {
			a, _ := chacha20poly1305.New(make([]byte, 32))
			return a
		},
	}
	for _, name := range []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305"} {
		for _, size := range benchSizes {
			n := (size + 2 + 3) &^ 3
			nonce, aad := make([]byte, 12), make([]byte, 8)
			b.Run(fmt.Sprintf("%s/seal/%d", name, size), func(b *testing.B) {
				a := mk[name]()
				buf := make([]byte, n+16)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					nonce[11]++
					a.Seal(buf[:0], nonce, buf[:n], aad)
				}
			})
			b.Run(fmt.Sprintf("%s/open/%d", name, size), func(b *testing.B) {
				a := mk[name]()
				ct := a.Seal(nil, nonce, make([]byte, n), aad)
				buf := make([]byte, len(ct))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					copy(buf, ct)
					if _, err := a.Open(buf[:0], nonce, buf, aad); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReplay measures the replay window's check and update for
// in-order packets with ESN inference.
func BenchmarkReplay(b *testing.B) {
	w := newReplayWindow(DefaultReplayWindow)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		s := w.infer(uint32(seq), true)
		if !w.check(s) || !w.update(s) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkLocalUDP measures one L2TP-sized datagram through SendUDP,
// a loopback socket and the inbound steps to a WithLocalUDP handler.
func BenchmarkLocalUDP(b *testing.B) {
	l := newLocalLoop(b)
	defer l.u.Close()
	b.SetBytes(int64(len(l.payload)))
	b.ReportAllocs()
	for b.Loop() {
		l.round(b)
	}
	if l.got == 0 {
		b.Fatal("nothing delivered")
	}
}
