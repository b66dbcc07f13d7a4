package alg

import (
	"fmt"
	"strings"

	"github.com/goipsec/ipsec/proposal"
)

// newKeyExchangeWithPrivate returns a KeyExchange whose private value is
// fixed (a MODP exponent, an EC scalar, an X25519/X448 scalar or an
// ML-KEM seed). Known-answer tests use it; it is unexported so that no
// production path can pin a private value.
func newKeyExchangeWithPrivate(id proposal.KEID, priv []byte) (KeyExchange, error) {
	ke, err := NewKeyExchange(id, strings.NewReader(""))
	if err != nil {
		return nil, err
	}
	priv = append([]byte(nil), priv...)
	switch k := ke.(type) {
	case *modpKE:
		err = k.setPrivate(priv)
	case *stdECDH:
		err = k.setPrivate(priv)
	case *weierstrassKE:
		err = k.setPrivate(priv)
	case *x448KE:
		err = k.setPrivate(priv)
	case *mlkemKE:
		err = k.setSeed(priv)
	default:
		err = fmt.Errorf("%w: fixed private value for %s", ErrUnsupported, keName(id))
	}
	if err != nil {
		return nil, err
	}
	return ke, nil
}
