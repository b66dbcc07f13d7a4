package xauth

import (
	"errors"
	"fmt"
)

// ParseError is a malformed Attributes payload. Offset counts from the
// start of the buffer handed to the decoder. Reason never quotes values.
type ParseError struct {
	// Offset is the byte offset of the problem.
	Offset int
	// Reason describes the problem.
	Reason string
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	return fmt.Sprintf("xauth: attributes at offset %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

// Sentinel errors, matched with errors.Is.
var (
	// ErrMalformed matches every *ParseError and every attribute whose
	// value has a length its type does not allow.
	ErrMalformed = errors.New("xauth: malformed attributes")
	// ErrDiscarded means the message does not belong to the outstanding
	// exchange (wrong CFG type or Identifier) and was dropped: nothing is
	// to be sent and the state is unchanged. A server may resend
	// Pending().
	ErrDiscarded = errors.New("xauth: message discarded")
	// ErrAuthFailed is a wrong or unknown user name or password, or, on
	// the client, the gateway's XAUTH_STATUS FAIL.
	ErrAuthFailed = errors.New("xauth: authentication failed")
	// ErrTooManyAttempts means the client failed MaxAttempts times.
	ErrTooManyAttempts = errors.New("xauth: too many failed attempts")
	// ErrProtocol is a well-formed message that breaks the exchange (a
	// REPLY without user name or password, a SET without status).
	ErrProtocol = errors.New("xauth: protocol violation")
	// ErrFinished is returned when Process is called after the exchange
	// ended.
	ErrFinished = errors.New("xauth: exchange finished")
	// ErrNoAddress means a Mode Config REPLY or SET carried no
	// INTERNAL_IP4_ADDRESS and no INTERNAL_IP6_ADDRESS; racoon refuses
	// such a reply ("Internal IP Address missing").
	ErrNoAddress = errors.New("xauth: no internal address")
)

// UnsupportedError is an XAuth method this package does not implement:
// an XAUTH_TYPE other than generic (RADIUS-CHAP, OTP, S/KEY), or a
// generic exchange that asks for a token prompt (XAUTH_PASSCODE from a
// SecurID server, XAUTH_NEXT_PIN, XAUTH_ANSWER to an XAUTH_CHALLENGE).
// errors.Is(err, ErrUnsupported) is true for it.
type UnsupportedError struct {
	// Type is the XAUTH_TYPE value (TypeGeneric for a prompt).
	Type uint16
	// Attr is the attribute that asked for the prompt (0 for a type).
	Attr uint16
}

// ErrUnsupported matches every *UnsupportedError.
var ErrUnsupported = errors.New("xauth: unsupported method")

// Error implements the error interface.
func (e *UnsupportedError) Error() string {
	if e.Attr != 0 {
		return "xauth: unsupported prompt " + AttrName(e.Attr)
	}
	return "xauth: unsupported XAUTH_TYPE " + typeName(e.Type)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func typeName(t uint16) string {
	switch t {
	case TypeGeneric:
		return "generic"
	case TypeRADIUSCHAP:
		return "RADIUS-CHAP"
	case TypeOTP:
		return "OTP"
	case TypeSKey:
		return "S/KEY"
	}
	return fmt.Sprintf("%d", t)
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}
