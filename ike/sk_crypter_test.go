package ike

import (
	"bytes"
	"testing"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// An skCrypter seals and opens as the cipher it stands for, also after
// release dropped the cipher (rebuilt from the keys), for an AEAD and for
// a cipher with separate integrity.
func TestSKCrypterReleased(t *testing.T) {
	for _, c := range []struct {
		name    string
		encr    proposal.EncrID
		bits    int
		integ   proposal.IntegID
		encLen  int
		integLn int
	}{
		{"aes128gcm16", proposal.EncrAESGCM16, 128, proposal.IntegNone, 16 + 4, 0},
		{"aes256-sha256", proposal.EncrAESCBC, 256, proposal.IntegHMACSHA2256128, 32, 32},
	} {
		t.Run(c.name, func(t *testing.T) {
			encKey := bytes.Repeat([]byte{7}, c.encLen)
			intKey := bytes.Repeat([]byte{9}, c.integLn)
			ref, err := alg.NewCrypter(c.encr, c.bits, c.integ, encKey, intKey)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSKCrypter(c.encr, c.bits, c.integ, encKey, intKey)
			if err != nil {
				t.Fatal(err)
			}
			if s.IVLen() != ref.IVLen() || s.ICVLen() != ref.ICVLen() || s.BlockLen() != ref.BlockLen() || s.AEAD() != ref.AEAD() {
				t.Fatalf("lengths %d/%d/%d/%v, want %d/%d/%d/%v", s.IVLen(), s.ICVLen(), s.BlockLen(), s.AEAD(), ref.IVLen(), ref.ICVLen(), ref.BlockLen(), ref.AEAD())
			}
			iv := bytes.Repeat([]byte{1}, ref.IVLen())
			plain := bytes.Repeat([]byte("sixteen bytes!!!"), 2)
			aad := []byte("header")
			want := ref.Seal(nil, iv, plain, aad, nil)
			for round := range 3 {
				if got := s.Seal(nil, iv, plain, aad, nil); !bytes.Equal(got, want) {
					t.Fatalf("round %d: sealed %x, want %x", round, got, want)
				}
				s.release()
				if s.c != nil {
					t.Fatal("release kept the cipher")
				}
				got, err := s.Open(nil, iv, want, aad, nil)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("round %d: opened %q, %v", round, got, err)
				}
				s.release()
			}
			// A forged message fails after a rebuild as before.
			bad := bytes.Clone(want)
			bad[len(bad)-1] ^= 1
			if _, err := s.Open(nil, iv, bad, aad, nil); err == nil {
				t.Fatal("a forged ICV opened")
			}
		})
	}
}
