// Package alg maps transform IDs of the proposal package to working
// cryptographic primitives: AEADs and ciphers with integrity (Crypter),
// pseudorandom functions (PRF) and key exchange methods (KeyExchange).
// The size helpers (KeyLen, SaltLen, IVLen, IntegKeyLen, IntegICVLen,
// PRFKeyLen, PublicLen) tell the IKE engines how much KEYMAT to derive and
// how long a KE payload must be.
//
// # Crypters
//
// AES-GCM with 12/16-byte ICVs and ChaCha20-Poly1305 (RFC 4106, 5282,
// 7634) wrap crypto/cipher and x/crypto. Three transforms are built here
// because the standard library cannot express them:
//
//   - AES-CCM (RFC 3610 profile of RFC 4309/5282), on crypto/aes blocks.
//   - AES-GCM with an 8-byte ICV (crypto/cipher refuses tags below 12
//     bytes), with a constant-time GHASH in Go (ghash.go). It runs at a
//     fraction of the assembly GCM's speed; the transform is rare.
//
// AES-GMAC (RFC 4543) runs crypto/cipher's GCM over the AAD
// aad||IV||payload, copied into pooled scratch memory.
//
// CBC and CTR modes pair with HMAC (RFC 2404, 4868, 4595), AES-XCBC-96
// (RFC 3566) or AES-CMAC-96 (RFC 4494) in encrypt-then-MAC order, the ICV
// checked in constant time before decryption. Seal and Open take their
// working memory from a per-Crypter sync.Pool, so steady-state calls do
// not allocate (TestZeroAllocs) and a Crypter may be shared by goroutines.
// Single DES, Blowfish, CAST and Camellia are not implemented: no client
// in scope proposes them.
//
// # Key exchange
//
// MODP groups 1, 2, 5, 14-18 and the RFC 5114 groups 22-24 use
// filippo.io/bigmod, a constant-time modular arithmetic package (math/big
// is not constant time), with the RFC 6989 checks 1 < y < p-1 and, for
// the RFC 5114 groups, y^q = 1. NIST P-256/384/521 and Curve25519 use
// crypto/ecdh, Curve448 circl, ML-KEM-768/1024 crypto/mlkem and ML-KEM-512
// circl. P-192, P-224 and the brainpool curves (groups 25-30) exist in no
// maintained Go package with a constant-time implementation, so they are
// implemented in ke_weierstrass.go on bigmod with complete addition
// formulas and a Montgomery ladder; the code is checked against the RFC
// 5114/6954 vectors and against crypto/ecdh on P-256. It is slow (tens of
// milliseconds per exchange) and meant for interoperability only.
package alg
