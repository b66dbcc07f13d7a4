package kdf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

type vector map[string]any

func (v vector) str(k string) string { s, _ := v[k].(string); return s }
func (v vector) num(k string) int    { f, _ := v[k].(float64); return int(f) }
func (v vector) hex(t *testing.T, k string) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.str(k))
	if err != nil || !v.has(k) {
		t.Fatalf("vector %s: field %q: %v", v.str("id"), k, err)
	}
	return b
}
func (v vector) has(k string) bool { _, ok := v[k]; return ok }

func load(t *testing.T, name string) []vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("%s: %v (%d vectors)", name, err, len(f.Vectors))
	}
	return f.Vectors
}

func mustPRF(t *testing.T, name string) alg.PRF {
	t.Helper()
	ids := map[string]proposal.PRFID{
		"PRF_HMAC_SHA1": proposal.PRFHMACSHA1, "HMAC-SHA1": proposal.PRFHMACSHA1,
		"PRF_HMAC_SHA2_256": proposal.PRFHMACSHA2256, "PRF_HMAC_SHA2_384": proposal.PRFHMACSHA2384,
		"PRF_HMAC_SHA2_512": proposal.PRFHMACSHA2512,
	}
	id, ok := ids[name]
	if !ok {
		t.Fatalf("unknown prf %q", name)
	}
	p, err := alg.NewPRF(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s\n got %x\nwant %x", what, []byte(got), want)
	}
}

// TestCAVPStrongSwan runs the NIST CAVP SP 800-135 IKEv2 SKEYSEED and
// prf+ vectors (and the RFC 4868-derived prf+ one).
func TestCAVPStrongSwan(t *testing.T) {
	for _, v := range load(t, "ikev2_kdf_cavp_strongswan.json") {
		t.Run(v.str("id"), func(t *testing.T) {
			p := mustPRF(t, v.str("prf"))
			switch {
			case strings.HasPrefix(v.str("kind"), "SKEYSEED"):
				// The vector gives Ni|Nr concatenated; for HMAC PRFs the split point does not matter.
				nn := v.hex(t, "ni_nr")
				eq(t, "SKEYSEED", SKEYSEED(p, nn[:len(nn)/2], nn[len(nn)/2:], v.hex(t, "g_ir")), v.hex(t, "skeyseed"))
			case strings.HasPrefix(v.str("kind"), "prf+"):
				want := v.hex(t, "out")
				if len(want) != v.num("out_len") {
					t.Fatalf("vector out %d bytes, out_len %d", len(want), v.num("out_len"))
				}
				got, err := PRFPlus(p, v.hex(t, "key"), v.hex(t, "seed"), len(want))
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "prf+", got, want)
			default:
				t.Fatalf("unknown kind %q", v.str("kind"))
			}
		})
	}
}

// TestCAVPChains runs the complete CAVP sample chains: IKEv2 SKEYSEED ->
// DKM -> CHILD KEYMAT with and without PFS -> rekeyed SKEYSEED, and IKEv1
// signature-auth SKEYID -> SKEYID_d/a/e.
func TestCAVPChains(t *testing.T) {
	for _, v := range load(t, "ikev1_ikev2_kdf_cavp.json") {
		t.Run(v.str("id"), func(t *testing.T) {
			p := mustPRF(t, v.str("prf"))
			if v.has("skeyid") {
				ni, nr, gxy := v.hex(t, "ni_b"), v.hex(t, "nr_b"), v.hex(t, "g_xy")
				ckyI, ckyR := v.hex(t, "cky_i"), v.hex(t, "cky_r")
				skeyid := V1SKEYIDSignature(p, ni, nr, gxy)
				eq(t, "SKEYID", skeyid, v.hex(t, "skeyid"))
				k := V1DeriveKeys(p, skeyid, gxy, ckyI, ckyR)
				eq(t, "SKEYID_d", k.SKEYIDd, v.hex(t, "skeyid_d"))
				eq(t, "SKEYID_a", k.SKEYIDa, v.hex(t, "skeyid_a"))
				eq(t, "SKEYID_e", k.SKEYIDe, v.hex(t, "skeyid_e"))
				return
			}
			ni, nr, gir, girNew := v.hex(t, "ni"), v.hex(t, "nr"), v.hex(t, "g_ir"), v.hex(t, "g_ir_new")
			spii, spir := v.hex(t, "spi_i"), v.hex(t, "spi_r")
			skeyseed := SKEYSEED(p, ni, nr, gir)
			eq(t, "SKEYSEED", skeyseed, v.hex(t, "skeyseed"))
			dkmWant := v.hex(t, "dkm")
			seed := bytes.Join([][]byte{ni, nr, spii, spir}, nil)
			dkm, err := PRFPlus(p, skeyseed, seed, len(dkmWant))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "DKM", dkm, dkmWant)
			skd := dkmWant[:p.KeyLen()]

			// IKESAKeys must cut the same stream in RFC 7296 order.
			keys, err := IKESAKeys(p, skeyseed, ni, nr, spii, spir, 16, 20)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.KeyLen()
			off := 0
			for _, c := range []struct {
				name string
				k    Key
				n    int
			}{{"SK_d", keys.SKd, pl}, {"SK_ai", keys.SKai, 20}, {"SK_ar", keys.SKar, 20}, {"SK_ei", keys.SKei, 16}, {"SK_er", keys.SKer, 16}, {"SK_pi", keys.SKpi, pl}, {"SK_pr", keys.SKpr, pl}} {
				if off+c.n <= len(dkmWant) {
					eq(t, c.name, c.k, dkmWant[off:off+c.n])
				}
				off += c.n
			}

			childWant := v.hex(t, "dkm_child")
			child, err := ChildKEYMAT(p, skd, ni, nr, nil, len(childWant))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "child DKM", child, childWant)
			pfsWant := v.hex(t, "dkm_child_dh")
			pfs, err := ChildKEYMAT(p, skd, ni, nr, [][]byte{girNew}, len(pfsWant))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "child DKM with PFS", pfs, pfsWant)
			eq(t, "rekey SKEYSEED", RekeySKEYSEED(p, skd, [][]byte{girNew}, ni, nr), v.hex(t, "skeyseed_rekey"))

			ck, err := ChildSAKeys(p, skd, ni, nr, [][]byte{girNew}, 20, 32)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "EncI", ck.EncI, pfsWant[:20])
			eq(t, "IntegI", ck.IntegI, pfsWant[20:52])
			eq(t, "EncR", ck.EncR, pfsWant[52:72])
			eq(t, "IntegR", ck.IntegR, pfsWant[72:104])
		})
	}
}

// hmacSHA256 is an independent reference for the formulas without
// published vectors (RFC 9370 forms, IKEv1 PSK/public key SKEYID, key
// expansion, Quick Mode KEYMAT): plain crypto/hmac, written from the RFC
// text rather than through this package's helpers.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func TestRFC9370(t *testing.T) {
	p := mustPRF(t, "PRF_HMAC_SHA2_256")
	skd, ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	sk0, sk1, sk2 := []byte("ecdh-secret"), []byte("mlkem-secret-1"), []byte("mlkem-secret-2")

	eq(t, "IntermediateSKEYSEED", IntermediateSKEYSEED(p, skd, sk1, ni, nr), hmacSHA256(skd, sk1, ni, nr))
	eq(t, "RekeySKEYSEED", RekeySKEYSEED(p, skd, [][]byte{sk0, sk1, sk2}, ni, nr), hmacSHA256(skd, sk0, ni, nr, sk1, sk2))
	km, err := ChildKEYMAT(p, skd, ni, nr, [][]byte{sk0, sk1, sk2}, 32)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "ChildKEYMAT", km, hmacSHA256(skd, sk0, ni, nr, sk1, sk2, []byte{1}))
	first := IntAuth(p, skd, nil, []byte("hdr1"), []byte("payloads1"))
	eq(t, "IntAuth 1", first, hmacSHA256(skd, []byte("hdr1"), []byte("payloads1")))
	eq(t, "IntAuth 2", IntAuth(p, ni, first, []byte("hdr2"), nil), hmacSHA256(ni, first, []byte("hdr2")))
	// Without PFS there is no secret at all.
	km, err = ChildKEYMAT(p, skd, ni, nr, nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "ChildKEYMAT no PFS", km, hmacSHA256(skd, ni, nr, []byte{1}))
}

func TestSKEYSEEDFixedKeyPRF(t *testing.T) {
	// RFC 7296 section 2.14: AES-XCBC/CMAC PRFs use only 64 bits of each nonce.
	for _, id := range []proposal.PRFID{proposal.PRFAES128XCBC, proposal.PRFAES128CMAC} {
		p, err := alg.NewPRF(id)
		if err != nil {
			t.Fatal(err)
		}
		ni, nr, gir := bytes.Repeat([]byte{0xa}, 32), bytes.Repeat([]byte{0xb}, 32), []byte("shared")
		key := append(bytes.Clone(ni[:8]), nr[:8]...)
		h := p.New(key)
		h.Write(gir)
		eq(t, fmt.Sprint(id), SKEYSEED(p, ni, nr, gir), h.Sum(nil))
	}
}

func TestIKEv1Formulas(t *testing.T) {
	p := mustPRF(t, "HMAC-SHA1")
	ni, nr := []byte("initiator-nonce-16"), []byte("responder-nonce-16")
	ckyI, ckyR := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1}
	psk := []byte("not a real psk")
	hm := func(key []byte, parts ...[]byte) []byte {
		m := hmac.New(sha1.New, key)
		for _, b := range parts {
			m.Write(b)
		}
		return m.Sum(nil)
	}
	eq(t, "PSK SKEYID", V1SKEYIDPSK(p, psk, ni, nr), hm(psk, ni, nr))
	hsum := sha1.Sum(append(bytes.Clone(ni), nr...))
	eq(t, "pubkey SKEYID", V1SKEYIDPublicKey(p, sha1.New, ni, nr, ckyI, ckyR), hm(hsum[:], ckyI, ckyR))

	// Appendix B: 3DES needs 24 bytes from a 20-byte SKEYID_e; AES-128 only 16.
	e := bytes.Repeat([]byte{0x42}, 20)
	k1 := hm(e, []byte{0})
	k2 := hm(e, k1)
	eq(t, "3DES key", V1EncryptionKey(p, e, 24), append(bytes.Clone(k1), k2[:4]...))
	eq(t, "AES-128 key", V1EncryptionKey(p, e, 16), e[:16])

	// Quick Mode KEYMAT for AES-256 + SHA1 (52 bytes), with and without PFS.
	d := bytes.Repeat([]byte{0x17}, 20)
	spi := []byte{0xc0, 0x01, 0xd0, 0x0d}
	gqm := []byte("pfs shared secret")
	for _, g := range [][]byte{nil, gqm} {
		q1 := hm(d, g, []byte{3}, spi, ni, nr)
		q2 := hm(d, q1, g, []byte{3}, spi, ni, nr)
		q3 := hm(d, q2, g, []byte{3}, spi, ni, nr)
		want := bytes.Join([][]byte{q1, q2, q3}, nil)[:52]
		eq(t, fmt.Sprintf("QM KEYMAT pfs=%v", g != nil), V1QuickModeKEYMAT(p, d, g, 3, spi, ni, nr, 52), want)
	}

	iv := sha1.Sum([]byte("gxigxr"))
	eq(t, "phase 1 IV", V1Phase1IV(sha1.New, []byte("gxi"), []byte("gxr"), 16), iv[:16])
	iv2 := sha1.Sum([]byte("last-cbc-block!!\x00\x00\x00\x07"))
	eq(t, "phase 2 IV", V1Phase2IV(sha1.New, []byte("last-cbc-block!!"), []byte{0, 0, 0, 7}, 16), iv2[:16])
}

func TestPRFPlusLimit(t *testing.T) {
	p := mustPRF(t, "PRF_HMAC_SHA1")
	if _, err := PRFPlus(p, []byte("k"), []byte("s"), 255*20); err != nil {
		t.Fatalf("255 blocks: %v", err)
	}
	if _, err := PRFPlus(p, []byte("k"), []byte("s"), 255*20+1); !errors.Is(err, ErrTooLong) {
		t.Fatalf("256 blocks: %v, want ErrTooLong", err)
	}
	if _, err := PRFPlus(p, []byte("k"), []byte("s"), -1); !errors.Is(err, ErrTooLong) {
		t.Fatalf("negative: %v, want ErrTooLong", err)
	}
}

// TestKeysRedacted makes sure no formatting verb prints key bytes.
func TestKeysRedacted(t *testing.T) {
	p := mustPRF(t, "PRF_HMAC_SHA2_256")
	k, err := IKESAKeys(p, bytes.Repeat([]byte{0xee}, 32), []byte("ni"), []byte("nr"), make([]byte, 8), make([]byte, 8), 36, 0)
	if err != nil {
		t.Fatal(err)
	}
	secret := hex.EncodeToString(k.SKei[:4])
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %x %X %s %q %d", k, *k, *k, k.SKd, k.SKei, k.SKpi, k.SKpr, k.SKer),
		fmt.Sprint(k.SKd), fmt.Sprintf("%v", []any{k.SKai, k.SKei}),
	} {
		if strings.Contains(strings.ToLower(s), secret) || strings.Contains(s, fmt.Sprint([]byte(k.SKei[:2]))) {
			t.Fatalf("key bytes leaked: %s", s)
		}
		if !strings.Contains(s, "redacted") {
			t.Fatalf("no redaction marker: %s", s)
		}
	}
	k.Wipe()
	if !bytes.Equal(k.SKei, make([]byte, 36)) {
		t.Fatal("Wipe left key bytes")
	}
}
