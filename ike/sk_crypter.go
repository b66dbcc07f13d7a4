package ike

import (
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// skCrypter is the cipher of one direction of an IKE SA's SK payloads,
// built from its keys when a message is sealed or opened and dropped
// again when the SA goes idle (exchanger.idle): an idle SA keeps its
// SK_e/SK_a keys, some dozen bytes, instead of the cipher's key schedule
// and tables (about 750 bytes for AES-GCM, issue 20's memory per SA).
// Rebuilding costs about a microsecond per busy spell of the SA, against
// the hundreds a handshake takes. The keys alias the SA's kdf.IKEKeys,
// wiped when the SA ends.
type skCrypter struct {
	encr           proposal.EncrID
	keyBits        int
	integ          proposal.IntegID
	encKey, intKey []byte
	c              alg.Crypter // nil while idle
	ivLen, icvLen  int
	blockLen       int
	aead           bool
}

// newSKCrypter checks the keys by building the cipher once.
func newSKCrypter(encr proposal.EncrID, keyBits int, integ proposal.IntegID, encKey, intKey []byte) (*skCrypter, error) {
	c, err := alg.NewCrypter(encr, keyBits, integ, encKey, intKey)
	if err != nil {
		return nil, err
	}
	return &skCrypter{encr: encr, keyBits: keyBits, integ: integ, encKey: encKey, intKey: intKey, c: c,
		ivLen: c.IVLen(), icvLen: c.ICVLen(), blockLen: c.BlockLen(), aead: c.AEAD()}, nil
}

// cipher returns the cipher, building it again after release. The same
// inputs built it before, so it cannot fail unless the keys were wiped
// (the SA ended): then the error is returned and the message dropped.
func (s *skCrypter) cipher() (alg.Crypter, error) {
	if s.c == nil {
		c, err := alg.NewCrypter(s.encr, s.keyBits, s.integ, s.encKey, s.intKey)
		if err != nil {
			return nil, err
		}
		s.c = c
	}
	return s.c, nil
}

// release drops the cipher until the next message.
func (s *skCrypter) release() { s.c = nil }

// IVLen implements alg.Crypter.
func (s *skCrypter) IVLen() int { return s.ivLen }

// ICVLen implements alg.Crypter.
func (s *skCrypter) ICVLen() int { return s.icvLen }

// BlockLen implements alg.Crypter.
func (s *skCrypter) BlockLen() int { return s.blockLen }

// AEAD implements alg.Crypter.
func (s *skCrypter) AEAD() bool { return s.aead }

// Seal implements alg.Crypter.
func (s *skCrypter) Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte {
	c, err := s.cipher()
	if err != nil {
		// Only a local fault (keys wiped under a live SA) gets here;
		// alg.Crypter.Seal panics on local programming errors too.
		panic("ike: SK cipher: " + err.Error())
	}
	return c.Seal(dst, iv, plaintext, aad, icvSuffix)
}

// Open implements alg.Crypter.
func (s *skCrypter) Open(dst, iv, ciphertextAndICV, aad, icvSuffix []byte) ([]byte, error) {
	c, err := s.cipher()
	if err != nil {
		return nil, err
	}
	return c.Open(dst, iv, ciphertextAndICV, aad, icvSuffix)
}
