package alg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// cbcMAC is a streaming CBC-MAC over a 16-byte block cipher. It holds
// back the most recent block (even a full one) so that XCBC and CMAC can
// treat the final block specially; CCM flushes it with zero padding.
// It lives in pooled scratch memory: passing its arrays to cipher.Block
// (an interface) would otherwise move them to the heap on every call.
type cbcMAC struct {
	x   [16]byte
	buf [16]byte
	n   int
}

func (s *cbcMAC) reset() {
	s.x = [16]byte{}
	s.n = 0
}

func (s *cbcMAC) write(b cipher.Block, p []byte) {
	for len(p) > 0 {
		if s.n == 16 {
			subtle.XORBytes(s.x[:], s.x[:], s.buf[:])
			b.Encrypt(s.x[:], s.x[:])
			s.n = 0
		}
		if s.n == 0 {
			// Whole blocks straight from the input, keeping the last one back.
			for len(p) > 16 {
				subtle.XORBytes(s.x[:], s.x[:], p[:16])
				b.Encrypt(s.x[:], s.x[:])
				p = p[16:]
			}
		}
		k := copy(s.buf[s.n:], p)
		s.n += k
		p = p[k:]
	}
}

// padFlush pads a held-back partial block with zeros and processes it, as
// CCM's formatting function requires (RFC 3610 section 2.2).
func (s *cbcMAC) padFlush(b cipher.Block) {
	if s.n == 0 {
		return
	}
	clear(s.buf[s.n:])
	subtle.XORBytes(s.x[:], s.x[:], s.buf[:])
	b.Encrypt(s.x[:], s.x[:])
	s.n = 0
}

// finish applies the XCBC/CMAC final-block rule: a complete last block is
// XORed with kFull; an incomplete one (including the empty message) is
// padded with 0x80 0x00... and XORed with kPartial. The MAC is left in x.
func (s *cbcMAC) finish(b cipher.Block, kFull, kPartial *[16]byte) {
	if s.n == 16 {
		subtle.XORBytes(s.buf[:], s.buf[:], kFull[:])
	} else {
		s.buf[s.n] = 0x80
		clear(s.buf[s.n+1:])
		subtle.XORBytes(s.buf[:], s.buf[:], kPartial[:])
	}
	subtle.XORBytes(s.x[:], s.x[:], s.buf[:])
	b.Encrypt(s.x[:], s.x[:])
	s.n = 0
}

// blockMACKey is the keyed state of AES-XCBC-MAC (RFC 3566) or AES-CMAC
// (RFC 4493): the block cipher used for chaining and the two final-block
// masks.
type blockMACKey struct {
	b               cipher.Block
	kFull, kPartial [16]byte
}

// newXCBCKey derives K1, K2, K3 from a 16-byte key (RFC 3566 section 4).
func newXCBCKey(key []byte) (*blockMACKey, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("%w: AES-XCBC needs a 16-byte key, got %d", ErrKeySize, len(key))
	}
	kb, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var k1, c [16]byte
	k := &blockMACKey{}
	for i := range c {
		c[i] = 0x01
	}
	kb.Encrypt(k1[:], c[:])
	for i := range c {
		c[i] = 0x02
	}
	kb.Encrypt(k.kFull[:], c[:])
	for i := range c {
		c[i] = 0x03
	}
	kb.Encrypt(k.kPartial[:], c[:])
	if k.b, err = aes.NewCipher(k1[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// newCMACKey derives the CMAC subkeys K1, K2 (RFC 4493 section 2.3).
func newCMACKey(key []byte) (*blockMACKey, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("%w: AES-CMAC needs a 16-byte key, got %d", ErrKeySize, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	k := &blockMACKey{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	k.kFull = cmacDouble(l)
	k.kPartial = cmacDouble(k.kFull)
	return k, nil
}

// cmacDouble multiplies by x in GF(2^128) with the constant Rb = 0x87,
// in constant time.
func cmacDouble(in [16]byte) [16]byte {
	var out [16]byte
	msb := in[0] >> 7
	for i := 0; i < 15; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15]<<1 ^ (0x87 & -msb)
	return out
}

// sum computes the untruncated MAC over the concatenation of parts into
// s.x.
func (k *blockMACKey) sum(s *cbcMAC, a, b, c, d []byte) []byte {
	s.reset()
	s.write(k.b, a)
	s.write(k.b, b)
	s.write(k.b, c)
	s.write(k.b, d)
	s.finish(k.b, &k.kFull, &k.kPartial)
	return s.x[:]
}
