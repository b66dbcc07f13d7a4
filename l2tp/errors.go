package l2tp

import (
	"errors"
	"fmt"
)

// Sentinel reasons of a ParseError; test with errors.Is.
var (
	// ErrShort: the datagram or AVP ends before a field it announces.
	ErrShort = errors.New("truncated")
	// ErrVersion: the header's version is not 2.
	ErrVersion = errors.New("unsupported version")
	// ErrLength: a length field disagrees with the datagram or is below
	// the minimum.
	ErrLength = errors.New("bad length")
	// ErrControlBits: a control message without the L and S bits, or with
	// the O bit.
	ErrControlBits = errors.New("control message needs L and S bits and no O bit")
	// ErrHiddenNoSecret: a hidden AVP arrived but no tunnel secret is
	// configured.
	ErrHiddenNoSecret = errors.New("hidden AVP without a tunnel secret")
	// ErrHiddenNoRandomVector: a hidden AVP without a preceding Random
	// Vector AVP.
	ErrHiddenNoRandomVector = errors.New("hidden AVP without a Random Vector")
	// ErrHiddenLength: the hidden AVP's original length does not fit.
	ErrHiddenLength = errors.New("hidden AVP's original length out of range")
	// ErrFirstAVP: the first AVP of a control message is not Message Type.
	ErrFirstAVP = errors.New("first AVP is not Message Type")
	// ErrAVPValue: an AVP's value has the wrong size or a reserved value.
	ErrAVPValue = errors.New("bad AVP value")
	// ErrMissingAVP: a mandatory AVP of the message type is absent.
	ErrMissingAVP = errors.New("mandatory AVP missing")
)

// ParseError says what is wrong in a datagram and where.
type ParseError struct {
	// Offset is the byte offset in the datagram where the problem is.
	Offset int
	// AVP is the attribute type of the AVP concerned, when HasAVP.
	AVP AVPType
	// Vendor is the AVP's Vendor ID, when HasAVP.
	Vendor uint16
	// HasAVP says the error concerns an AVP.
	HasAVP bool
	// Err is one of the sentinel errors above.
	Err error
}

// Error says what is wrong, where, and in which AVP.
func (e *ParseError) Error() string {
	if e.HasAVP {
		if e.Vendor != 0 {
			return fmt.Sprintf("l2tp: AVP vendor %d type %d at offset %d: %v", e.Vendor, uint16(e.AVP), e.Offset, e.Err)
		}
		return fmt.Sprintf("l2tp: AVP %v at offset %d: %v", e.AVP, e.Offset, e.Err)
	}
	return fmt.Sprintf("l2tp: header at offset %d: %v", e.Offset, e.Err)
}

// Unwrap returns the sentinel.
func (e *ParseError) Unwrap() error { return e.Err }

func headerErr(off int, err error) error { return &ParseError{Offset: off, Err: err} }

func avpErr(off int, vendor uint16, t AVPType, err error) error {
	return &ParseError{Offset: off, AVP: t, Vendor: vendor, HasAVP: true, Err: err}
}
