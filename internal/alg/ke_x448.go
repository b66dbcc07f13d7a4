package alg

import (
	"fmt"
	"io"

	"github.com/cloudflare/circl/dh/x448"
	"github.com/goipsec/ipsec/proposal"
)

// x448KE is Curve448 (group 32, RFC 8031) on circl, since crypto/ecdh has
// no X448. circl's Shared reports a low-order peer point (all-zero
// result), which RFC 8031 section 2 requires us to reject.
type x448KE struct {
	rand   io.Reader
	secret *x448.Key
	pub    x448.Key
}

func (k *x448KE) Method() proposal.KEID { return proposal.KECurve448 }

// String never shows the private key.
func (k *x448KE) String() string { return keName(proposal.KECurve448) }

func (k *x448KE) generate() error {
	if k.secret != nil {
		return nil
	}
	var s x448.Key
	if _, err := io.ReadFull(k.rand, s[:]); err != nil {
		return fmt.Errorf("alg: CURVE_448: key generation: %w", err)
	}
	return k.setPrivate(s[:])
}

func (k *x448KE) setPrivate(d []byte) error {
	if len(d) != x448.Size {
		return fmt.Errorf("%w: X448 private key must be %d bytes", ErrKeySize, x448.Size)
	}
	k.secret = new(x448.Key)
	copy(k.secret[:], d)
	x448.KeyGen(&k.pub, k.secret)
	return nil
}

func (k *x448KE) Public() ([]byte, error) {
	if err := k.generate(); err != nil {
		return nil, err
	}
	return append([]byte(nil), k.pub[:]...), nil
}

func (k *x448KE) shared(peer []byte) ([]byte, error) {
	if len(peer) != x448.Size {
		return nil, lengthError(proposal.KECurve448, len(peer), x448.Size)
	}
	var p, s x448.Key
	copy(p[:], peer)
	if !x448.Shared(&s, k.secret, &p) {
		return nil, invalidPublic(proposal.KECurve448, "low-order point (all-zero shared secret)")
	}
	return s[:], nil
}

func (k *x448KE) Shared(peer []byte) ([]byte, error) {
	if k.secret == nil {
		return nil, fmt.Errorf("%w: CURVE_448: Shared before Public", ErrKeyExchangeState)
	}
	return k.shared(peer)
}

func (k *x448KE) Respond(peer []byte) ([]byte, []byte, error) {
	if len(peer) != x448.Size {
		return nil, nil, lengthError(proposal.KECurve448, len(peer), x448.Size)
	}
	if err := k.generate(); err != nil {
		return nil, nil, err
	}
	s, err := k.shared(peer)
	if err != nil {
		return nil, nil, err
	}
	return append([]byte(nil), k.pub[:]...), s, nil
}
