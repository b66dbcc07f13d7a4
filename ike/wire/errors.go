package wire

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// ParseError is a syntax error in an IKEv2 message. Offset is the absolute
// byte offset in the buffer given to Parse (or, for an inner chain, in the
// decrypted plaintext); Payload is the payload being decoded (PayloadNone
// for the header). Err, when set, is a sentinel the engine maps to a
// notify (ErrUnsupportedVersion -> INVALID_MAJOR_VERSION).
type ParseError struct {
	// Offset is the byte offset of the error (see the type comment).
	Offset int
	// Payload is the payload being decoded, PayloadNone for the header.
	Payload PayloadType
	// Reason describes the syntax error.
	Reason string
	// Err is a sentinel such as ErrUnsupportedVersion, or nil.
	Err error
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Payload == PayloadNone {
		return "wire: header at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
	}
	return "wire: " + e.Payload.String() + " payload at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns Err.
func (e *ParseError) Unwrap() error { return e.Err }

// ErrUnsupportedVersion is wrapped by the ParseError for a major version
// other than 2 (RFC 7296 section 2.5: answer INVALID_MAJOR_VERSION).
var ErrUnsupportedVersion = errors.New("wire: unsupported IKE major version")

// CriticalPayloadError reports a payload of a type this codec does not
// know whose critical bit is set. RFC 7296 section 2.5 requires rejecting
// the whole message with UNSUPPORTED_CRITICAL_PAYLOAD, whose notification
// data is the one-octet payload type: Notify builds that payload.
type CriticalPayloadError struct {
	// Type is the unknown payload type.
	Type PayloadType
	// Offset is the payload's byte offset in the buffer given to Parse.
	Offset int
}

// Error implements the error interface.
func (e *CriticalPayloadError) Error() string {
	return fmt.Sprintf("wire: unsupported critical payload %s at offset %d", e.Type, e.Offset)
}

// Notify returns the UNSUPPORTED_CRITICAL_PAYLOAD notify to answer with.
func (e *CriticalPayloadError) Notify() *Notify {
	return &Notify{Type: UNSUPPORTED_CRITICAL_PAYLOAD, Data: []byte{byte(e.Type)}}
}

// ErrIntegrity is returned (wrapping the crypter's error) when an SK or
// SKF payload fails its integrity check; RFC 7296 section 2.21.2: such a
// message is dropped without reply.
var ErrIntegrity = errors.New("wire: SK integrity check failed")

func convertErr(err error) error {
	var e *isakmp.Error
	if errors.As(err, &e) {
		return &ParseError{Offset: e.Offset, Payload: PayloadType(e.Payload), Reason: e.Reason}
	}
	return err
}

func perr(off int, p PayloadType, reason string) error {
	return &ParseError{Offset: off, Payload: p, Reason: reason}
}
