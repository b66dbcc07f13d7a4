package alg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"fmt"
	"sync"

	"github.com/goipsec/ipsec/proposal"
	"golang.org/x/crypto/chacha20poly1305"
)

// scratch is per-call working memory. Arrays handed to cipher.Block or
// hash.Hash (interfaces) escape to the heap, so they come from a pool that
// each Crypter owns; Get/Put of a pointer does not allocate, which keeps
// Seal and Open allocation-free in steady state while the Crypter stays
// safe for concurrent use.
type scratch struct {
	nonce [16]byte
	ctr   [16]byte
	ek0   [16]byte // E(J0) for GCM, S_0 for CCM
	sum   [16]byte
	ks    [128]byte // keystream for 8 blocks at a time
	tag   [64]byte
	mac   cbcMAC
	integ integState
	enc   cbcMode
	dec   cbcMode
}

// cbcMode is the BlockMode crypto/cipher returns for CBC; SetIV lets one
// instance serve many packets (crypto/tls relies on the same method).
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// NewCrypter returns the Crypter for encryption transform e with Key
// Length attribute keyBits (0 when absent) and integrity transform i.
// encKey is KeyLen(e, keyBits) bytes including the trailing salt;
// integKey is IntegKeyLen(i) bytes. AEAD transforms require i ==
// proposal.IntegNone and an empty integKey (RFC 5282 section 8). NULL
// encryption without integrity is refused: RFC 4303 section 3.2 forbids
// an SA that protects nothing. Keys are copied.
func NewCrypter(e proposal.EncrID, keyBits int, i proposal.IntegID, encKey, integKey []byte) (Crypter, error) {
	info, bits, err := lookupEnc(e, keyBits)
	if err != nil {
		return nil, err
	}
	if want := bits/8 + info.saltLen; len(encKey) != want {
		return nil, fmt.Errorf("%w: encryption transform %d with %d-bit key needs %d key bytes, got %d", ErrKeySize, e, bits, want, len(encKey))
	}
	key, salt := encKey[:bits/8], encKey[bits/8:]
	if info.aead {
		if i != proposal.IntegNone || len(integKey) != 0 {
			return nil, fmt.Errorf("%w: combined-mode transform %d must not have an integrity transform (got %d)", ErrUnsupported, e, i)
		}
		return newAEADCrypter(e, info, key, salt)
	}
	if e == proposal.EncrNULL && i == proposal.IntegNone {
		return nil, fmt.Errorf("%w: NULL encryption without integrity protects nothing", ErrUnsupported)
	}
	in, err := newIntegrity(i, integKey)
	if err != nil {
		return nil, err
	}
	c := &etmCrypter{enc: e, info: info, integ: in}
	switch e {
	case proposal.EncrNULL:
	case proposal.Encr3DES:
		c.block, err = des.NewTripleDESCipher(key)
	case proposal.EncrAESCBC:
		c.block, err = aes.NewCipher(key)
	case proposal.EncrAESCTR:
		c.block, err = aes.NewCipher(key)
		copy(c.nonce[:], salt)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
	}
	c.pool.New = c.newScratch
	return c, nil
}

func newAEADCrypter(e proposal.EncrID, info encInfo, key, salt []byte) (Crypter, error) {
	switch e {
	case proposal.EncrChaCha20Poly1305:
		a, err := chacha20poly1305.New(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
		}
		return newStdAEAD(e, a, salt), nil
	case proposal.EncrAESCCM8, proposal.EncrAESCCM12, proposal.EncrAESCCM16:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
		}
		c := &ccmCrypter{enc: e, block: b, icvLen: info.icvLen}
		copy(c.salt[:], salt)
		c.pool.New = func() any { return new(scratch) }
		return c, nil
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
	}
	if e == proposal.EncrNULLAuthAESGMAC {
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		c := &gmacCrypter{enc: e, gcm: g}
		copy(c.salt[:], salt)
		c.pool.New = func() any { return new(gmacScratch) }
		return c, nil
	}
	if e == proposal.EncrAESGCM8 {
		c := &gcmSoft{enc: e, block: b, icvLen: info.icvLen}
		var h [16]byte
		b.Encrypt(h[:], h[:])
		c.gk = newGHASHKey(&h)
		copy(c.salt[:], salt)
		c.pool.New = func() any { return new(scratch) }
		return c, nil
	}
	a, err := cipher.NewGCMWithTagSize(b, info.icvLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySize, err)
	}
	return newStdAEAD(e, a, salt), nil
}

// sliceForAppend extends in by n bytes, reusing its capacity when possible
// (the crypto/cipher convention that makes in-place Seal/Open work).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}

// checkIV panics on a Seal IV of the wrong length: Seal's IV is chosen
// locally, so this is a programming error, as in crypto/cipher.
func checkIV(iv []byte, n int) {
	if len(iv) != n {
		panic(fmt.Sprintf("alg: Seal called with a %d-byte IV, want %d", len(iv), n))
	}
}

func openIVError(iv []byte, n int) error {
	return fmt.Errorf("%w: IV is %d bytes, want %d", ErrMalformed, len(iv), n)
}

func shortError(got, icv int) error {
	return fmt.Errorf("%w: %d bytes cannot hold a %d-byte ICV", ErrMalformed, got, icv)
}

// stdAEAD adapts a crypto/cipher AEAD (AES-GCM with 12/16-byte ICVs,
// ChaCha20-Poly1305) to the salt||IV nonce layout of RFC 4106/5282/7634.
type stdAEAD struct {
	enc  proposal.EncrID
	aead cipher.AEAD
	salt [4]byte
	pool sync.Pool
}

func newStdAEAD(e proposal.EncrID, a cipher.AEAD, salt []byte) *stdAEAD {
	c := &stdAEAD{enc: e, aead: a}
	copy(c.salt[:], salt)
	c.pool.New = func() any { return new([12]byte) }
	return c
}

func (c *stdAEAD) IVLen() int    { return 8 }
func (c *stdAEAD) ICVLen() int   { return c.aead.Overhead() }
func (c *stdAEAD) BlockLen() int { return 1 }
func (c *stdAEAD) AEAD() bool    { return true }

// String names the transform; it never shows key material.
func (c *stdAEAD) String() string { return encName(c.enc) }

func (c *stdAEAD) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	checkIV(iv, 8)
	if len(icvSuffix) != 0 {
		panic("alg: icvSuffix must be empty for AEAD transforms")
	}
	n := c.pool.Get().(*[12]byte)
	copy(n[:4], c.salt[:])
	copy(n[4:], iv)
	out := c.aead.Seal(dst, n[:], plaintext, aad)
	c.pool.Put(n)
	return out
}

func (c *stdAEAD) Open(dst, iv, ciphertext, aad, icvSuffix []byte) ([]byte, error) {
	if len(iv) != 8 {
		return nil, openIVError(iv, 8)
	}
	if len(icvSuffix) != 0 {
		return nil, fmt.Errorf("%w: icvSuffix must be empty for AEAD transforms", ErrMalformed)
	}
	if len(ciphertext) < c.aead.Overhead() {
		return nil, shortError(len(ciphertext), c.aead.Overhead())
	}
	n := c.pool.Get().(*[12]byte)
	copy(n[:4], c.salt[:])
	copy(n[4:], iv)
	out, err := c.aead.Open(dst, n[:], ciphertext, aad)
	c.pool.Put(n)
	if err != nil {
		return nil, ErrAuthFailed
	}
	return out, nil
}
