package eap

import (
	"errors"
	"fmt"
)

// ParseError is a malformed EAP packet or method payload. Offset counts
// from the start of the buffer handed to the decoder (the EAP packet or,
// for method payloads, its Type-Data). Reason never quotes packet bytes.
type ParseError struct {
	Method Type // 0 for the EAP header
	// Offset is the byte offset of the problem (see the type comment).
	Offset int
	// Reason describes the problem.
	Reason string
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Method == 0 {
		return fmt.Sprintf("eap: header at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("eap: %s at offset %d: %s", e.Method, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

// Sentinel errors, matched with errors.Is.
var (
	// ErrMalformed matches every *ParseError.
	ErrMalformed = errors.New("eap: malformed packet")
	// ErrDiscarded means the message was silently dropped as RFC 3748
	// section 4.1 requires (a response whose Identifier does not match
	// the outstanding request, a request the peer cannot use). Nothing is
	// to be sent and the session state is unchanged.
	ErrDiscarded = errors.New("eap: message discarded")
	// ErrAuthFailed is the reason of a Failure caused by wrong or unknown
	// credentials. The server does not reveal on the wire which one.
	ErrAuthFailed = errors.New("eap: authentication failed")
	// ErrProtocol is a well-formed message that breaks the method's
	// conversation (an unexpected opcode, a response to a method the
	// server did not propose).
	ErrProtocol = errors.New("eap: protocol violation")
	// ErrNoMethod means the peer and the server share no method.
	ErrNoMethod = errors.New("eap: no acceptable method")
	// ErrTooManyRounds means the conversation exceeded MaxRounds.
	ErrTooManyRounds = errors.New("eap: too many rounds")
	// ErrFinished is returned when Process is called after the session
	// ended or was closed.
	ErrFinished = errors.New("eap: session finished")
	// ErrServerAuth means the peer could not verify the server (a wrong
	// MSCHAPv2 authenticator response, a TLS server certificate it does
	// not trust, or an EAP-Success before the method completed).
	ErrServerAuth = errors.New("eap: server authentication failed")
)

func protoErr(t Type, format string, args ...any) error {
	return fmt.Errorf("eap: %s: %w: %s", t, ErrProtocol, fmt.Sprintf(format, args...))
}
