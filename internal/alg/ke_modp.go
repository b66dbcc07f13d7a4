package alg

import (
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"filippo.io/bigmod"
	"github.com/goipsec/ipsec/proposal"
)

// modpGroup is a finite-field Diffie-Hellman group. All secret-dependent
// arithmetic runs on filippo.io/bigmod, whose modular exponentiation is
// constant time (math/big is not).
type modpGroup struct {
	id     proposal.KEID
	p      *bigmod.Modulus
	g      *bigmod.Nat
	q      []byte          // prime subgroup order (RFC 5114 groups), else nil
	qMod   *bigmod.Modulus // q as a modulus, for drawing exponents below q
	expLen int             // private exponent length in bytes
}

// modpExpLen is the private exponent length for the RFC 2409/3526 groups:
// at least twice the estimated strength of the group, after RFC 3526
// section 8 (its upper exponent estimates: 1536 -> 240 bits, 2048 -> 320,
// 3072 -> 420, 4096 -> 480, 6144 -> 540, 8192 -> 620), rounded up to bytes.
// Full-length exponents would only slow the exchange down.
var modpExpLen = map[proposal.KEID]int{
	proposal.KEMODP768:  32,
	proposal.KEMODP1024: 32,
	proposal.KEMODP1536: 32,
	proposal.KEMODP2048: 40,
	proposal.KEMODP3072: 56,
	proposal.KEMODP4096: 64,
	proposal.KEMODP6144: 72,
	proposal.KEMODP8192: 80,
}

var (
	modpMu     sync.Mutex
	modpGroups = map[proposal.KEID]*modpGroup{}
)

// modpGroupFor parses a group's parameters once and caches them.
func modpGroupFor(id proposal.KEID) (*modpGroup, error) {
	modpMu.Lock()
	defer modpMu.Unlock()
	if g, ok := modpGroups[id]; ok {
		return g, nil
	}
	grp := &modpGroup{id: id}
	var pHex, gHex string
	if h, ok := modpPrimeHex[id]; ok {
		pHex, gHex = h, "02" // RFC 3526: generator 2
		grp.expLen = modpExpLen[id]
	} else {
		pgq := rfc5114Hex[id]
		pHex, gHex = pgq[0], pgq[1]
		grp.q, _ = hex.DecodeString(pgq[2])
		var err error
		if grp.qMod, err = bigmod.NewModulus(grp.q); err != nil {
			return nil, err
		}
		grp.expLen = len(grp.q)
	}
	pb, _ := hex.DecodeString(pHex)
	gb, _ := hex.DecodeString(gHex)
	var err error
	if grp.p, err = bigmod.NewModulus(pb); err != nil {
		return nil, err
	}
	if grp.g, err = bigmod.NewNat().SetBytes(gb, grp.p); err != nil {
		return nil, err
	}
	modpGroups[id] = grp
	return grp, nil
}

// checkPublic applies RFC 6989 section 2.1: 1 < y < p-1, and for groups
// with a small prime-order subgroup (RFC 5114) also y^q = 1 mod p. The
// KE data must be exactly as long as the prime (RFC 7296 section 3.4).
func (g *modpGroup) checkPublic(peer []byte) (*bigmod.Nat, error) {
	if len(peer) != g.p.Size() {
		return nil, lengthError(g.id, len(peer), g.p.Size())
	}
	y, err := bigmod.NewNat().SetBytes(peer, g.p)
	if err != nil {
		return nil, invalidPublic(g.id, "value not below the prime")
	}
	// These comparisons concern the public value only, so branching on
	// them leaks nothing secret.
	if y.IsZero() == 1 || y.IsOne() == 1 || y.IsMinusOne(g.p) == 1 {
		return nil, invalidPublic(g.id, "value is 0, 1 or p-1")
	}
	if g.q != nil {
		if bigmod.NewNat().Exp(y, g.q, g.p).IsOne() != 1 {
			return nil, invalidPublic(g.id, "value not in the prime-order subgroup")
		}
	}
	return y, nil
}

type modpKE struct {
	g    *modpGroup
	rand io.Reader
	x    []byte // private exponent, big-endian
	pub  []byte
}

func (k *modpKE) Method() proposal.KEID { return k.g.id }

// String never shows the private value.
func (k *modpKE) String() string { return keName(k.g.id) }

func (k *modpKE) generate() error {
	if k.x != nil {
		return nil
	}
	x := make([]byte, k.g.expLen)
	for range 1000 {
		if _, err := io.ReadFull(k.rand, x); err != nil {
			return fmt.Errorf("alg: %s: reading random exponent: %w", keName(k.g.id), err)
		}
		if k.g.qMod != nil {
			// Exponent in [1, q-1]; rejection sampling keeps it uniform.
			if n, err := bigmod.NewNat().SetBytes(x, k.g.qMod); err != nil || n.IsZero() == 1 {
				continue
			}
		} else if allZero(x) {
			continue
		}
		return k.setPrivate(x)
	}
	// Only a broken reader (constant output) gets here.
	return fmt.Errorf("alg: %s: random source yields no valid exponent", keName(k.g.id))
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

func (k *modpKE) setPrivate(x []byte) error {
	k.x = x
	k.pub = bigmod.NewNat().Exp(k.g.g, x, k.g.p).Bytes(k.g.p)
	return nil
}

func (k *modpKE) Public() ([]byte, error) {
	if err := k.generate(); err != nil {
		return nil, err
	}
	return append([]byte(nil), k.pub...), nil
}

func (k *modpKE) shared(peer []byte) ([]byte, error) {
	y, err := k.g.checkPublic(peer)
	if err != nil {
		return nil, err
	}
	z := bigmod.NewNat().Exp(y, k.x, k.g.p)
	if z.IsOne() == 1 {
		// Unreachable after the subgroup checks for honest exponents, but
		// a secret of 1 must never be used (RFC 6989 section 2.3).
		return nil, invalidPublic(k.g.id, "shared secret is 1")
	}
	// g^ir padded to the length of the prime (RFC 7296 section 2.14).
	return z.Bytes(k.g.p), nil
}

func (k *modpKE) Shared(peer []byte) ([]byte, error) {
	if k.x == nil {
		return nil, fmt.Errorf("%w: %s: Shared before Public", ErrKeyExchangeState, keName(k.g.id))
	}
	return k.shared(peer)
}

func (k *modpKE) Respond(peer []byte) ([]byte, []byte, error) {
	// Validate before spending time on key generation.
	if _, err := k.g.checkPublic(peer); err != nil {
		return nil, nil, err
	}
	if err := k.generate(); err != nil {
		return nil, nil, err
	}
	s, err := k.shared(peer)
	if err != nil {
		return nil, nil, err
	}
	return append([]byte(nil), k.pub...), s, nil
}
