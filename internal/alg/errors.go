package alg

import "errors"

// Sentinel errors. Callers test with errors.Is; the wrapped text adds the
// detail (which transform, which length) but never key material.
var (
	// ErrAuthFailed means the integrity check value did not verify. ESP
	// drops the packet and counts it; IKE ignores the message
	// (RFC 7296 section 2.21.1).
	ErrAuthFailed = errors.New("alg: message authentication failed")

	// ErrMalformed means a ciphertext, IV or ICV has an impossible length
	// (shorter than the ICV, not a multiple of the block size, ...).
	ErrMalformed = errors.New("alg: malformed ciphertext")

	// ErrUnsupported means the transform ID is known to IANA but not
	// implemented here (or deliberately refused, such as single DES).
	ErrUnsupported = errors.New("alg: unsupported transform")

	// ErrKeySize means a key, key length attribute or key combination
	// does not fit the transform.
	ErrKeySize = errors.New("alg: invalid key size")

	// ErrInvalidPublicValue means a peer's key exchange data failed the
	// checks of RFC 6989 (wrong length, 0, 1, p-1, not in the subgroup,
	// not on the curve, the point at infinity) or of the KEM's
	// encapsulation-key validation. The exchange must be aborted.
	ErrInvalidPublicValue = errors.New("alg: invalid peer public value")

	// ErrKeyExchangeState means a KeyExchange method was called out of
	// order (Shared before Public, or a second use of a one-shot value).
	ErrKeyExchangeState = errors.New("alg: key exchange used out of order")
)
