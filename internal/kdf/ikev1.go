package kdf

import (
	"fmt"
	"hash"

	"github.com/goipsec/ipsec/internal/alg"
)

// IKEv1 derivations (RFC 2409). The IKEv1 "prf" is the HMAC of the
// negotiated hash unless a PRF attribute is negotiated, so callers pass
// the alg.PRF for HMAC-<hash>.

// V1SKEYIDSignature computes SKEYID = prf(Ni_b | Nr_b, g^xy) for
// signature authentication (RFC 2409 section 5).
func V1SKEYIDSignature(p alg.PRF, ni, nr, gxy []byte) Key {
	key := append(append([]byte(nil), ni...), nr...)
	return prf(p, key, gxy)
}

// V1SKEYIDPSK computes SKEYID = prf(pre-shared-key, Ni_b | Nr_b) for
// pre-shared key authentication (RFC 2409 section 5).
func V1SKEYIDPSK(p alg.PRF, psk, ni, nr []byte) Key {
	return prf(p, psk, ni, nr)
}

// V1SKEYIDPublicKey computes SKEYID = prf(hash(Ni_b | Nr_b), CKY-I |
// CKY-R) for public key encryption authentication (RFC 2409 section 5);
// newHash is the negotiated hash function.
func V1SKEYIDPublicKey(p alg.PRF, newHash func() hash.Hash, ni, nr, ckyI, ckyR []byte) Key {
	h := newHash()
	h.Write(ni)
	h.Write(nr)
	return prf(p, h.Sum(nil), ckyI, ckyR)
}

// V1Keys are the IKEv1 phase 1 secrets of RFC 2409 section 5.
type V1Keys struct {
	// SKEYID is the root secret the others derive from.
	SKEYID  Key
	SKEYIDd Key // derives Quick Mode KEYMAT
	SKEYIDa Key // ISAKMP message integrity (HASH payloads)
	SKEYIDe Key // ISAKMP encryption, expanded by V1EncryptionKey
}

// String shows the key lengths only.
func (k *V1Keys) String() string {
	return fmt.Sprintf("V1Keys{%d bytes each, redacted}", len(k.SKEYID))
}

// Wipe zeroes all four keys.
func (k *V1Keys) Wipe() {
	for _, b := range []Key{k.SKEYID, k.SKEYIDd, k.SKEYIDa, k.SKEYIDe} {
		b.Wipe()
	}
}

// V1DeriveKeys computes from SKEYID (RFC 2409 section 5):
//
//	SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//	SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//	SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
func V1DeriveKeys(p alg.PRF, skeyid, gxy, ckyI, ckyR []byte) *V1Keys {
	k := &V1Keys{SKEYID: append(Key(nil), skeyid...)}
	k.SKEYIDd = prf(p, skeyid, gxy, ckyI, ckyR, []byte{0})
	k.SKEYIDa = prf(p, skeyid, k.SKEYIDd, gxy, ckyI, ckyR, []byte{1})
	k.SKEYIDe = prf(p, skeyid, k.SKEYIDa, gxy, ckyI, ckyR, []byte{2})
	return k
}

// V1EncryptionKey returns the n-byte phase 1 encryption key from SKEYID_e
// (RFC 2409 appendix B): the leading bytes of SKEYID_e if it is long
// enough, otherwise of Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0) and
// Ki = prf(SKEYID_e, Ki-1), where "0" is a single zero octet (the reading
// strongSwan, libreswan and Windows interoperate with).
func V1EncryptionKey(p alg.PRF, skeyidE []byte, n int) Key {
	if len(skeyidE) >= n {
		return append(Key(nil), skeyidE[:n]...)
	}
	out := make(Key, 0, n+p.Size())
	last := []byte{0}
	for len(out) < n {
		k := prf(p, skeyidE, last)
		out = append(out, k...)
		last = k
	}
	clear(out[n:cap(out)])
	return out[:n]
}

// V1QuickModeKEYMAT returns n bytes of Quick Mode keying material for one
// SA direction (RFC 2409 section 5.5):
//
//	KEYMAT = K1 | K2 | ...
//	K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//	Ki = prf(SKEYID_d, Ki-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//
// gqmxy is the Quick Mode PFS shared secret, nil without PFS; spi is the
// SPI of the SA being keyed (the receiver's choice); ni, nr are the Quick
// Mode nonce bodies.
func V1QuickModeKEYMAT(p alg.PRF, skeyidD, gqmxy []byte, protocol byte, spi, ni, nr []byte, n int) Key {
	out := make(Key, 0, n+p.Size())
	var last []byte
	for len(out) < n {
		k := prf(p, skeyidD, last, gqmxy, []byte{protocol}, spi, ni, nr)
		out = append(out, k...)
		last = k
	}
	clear(out[n:cap(out)])
	return out[:n]
}

// V1Phase1IV returns the initial CBC IV of phase 1, hash(g^xi | g^xr)
// truncated to the cipher block size (RFC 2409 appendix B).
func V1Phase1IV(newHash func() hash.Hash, gxi, gxr []byte, blockLen int) []byte {
	h := newHash()
	h.Write(gxi)
	h.Write(gxr)
	return h.Sum(nil)[:min(blockLen, h.Size())]
}

// V1Phase2IV returns the initial CBC IV of a phase 2 or informational
// exchange, hash(last phase 1 CBC block | M-ID) truncated to the block
// size (RFC 2409 appendix B).
func V1Phase2IV(newHash func() hash.Hash, lastPhase1Block, messageID []byte, blockLen int) []byte {
	h := newHash()
	h.Write(lastPhase1Block)
	h.Write(messageID)
	return h.Sum(nil)[:min(blockLen, h.Size())]
}
