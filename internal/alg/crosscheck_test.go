package alg

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// crosscheck_pyca.json holds values from an independent implementation
// (pyca/cryptography on OpenSSL; see crosscheck_gen.py) for cases no
// published vector reaches.

type crossFile struct {
	CCM   []vector `json:"ccm"`
	GCM8  []vector `json:"gcm8"`
	ECDH  []vector `json:"ecdh"`
	X448  []vector `json:"x448"`
	MLKEM []vector `json:"mlkem"`
}

func loadCross(t *testing.T) crossFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "crosscheck_pyca.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f crossFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// pattern mirrors crosscheck_gen.py.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + seed) % 251)
	}
	return b
}

func TestCrossCheckCCMLongAAD(t *testing.T) {
	f := loadCross(t)
	if len(f.CCM) < 100 {
		t.Fatalf("only %d CCM cases", len(f.CCM))
	}
	ids := map[int]proposal.EncrID{8: proposal.EncrAESCCM8, 12: proposal.EncrAESCCM12, 16: proposal.EncrAESCCM16}
	for i, v := range f.CCM {
		key := v.hex(t, "key")
		c, err := NewCrypter(ids[v.num("icv_len")], len(key)*8, proposal.IntegNone, append(key, v.hex(t, "salt")...), nil)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d/key%d/icv%d/aad%d/pt%d", i, len(key), v.num("icv_len"), v.num("aad_len"), v.num("pt_len"))
		t.Run(name, func(t *testing.T) {
			checkSealOpen(t, c, v.hex(t, "iv"), pattern(v.num("pt_len"), 5), pattern(v.num("aad_len"), 4), nil, v.hex(t, "ciphertext_and_icv"))
		})
	}
}

func TestCrossCheckGCM8(t *testing.T) {
	f := loadCross(t)
	if len(f.GCM8) < 50 {
		t.Fatalf("only %d GCM8 cases", len(f.GCM8))
	}
	for i, v := range f.GCM8 {
		key := v.hex(t, "key")
		c, err := NewCrypter(proposal.EncrAESGCM8, len(key)*8, proposal.IntegNone, append(key, v.hex(t, "salt")...), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("%d/key%d/aad%d/pt%d", i, len(key), v.num("aad_len"), v.num("pt_len")), func(t *testing.T) {
			checkSealOpen(t, c, v.hex(t, "iv"), pattern(v.num("pt_len"), 10), pattern(v.num("aad_len"), 9), nil, v.hex(t, "ciphertext_and_icv"))
		})
	}
}

func TestCrossCheckKeyExchange(t *testing.T) {
	f := loadCross(t)
	all := append(f.ECDH, f.X448...)
	if len(all) < 15 {
		t.Fatalf("only %d KE cases", len(all))
	}
	for i, v := range all {
		t.Run(fmt.Sprintf("%d/group%d", i, v.num("ike_group")), func(t *testing.T) {
			checkKEVector(t, proposal.KEID(v.num("ike_group")), v.hex(t, "priv_i"), v.hex(t, "priv_r"), v.hex(t, "pub_i"), v.hex(t, "pub_r"), v.hex(t, "shared"))
		})
	}
}

// TestCrossCheckMLKEM: keys from the same FIPS 203 seed match another
// implementation's, and its ciphertexts decapsulate to its shared keys.
func TestCrossCheckMLKEM(t *testing.T) {
	f := loadCross(t)
	if len(f.MLKEM) < 4 {
		t.Fatalf("only %d ML-KEM cases", len(f.MLKEM))
	}
	for i, v := range f.MLKEM {
		t.Run(fmt.Sprintf("%d/group%d", i, v.num("ike_group")), func(t *testing.T) {
			ke, err := newKeyExchangeWithPrivate(proposal.KEID(v.num("ike_group")), v.hex(t, "seed"))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ke.Public()
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "encapsulation key", pub, v.hex(t, "pub_i"))
			ss, err := ke.Shared(v.hex(t, "pub_r"))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "shared key", ss, v.hex(t, "shared"))
		})
	}
}

// TestIKEv2CCMCapture decrypts the encrypted INFORMATIONAL request and
// response of Wireshark's ikev2-decrypt-aes128ccm12 capture with the SK_e
// keys from Wireshark's key table: real IKEv2 SK payloads (AAD = IKE
// header || SK payload header, RFC 5282 section 5.1) from another stack.
func TestIKEv2CCMCapture(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "ikev2-decrypt-aes128ccm12.fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		SKei   string   `json:"sk_ei"`
		SKer   string   `json:"sk_er"`
		Frames []vector `json:"frames"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]byte{"SK_ei": mustHex(fx.SKei), "SK_er": mustHex(fx.SKer)}
	n := 0
	for _, fr := range fx.Frames {
		if !fr.has("key_used") {
			continue // IKE_SA_INIT frames are not encrypted
		}
		n++
		t.Run(fmt.Sprintf("frame%d", fr.num("frame")), func(t *testing.T) {
			c, err := NewCrypter(proposal.EncrAESCCM12, 128, proposal.IntegNone, keys[fr.str("key_used")], nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := fr.hex(t, "ike_message_hex")
			aad, iv, body := msg[:32], msg[32:40], msg[40:]
			eq(t, "AAD layout", aad, fr.hex(t, "aad_hex"))
			eq(t, "IV", iv, fr.hex(t, "iv"))
			pt, err := c.Open(nil, iv, body, aad, nil)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "plaintext", pt, fr.hex(t, "decrypted_plaintext"))
			// Re-encrypting gives the captured bytes back.
			eq(t, "re-sealed", c.Seal(nil, iv, pt, aad, nil), body)
		})
	}
	if n != 2 {
		t.Fatalf("%d encrypted frames, want 2", n)
	}
}
