package ike

import (
	"errors"
	"fmt"

	"github.com/goipsec/ipsec/ike/wire"
)

// NotifyError is an error notification exchanged with the peer: one we
// sent (Remote false) because the peer's message was unacceptable, or one
// the peer sent us (Remote true). errors.Is matches it against another
// *NotifyError by Type (and Remote when the target sets RemoteSet).
type NotifyError struct {
	Type   wire.NotifyType
	Remote bool
	Data   []byte
	Err    error // our reason, when we sent it
}

// Error describes the notification; it never contains key material.
func (e *NotifyError) Error() string {
	side := "sent"
	if e.Remote {
		side = "received"
	}
	if e.Err != nil {
		return fmt.Sprintf("ike: %s %s: %v", side, e.Type, e.Err)
	}
	return fmt.Sprintf("ike: %s %s", side, e.Type)
}

// Unwrap returns the underlying reason.
func (e *NotifyError) Unwrap() error { return e.Err }

// Is matches another *NotifyError of the same Type and side.
func (e *NotifyError) Is(target error) bool {
	t, ok := target.(*NotifyError)
	return ok && t.Type == e.Type && t.Remote == e.Remote
}

func notifyErr(t wire.NotifyType, err error) *NotifyError {
	return &NotifyError{Type: t, Err: err}
}

// Sentinel errors of the engines.
var (
	// ErrTimeout: the peer did not answer within the retransmission
	// schedule (RFC 7296 section 2.4).
	ErrTimeout = errors.New("ike: peer did not respond")
	// ErrClosed: the SA or engine was closed.
	ErrClosed = errors.New("ike: closed")
	// ErrProtocol: the peer's message broke the protocol (missing or
	// unexpected payloads); wrapped with details.
	ErrProtocol = errors.New("ike: protocol violation")
)
