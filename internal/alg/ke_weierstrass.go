package alg

import (
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"filippo.io/bigmod"
	"github.com/goipsec/ipsec/proposal"
)

// weierstrass implements ECDH on short Weierstrass curves with cofactor 1
// that crypto/ecdh lacks: NIST P-192 and P-224 (groups 25, 26; RFC 5114
// and RFC 5903 encoding) and brainpoolP224r1..P512r1 (groups 27-30,
// RFC 6954). Field arithmetic is filippo.io/bigmod (constant time), points
// use the complete projective addition formula of Renes, Costello and
// Batina (ePrint 2015/1060, algorithm 1, valid for any a) so doubling,
// the identity and P + (-P) need no special cases, and scalar
// multiplication is a Montgomery ladder with constant-time swaps over a
// fixed number of bits. crypto/elliptic's P-224 would have served group
// 26, but it is deprecated for direct use and one code path for six curves
// is easier to verify. These groups are legacy: the code favours
// obviousness over speed (a few milliseconds per exchange).
type weierstrass struct {
	id        proposal.KEID
	p         *bigmod.Modulus
	n         *bigmod.Modulus
	a, b, b3  *bigmod.Nat
	gx, gy    *bigmod.Nat
	size      int // field element bytes
	pMinusTwo []byte
}

var (
	curveMu sync.Mutex
	curves  = map[proposal.KEID]*weierstrass{}
)

func curveFor(id proposal.KEID) (*weierstrass, error) {
	curveMu.Lock()
	defer curveMu.Unlock()
	if c, ok := curves[id]; ok {
		return c, nil
	}
	h := curveHex[id]
	var raw [6][]byte
	for i, s := range h {
		raw[i], _ = hex.DecodeString(s)
	}
	c := &weierstrass{id: id, size: len(raw[0])}
	var err error
	if c.p, err = bigmod.NewModulus(raw[0]); err != nil {
		return nil, err
	}
	if c.n, err = bigmod.NewModulus(raw[5]); err != nil {
		return nil, err
	}
	nats := []**bigmod.Nat{&c.a, &c.b, &c.gx, &c.gy}
	for i, dst := range nats {
		if *dst, err = bigmod.NewNat().SetBytes(raw[i+1], c.p); err != nil {
			return nil, err
		}
	}
	c.b3 = c.add(c.add(c.b, c.b), c.b)
	// p - 2 for inversion by Fermat's little theorem (constant time).
	two := bigmod.NewNat().SetUint(2).ExpandFor(c.p)
	c.pMinusTwo = bigmod.NewNat().ExpandFor(c.p).Sub(two, c.p).Bytes(c.p)
	curves[id] = c
	return c, nil
}

func (c *weierstrass) cp(x *bigmod.Nat) *bigmod.Nat {
	n := bigmod.NewNat().ExpandFor(c.p)
	copy(n.Bits(), x.Bits())
	return n
}
func (c *weierstrass) mul(x, y *bigmod.Nat) *bigmod.Nat { return c.cp(x).Mul(y, c.p) }
func (c *weierstrass) add(x, y *bigmod.Nat) *bigmod.Nat { return c.cp(x).Add(y, c.p) }

// wpoint is a point in homogeneous projective coordinates (X:Y:Z).
type wpoint struct{ x, y, z *bigmod.Nat }

func (c *weierstrass) identity() wpoint {
	return wpoint{bigmod.NewNat().ExpandFor(c.p), bigmod.NewNat().SetUint(1).ExpandFor(c.p), bigmod.NewNat().ExpandFor(c.p)}
}

func (c *weierstrass) affine(x, y *bigmod.Nat) wpoint {
	return wpoint{c.cp(x), c.cp(y), bigmod.NewNat().SetUint(1).ExpandFor(c.p)}
}

// wtemp is the working memory of padd, reused across a scalar
// multiplication so that each step allocates only inside bigmod.
type wtemp struct {
	t0, t1, t2, t3, t4, t5, t6 *bigmod.Nat
	x3, y3, z3                 *bigmod.Nat
}

func (c *weierstrass) newTemp() *wtemp {
	n := func() *bigmod.Nat { return bigmod.NewNat().ExpandFor(c.p) }
	return &wtemp{n(), n(), n(), n(), n(), n(), n(), n(), n(), n()}
}

// set copies src into dst (both sized for p).
func set(dst, src *bigmod.Nat) *bigmod.Nat {
	copy(dst.Bits(), src.Bits())
	return dst
}

// padd is the complete addition of Renes-Costello-Batina, algorithm 1
// (the step numbers are the paper's). p1 and p2 may be the same point;
// the sum is left in s.x3, s.y3, s.z3, which must not alias the inputs.
func (c *weierstrass) padd(s *wtemp, p1, p2 wpoint) {
	m := c.p
	x1, y1, z1 := p1.x, p1.y, p1.z
	x2, y2, z2 := p2.x, p2.y, p2.z
	t0, t1, t2, t3, t4, t5 := s.t0, s.t1, s.t2, s.t3, s.t4, s.t5
	x3, y3, z3 := s.x3, s.y3, s.z3
	set(t0, x1).Mul(x2, m)   // 1  t0 = X1*X2
	set(t1, y1).Mul(y2, m)   // 2  t1 = Y1*Y2
	set(t2, z1).Mul(z2, m)   // 3  t2 = Z1*Z2
	set(t3, x1).Add(y1, m)   // 4  t3 = X1+Y1
	set(t4, x2).Add(y2, m)   // 5  t4 = X2+Y2
	t3.Mul(t4, m)            // 6  t3 = t3*t4
	set(t4, t0).Add(t1, m)   // 7  t4 = t0+t1
	t3.Sub(t4, m)            // 8  t3 = t3-t4
	set(t4, x1).Add(z1, m)   // 9  t4 = X1+Z1
	set(t5, x2).Add(z2, m)   // 10 t5 = X2+Z2
	t4.Mul(t5, m)            // 11 t4 = t4*t5
	set(t5, t0).Add(t2, m)   // 12 t5 = t0+t2
	t4.Sub(t5, m)            // 13 t4 = t4-t5
	set(t5, y1).Add(z1, m)   // 14 t5 = Y1+Z1
	set(x3, y2).Add(z2, m)   // 15 X3 = Y2+Z2
	t5.Mul(x3, m)            // 16 t5 = t5*X3
	set(x3, t1).Add(t2, m)   // 17 X3 = t1+t2
	t5.Sub(x3, m)            // 18 t5 = t5-X3
	set(z3, c.a).Mul(t4, m)  // 19 Z3 = a*t4
	set(x3, c.b3).Mul(t2, m) // 20 X3 = b3*t2
	z3.Add(x3, m)            // 21 Z3 = X3+Z3
	set(x3, t1).Sub(z3, m)   // 22 X3 = t1-Z3
	z3.Add(t1, m)            // 23 Z3 = t1+Z3
	set(y3, x3).Mul(z3, m)   // 24 Y3 = X3*Z3
	set(t1, t0).Add(t0, m)   // 25 t1 = t0+t0
	t1.Add(t0, m)            // 26 t1 = t1+t0
	t2.Mul(c.a, m)           // 27 t2 = a*t2
	t4.Mul(c.b3, m)          // 28 t4 = b3*t4
	t1.Add(t2, m)            // 29 t1 = t1+t2
	set(s.t6, t0).Sub(t2, m) // 30 t2 = t0-t2
	t2 = s.t6
	s.t2, s.t6 = s.t6, s.t2
	t2.Mul(c.a, m)         // 31 t2 = a*t2
	t4.Add(t2, m)          // 32 t4 = t4+t2
	set(t0, t1).Mul(t4, m) // 33 t0 = t1*t4
	y3.Add(t0, m)          // 34 Y3 = Y3+t0
	set(t0, t5).Mul(t4, m) // 35 t0 = t5*t4
	x3.Mul(t3, m)          // 36 X3 = t3*X3
	x3.Sub(t0, m)          // 37 X3 = X3-t0
	set(t0, t3).Mul(t1, m) // 38 t0 = t3*t1
	z3.Mul(t5, m)          // 39 Z3 = Z3*t5
	z3.Add(t0, m)          // 40 Z3 = Z3+t0
}

// take moves the sum out of s into *p, handing p's old storage to s.
func (s *wtemp) take(p *wpoint) {
	p.x, s.x3 = s.x3, p.x
	p.y, s.y3 = s.y3, p.y
	p.z, s.z3 = s.z3, p.z
}

// cswap exchanges a and b when bit is 1, without branching on it.
func cswap(a, b *bigmod.Nat, bit uint) {
	mask := -bit
	al, bl := a.Bits(), b.Bits()
	for i := range al {
		t := mask & (al[i] ^ bl[i])
		al[i] ^= t
		bl[i] ^= t
	}
}

// scalarMult computes k*P with a Montgomery ladder over every bit of the
// fixed-length big-endian scalar k.
func (c *weierstrass) scalarMult(k []byte, p wpoint) wpoint {
	r0, r1 := c.identity(), wpoint{c.cp(p.x), c.cp(p.y), c.cp(p.z)}
	s := c.newTemp()
	for _, by := range k {
		for i := 7; i >= 0; i-- {
			bit := uint(by>>uint(i)) & 1
			cswap(r0.x, r1.x, bit)
			cswap(r0.y, r1.y, bit)
			cswap(r0.z, r1.z, bit)
			c.padd(s, r0, r1)
			s.take(&r1)
			c.padd(s, r0, r0)
			s.take(&r0)
			cswap(r0.x, r1.x, bit)
			cswap(r0.y, r1.y, bit)
			cswap(r0.z, r1.z, bit)
		}
	}
	return r0
}

// encode returns the affine x || y of p, or ok = false for the identity.
func (c *weierstrass) encode(p wpoint) (out []byte, ok bool) {
	if p.z.IsZero() == 1 {
		return nil, false
	}
	zinv := bigmod.NewNat().Exp(p.z, c.pMinusTwo, c.p)
	x := c.mul(p.x, zinv).Bytes(c.p)
	y := c.mul(p.y, zinv).Bytes(c.p)
	return append(x, y...), true
}

// encodeX returns the affine x coordinate of p alone, the ECDH shared
// secret: no y, and no x || y buffer left behind with a copy of it.
func (c *weierstrass) encodeX(p wpoint) (x []byte, ok bool) {
	if p.z.IsZero() == 1 {
		return nil, false
	}
	zinv := bigmod.NewNat().Exp(p.z, c.pMinusTwo, c.p)
	return c.mul(p.x, zinv).Bytes(c.p), true
}

// decode parses x || y and checks RFC 6989 section 2.3: both coordinates
// below p and the point on the curve. With cofactor 1 every such point is
// in the prime-order group, and an affine encoding cannot be the identity.
func (c *weierstrass) decode(peer []byte) (wpoint, error) {
	if len(peer) != 2*c.size {
		return wpoint{}, lengthError(c.id, len(peer), 2*c.size)
	}
	x, err := bigmod.NewNat().SetBytes(peer[:c.size], c.p)
	if err != nil {
		return wpoint{}, invalidPublic(c.id, "x coordinate not below p")
	}
	y, err := bigmod.NewNat().SetBytes(peer[c.size:], c.p)
	if err != nil {
		return wpoint{}, invalidPublic(c.id, "y coordinate not below p")
	}
	// y^2 = x^3 + a*x + b
	rhs := c.add(c.mul(c.add(c.mul(x, x), c.a), x), c.b)
	if c.mul(y, y).Equal(rhs) != 1 {
		return wpoint{}, invalidPublic(c.id, "point not on the curve")
	}
	return c.affine(x, y), nil
}

type weierstrassKE struct {
	c    *weierstrass
	rand io.Reader
	d    []byte // private scalar in [1, n-1], big-endian, n's length
	pub  []byte
}

func (k *weierstrassKE) Method() proposal.KEID { return k.c.id }

// String never shows the private scalar.
func (k *weierstrassKE) String() string { return keName(k.c.id) }

func (k *weierstrassKE) generate() error {
	if k.d != nil {
		return nil
	}
	d := make([]byte, k.c.n.Size())
	for range 1000 {
		if _, err := io.ReadFull(k.rand, d); err != nil {
			return fmt.Errorf("alg: %s: key generation: %w", keName(k.c.id), err)
		}
		// Rejection sampling for a uniform scalar in [1, n-1].
		if s, err := bigmod.NewNat().SetBytes(d, k.c.n); err == nil && s.IsZero() != 1 {
			return k.setPrivate(d)
		}
	}
	// Only a broken reader (constant output) gets here.
	return fmt.Errorf("alg: %s: random source yields no valid scalar", keName(k.c.id))
}

func (k *weierstrassKE) setPrivate(d []byte) error {
	s, err := bigmod.NewNat().SetBytes(d, k.c.n)
	if err != nil || s.IsZero() == 1 {
		return fmt.Errorf("%w: %s private scalar out of range", ErrKeySize, keName(k.c.id))
	}
	k.d = s.Bytes(k.c.n)
	pub, ok := k.c.encode(k.c.scalarMult(k.d, k.c.affine(k.c.gx, k.c.gy)))
	if !ok {
		return fmt.Errorf("alg: %s: public key is the identity", keName(k.c.id))
	}
	k.pub = pub
	return nil
}

func (k *weierstrassKE) Public() ([]byte, error) {
	if err := k.generate(); err != nil {
		return nil, err
	}
	return append([]byte(nil), k.pub...), nil
}

func (k *weierstrassKE) shared(peer []byte) ([]byte, error) {
	q, err := k.c.decode(peer)
	if err != nil {
		return nil, err
	}
	s, ok := k.c.encodeX(k.c.scalarMult(k.d, q))
	if !ok {
		return nil, invalidPublic(k.c.id, "shared point is the identity")
	}
	return ownedSecret(s), nil // the x coordinate (RFC 5903 section 7)
}

func (k *weierstrassKE) Shared(peer []byte) ([]byte, error) {
	if k.d == nil {
		return nil, fmt.Errorf("%w: %s: Shared before Public", ErrKeyExchangeState, keName(k.c.id))
	}
	return k.shared(peer)
}

func (k *weierstrassKE) Respond(peer []byte) ([]byte, []byte, error) {
	if _, err := k.c.decode(peer); err != nil {
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
