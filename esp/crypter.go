package esp

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
)

// newCrypter builds the SA's Crypter from its transform IDs and keys.
func newCrypter(sa *SA) (alg.Crypter, error) {
	c, err := alg.NewCrypter(sa.Encr, sa.EncrKeyBits, sa.Integ, sa.EncrKey, sa.IntegKey)
	if err != nil {
		return nil, fmt.Errorf("esp: SA 0x%08x: %w", sa.SPI, err)
	}
	if c.IVLen() > maxIVLen || c.ICVLen() > maxICVLen || c.BlockLen() > maxAlign {
		return nil, fmt.Errorf("esp: SA 0x%08x: transform overhead exceeds the engine's buffer reserve", sa.SPI)
	}
	return c, nil
}
