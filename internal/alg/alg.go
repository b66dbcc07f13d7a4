package alg

import "github.com/goipsec/ipsec/proposal"

// Crypter is one keyed encryption transform together with its integrity
// protection: either an AEAD (AES-GCM, AES-CCM, ChaCha20-Poly1305, GMAC) or a
// cipher (AES-CBC, AES-CTR, 3DES, NULL) combined with an integrity transform
// (HMAC, XCBC, CMAC). IKEv2's SK payload and ESP both use it, so the framing
// rules below are the ones RFC 7296 section 3.14 and RFC 4303 share.
//
// Seal and Open work like crypto/cipher.AEAD: the output is appended to dst
// and may overlap the input exactly (in-place use). A Crypter is safe for
// concurrent use by several goroutines once constructed; implementations keep
// no per-call state outside the stack, so steady-state calls do not allocate.
type Crypter interface {
	// IVLen is the number of explicit IV bytes carried in each packet.
	IVLen() int
	// ICVLen is the number of integrity check value bytes appended after
	// the ciphertext.
	ICVLen() int
	// BlockLen is the alignment that plaintext plus padding must have
	// (1 for stream ciphers and AEADs; ESP rounds it up to 4 itself).
	BlockLen() int
	// AEAD reports whether integrity comes from a combined-mode cipher.
	// ESP with extended sequence numbers builds a different AAD for AEADs
	// (RFC 4106 section 5) than for separate integrity (RFC 4303 section 2.2.1).
	AEAD() bool
	// Seal encrypts plaintext under the explicit iv and appends
	// ciphertext||ICV to dst.
	//
	// AEAD: nonce = salt||iv, additional data = aad; icvSuffix must be empty.
	// Cipher+integrity: ct = E(iv, plaintext), ICV = truncate(MAC(aad||iv||ct||icvSuffix)).
	// ESP passes aad = SPI||seq and, with ESN, icvSuffix = seq-hi; IKEv2 passes
	// aad = IKE header||SK payload header.
	Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte
	// Open verifies and decrypts ciphertextAndICV (the ciphertext followed
	// by ICVLen bytes), appending the plaintext to dst. The ICV is checked in
	// constant time before anything is decrypted.
	Open(dst, iv, ciphertextAndICV, aad, icvSuffix []byte) ([]byte, error)
}

// The constructors implemented beside this file:
//
//	KeyLen(e proposal.EncrID, keyBits int) (int, error)       // encryption key bytes incl. AEAD salt
//	IntegKeyLen(i proposal.IntegID) (int, error)
//	NewCrypter(e proposal.EncrID, keyBits int, i proposal.IntegID, encKey, integKey []byte) (Crypter, error)
//	NewPRF(id proposal.PRFID) (PRF, error)
//	NewKeyExchange(id proposal.KEID, rand io.Reader) (KeyExchange, error)

var _ = proposal.EncrAESGCM16
