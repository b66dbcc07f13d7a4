package alg

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/goipsec/ipsec/proposal"
)

// etmCrypter is a cipher (NULL, 3DES-CBC, AES-CBC, AES-CTR) followed by a
// separate integrity transform over the ciphertext (encrypt-then-MAC, as
// ESP and the IKEv2 SK payload define it).
type etmCrypter struct {
	enc   proposal.EncrID
	info  encInfo
	block cipher.Block // nil for NULL
	nonce [4]byte      // AES-CTR nonce (RFC 3686 section 4)
	integ *integrity
	pool  sync.Pool
}

func (c *etmCrypter) newScratch() any {
	s := new(scratch)
	c.integ.initState(s)
	if c.block != nil && c.info.blockLen > 1 {
		iv := make([]byte, c.info.blockLen)
		s.enc = cipher.NewCBCEncrypter(c.block, iv).(cbcMode)
		s.dec = cipher.NewCBCDecrypter(c.block, iv).(cbcMode)
	}
	return s
}

func (c *etmCrypter) IVLen() int    { return c.info.ivLen }
func (c *etmCrypter) ICVLen() int   { return c.integ.icvLen }
func (c *etmCrypter) BlockLen() int { return c.info.blockLen }
func (c *etmCrypter) AEAD() bool    { return false }

// String names the transforms; it never shows key material.
func (c *etmCrypter) String() string {
	return encName(c.enc) + "/" + integName(c.integ.id)
}

// crypt applies the cipher; CBC direction is chosen by enc.
func (c *etmCrypter) crypt(s *scratch, enc bool, iv, dst, src []byte) {
	switch c.enc {
	case proposal.EncrNULL:
		copy(dst, src)
	case proposal.EncrAESCTR:
		// RFC 3686 section 4: nonce || IV || block counter starting at 1.
		copy(s.ctr[:4], c.nonce[:])
		copy(s.ctr[4:12], iv)
		binary.BigEndian.PutUint32(s.ctr[12:], 1)
		ctrXOR(c.block, &s.ctr, &s.ks, dst, src)
	default:
		m := s.dec
		if enc {
			m = s.enc
		}
		m.SetIV(iv)
		m.CryptBlocks(dst, src)
	}
}

// Seal panics if plaintext is not a multiple of BlockLen or iv has the
// wrong length: both are chosen by the caller, not by the peer.
func (c *etmCrypter) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	checkIV(iv, c.info.ivLen)
	if len(plaintext)%c.info.blockLen != 0 {
		panic(fmt.Sprintf("alg: Seal plaintext of %d bytes is not a multiple of the %d-byte block", len(plaintext), c.info.blockLen))
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.integ.icvLen)
	s := c.pool.Get().(*scratch)
	ct := out[:len(plaintext)]
	c.crypt(s, true, iv, ct, plaintext)
	copy(out[len(plaintext):], c.integ.sum(s, aad, iv, ct, icvSuffix))
	c.pool.Put(s)
	return ret
}

func (c *etmCrypter) Open(dst, iv, ciphertext, aad, icvSuffix []byte) ([]byte, error) {
	if len(iv) != c.info.ivLen {
		return nil, openIVError(iv, c.info.ivLen)
	}
	icvLen := c.integ.icvLen
	if len(ciphertext) < icvLen {
		return nil, shortError(len(ciphertext), icvLen)
	}
	ct, icv := ciphertext[:len(ciphertext)-icvLen], ciphertext[len(ciphertext)-icvLen:]
	if len(ct)%c.info.blockLen != 0 {
		return nil, fmt.Errorf("%w: %d ciphertext bytes are not a multiple of the %d-byte block", ErrMalformed, len(ct), c.info.blockLen)
	}
	s := c.pool.Get().(*scratch)
	defer c.pool.Put(s)
	// Verify before decrypting (RFC 4303 section 3.4.4.1): no padding or
	// plaintext oracle is exposed for forged packets.
	if icvLen > 0 && !c.integ.verify(s, icv, aad, iv, ct, icvSuffix) {
		return nil, ErrAuthFailed
	}
	ret, out := sliceForAppend(dst, len(ct))
	c.crypt(s, false, iv, out, ct)
	return ret, nil
}

// ctrXOR runs AES in counter mode from the counter block ctr, whose last
// four bytes are a big-endian block counter (RFC 3686 section 4, GCM's
// inc32). Eight keystream blocks are produced per round to amortise the
// call overhead.
func ctrXOR(b cipher.Block, ctr *[16]byte, ks *[128]byte, dst, src []byte) {
	for len(src) > 0 {
		n := 0
		for n < len(ks) && n < len(src) {
			b.Encrypt(ks[n:n+16], ctr[:])
			binary.BigEndian.PutUint32(ctr[12:], binary.BigEndian.Uint32(ctr[12:])+1)
			n += 16
		}
		k := subtle.XORBytes(dst, src, ks[:n])
		dst, src = dst[k:], src[k:]
	}
}
