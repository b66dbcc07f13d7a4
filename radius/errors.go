package radius

import (
	"errors"
	"fmt"
)

// ParseError is a malformed RADIUS packet. Offset counts from the start
// of the packet. Reason never quotes attribute values.
type ParseError struct {
	// Offset is the byte offset of the problem.
	Offset int
	// Reason describes the problem.
	Reason string
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	return fmt.Sprintf("radius: malformed packet at offset %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

// Sentinel errors, matched with errors.Is.
var (
	// ErrMalformed matches every *ParseError.
	ErrMalformed = errors.New("radius: malformed packet")
	// ErrAuthenticator means a Request or Response Authenticator does
	// not verify: a forged packet or a wrong shared secret.
	ErrAuthenticator = errors.New("radius: bad authenticator")
	// ErrMessageAuthenticator means a Message-Authenticator (RFC 3579
	// section 3.2) does not verify, or is missing where it is required.
	ErrMessageAuthenticator = errors.New("radius: bad or missing Message-Authenticator")
	// ErrTooLarge means a packet would exceed MaxPacketLen.
	ErrTooLarge = errors.New("radius: packet too large")
	// ErrTimeout means no server answered within its timeout and
	// retries.
	ErrTimeout = errors.New("radius: no server answered")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("radius: closed")
	// ErrRejected is the reason of an EAP failure after an
	// Access-Reject.
	ErrRejected = errors.New("radius: access rejected")
	// ErrSessionNotFound is what a DAE callback returns when no session
	// matches; the server answers NAK with Error-Cause 503.
	ErrSessionNotFound = errors.New("radius: session not found")
	// ErrBadSecret is returned by a decryption whose plaintext is
	// inconsistent (a wrong secret or authenticator).
	ErrBadSecret = errors.New("radius: decryption failed")
)
