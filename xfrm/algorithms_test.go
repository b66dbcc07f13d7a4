package xfrm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// TestKernelAlgsCoverDefaults checks that every ESP transform of the
// default proposals maps to a kernel algorithm.
func TestAlgsCoverDefaults(t *testing.T) {
	for _, l := range []proposal.List{proposal.StrictESP(), proposal.CompatibleESP()} {
		for _, p := range l {
			for _, e := range p.Encr {
				if _, ok := encrMap[e.ID]; !ok {
					t.Errorf("default ESP encryption %s has no XFRM mapping", e.ID)
				}
			}
			for _, i := range p.Integ {
				if _, ok := integMap[i]; !ok && i != proposal.IntegNone {
					t.Errorf("default ESP integrity %s has no XFRM mapping", i)
				}
			}
		}
	}
}

func TestAlgsMapping(t *testing.T) {
	// Expected kernel names and ICV/truncation lengths, written out from
	// the RFCs (4106, 4309, 4543, 7634, 4868, 3566, 4494) and
	// net/xfrm/xfrm_algo.c.
	want := map[string]string{
		"ENCR_AES_GCM_16-128":                          "aead rfc4106(gcm(aes)) 128 key20",
		"ENCR_AES_GCM_16-256":                          "aead rfc4106(gcm(aes)) 128 key36",
		"ENCR_AES_GCM_12-192":                          "aead rfc4106(gcm(aes)) 96 key28",
		"ENCR_AES_GCM_8-128":                           "aead rfc4106(gcm(aes)) 64 key20",
		"ENCR_AES_CCM_16-128":                          "aead rfc4309(ccm(aes)) 128 key19",
		"ENCR_AES_CCM_12-192":                          "aead rfc4309(ccm(aes)) 96 key27",
		"ENCR_AES_CCM_8-256":                           "aead rfc4309(ccm(aes)) 64 key35",
		"ENCR_CHACHA20_POLY1305-0":                     "aead rfc7539esp(chacha20,poly1305) 128 key36",
		"ENCR_NULL_AUTH_AES_GMAC-128":                  "aead rfc4543(gcm(aes)) 128 key20",
		"ENCR_AES_CBC-128+AUTH_HMAC_SHA2_256_128":      "crypt cbc(aes) 0 key16, auth hmac(sha256) 128 key32",
		"ENCR_AES_CBC-256+AUTH_HMAC_SHA2_384_192":      "crypt cbc(aes) 0 key32, auth hmac(sha384) 192 key48",
		"ENCR_AES_CBC-192+AUTH_HMAC_SHA2_512_256":      "crypt cbc(aes) 0 key24, auth hmac(sha512) 256 key64",
		"ENCR_AES_CTR-128+AUTH_HMAC_SHA2_256_128":      "crypt rfc3686(ctr(aes)) 0 key20, auth hmac(sha256) 128 key32",
		"ENCR_AES_CBC-128+AUTH_HMAC_SHA1_96":           "crypt cbc(aes) 0 key16, auth hmac(sha1) 96 key20",
		"ENCR_AES_CBC-128+AUTH_HMAC_MD5_96":            "crypt cbc(aes) 0 key16, auth hmac(md5) 96 key16",
		"ENCR_AES_CBC-128+AUTH_HMAC_MD5_128":           "crypt cbc(aes) 0 key16, auth hmac(md5) 128 key16",
		"ENCR_AES_CBC-128+AUTH_HMAC_SHA1_160":          "crypt cbc(aes) 0 key16, auth hmac(sha1) 160 key20",
		"ENCR_AES_CBC-128+AUTH_AES_XCBC_96":            "crypt cbc(aes) 0 key16, auth xcbc(aes) 96 key16",
		"ENCR_AES_CBC-128+AUTH_AES_CMAC_96":            "crypt cbc(aes) 0 key16, auth cmac(aes) 96 key16",
		"ENCR_3DES-0+AUTH_HMAC_SHA1_96":                "crypt cbc(des3_ede) 0 key24, auth hmac(sha1) 96 key20",
		"ENCR_NULL-0+AUTH_HMAC_SHA2_256_128":           "crypt ecb(cipher_null) 0 key0, auth hmac(sha256) 128 key32",
		"ENCR_CAMELLIA_CBC-256+AUTH_HMAC_SHA2_256_128": "crypt cbc(camellia) 0 key32, auth hmac(sha256) 128 key32",
	}
	kinds := map[algKind]string{kindAEAD: "aead", kindCrypt: "crypt", kindAuth: "auth"}
	for _, s := range testSuites {
		sa := s.fill(&esp.SA{SPI: 0x1234})
		algs, err := kernelAlgs(sa)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		var parts []string
		for _, a := range algs {
			parts = append(parts, fmt.Sprintf("%s %s %d key%d", kinds[a.kind], a.name, a.bits, len(a.key)))
		}
		if got := strings.Join(parts, ", "); got != want[s.String()] {
			t.Errorf("%s: %q, want %q", s, got, want[s.String()])
		}
	}
	if len(want) != len(testSuites) {
		t.Errorf("%d expectations for %d suites", len(want), len(testSuites))
	}
}

func TestAlgsRejects(t *testing.T) {
	secret := bytes.Repeat([]byte{0xc3}, 36)
	cases := []struct {
		name string
		sa   esp.SA
	}{
		{"unknown encryption", esp.SA{Encr: proposal.EncrBlowfish, EncrKeyBits: 128, EncrKey: secret[:16], Integ: proposal.IntegHMACSHA2256128, IntegKey: secret[:32]}},
		{"camellia ctr (not in XFRM)", esp.SA{Encr: proposal.EncrCamelliaCTR, EncrKeyBits: 128, EncrKey: secret[:20], Integ: proposal.IntegHMACSHA2256128, IntegKey: secret[:32]}},
		{"bad key bits", esp.SA{Encr: proposal.EncrAESGCM16, EncrKeyBits: 160, EncrKey: secret[:24]}},
		{"short gcm key (salt missing)", esp.SA{Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: secret[:16]}},
		{"aead with integrity", esp.SA{Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: secret[:20], Integ: proposal.IntegHMACSHA2256128, IntegKey: secret[:32]}},
		{"cbc without integrity", esp.SA{Encr: proposal.EncrAESCBC, EncrKeyBits: 128, EncrKey: secret[:16]}},
		{"short integrity key", esp.SA{Encr: proposal.EncrAESCBC, EncrKeyBits: 128, EncrKey: secret[:16], Integ: proposal.IntegHMACSHA2256128, IntegKey: secret[:20]}},
		{"chacha key bits", esp.SA{Encr: proposal.EncrChaCha20Poly1305, EncrKeyBits: 128, EncrKey: secret[:36]}},
		{"gmac integrity id", esp.SA{Encr: proposal.EncrAESCBC, EncrKeyBits: 128, EncrKey: secret[:16], Integ: proposal.IntegAES128GMAC, IntegKey: secret[:20]}},
	}
	for _, c := range cases {
		_, err := kernelAlgs(&c.sa)
		if !errors.Is(err, ErrAlgorithm) {
			t.Errorf("%s: %v, want ErrAlgorithm", c.name, err)
			continue
		}
		if strings.Contains(err.Error(), "c3c3") || strings.Contains(strings.ToLower(err.Error()), "\xc3") {
			t.Errorf("%s: error leaks key bytes: %v", c.name, err)
		}
	}
}
