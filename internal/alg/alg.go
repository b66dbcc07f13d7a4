package alg

// Crypter is one keyed encryption transform together with its integrity
// protection: either an AEAD (AES-GCM, AES-CCM, ChaCha20-Poly1305, GMAC) or a
// cipher (AES-CBC, AES-CTR, 3DES, NULL) combined with an integrity transform
// (HMAC, XCBC, CMAC). IKEv2's SK payload and ESP both use it, so the framing
// rules below are the ones RFC 7296 section 3.14 and RFC 4303 share.
//
// Seal and Open work like crypto/cipher.AEAD: the output is appended to dst
// and may overlap the input exactly (in-place use). A Crypter is safe for
// concurrent use by several goroutines once constructed; per-call working
// memory comes from a pool owned by the Crypter, so steady-state calls do
// not allocate (checked by TestZeroAllocs for every transform).
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
	// ciphertext||ICV to dst. The caller pads plaintext to BlockLen and
	// chooses iv (IVLen bytes, unique per key); Seal panics if either is
	// wrong, since that is a local programming error, not peer input.
	//
	// AEAD: nonce = salt||iv, additional data = aad; icvSuffix must be empty.
	// Cipher+integrity: ct = E(iv, plaintext), ICV = truncate(MAC(aad||iv||ct||icvSuffix)).
	// ESP passes aad = SPI||seq and, with ESN, icvSuffix = seq-hi; IKEv2 passes
	// aad = IKE header||SK payload header.
	Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte
	// Open verifies and decrypts ciphertextAndICV (the ciphertext followed
	// by ICVLen bytes), appending the plaintext to dst. The ICV is checked in
	// constant time before anything is decrypted; the one exception is
	// AES-CCM, whose MAC covers the plaintext (RFC 3610), so it decrypts
	// into dst first and wipes it again when the check fails. Errors wrap
	// ErrAuthFailed (ICV mismatch) or ErrMalformed (impossible lengths);
	// no plaintext is returned with an error.
	Open(dst, iv, ciphertextAndICV, aad, icvSuffix []byte) ([]byte, error)
}
