package alg

import (
	"fmt"
	"io"

	"github.com/goipsec/ipsec/proposal"
)

// KeyExchange is one run of a key exchange method (RFC 7296 section 1.2,
// RFC 9370 for additional exchanges). Diffie-Hellman methods and KEMs share
// it: the initiator calls Public, sends the result in its KE payload and
// calls Shared with the responder's KE data; the responder calls Respond
// with the initiator's KE data and sends back the returned public value.
//
// Peer KE data is validated before use (RFC 6989 for MODP and ECP groups,
// RFC 8031 section 2 for Curve25519/448, FIPS 203 input checks for
// ML-KEM); a bad value yields an error wrapping ErrInvalidPublicValue. A
// KeyExchange is not safe for concurrent use; the private value stays in
// memory only as long as the KeyExchange is referenced.
type KeyExchange interface {
	// Method is the transform ID.
	Method() proposal.KEID
	// Public returns the initiator's KE data (g^i, the ECP point x||y,
	// the X25519/X448 u-coordinate, or the ML-KEM encapsulation key),
	// generating the private value on first use.
	Public() ([]byte, error)
	// Shared completes the initiator side with the responder's KE data
	// and returns the shared secret (g^ir padded to the modulus size, the
	// ECP x coordinate, or the ML-KEM shared key).
	Shared(peer []byte) ([]byte, error)
	// Respond is the responder side: for Diffie-Hellman it generates (or
	// reuses) the private value and computes the secret, for a KEM it
	// encapsulates to the initiator's key. public goes into the
	// responder's KE payload.
	//
	// The shared secrets of Shared and Respond belong to the caller, each
	// in a buffer of exactly its length, so clearing them after the key
	// derivation wipes every copy this package made.
	Respond(peer []byte) (public, shared []byte, err error)
}

// NewKeyExchange returns a fresh KeyExchange for method id that draws its
// private values from rand (crypto/rand.Reader in production; tests may
// pass a fixed stream). crypto/mlkem encapsulation always uses the
// system's randomness because the standard library offers no seam for it.
func NewKeyExchange(id proposal.KEID, rand io.Reader) (KeyExchange, error) {
	if rand == nil {
		return nil, fmt.Errorf("alg: NewKeyExchange: nil rand")
	}
	switch {
	case modpPrimeHex[id] != "", rfc5114Hex[id][0] != "":
		g, err := modpGroupFor(id)
		if err != nil {
			return nil, err
		}
		return &modpKE{g: g, rand: rand}, nil
	case id == proposal.KEECP256 || id == proposal.KEECP384 || id == proposal.KEECP521 || id == proposal.KECurve25519:
		return newStdECDH(id, rand), nil
	case curveHex[id][0] != "":
		c, err := curveFor(id)
		if err != nil {
			return nil, err
		}
		return &weierstrassKE{c: c, rand: rand}, nil
	case id == proposal.KECurve448:
		return &x448KE{rand: rand}, nil
	case id == proposal.KEMLKEM512 || id == proposal.KEMLKEM768 || id == proposal.KEMLKEM1024:
		return newMLKEM(id, rand), nil
	}
	return nil, fmt.Errorf("%w: key exchange method %d", ErrUnsupported, id)
}

// PublicLen returns the length of the KE payload data an initiator sends
// for method id, and of the responder's reply (they differ for KEMs).
// The IKE engine uses it to reject a KE payload of the wrong size with
// INVALID_SYNTAX before any arithmetic.
func PublicLen(id proposal.KEID) (initiator, responder int, err error) {
	switch {
	case modpPrimeHex[id] != "":
		n := len(modpPrimeHex[id]) / 2
		return n, n, nil
	case rfc5114Hex[id][0] != "":
		n := len(rfc5114Hex[id][0]) / 2
		return n, n, nil
	case curveHex[id][0] != "":
		n := len(curveHex[id][0])
		return n, n, nil
	}
	switch id {
	case proposal.KEECP256:
		return 64, 64, nil
	case proposal.KEECP384:
		return 96, 96, nil
	case proposal.KEECP521:
		return 132, 132, nil
	case proposal.KECurve25519:
		return 32, 32, nil
	case proposal.KECurve448:
		return 56, 56, nil
	case proposal.KEMLKEM512:
		return 800, 768, nil
	case proposal.KEMLKEM768:
		return 1184, 1088, nil
	case proposal.KEMLKEM1024:
		return 1568, 1568, nil
	}
	return 0, 0, fmt.Errorf("%w: key exchange method %d", ErrUnsupported, id)
}

func invalidPublic(id proposal.KEID, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidPublicValue, keName(id), why)
}

func lengthError(id proposal.KEID, got, want int) error {
	return fmt.Errorf("%w: %s: %d bytes, want %d", ErrInvalidPublicValue, keName(id), got, want)
}

var keNames = map[proposal.KEID]string{
	proposal.KEMODP768: "MODP_768", proposal.KEMODP1024: "MODP_1024", proposal.KEMODP1536: "MODP_1536",
	proposal.KEMODP2048: "MODP_2048", proposal.KEMODP3072: "MODP_3072", proposal.KEMODP4096: "MODP_4096",
	proposal.KEMODP6144: "MODP_6144", proposal.KEMODP8192: "MODP_8192",
	proposal.KEECP256: "ECP_256", proposal.KEECP384: "ECP_384", proposal.KEECP521: "ECP_521",
	proposal.KEMODP1024S160: "MODP_1024_160", proposal.KEMODP2048S224: "MODP_2048_224", proposal.KEMODP2048S256: "MODP_2048_256",
	proposal.KEECP192: "ECP_192", proposal.KEECP224: "ECP_224",
	proposal.KEBrainpool224: "ECP_224_BP", proposal.KEBrainpool256: "ECP_256_BP",
	proposal.KEBrainpool384: "ECP_384_BP", proposal.KEBrainpool512: "ECP_512_BP",
	proposal.KECurve25519: "CURVE_25519", proposal.KECurve448: "CURVE_448",
	proposal.KEMLKEM512: "ML_KEM_512", proposal.KEMLKEM768: "ML_KEM_768", proposal.KEMLKEM1024: "ML_KEM_1024",
}

func keName(id proposal.KEID) string {
	if n, ok := keNames[id]; ok {
		return n
	}
	return fmt.Sprintf("KE_%d", id)
}

// ownedSecret returns a copy of the secret s in a buffer of exactly its
// length and zeroes s up to its capacity. Callers wipe the shared secret
// they get once the keys are derived; a secret sliced from a larger
// buffer (an ECP x || y encoding, crypto/mlkem's K || r) would leave the
// rest of that buffer behind.
func ownedSecret(s []byte) []byte {
	out := make([]byte, len(s))
	copy(out, s)
	clear(s[:cap(s)])
	return out
}
