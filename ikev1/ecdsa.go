package ikev1

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ecdsaDigest hashes HASH_I or HASH_R with the hash of the key's curve
// (RFC 4754 section 7: ECDSA-256 with SHA-256 and so on); strongSwan
// signs the same way.
func ecdsaDigest(k *ecdsa.PublicKey, h []byte) ([]byte, error) {
	switch k.Curve.Params().BitSize {
	case 256:
		d := sha256.Sum256(h)
		return d[:], nil
	case 384:
		d := sha512.Sum384(h)
		return d[:], nil
	case 521:
		d := sha512.Sum512(h)
		return d[:], nil
	}
	return nil, errors.New("ikev1: ECDSA curve not supported")
}

// ecdsaDERToRaw turns an ASN.1 ECDSA signature into r|s of n bytes each.
func ecdsaDERToRaw(der []byte, n int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) {
		return nil, errors.New("ikev1: malformed ECDSA signature")
	}
	out := make([]byte, 2*n)
	r, s = trimZero(r), trimZero(s)
	if len(r) > n || len(s) > n {
		return nil, errors.New("ikev1: ECDSA signature too long")
	}
	copy(out[n-len(r):n], r)
	copy(out[2*n-len(s):], s)
	return out, nil
}

func trimZero(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func ecdsaVerifyRaw(k *ecdsa.PublicKey, digest, r, s []byte) bool {
	return ecdsa.Verify(k, digest, new(big.Int).SetBytes(r), new(big.Int).SetBytes(s))
}
