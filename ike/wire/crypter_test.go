package wire_test

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/goipsec/ipsec/ike/wire"
)

// gcmCrypter is a stdlib AES-GCM-16 crypter in the RFC 5282 layout (4-byte
// salt, 8-byte explicit IV), used to exercise SK sealing without importing
// internal/alg in every test.
type gcmCrypter struct {
	aead cipher.AEAD
	salt [4]byte
	n    [12]byte // nonce scratch: keeps the allocation test honest; not goroutine-safe
}

func newGCM(key []byte) *gcmCrypter {
	block, err := aes.NewCipher(key[:len(key)-4])
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	c := &gcmCrypter{aead: aead}
	copy(c.salt[:], key[len(key)-4:])
	return c
}

func (c *gcmCrypter) IVLen() int    { return 8 }
func (c *gcmCrypter) ICVLen() int   { return 16 }
func (c *gcmCrypter) BlockLen() int { return 1 }

func (c *gcmCrypter) nonce(iv []byte) []byte {
	copy(c.n[:], c.salt[:])
	copy(c.n[4:], iv)
	return c.n[:]
}

func (c *gcmCrypter) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	return c.aead.Seal(dst, c.nonce(iv), plaintext, aad)
}

func (c *gcmCrypter) Open(dst, iv, ct, aad, icvSuffix []byte) ([]byte, error) {
	return c.aead.Open(dst, c.nonce(iv), ct, aad)
}

// blockCrypter is a toy "cipher + integrity" crypter with a 16-byte block
// size (XOR keystream, 12-byte checksum ICV), to exercise padding. It is
// not cryptography; it only makes tampering detectable.
type blockCrypter struct{}

func (blockCrypter) IVLen() int    { return 16 }
func (blockCrypter) ICVLen() int   { return 12 }
func (blockCrypter) BlockLen() int { return 16 }

func (blockCrypter) icv(iv, ct, aad []byte) [12]byte {
	var s [12]byte
	for i, b := range aad {
		s[i%12] += b ^ byte(i)
	}
	for i, b := range iv {
		s[i%12] ^= b + byte(i)
	}
	for i, b := range ct {
		s[i%12] += b*31 + byte(i)
		s[(i+5)%12] ^= b
	}
	return s
}

func (c blockCrypter) Seal(dst, iv, pt, aad, _ []byte) []byte {
	out := append(dst, pt...)
	ct := out[len(dst):]
	for i := range ct {
		ct[i] ^= iv[i%16] ^ 0x5a
	}
	s := c.icv(iv, ct, aad)
	return append(out, s[:]...)
}

func (c blockCrypter) Open(dst, iv, ctICV, aad, _ []byte) ([]byte, error) {
	if len(ctICV) < 12 {
		return nil, errors.New("short")
	}
	ct, tag := ctICV[:len(ctICV)-12], ctICV[len(ctICV)-12:]
	if s := c.icv(iv, ct, aad); string(s[:]) != string(tag) {
		return nil, errors.New("bad icv")
	}
	out := append(dst, ct...)
	pt := out[len(dst):]
	for i := range pt {
		pt[i] ^= iv[i%16] ^ 0x5a
	}
	return out, nil
}

// zeroRand is a deterministic IV source.
type zeroRand struct{ n byte }

func (r *zeroRand) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

// cmpOpts compares decoded messages: netip.Addr by value, empty and nil
// slices alike, the parse-time AAD pointers of SK/SKF ignored, and Raw
// (which only Parse sets) ignored.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreUnexported(wire.SK{}, wire.SKF{}),
	cmpopts.IgnoreFields(wire.Message{}, "Raw"),
}
