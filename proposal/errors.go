package proposal

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrEmptyProposal: the proposal string, or one proposal of a list, is empty.
	ErrEmptyProposal = errors.New("empty proposal")
	// ErrUnknownAlgorithm: a keyword names no algorithm this package knows.
	ErrUnknownAlgorithm = errors.New("unknown algorithm")
	// ErrKeyLength: the key size in a keyword is not one the algorithm allows.
	ErrKeyLength = errors.New("key size out of range")
	// ErrInvalidProposal: the keywords are known but do not form a usable
	// proposal (no cipher, AEAD mixed with classic ciphers, PRF in ESP ...).
	ErrInvalidProposal = errors.New("invalid proposal")
	// ErrNoMatch: selection found no acceptable proposal (the engine answers
	// NO_PROPOSAL_CHOSEN). The concrete error is a *MismatchError.
	ErrNoMatch = errors.New("no proposal chosen")
)

// ParseError is returned by Parse for bad proposal strings.
type ParseError struct {
	// Input is the proposal (one element of a comma separated list).
	Input string
	// Index is the 0-based position of Input in the list.
	Index int
	// Keyword is the offending keyword, if one is to blame.
	Keyword string
	// KeyLen and Allowed are set for ErrKeyLength.
	KeyLen  int
	Allowed []uint16
	// Err is one of the sentinel errors above.
	Err error
	// Detail says what is wrong in words an operator can act on.
	Detail string
}

// Error returns e.g. `proposal: "aes256-sha999": unknown algorithm "sha999"`.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("proposal: ")
	b.WriteString(strconv.Quote(e.Input))
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Keyword != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Keyword))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *ParseError) Unwrap() error { return e.Err }
