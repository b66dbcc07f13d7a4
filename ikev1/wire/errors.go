package wire

import (
	"errors"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// ParseError is a syntax error in an IKEv1 message. Offset is the absolute
// byte offset in the buffer given to Parse (or, for ParsePayloads, in the
// decrypted body); Payload is the payload being decoded (PayloadNone for
// the header; nested proposals and transforms report PayloadProposal and
// PayloadTransform). Err, when set, is a sentinel the engine maps to a
// notify (ErrUnsupportedVersion -> INVALID-MAJOR-VERSION).
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
		return "ikev1/wire: header at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
	}
	return "ikev1/wire: " + e.Payload.String() + " payload at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns Err.
func (e *ParseError) Unwrap() error { return e.Err }

// ErrUnsupportedVersion is wrapped by the ParseError for a major version
// other than 1 (RFC 2408 section 5.1: INVALID-MAJOR-VERSION).
var ErrUnsupportedVersion = errors.New("ikev1/wire: unsupported ISAKMP major version")

// EncodeError reports a payload Append cannot encode (a field too long
// for its length field, a value too large for a TV attribute, ...).
type EncodeError struct {
	// Payload is the payload type that could not be encoded.
	Payload PayloadType
	// Reason says what is wrong with it.
	Reason string
}

// Error implements the error interface.
func (e *EncodeError) Error() string {
	return "ikev1/wire: encoding " + e.Payload.String() + ": " + e.Reason
}

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
