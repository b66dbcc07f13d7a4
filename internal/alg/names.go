package alg

import (
	"fmt"

	"github.com/goipsec/ipsec/proposal"
)

// IANA names (RFC 7296 registry spelling) used by String methods, so that
// printing a Crypter or PRF shows the algorithm and never a key.
var encNames = map[proposal.EncrID]string{
	proposal.EncrNULL:             "ENCR_NULL",
	proposal.Encr3DES:             "ENCR_3DES",
	proposal.EncrAESCBC:           "ENCR_AES_CBC",
	proposal.EncrAESCTR:           "ENCR_AES_CTR",
	proposal.EncrAESCCM8:          "ENCR_AES_CCM_8",
	proposal.EncrAESCCM12:         "ENCR_AES_CCM_12",
	proposal.EncrAESCCM16:         "ENCR_AES_CCM_16",
	proposal.EncrAESGCM8:          "ENCR_AES_GCM_8",
	proposal.EncrAESGCM12:         "ENCR_AES_GCM_12",
	proposal.EncrAESGCM16:         "ENCR_AES_GCM_16",
	proposal.EncrNULLAuthAESGMAC:  "ENCR_NULL_AUTH_AES_GMAC",
	proposal.EncrChaCha20Poly1305: "ENCR_CHACHA20_POLY1305",
}

var integNames = map[proposal.IntegID]string{
	proposal.IntegNone:           "NONE",
	proposal.IntegHMACMD596:      "AUTH_HMAC_MD5_96",
	proposal.IntegHMACSHA196:     "AUTH_HMAC_SHA1_96",
	proposal.IntegAESXCBC96:      "AUTH_AES_XCBC_96",
	proposal.IntegHMACMD5128:     "AUTH_HMAC_MD5_128",
	proposal.IntegHMACSHA1160:    "AUTH_HMAC_SHA1_160",
	proposal.IntegAESCMAC96:      "AUTH_AES_CMAC_96",
	proposal.IntegHMACSHA2256128: "AUTH_HMAC_SHA2_256_128",
	proposal.IntegHMACSHA2384192: "AUTH_HMAC_SHA2_384_192",
	proposal.IntegHMACSHA2512256: "AUTH_HMAC_SHA2_512_256",
}

func encName(e proposal.EncrID) string {
	if n, ok := encNames[e]; ok {
		return n
	}
	return fmt.Sprintf("ENCR_%d", e)
}

func integName(i proposal.IntegID) string {
	if n, ok := integNames[i]; ok {
		return n
	}
	return fmt.Sprintf("AUTH_%d", i)
}

// WiresharkIKEv2Encryption returns the "Encryption algorithm" column value
// of Wireshark's IKEv2 decryption table (ikev2_decryption_table UAT) for a
// transform and key size, for the key-log writer. ok is false when
// Wireshark has no entry for it.
func WiresharkIKEv2Encryption(e proposal.EncrID, keyBits int) (name string, ok bool) {
	switch e {
	case proposal.EncrNULL:
		return "NULL [RFC2410]", true
	case proposal.Encr3DES:
		return "3DES [RFC2451]", true
	}
	if keyBits != 128 && keyBits != 192 && keyBits != 256 {
		return "", false
	}
	switch e {
	case proposal.EncrAESCBC:
		return fmt.Sprintf("AES-CBC-%d [RFC3602]", keyBits), true
	case proposal.EncrAESCTR:
		return fmt.Sprintf("AES-CTR-%d [RFC5930]", keyBits), true
	case proposal.EncrAESCCM8, proposal.EncrAESCCM12, proposal.EncrAESCCM16:
		return fmt.Sprintf("AES-CCM-%d with %d octet ICV [RFC5282]", keyBits, encTable[e].icvLen), true
	case proposal.EncrAESGCM8, proposal.EncrAESGCM12, proposal.EncrAESGCM16:
		return fmt.Sprintf("AES-GCM-%d with %d octet ICV [RFC5282]", keyBits, encTable[e].icvLen), true
	}
	return "", false
}

// WiresharkIKEv2Integrity returns the "Integrity algorithm" column value of
// Wireshark's IKEv2 decryption table; ok is false when Wireshark has no
// entry for it.
func WiresharkIKEv2Integrity(i proposal.IntegID) (name string, ok bool) {
	switch i {
	case proposal.IntegNone:
		return "NONE [RFC4306]", true
	case proposal.IntegHMACMD596:
		return "HMAC_MD5_96 [RFC2403]", true
	case proposal.IntegHMACSHA196:
		return "HMAC_SHA1_96 [RFC2404]", true
	case proposal.IntegHMACMD5128:
		return "HMAC_MD5_128 [RFC4595]", true
	case proposal.IntegHMACSHA1160:
		return "HMAC_SHA1_160 [RFC4595]", true
	case proposal.IntegHMACSHA2256128:
		return "HMAC_SHA2_256_128 [RFC4868]", true
	case proposal.IntegHMACSHA2384192:
		return "HMAC_SHA2_384_192 [RFC4868]", true
	case proposal.IntegHMACSHA2512256:
		return "HMAC_SHA2_512_256 [RFC4868]", true
	}
	return "", false
}

// WiresharkESPEncryption returns the "Encryption" column value of
// Wireshark's ESP SA table (esp_sa UAT) for a transform; the key column
// takes the full KEYMAT key including the salt. ok is false for
// transforms Wireshark cannot decrypt (CCM, GMAC).
func WiresharkESPEncryption(e proposal.EncrID) (name string, ok bool) {
	switch e {
	case proposal.EncrNULL:
		return "NULL", true
	case proposal.Encr3DES:
		return "TripleDES-CBC [RFC2451]", true
	case proposal.EncrAESCBC:
		return "AES-CBC [RFC3602]", true
	case proposal.EncrAESCTR:
		return "AES-CTR [RFC3686]", true
	case proposal.EncrAESGCM8, proposal.EncrAESGCM12, proposal.EncrAESGCM16:
		return fmt.Sprintf("AES-GCM with %d octet ICV [RFC4106]", encTable[e].icvLen), true
	case proposal.EncrChaCha20Poly1305:
		return "ChaCha20 with Poly1305 [RFC7634]", true
	}
	return "", false
}

// WiresharkESPIntegrity returns the "Authentication" column value of
// Wireshark's ESP SA table; ok is false when Wireshark has no entry.
func WiresharkESPIntegrity(i proposal.IntegID) (name string, ok bool) {
	switch i {
	case proposal.IntegNone:
		return "NULL", true
	case proposal.IntegHMACMD596:
		return "HMAC-MD5-96 [RFC2403]", true
	case proposal.IntegHMACSHA196:
		return "HMAC-SHA-1-96 [RFC2404]", true
	case proposal.IntegHMACSHA2256128:
		return "HMAC-SHA-256-128 [RFC4868]", true
	case proposal.IntegHMACSHA2384192:
		return "HMAC-SHA-384-192 [RFC4868]", true
	case proposal.IntegHMACSHA2512256:
		return "HMAC-SHA-512-256 [RFC4868]", true
	}
	return "", false
}
