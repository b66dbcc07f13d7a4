package xfrm

import (
	"errors"
	"fmt"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// ErrAlgorithm reports a transform or key the kernel data plane cannot
// install. Errors wrapping it never contain key material.
var ErrAlgorithm = errors.New("xfrm: unsupported algorithm or key length")

// algKind says which netlink attribute carries an algorithm.
type algKind uint8

const (
	kindAEAD  algKind = iota + 1 // XFRMA_ALG_AEAD
	kindCrypt                    // XFRMA_ALG_CRYPT
	kindAuth                     // XFRMA_ALG_AUTH_TRUNC
)

// kernelAlg is one algorithm as XFRM takes it.
type kernelAlg struct {
	kind algKind
	name string // crypto API name
	// bits: ICV length for AEADs, truncation length for integrity.
	bits int
	key  []byte
}

// encrAlg describes how an ESP encryption transform maps to XFRM.
type encrAlg struct {
	name     string
	aead     bool
	icvBits  int   // AEAD ICV length
	salt     int   // bytes of salt or nonce after the key (RFC 4106 8.1, RFC 4309 7.1, RFC 3686 5.1, RFC 7634 2)
	keyBits  []int // allowed EncrKeyBits; nil = fixed keyLen
	fixedKey int   // key bytes (without salt) when keyBits is nil
}

var aesBits = []int{128, 192, 256}

// encrMap lists every ESP encryption transform the proposal registry
// offers for ESP and the kernel implements.
var encrMap = map[proposal.EncrID]encrAlg{
	proposal.EncrAESGCM8:          {name: "rfc4106(gcm(aes))", aead: true, icvBits: 64, salt: 4, keyBits: aesBits},
	proposal.EncrAESGCM12:         {name: "rfc4106(gcm(aes))", aead: true, icvBits: 96, salt: 4, keyBits: aesBits},
	proposal.EncrAESGCM16:         {name: "rfc4106(gcm(aes))", aead: true, icvBits: 128, salt: 4, keyBits: aesBits},
	proposal.EncrAESCCM8:          {name: "rfc4309(ccm(aes))", aead: true, icvBits: 64, salt: 3, keyBits: aesBits},
	proposal.EncrAESCCM12:         {name: "rfc4309(ccm(aes))", aead: true, icvBits: 96, salt: 3, keyBits: aesBits},
	proposal.EncrAESCCM16:         {name: "rfc4309(ccm(aes))", aead: true, icvBits: 128, salt: 3, keyBits: aesBits},
	proposal.EncrChaCha20Poly1305: {name: "rfc7539esp(chacha20,poly1305)", aead: true, icvBits: 128, salt: 4, fixedKey: 32},
	// RFC 4543: GMAC is an AEAD with an empty plaintext to the kernel.
	proposal.EncrNULLAuthAESGMAC: {name: "rfc4543(gcm(aes))", aead: true, icvBits: 128, salt: 4, keyBits: aesBits},
	proposal.EncrAESCBC:          {name: "cbc(aes)", keyBits: aesBits},
	proposal.EncrAESCTR:          {name: "rfc3686(ctr(aes))", salt: 4, keyBits: aesBits},
	proposal.EncrCamelliaCBC:     {name: "cbc(camellia)", keyBits: aesBits},
	// ENCR_CAMELLIA_CTR is missing on purpose: XFRM's algorithm table
	// (net/xfrm/xfrm_algo.c) has no rfc3686(ctr(camellia)).
	proposal.Encr3DES: {name: "cbc(des3_ede)", fixedKey: 24},
	proposal.EncrNULL: {name: "ecb(cipher_null)", fixedKey: 0},
}

// integAlg describes an ESP integrity transform in XFRM terms.
type integAlg struct {
	name      string
	truncBits int // ICV length on the wire (RFC 4868 2.3 for SHA-2)
	keyLen    int
}

var integMap = map[proposal.IntegID]integAlg{
	proposal.IntegHMACMD596:      {"hmac(md5)", 96, 16},
	proposal.IntegHMACSHA196:     {"hmac(sha1)", 96, 20},
	proposal.IntegAESXCBC96:      {"xcbc(aes)", 96, 16},
	proposal.IntegHMACMD5128:     {"hmac(md5)", 128, 16},
	proposal.IntegHMACSHA1160:    {"hmac(sha1)", 160, 20},
	proposal.IntegAESCMAC96:      {"cmac(aes)", 96, 16},
	proposal.IntegHMACSHA2256128: {"hmac(sha256)", 128, 32},
	proposal.IntegHMACSHA2384192: {"hmac(sha384)", 192, 48},
	proposal.IntegHMACSHA2512256: {"hmac(sha512)", 256, 64},
}

// kernelAlgs maps the SA's transforms and keys to XFRM algorithms: one
// AEAD, or a cipher plus an integrity algorithm. The returned keys alias
// the SA's.
func kernelAlgs(sa *esp.SA) ([]kernelAlg, error) {
	e, ok := encrMap[sa.Encr]
	if !ok {
		return nil, fmt.Errorf("%w: encryption %s", ErrAlgorithm, sa.Encr)
	}
	keyLen := e.fixedKey
	if e.keyBits != nil {
		okBits := false
		for _, b := range e.keyBits {
			okBits = okBits || b == sa.EncrKeyBits
		}
		if !okBits {
			return nil, fmt.Errorf("%w: %s with a %d-bit key", ErrAlgorithm, sa.Encr, sa.EncrKeyBits)
		}
		keyLen = sa.EncrKeyBits / 8
	} else if sa.EncrKeyBits != 0 && sa.EncrKeyBits != 8*e.fixedKey {
		return nil, fmt.Errorf("%w: %s has a fixed key size, got %d bits", ErrAlgorithm, sa.Encr, sa.EncrKeyBits)
	}
	if len(sa.EncrKey) != keyLen+e.salt {
		return nil, fmt.Errorf("%w: %s needs %d key bytes (salt included), got %d", ErrAlgorithm, sa.Encr, keyLen+e.salt, len(sa.EncrKey))
	}
	if e.aead {
		if sa.Integ != proposal.IntegNone || len(sa.IntegKey) != 0 {
			return nil, fmt.Errorf("%w: %s is an AEAD and takes no integrity transform", ErrAlgorithm, sa.Encr)
		}
		return []kernelAlg{{kind: kindAEAD, name: e.name, bits: e.icvBits, key: sa.EncrKey}}, nil
	}
	i, ok := integMap[sa.Integ]
	if !ok {
		// RFC 4303 section 3.2: ESP without integrity is only allowed with
		// combined-mode algorithms; the kernel would accept it but an
		// unauthenticated SA is open to cut-and-paste attacks.
		return nil, fmt.Errorf("%w: integrity %s with %s", ErrAlgorithm, sa.Integ, sa.Encr)
	}
	if len(sa.IntegKey) != i.keyLen {
		return nil, fmt.Errorf("%w: %s needs a %d-byte key, got %d", ErrAlgorithm, sa.Integ, i.keyLen, len(sa.IntegKey))
	}
	return []kernelAlg{
		{kind: kindCrypt, name: e.name, key: sa.EncrKey},
		{kind: kindAuth, name: i.name, bits: i.truncBits, key: sa.IntegKey},
	}, nil
}
