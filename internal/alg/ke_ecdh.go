package alg

import (
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/goipsec/ipsec/proposal"
)

// stdECDH covers the groups crypto/ecdh implements: NIST P-256/384/521
// (groups 19-21, RFC 5903) and Curve25519 (group 31, RFC 8031).
//
// ECP KE data is x || y without the 0x04 prefix (RFC 5903 section 7) and
// the shared secret is the x coordinate only. crypto/ecdh's public key
// parsing rejects points off the curve and the point at infinity, which
// is the RFC 6989 section 2.3 check; for X25519 it rejects all-zero
// shared secrets as RFC 8031 section 2 requires.
type stdECDH struct {
	id    proposal.KEID
	curve ecdh.Curve
	rand  io.Reader
	priv  *ecdh.PrivateKey
}

func newStdECDH(id proposal.KEID, rand io.Reader) *stdECDH {
	k := &stdECDH{id: id, rand: rand}
	switch id {
	case proposal.KEECP256:
		k.curve = ecdh.P256()
	case proposal.KEECP384:
		k.curve = ecdh.P384()
	case proposal.KEECP521:
		k.curve = ecdh.P521()
	default:
		k.curve = ecdh.X25519()
	}
	return k
}

func (k *stdECDH) Method() proposal.KEID { return k.id }

// String never shows the private key.
func (k *stdECDH) String() string { return keName(k.id) }

// scalarLen is the private key length crypto/ecdh expects per group.
var scalarLen = map[proposal.KEID]int{proposal.KEECP256: 32, proposal.KEECP384: 48, proposal.KEECP521: 66, proposal.KECurve25519: 32}

// generate draws the private key from k.rand itself: since Go 1.26
// ecdh.Curve.GenerateKey ignores its reader, and the IKE engines' WithRand
// seam must make exchanges reproducible. NIST scalars are drawn by
// rejection sampling (NewPrivateKey refuses 0 and values >= n); for P-521
// the top byte is masked to the order's single leading bit first.
func (k *stdECDH) generate() error {
	if k.priv != nil {
		return nil
	}
	d := make([]byte, scalarLen[k.id])
	for range 1000 {
		if _, err := io.ReadFull(k.rand, d); err != nil {
			return fmt.Errorf("alg: %s: key generation: %w", keName(k.id), err)
		}
		if k.id == proposal.KEECP521 {
			d[0] &= 1
		}
		if p, err := k.curve.NewPrivateKey(d); err == nil {
			k.priv = p
			return nil
		}
	}
	// Only a broken reader (e.g. all 0xff) gets here.
	return fmt.Errorf("alg: %s: key generation: random source yields no valid scalar", keName(k.id))
}

// encode turns a crypto/ecdh public key into IKE KE data.
func (k *stdECDH) encode(pub *ecdh.PublicKey) []byte {
	b := pub.Bytes()
	if k.id != proposal.KECurve25519 {
		b = b[1:] // drop the SEC 1 uncompressed-point prefix 0x04
	}
	return b
}

func (k *stdECDH) decode(peer []byte) (*ecdh.PublicKey, error) {
	want, _, _ := PublicLen(k.id)
	if len(peer) != want {
		return nil, lengthError(k.id, len(peer), want)
	}
	in := peer
	if k.id != proposal.KECurve25519 {
		in = append([]byte{4}, peer...)
	}
	pub, err := k.curve.NewPublicKey(in)
	if err != nil {
		return nil, invalidPublic(k.id, "point not on the curve")
	}
	return pub, nil
}

func (k *stdECDH) Public() ([]byte, error) {
	if err := k.generate(); err != nil {
		return nil, err
	}
	return k.encode(k.priv.PublicKey()), nil
}

func (k *stdECDH) shared(peer []byte) ([]byte, error) {
	pub, err := k.decode(peer)
	if err != nil {
		return nil, err
	}
	s, err := k.priv.ECDH(pub)
	if err != nil {
		// X25519 with a low-order point gives the all-zero secret.
		return nil, invalidPublic(k.id, "low-order point (all-zero shared secret)")
	}
	return s, nil
}

func (k *stdECDH) Shared(peer []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, fmt.Errorf("%w: %s: Shared before Public", ErrKeyExchangeState, keName(k.id))
	}
	return k.shared(peer)
}

func (k *stdECDH) Respond(peer []byte) ([]byte, []byte, error) {
	if _, err := k.decode(peer); err != nil {
		return nil, nil, err
	}
	if err := k.generate(); err != nil {
		return nil, nil, err
	}
	s, err := k.shared(peer)
	if err != nil {
		return nil, nil, err
	}
	return k.encode(k.priv.PublicKey()), s, nil
}

// setPrivate installs a fixed private key (known-answer tests).
func (k *stdECDH) setPrivate(d []byte) error {
	p, err := k.curve.NewPrivateKey(d)
	if err != nil {
		return err
	}
	k.priv = p
	return nil
}
