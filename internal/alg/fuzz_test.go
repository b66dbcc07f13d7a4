package alg

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// FuzzOpen feeds arbitrary packets to Open of every transform (selected by
// the first byte) under a fixed key. Open must never panic, must fail
// only with ErrAuthFailed or ErrMalformed, and whatever it accepts must
// seal back to the same bytes.
func FuzzOpen(f *testing.F) {
	crypters := make([]Crypter, len(allCrypters))
	for i, cc := range allCrypters {
		crypters[i] = newTestCrypter(f, cc)
		c := crypters[i]
		// Seeds: valid packets, so mutations start next to acceptance.
		iv := bytes.Repeat([]byte{byte(i)}, c.IVLen())
		aad := []byte{0, 0, 0, 1, 0, 0, 0, 2}
		for _, n := range []int{0, c.BlockLen(), 4 * c.BlockLen()} {
			pt := bytes.Repeat([]byte{0xa5}, n)
			var suffix []byte
			sealed := c.Seal(nil, iv, pt, aad, suffix)
			f.Add(byte(i), iv, aad, sealed)
		}
	}
	f.Fuzz(func(t *testing.T, sel byte, iv, aad, ct []byte) {
		c := crypters[int(sel)%len(crypters)]
		pt, err := c.Open(nil, iv, ct, aad, nil)
		if err != nil {
			if !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error type: %v", err)
			}
			if pt != nil {
				t.Fatalf("plaintext returned with error")
			}
			return
		}
		if again := c.Seal(nil, iv, pt, aad, nil); !bytes.Equal(again, ct) {
			t.Fatalf("accepted packet does not re-seal to itself")
		}
	})
}

// fuzzKE lists the methods FuzzPublicValue exercises; MODP-6144/8192 are
// left out only because one exponentiation takes tens of milliseconds.
var fuzzKE = []proposal.KEID{
	proposal.KEMODP768, proposal.KEMODP1024, proposal.KEMODP1536, proposal.KEMODP2048,
	proposal.KEMODP1024S160, proposal.KEMODP2048S224, proposal.KEMODP2048S256,
	proposal.KEECP256, proposal.KEECP384, proposal.KEECP521, proposal.KEECP192, proposal.KEECP224,
	proposal.KEBrainpool224, proposal.KEBrainpool256, proposal.KEBrainpool384, proposal.KEBrainpool512,
	proposal.KECurve25519, proposal.KECurve448, proposal.KEMLKEM512, proposal.KEMLKEM768, proposal.KEMLKEM1024,
}

// FuzzPublicValue hands arbitrary peer KE data to Respond and Shared of
// every method. Nothing may panic, failures must be ErrInvalidPublicValue,
// and an accepted value must yield a non-empty reply and secret.
func FuzzPublicValue(f *testing.F) {
	for i, id := range fuzzKE {
		for _, v := range badPublicValues(f, id) {
			f.Add(byte(i), v)
		}
		ke, _ := NewKeyExchange(id, rand.Reader)
		pub, _ := ke.Public()
		f.Add(byte(i), pub)
	}
	f.Fuzz(func(t *testing.T, sel byte, peer []byte) {
		id := fuzzKE[int(sel)%len(fuzzKE)]
		res, err := NewKeyExchange(id, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rpub, rs, err := res.Respond(peer)
		if err != nil {
			if !errors.Is(err, ErrInvalidPublicValue) {
				t.Fatalf("Respond: unexpected error type: %v", err)
			}
		} else if len(rs) == 0 || len(rpub) == 0 {
			t.Fatalf("Respond accepted but returned empty values")
		}
		ini, _ := NewKeyExchange(id, rand.Reader)
		if _, err := ini.Public(); err != nil {
			t.Fatal(err)
		}
		if _, err := ini.Shared(peer); err != nil && !errors.Is(err, ErrInvalidPublicValue) {
			t.Fatalf("Shared: unexpected error type: %v", err)
		}
	})
}
