package alg

import (
	"crypto/hmac"
	"fmt"
	"hash"

	"github.com/goipsec/ipsec/proposal"
)

// PRF is an IKE pseudorandom function (RFC 7296 section 2.13, transform
// type 2). internal/kdf builds prf+, SKEYSEED and KEYMAT on it; IKE_AUTH
// uses it for the AUTH payload.
type PRF interface {
	// ID is the transform ID.
	ID() proposal.PRFID
	// Size is the output length in bytes.
	Size() int
	// KeyLen is the preferred key length in bytes: the key length used
	// for SK_d, SK_pi and SK_pr (RFC 7296 section 2.13).
	KeyLen() int
	// New returns prf keyed with key. Any key length is accepted: HMAC
	// handles it itself, AES-XCBC-PRF-128 follows RFC 4434 section 2 and
	// AES-CMAC-PRF-128 RFC 4615 section 3. The returned hash.Hash is not
	// safe for concurrent use; Reset restarts it with the same key.
	New(key []byte) hash.Hash
}

// NewPRF returns the PRF for a transform ID.
func NewPRF(id proposal.PRFID) (PRF, error) {
	switch id {
	case proposal.PRFHMACMD5, proposal.PRFHMACSHA1, proposal.PRFHMACSHA2256, proposal.PRFHMACSHA2384, proposal.PRFHMACSHA2512:
		h := prfHash(id)
		return hmacPRF{id: id, h: h, size: h().Size()}, nil
	case proposal.PRFAES128XCBC, proposal.PRFAES128CMAC:
		return blockPRF{id: id}, nil
	}
	return nil, fmt.Errorf("%w: PRF transform %d", ErrUnsupported, id)
}

// PRFKeyLen returns the preferred key length of a PRF in bytes (the size
// of SK_d, SK_pi, SK_pr; RFC 7296 section 2.13).
func PRFKeyLen(id proposal.PRFID) (int, error) {
	p, err := NewPRF(id)
	if err != nil {
		return 0, err
	}
	return p.KeyLen(), nil
}

func prfHash(id proposal.PRFID) func() hash.Hash {
	switch id {
	case proposal.PRFHMACMD5:
		return hmacHash(proposal.IntegHMACMD596)
	case proposal.PRFHMACSHA1:
		return hmacHash(proposal.IntegHMACSHA196)
	case proposal.PRFHMACSHA2256:
		return hmacHash(proposal.IntegHMACSHA2256128)
	case proposal.PRFHMACSHA2384:
		return hmacHash(proposal.IntegHMACSHA2384192)
	case proposal.PRFHMACSHA2512:
		return hmacHash(proposal.IntegHMACSHA2512256)
	}
	return nil
}

type hmacPRF struct {
	id   proposal.PRFID
	h    func() hash.Hash
	size int
}

func (p hmacPRF) ID() proposal.PRFID       { return p.id }
func (p hmacPRF) Size() int                { return p.size }
func (p hmacPRF) KeyLen() int              { return p.size }
func (p hmacPRF) New(key []byte) hash.Hash { return hmac.New(p.h, key) }
func (p hmacPRF) String() string           { return prfName(p.id) }

// blockPRF is AES-XCBC-PRF-128 (RFC 4434) or AES-CMAC-PRF-128 (RFC 4615).
type blockPRF struct {
	id proposal.PRFID
}

func (p blockPRF) ID() proposal.PRFID { return p.id }
func (p blockPRF) Size() int          { return 16 }
func (p blockPRF) KeyLen() int        { return 16 }
func (p blockPRF) String() string     { return prfName(p.id) }

func (p blockPRF) New(key []byte) hash.Hash {
	var k *blockMACKey
	var err error
	if p.id == proposal.PRFAES128XCBC {
		// RFC 4434 section 2: shorter keys are zero-padded, longer keys
		// are replaced by AES-XCBC-MAC-128 under the all-zero key.
		switch {
		case len(key) < 16:
			var padded [16]byte
			copy(padded[:], key)
			k, err = newXCBCKey(padded[:])
		case len(key) > 16:
			k, err = newXCBCKey(p.shrink(key))
		default:
			k, err = newXCBCKey(key)
		}
	} else {
		// RFC 4615 section 3: any key of another length is replaced by
		// AES-CMAC under the all-zero key.
		if len(key) != 16 {
			key = p.shrink(key)
		}
		k, err = newCMACKey(key)
	}
	if err != nil {
		// Unreachable: the key is exactly 16 bytes at this point.
		panic(err)
	}
	return &blockMACHash{k: k}
}

// shrink derives a 16-byte key as MAC(0^128, key).
func (p blockPRF) shrink(key []byte) []byte {
	var zero [16]byte
	h := blockPRF{id: p.id}.New(zero[:])
	h.Write(key)
	return h.Sum(nil)
}

// blockMACHash exposes XCBC/CMAC as a hash.Hash (16-byte output).
type blockMACHash struct {
	k *blockMACKey
	s cbcMAC
}

func (h *blockMACHash) Write(p []byte) (int, error) {
	h.s.write(h.k.b, p)
	return len(p), nil
}

func (h *blockMACHash) Sum(in []byte) []byte {
	s := h.s // finish a copy so that Sum does not change the state
	s.finish(h.k.b, &h.k.kFull, &h.k.kPartial)
	return append(in, s.x[:]...)
}

func (h *blockMACHash) Reset()         { h.s.reset() }
func (h *blockMACHash) Size() int      { return 16 }
func (h *blockMACHash) BlockSize() int { return 16 }

// String never shows key material.
func (h *blockMACHash) String() string { return "AES-MAC" }

var prfNames = map[proposal.PRFID]string{
	proposal.PRFHMACMD5:     "PRF_HMAC_MD5",
	proposal.PRFHMACSHA1:    "PRF_HMAC_SHA1",
	proposal.PRFAES128XCBC:  "PRF_AES128_XCBC",
	proposal.PRFHMACSHA2256: "PRF_HMAC_SHA2_256",
	proposal.PRFHMACSHA2384: "PRF_HMAC_SHA2_384",
	proposal.PRFHMACSHA2512: "PRF_HMAC_SHA2_512",
	proposal.PRFAES128CMAC:  "PRF_AES128_CMAC",
}

func prfName(id proposal.PRFID) string {
	if n, ok := prfNames[id]; ok {
		return n
	}
	return fmt.Sprintf("PRF_%d", id)
}
