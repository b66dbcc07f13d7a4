package alg

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// TestKeyExchangeVectors checks every KE vector both ways: the initiator
// with the fixed private value produces pub_i and, given pub_r, the
// shared secret; the responder with its fixed value answers pub_i with
// pub_r and the same secret.
func TestKeyExchangeVectors(t *testing.T) {
	files := []string{"modp_strongswan_generated.json", "modp_subgroup_rfc5114.json", "ecdh_nist_rfc5114.json", "ecdh_brainpool_rfc6923_rfc7027.json", "x25519_rfc7748_rfc8031.json"}
	n := 0
	for _, file := range files {
		for _, v := range loadVectors(t, file) {
			n++
			t.Run(v.str("id"), func(t *testing.T) {
				id := proposal.KEID(v.num("ike_group"))
				var privI, privR []byte
				if v.has("priv_i") {
					privI, privR = v.hex(t, "priv_i"), v.hex(t, "priv_r")
				} else {
					// Brainpool 224: the strongSwan test RNG seed is
					// initiator scalar || responder scalar.
					seed := v.hex(t, "seed_private_material")
					privI, privR = seed[:len(seed)/2], seed[len(seed)/2:]
				}
				checkKEVector(t, id, privI, privR, v.hex(t, "pub_i"), v.hex(t, "pub_r"), v.hex(t, "shared"))
			})
		}
	}
	for _, v := range loadVectors(t, "ecdh_rfc5903.json") {
		n++
		t.Run(v.str("id"), func(t *testing.T) {
			id := proposal.KEID(v.num("ike_group"))
			if !v.has("r") {
				// RFC 5903 8.2 as transcribed has no responder scalar:
				// check the initiator side only.
				ke, err := newKeyExchangeWithPrivate(id, v.hex(t, "i"))
				if err != nil {
					t.Fatal(err)
				}
				pub, _ := ke.Public()
				eq(t, "g^i", pub, v.hex(t, "ke_i_computed_here"))
				s, err := ke.Shared(v.hex(t, "ke_r"))
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "g^ir", s, v.hex(t, "shared_girx"))
				return
			}
			checkKEVector(t, id, v.hex(t, "i"), v.hex(t, "r"), v.hex(t, "ke_i"), v.hex(t, "ke_r"), v.hex(t, "shared_girx"))
		})
	}
	if n < 24 {
		t.Fatalf("only %d vectors", n)
	}
}

func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s\n got %x\nwant %x", what, got, want)
	}
}

func checkKEVector(t *testing.T, id proposal.KEID, privI, privR, pubI, pubR, shared []byte) {
	t.Helper()
	ini, err := newKeyExchangeWithPrivate(id, privI)
	if err != nil {
		t.Fatal(err)
	}
	if ini.Method() != id {
		t.Fatalf("Method %d, want %d", ini.Method(), id)
	}
	pub, err := ini.Public()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "initiator public", pub, pubI)
	s, err := ini.Shared(pubR)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "initiator shared", s, shared)
	res, err := newKeyExchangeWithPrivate(id, privR)
	if err != nil {
		t.Fatal(err)
	}
	rp, rs, err := res.Respond(pubI)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "responder public", rp, pubR)
	eq(t, "responder shared", rs, shared)
	li, lr, err := PublicLen(id)
	if err != nil || li != len(pubI) || lr != len(pubR) {
		t.Fatalf("PublicLen = %d, %d, %v; vector %d, %d", li, lr, err, len(pubI), len(pubR))
	}
}

var allKE = []proposal.KEID{
	proposal.KEMODP768, proposal.KEMODP1024, proposal.KEMODP1536, proposal.KEMODP2048, proposal.KEMODP3072,
	proposal.KEMODP4096, proposal.KEMODP6144, proposal.KEMODP8192,
	proposal.KEMODP1024S160, proposal.KEMODP2048S224, proposal.KEMODP2048S256,
	proposal.KEECP256, proposal.KEECP384, proposal.KEECP521, proposal.KEECP192, proposal.KEECP224,
	proposal.KEBrainpool224, proposal.KEBrainpool256, proposal.KEBrainpool384, proposal.KEBrainpool512,
	proposal.KECurve25519, proposal.KECurve448, proposal.KEMLKEM512, proposal.KEMLKEM768, proposal.KEMLKEM1024,
}

// TestKeyExchangeRoundTrip runs random initiator/responder pairs for
// every method, including X448 and ML-KEM, which have no vector file.
func TestKeyExchangeRoundTrip(t *testing.T) {
	for _, id := range allKE {
		if testing.Short() && (id == proposal.KEMODP6144 || id == proposal.KEMODP8192) {
			continue
		}
		t.Run(keName(id), func(t *testing.T) {
			ini, err := NewKeyExchange(id, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ini.Public()
			if err != nil {
				t.Fatal(err)
			}
			li, lr, _ := PublicLen(id)
			if len(pub) != li {
				t.Fatalf("public %d bytes, PublicLen %d", len(pub), li)
			}
			res, err := NewKeyExchange(id, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rpub, rs, err := res.Respond(pub)
			if err != nil {
				t.Fatal(err)
			}
			if len(rpub) != lr {
				t.Fatalf("response %d bytes, PublicLen %d", len(rpub), lr)
			}
			is, err := ini.Shared(rpub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(is, rs) || len(is) == 0 || allZero(is) {
				t.Fatalf("secrets differ: %x vs %x", is, rs)
			}
			if s := fmt.Sprintf("%v %+v", ini, res); bytes.Contains([]byte(s), []byte(fmt.Sprintf("%x", is[:4]))) {
				t.Fatalf("String leaks: %s", s)
			}
		})
	}
}

// TestKeyExchangeMLKEMDeterministic: the same seed gives the same key.
func TestKeyExchangeMLKEMDeterministic(t *testing.T) {
	for _, id := range []proposal.KEID{proposal.KEMLKEM512, proposal.KEMLKEM768, proposal.KEMLKEM1024} {
		seed := bytes.Repeat([]byte{7}, 64)
		a, _ := NewKeyExchange(id, bytes.NewReader(seed))
		b, _ := NewKeyExchange(id, bytes.NewReader(seed))
		pa, err := a.Public()
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := b.Public()
		if !bytes.Equal(pa, pb) {
			t.Fatalf("%s: same seed, different keys", keName(id))
		}
		if _, _, err := a.Respond(pb); !errors.Is(err, ErrKeyExchangeState) {
			t.Fatalf("%s: Respond on initiator: %v", keName(id), err)
		}
	}
}

// badPublicValues returns hostile KE data for a method: wrong lengths,
// and per RFC 6989 0, 1, p-1 and p for MODP, off-curve points, the
// all-zero point and coordinates >= p for ECP, low-order points for the
// Montgomery curves and a non-reduced key for ML-KEM.
func badPublicValues(t testing.TB, id proposal.KEID) map[string][]byte {
	li, _, err := PublicLen(id)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":     nil,
		"short":     make([]byte, li-1),
		"long":      make([]byte, li+1),
		"all ones":  bytes.Repeat([]byte{0xff}, li),
		"all zero":  make([]byte, li),
		"one short": append([]byte{1}, make([]byte, li-2)...),
	}
	pad := func(x *big.Int, n int) []byte { return x.FillBytes(make([]byte, n)) }
	switch {
	case modpPrimeHex[id] != "" || rfc5114Hex[id][0] != "":
		g, err := modpGroupFor(id)
		if err != nil {
			t.Fatal(err)
		}
		p := new(big.Int).SetBytes(g.p.Nat().Bytes(g.p))
		one := big.NewInt(1)
		bad["zero"] = pad(big.NewInt(0), li)
		bad["one"] = pad(one, li)
		bad["p-1"] = pad(new(big.Int).Sub(p, one), li)
		bad["p"] = pad(p, li)
		bad["p+1"] = pad(new(big.Int).Add(p, one), li)
		if g.q != nil {
			// 2 is a generator of the full group, not of the q-subgroup.
			bad["outside subgroup"] = pad(big.NewInt(2), li)
		}
	case curveHex[id][0] != "" || id == proposal.KEECP256 || id == proposal.KEECP384 || id == proposal.KEECP521:
		half := li / 2
		off := make([]byte, li)
		off[half-1] = 1 // (0, 1): not on any of these curves
		off[li-1] = 1
		bad["off curve (0,1)"] = off
		if curveHex[id][0] != "" {
			c, _ := curveFor(id)
			pb := c.p.Nat().Bytes(c.p)
			bad["x = p"] = append(append([]byte(nil), pb...), make([]byte, half)...)
			gen := append(c.gx.Bytes(c.p), c.gy.Bytes(c.p)...)
			gen[li-1] ^= 1
			bad["generator with y flipped"] = gen
		} else {
			var curve ecdh.Curve = map[proposal.KEID]ecdh.Curve{proposal.KEECP256: ecdh.P256(), proposal.KEECP384: ecdh.P384(), proposal.KEECP521: ecdh.P521()}[id]
			k, _ := curve.GenerateKey(rand.Reader)
			pt := k.PublicKey().Bytes()[1:]
			pt[li-1] ^= 1
			bad["valid point with y flipped"] = pt
		}
	case id == proposal.KECurve25519 || id == proposal.KECurve448:
		delete(bad, "all ones") // a valid (non-canonical) u-coordinate for X25519
		bad["u=1 (low order)"] = append([]byte{1}, make([]byte, li-1)...)
	case id == proposal.KEMLKEM512 || id == proposal.KEMLKEM768 || id == proposal.KEMLKEM1024:
		delete(bad, "all zero") // a well-formed (if silly) encapsulation key
		delete(bad, "one short")
	}
	return bad
}

// TestKeyExchangeRejectsBadPublic is the RFC 6989 test: every hostile
// value is refused with ErrInvalidPublicValue by both Respond and
// Shared, and nothing panics.
func TestKeyExchangeRejectsBadPublic(t *testing.T) {
	for _, id := range allKE {
		if id == proposal.KEMODP6144 || id == proposal.KEMODP8192 {
			if testing.Short() {
				continue
			}
		}
		// One initiator per method: Shared may be retried after a refused
		// value, and key generation is the slow part for large groups.
		ini, _ := NewKeyExchange(id, rand.Reader)
		if _, err := ini.Public(); err != nil {
			t.Fatal(err)
		}
		for name, val := range badPublicValues(t, id) {
			t.Run(keName(id)+"/"+name, func(t *testing.T) {
				res, err := NewKeyExchange(id, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if p, s, err := res.Respond(val); !errors.Is(err, ErrInvalidPublicValue) || p != nil || s != nil {
					t.Fatalf("Respond: %v (public %d bytes, secret %d bytes), want ErrInvalidPublicValue", err, len(p), len(s))
				}
				_, lr, _ := PublicLen(id)
				if id >= proposal.KEMLKEM512 && len(val) == lr {
					return // a ciphertext of the right length always decapsulates (implicit rejection)
				}
				if s, err := ini.Shared(val); !errors.Is(err, ErrInvalidPublicValue) || s != nil {
					t.Fatalf("Shared: %v, want ErrInvalidPublicValue", err)
				}
			})
		}
	}
}

func TestKeyExchangeMisuse(t *testing.T) {
	if _, err := NewKeyExchange(proposal.KEGOST256, rand.Reader); !errors.Is(err, ErrUnsupported) {
		t.Errorf("GOST: %v, want ErrUnsupported", err)
	}
	if _, err := NewKeyExchange(proposal.KENone, rand.Reader); !errors.Is(err, ErrUnsupported) {
		t.Errorf("none: %v, want ErrUnsupported", err)
	}
	for _, id := range []proposal.KEID{proposal.KEMODP2048, proposal.KEECP256, proposal.KECurve25519, proposal.KECurve448, proposal.KEBrainpool256, proposal.KEMLKEM768} {
		ke, _ := NewKeyExchange(id, rand.Reader)
		li, _, _ := PublicLen(id)
		if _, err := ke.Shared(make([]byte, li)); !errors.Is(err, ErrKeyExchangeState) {
			t.Errorf("%s: Shared before Public: %v", keName(id), err)
		}
	}
}

// TestWeierstrassMatchesP256 cross-checks the generic bigmod curve code
// against crypto/ecdh on P-256, a curve it is not otherwise used for.
func TestWeierstrassMatchesP256(t *testing.T) {
	const id = proposal.KEID(65000)
	curveHex[id] = [6]string{
		"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
		"ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
		"5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
		"6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
		"4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
		"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
	}
	defer delete(curveHex, id)
	for i := 0; i < 3; i++ {
		std, _ := ecdh.P256().GenerateKey(rand.Reader)
		ke, err := newKeyExchangeWithPrivate(id, std.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := ke.Public()
		eq(t, "public", pub, std.PublicKey().Bytes()[1:])
		peer, _ := ecdh.P256().GenerateKey(rand.Reader)
		s, err := ke.Shared(peer.PublicKey().Bytes()[1:])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := std.ECDH(peer.PublicKey())
		eq(t, "shared", s, want)
	}
}

// constReader returns the same byte forever.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestKeyExchangeRandSeam: the private value comes from the injected
// reader (so engines with a fixed WithRand are reproducible), and a broken
// reader gives an error instead of a hang.
func TestKeyExchangeRandSeam(t *testing.T) {
	for _, id := range allKE {
		if id == proposal.KEMODP6144 || id == proposal.KEMODP8192 {
			continue
		}
		t.Run(keName(id), func(t *testing.T) {
			seed := make([]byte, 4096)
			for i := range seed {
				seed[i] = byte(i*13 + 5)
			}
			a, _ := NewKeyExchange(id, bytes.NewReader(seed))
			b, _ := NewKeyExchange(id, bytes.NewReader(seed))
			pa, err := a.Public()
			if err != nil {
				t.Fatal(err)
			}
			pb, _ := b.Public()
			if !bytes.Equal(pa, pb) {
				t.Fatal("same random stream, different public values")
			}
			bad, _ := NewKeyExchange(id, constReader(0xff))
			if id == proposal.KECurve25519 || id == proposal.KECurve448 || id >= proposal.KEMLKEM512 || modpPrimeHex[id] != "" {
				return // every byte string is a valid private value here
			}
			if _, err := bad.Public(); err == nil {
				t.Fatal("all-0xff reader accepted as scalar source")
			}
		})
	}
}

// TestSharedSecretWipeable: the shared secret Shared and Respond return
// fills its whole backing array (cap == len), so the caller's clear wipes
// every byte of it; a secret sliced from a larger buffer (an ECP x||y
// encoding) would leave the rest behind.
func TestSharedSecretWipeable(t *testing.T) {
	for _, id := range allKE {
		if id == proposal.KEMODP6144 || id == proposal.KEMODP8192 {
			continue // slow, and the same code as the other MODP groups
		}
		t.Run(keName(id), func(t *testing.T) {
			ini, err := NewKeyExchange(id, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ini.Public()
			if err != nil {
				t.Fatal(err)
			}
			res, err := NewKeyExchange(id, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rpub, rs, err := res.Respond(pub)
			if err != nil {
				t.Fatal(err)
			}
			is, err := ini.Shared(rpub)
			if err != nil {
				t.Fatal(err)
			}
			if cap(is) != len(is) || cap(rs) != len(rs) {
				t.Errorf("secret of %d bytes in buffers of %d (initiator) and %d (responder) bytes", len(is), cap(is), cap(rs))
			}
		})
	}
}
