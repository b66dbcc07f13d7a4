package alg

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/goipsec/ipsec/proposal"
)

// ccmCrypter is AES-CCM (RFC 3610) in the ESP/IKEv2 profile of RFC 4309
// and RFC 5282: an 11-byte nonce = 3-byte salt || 8-byte IV, hence a
// 4-byte length field (L = 4), and an 8, 12 or 16-byte ICV. Go has no CCM,
// so it is built here on crypto/aes.
//
// CCM authenticates the plaintext, not the ciphertext, so Open has to
// decrypt before it can check the tag (RFC 3610 section 2.5). It decrypts
// into dst, verifies in constant time and wipes dst on failure, so no
// unauthenticated plaintext is ever returned.
type ccmCrypter struct {
	enc    proposal.EncrID
	block  cipher.Block
	salt   [3]byte
	icvLen int
	pool   sync.Pool
}

// ccmMaxAAD bounds the AAD to the 2-byte length encoding plus the 6-byte
// form (RFC 3610 section 2.2); ESP and IKE AADs are far below 2^32.
const ccmMaxAAD = 1<<32 - 1

func (c *ccmCrypter) IVLen() int    { return 8 }
func (c *ccmCrypter) ICVLen() int   { return c.icvLen }
func (c *ccmCrypter) BlockLen() int { return 1 }
func (c *ccmCrypter) AEAD() bool    { return true }

// String names the transform; it never shows key material.
func (c *ccmCrypter) String() string { return encName(c.enc) }

// start formats B0 and the AAD into the CBC-MAC (RFC 3610 section 2.2)
// and prepares the counter block A_0 in s.ctr and S_0 in s.ek0.
func (c *ccmCrypter) start(s *scratch, iv, aad []byte, msgLen int) {
	const l = 4 // 15 - nonce length
	var flags byte = byte((c.icvLen-2)/2)<<3 | (l - 1)
	if len(aad) > 0 {
		flags |= 0x40
	}
	b0 := s.nonce[:]
	b0[0] = flags
	copy(b0[1:4], c.salt[:])
	copy(b0[4:12], iv)
	binary.BigEndian.PutUint32(b0[12:], uint32(msgLen))
	s.mac.reset()
	s.mac.write(c.block, b0)
	if len(aad) > 0 {
		hdr := s.sum[:]
		n := 2
		if len(aad) < 0xff00 {
			binary.BigEndian.PutUint16(hdr, uint16(len(aad)))
		} else {
			hdr[0], hdr[1] = 0xff, 0xfe
			binary.BigEndian.PutUint32(hdr[2:], uint32(len(aad)))
			n = 6
		}
		s.mac.write(c.block, hdr[:n])
		s.mac.write(c.block, aad)
		s.mac.padFlush(c.block)
	}
	s.ctr[0] = l - 1
	copy(s.ctr[1:4], c.salt[:])
	copy(s.ctr[4:12], iv)
	binary.BigEndian.PutUint32(s.ctr[12:], 0)
	c.block.Encrypt(s.ek0[:], s.ctr[:])
	binary.BigEndian.PutUint32(s.ctr[12:], 1)
}

// tag finishes the CBC-MAC over the plaintext and encrypts it with S_0.
func (c *ccmCrypter) tag(s *scratch, plaintext []byte) []byte {
	s.mac.write(c.block, plaintext)
	s.mac.padFlush(c.block)
	subtle.XORBytes(s.sum[:], s.mac.x[:], s.ek0[:])
	return s.sum[:c.icvLen]
}

func (c *ccmCrypter) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	checkIV(iv, 8)
	if len(icvSuffix) != 0 {
		panic("alg: icvSuffix must be empty for AEAD transforms")
	}
	if uint64(len(plaintext)) > 1<<32-1 || uint64(len(aad)) > ccmMaxAAD {
		panic("alg: CCM message too long")
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.icvLen)
	s := c.pool.Get().(*scratch)
	c.start(s, iv, aad, len(plaintext))
	// MAC first: in-place use overwrites the plaintext below.
	t := c.tag(s, plaintext)
	copy(out[len(plaintext):], t)
	ctrXOR(c.block, &s.ctr, &s.ks, out[:len(plaintext)], plaintext)
	c.pool.Put(s)
	return ret
}

func (c *ccmCrypter) Open(dst, iv, ciphertext, aad, icvSuffix []byte) ([]byte, error) {
	if len(iv) != 8 {
		return nil, openIVError(iv, 8)
	}
	if len(icvSuffix) != 0 {
		return nil, fmt.Errorf("%w: icvSuffix must be empty for AEAD transforms", ErrMalformed)
	}
	if len(ciphertext) < c.icvLen {
		return nil, shortError(len(ciphertext), c.icvLen)
	}
	if uint64(len(ciphertext)) > 1<<32-1 || uint64(len(aad)) > ccmMaxAAD {
		return nil, fmt.Errorf("%w: CCM message too long", ErrMalformed)
	}
	ct, icv := ciphertext[:len(ciphertext)-c.icvLen], ciphertext[len(ciphertext)-c.icvLen:]
	s := c.pool.Get().(*scratch)
	defer c.pool.Put(s)
	// Copy the received ICV first: a caller may pass a dst that overlaps
	// it, and decryption must not change what is compared.
	var recv [16]byte
	copy(recv[:], icv)
	c.start(s, iv, aad, len(ct))
	ret, out := sliceForAppend(dst, len(ct))
	ctrXOR(c.block, &s.ctr, &s.ks, out, ct)
	if subtle.ConstantTimeCompare(c.tag(s, out), recv[:c.icvLen]) != 1 {
		clear(out)
		return nil, ErrAuthFailed
	}
	return ret, nil
}
