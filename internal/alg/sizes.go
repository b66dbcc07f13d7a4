package alg

import (
	"fmt"

	"github.com/goipsec/ipsec/proposal"
)

// encInfo describes the framing of one encryption transform. The proposal
// package owns names and keywords; this table only holds what the
// cryptography needs, so the two packages can evolve independently.
type encInfo struct {
	keyBits  []int // accepted Key Length attribute values; first is the default for fixed-size ciphers
	fixedKey bool  // the Key Length attribute must be absent (0) or equal keyBits[0]
	saltLen  int   // bytes taken from the tail of the KEYMAT/SK_e* key
	ivLen    int   // explicit IV carried in each packet
	icvLen   int   // AEAD tag length (0 for plain ciphers)
	blockLen int   // plaintext alignment; 1 for stream modes and AEADs
	aead     bool
}

var aesBits = []int{128, 192, 256}

// encTable holds the encryption transforms implemented here.
var encTable = map[proposal.EncrID]encInfo{
	// RFC 2410: no key, no IV, ESP aligns to 4 itself.
	proposal.EncrNULL: {keyBits: []int{0}, fixedKey: true, blockLen: 1},
	// RFC 2451: 3 x 64-bit keys incl. parity bits, 8-byte IV.
	proposal.Encr3DES: {keyBits: []int{192}, fixedKey: true, ivLen: 8, blockLen: 8},
	// RFC 3602.
	proposal.EncrAESCBC: {keyBits: aesBits, ivLen: 16, blockLen: 16},
	// RFC 3686 section 5.1: 4-byte nonce from the end of the key.
	proposal.EncrAESCTR: {keyBits: aesBits, saltLen: 4, ivLen: 8, blockLen: 1},
	// RFC 4309 section 7.1: 3-byte salt.
	proposal.EncrAESCCM8:  {keyBits: aesBits, saltLen: 3, ivLen: 8, icvLen: 8, blockLen: 1, aead: true},
	proposal.EncrAESCCM12: {keyBits: aesBits, saltLen: 3, ivLen: 8, icvLen: 12, blockLen: 1, aead: true},
	proposal.EncrAESCCM16: {keyBits: aesBits, saltLen: 3, ivLen: 8, icvLen: 16, blockLen: 1, aead: true},
	// RFC 4106 section 8.1: 4-byte salt.
	proposal.EncrAESGCM8:  {keyBits: aesBits, saltLen: 4, ivLen: 8, icvLen: 8, blockLen: 1, aead: true},
	proposal.EncrAESGCM12: {keyBits: aesBits, saltLen: 4, ivLen: 8, icvLen: 12, blockLen: 1, aead: true},
	proposal.EncrAESGCM16: {keyBits: aesBits, saltLen: 4, ivLen: 8, icvLen: 16, blockLen: 1, aead: true},
	// RFC 4543 section 3.2: GMAC, 16-byte ICV, 4-byte salt, payload not encrypted.
	proposal.EncrNULLAuthAESGMAC: {keyBits: aesBits, saltLen: 4, ivLen: 8, icvLen: 16, blockLen: 1, aead: true},
	// RFC 7634 section 2: 256-bit key plus 4-byte salt, 8-byte IV.
	proposal.EncrChaCha20Poly1305: {keyBits: []int{256}, fixedKey: true, saltLen: 4, ivLen: 8, icvLen: 16, blockLen: 1, aead: true},
}

// integInfo describes one integrity transform.
type integInfo struct {
	keyLen int // RFC 7296 section 2.13: the key length is fixed per transform
	icvLen int
}

var integTable = map[proposal.IntegID]integInfo{
	proposal.IntegNone:           {},
	proposal.IntegHMACMD596:      {keyLen: 16, icvLen: 12}, // RFC 2403
	proposal.IntegHMACSHA196:     {keyLen: 20, icvLen: 12}, // RFC 2404
	proposal.IntegAESXCBC96:      {keyLen: 16, icvLen: 12}, // RFC 3566
	proposal.IntegHMACMD5128:     {keyLen: 16, icvLen: 16}, // RFC 4595
	proposal.IntegHMACSHA1160:    {keyLen: 20, icvLen: 20}, // RFC 4595
	proposal.IntegAESCMAC96:      {keyLen: 16, icvLen: 12}, // RFC 4494
	proposal.IntegHMACSHA2256128: {keyLen: 32, icvLen: 16}, // RFC 4868
	proposal.IntegHMACSHA2384192: {keyLen: 48, icvLen: 24}, // RFC 4868
	proposal.IntegHMACSHA2512256: {keyLen: 64, icvLen: 32}, // RFC 4868
}

func lookupEnc(e proposal.EncrID, keyBits int) (encInfo, int, error) {
	info, ok := encTable[e]
	if !ok {
		return encInfo{}, 0, fmt.Errorf("%w: encryption transform %d", ErrUnsupported, e)
	}
	if info.fixedKey && keyBits == 0 {
		keyBits = info.keyBits[0]
	}
	for _, b := range info.keyBits {
		if b == keyBits {
			return info, keyBits, nil
		}
	}
	if keyBits == 0 {
		return encInfo{}, 0, fmt.Errorf("%w: encryption transform %d needs a key length attribute", ErrKeySize, e)
	}
	return encInfo{}, 0, fmt.Errorf("%w: encryption transform %d does not take %d-bit keys", ErrKeySize, e, keyBits)
}

// KeyLen returns the number of key bytes an encryption transform consumes
// from KEYMAT (RFC 7296 section 2.17) or SKEYSEED's prf+ stream (SK_ei,
// SK_er; section 2.14), including the salt or nonce that AES-CTR, AES-GCM,
// AES-CCM, GMAC and ChaCha20-Poly1305 take from the end of the key.
// keyBits is the Key Length attribute; 0 means "absent", which is valid
// only for fixed-size ciphers (3DES, ChaCha20-Poly1305, NULL).
func KeyLen(e proposal.EncrID, keyBits int) (int, error) {
	info, bits, err := lookupEnc(e, keyBits)
	if err != nil {
		return 0, err
	}
	return bits/8 + info.saltLen, nil
}

// SaltLen returns how many bytes at the end of the key returned by KeyLen
// are salt (nonce) rather than cipher key.
func SaltLen(e proposal.EncrID) (int, error) {
	info, ok := encTable[e]
	if !ok {
		return 0, fmt.Errorf("%w: encryption transform %d", ErrUnsupported, e)
	}
	return info.saltLen, nil
}

// IVLen returns the explicit per-packet IV length of an encryption
// transform.
func IVLen(e proposal.EncrID) (int, error) {
	info, ok := encTable[e]
	if !ok {
		return 0, fmt.Errorf("%w: encryption transform %d", ErrUnsupported, e)
	}
	return info.ivLen, nil
}

// IsAEAD reports whether e is a combined-mode transform, which must be
// proposed without a separate integrity transform (RFC 5282 section 8,
// RFC 4106 section 9).
func IsAEAD(e proposal.EncrID) bool {
	return encTable[e].aead
}

// IntegKeyLen returns the key length in bytes of an integrity transform
// (SK_ai/SK_ar and the ESP integrity keys; RFC 7296 section 2.13 says it
// is fixed per transform). IntegNone yields 0.
func IntegKeyLen(i proposal.IntegID) (int, error) {
	info, ok := integTable[i]
	if !ok {
		return 0, fmt.Errorf("%w: integrity transform %d", ErrUnsupported, i)
	}
	return info.keyLen, nil
}

// IntegICVLen returns the truncated output length of an integrity
// transform, the ICV it adds to each packet.
func IntegICVLen(i proposal.IntegID) (int, error) {
	info, ok := integTable[i]
	if !ok {
		return 0, fmt.Errorf("%w: integrity transform %d", ErrUnsupported, i)
	}
	return info.icvLen, nil
}
