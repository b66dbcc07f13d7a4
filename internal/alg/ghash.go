package alg

import (
	"encoding/binary"
	"math/bits"
)

// GHASH (NIST SP 800-38D section 6.4) for the GCM use the standard
// library cannot serve: 8-byte ICVs (crypto/cipher refuses tags shorter
// than 12 bytes).
// The multiplication is constant time: carry-less products are built from
// integer multiplications with "holes" (as in BearSSL's ghash_ctmul64), so
// no table is indexed by secret data.

// ghashKey holds H as two 64-bit halves in "normal" polynomial order
// (bit i = coefficient of x^i), the order the arithmetic below uses; GCM
// itself stores bits reflected (RFC-style big-endian, x^0 first).
type ghashKey struct {
	h0, h1, h2    uint64 // H low half, high half, and their sum (Karatsuba)
	h0r, h1r, h2r uint64 // the same, bit-reversed, for the high product halves
}

func newGHASHKey(h *[16]byte) ghashKey {
	var k ghashKey
	k.h0 = bits.Reverse64(binary.BigEndian.Uint64(h[:8]))
	k.h1 = bits.Reverse64(binary.BigEndian.Uint64(h[8:]))
	k.h2 = k.h0 ^ k.h1
	k.h0r = bits.Reverse64(k.h0)
	k.h1r = bits.Reverse64(k.h1)
	k.h2r = bits.Reverse64(k.h2)
	return k
}

// bmul64 returns the low 64 bits of the carry-less product of x and y.
// Masking every fourth bit leaves "holes" that absorb the carries of the
// integer multiplications, so the result is exact and constant time.
func bmul64(x, y uint64) uint64 {
	const m0, m1, m2, m3 = 0x1111111111111111, 0x2222222222222222, 0x4444444444444444, 0x8888888888888888
	x0, x1, x2, x3 := x&m0, x&m1, x&m2, x&m3
	y0, y1, y2, y3 := y&m0, y&m1, y&m2, y&m3
	z0 := (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1)
	z1 := (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2)
	z2 := (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3)
	z3 := (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0)
	return z0&m0 | z1&m1 | z2&m2 | z3&m3
}

// clmul returns the 127-bit carry-less product of a and b as (lo, hi).
// The high half comes from the product of the bit-reversed operands,
// whose low 64 bits are the reversed bits 63..126 of a*b.
func clmul(a, b, br uint64) (lo, hi uint64) {
	lo = bmul64(a, b)
	hi = bits.Reverse64(bmul64(bits.Reverse64(a), br)) >> 1
	return lo, hi
}

// ghash is a streaming GHASH accumulator. Callers write the AAD, pad(),
// write the ciphertext, pad(), then lengths(). The state y0, y1 is kept
// in normal bit order.
type ghash struct {
	k      *ghashKey
	y0, y1 uint64
	buf    [16]byte
	n      int
}

// block computes Y = (Y + X) * H in GF(2^128) mod x^128 + x^7 + x^2 + x + 1.
func (g *ghash) block(b0, b1 uint64) {
	k := g.k
	y0 := g.y0 ^ bits.Reverse64(b0)
	y1 := g.y1 ^ bits.Reverse64(b1)
	// Karatsuba: three 64x64 products.
	l0, l1 := clmul(y0, k.h0, k.h0r)
	h0, h1 := clmul(y1, k.h1, k.h1r)
	m0, m1 := clmul(y0^y1, k.h2, k.h2r)
	m0 ^= l0 ^ h0
	m1 ^= l1 ^ h1
	p0, p1, p2, p3 := l0, l1^m0, h0^m1, h1
	// Fold degrees 192..254, then 128..191, with x^128 = x^7 + x^2 + x + 1.
	p1 ^= p3 ^ p3<<1 ^ p3<<2 ^ p3<<7
	p2 ^= p3>>63 ^ p3>>62 ^ p3>>57
	p0 ^= p2 ^ p2<<1 ^ p2<<2 ^ p2<<7
	p1 ^= p2>>63 ^ p2>>62 ^ p2>>57
	g.y0, g.y1 = p0, p1
}

func (g *ghash) write(p []byte) {
	if g.n > 0 {
		k := copy(g.buf[g.n:], p)
		g.n += k
		p = p[k:]
		if g.n < 16 {
			return
		}
		g.block(binary.BigEndian.Uint64(g.buf[:8]), binary.BigEndian.Uint64(g.buf[8:]))
		g.n = 0
	}
	for len(p) >= 16 {
		g.block(binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:16]))
		p = p[16:]
	}
	g.n = copy(g.buf[:], p)
}

// pad completes a partial block with zeros.
func (g *ghash) pad() {
	if g.n == 0 {
		return
	}
	clear(g.buf[g.n:])
	g.block(binary.BigEndian.Uint64(g.buf[:8]), binary.BigEndian.Uint64(g.buf[8:]))
	g.n = 0
}

// lengths processes the final length block (bit lengths of AAD and
// ciphertext) and writes the result to out.
func (g *ghash) lengths(aadBytes, ctBytes int, out *[16]byte) {
	g.pad()
	g.block(uint64(aadBytes)*8, uint64(ctBytes)*8)
	binary.BigEndian.PutUint64(out[:8], bits.Reverse64(g.y0))
	binary.BigEndian.PutUint64(out[8:], bits.Reverse64(g.y1))
}
