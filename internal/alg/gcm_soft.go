package alg

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/goipsec/ipsec/proposal"
)

// gcmSoft is AES-GCM with an 8-byte ICV (RFC 4106), which crypto/cipher
// cannot express: it refuses tags below 12 bytes. The counter mode uses
// crypto/aes blocks, GHASH is the constant-time code in ghash.go. Open
// verifies the tag before decrypting.
type gcmSoft struct {
	enc    proposal.EncrID
	block  cipher.Block
	gk     ghashKey
	salt   [4]byte
	icvLen int
	pool   sync.Pool
}

func (c *gcmSoft) IVLen() int    { return 8 }
func (c *gcmSoft) ICVLen() int   { return c.icvLen }
func (c *gcmSoft) BlockLen() int { return 1 }
func (c *gcmSoft) AEAD() bool    { return true }

// String names the transform; it never shows key material.
func (c *gcmSoft) String() string { return encName(c.enc) }

// tag computes the GCM tag over aad and the ciphertext ct, truncated to
// the ICV length.
func (c *gcmSoft) tag(s *scratch, iv, aad, ct []byte) []byte {
	// J0 = salt || IV || 0x00000001 (RFC 4106 section 4, SP 800-38D 7.1).
	copy(s.ctr[:4], c.salt[:])
	copy(s.ctr[4:12], iv)
	binary.BigEndian.PutUint32(s.ctr[12:], 1)
	c.block.Encrypt(s.ek0[:], s.ctr[:])
	binary.BigEndian.PutUint32(s.ctr[12:], 2)

	g := ghash{k: &c.gk}
	g.write(aad)
	g.pad()
	g.write(ct)
	g.lengths(len(aad), len(ct), &s.sum)
	subtle.XORBytes(s.sum[:], s.sum[:], s.ek0[:])
	return s.sum[:c.icvLen]
}

func (c *gcmSoft) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	checkIV(iv, 8)
	if len(icvSuffix) != 0 {
		panic("alg: icvSuffix must be empty for AEAD transforms")
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.icvLen)
	s := c.pool.Get().(*scratch)
	ct := out[:len(plaintext)]
	// Counter blocks start at inc32(J0) = salt||IV||2.
	copy(s.ctr[:4], c.salt[:])
	copy(s.ctr[4:12], iv)
	binary.BigEndian.PutUint32(s.ctr[12:], 2)
	ctrXOR(c.block, &s.ctr, &s.ks, ct, plaintext)
	copy(out[len(plaintext):], c.tag(s, iv, aad, ct))
	c.pool.Put(s)
	return ret
}

func (c *gcmSoft) Open(dst, iv, ciphertext, aad, icvSuffix []byte) ([]byte, error) {
	if len(iv) != 8 {
		return nil, openIVError(iv, 8)
	}
	if len(icvSuffix) != 0 {
		return nil, fmt.Errorf("%w: icvSuffix must be empty for AEAD transforms", ErrMalformed)
	}
	if len(ciphertext) < c.icvLen {
		return nil, shortError(len(ciphertext), c.icvLen)
	}
	ct, icv := ciphertext[:len(ciphertext)-c.icvLen], ciphertext[len(ciphertext)-c.icvLen:]
	s := c.pool.Get().(*scratch)
	defer c.pool.Put(s)
	if subtle.ConstantTimeCompare(c.tag(s, iv, aad, ct), icv) != 1 {
		return nil, ErrAuthFailed
	}
	ret, out := sliceForAppend(dst, len(ct))
	ctrXOR(c.block, &s.ctr, &s.ks, out, ct)
	return ret, nil
}
