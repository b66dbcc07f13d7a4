package ike

import (
	"errors"
	"fmt"

	"github.com/goipsec/ipsec/ike/wire"
)

// NotifyError is an error notification exchanged with the peer: one we
// sent (Remote false) because the peer's message was unacceptable, or one
// the peer sent us (Remote true).
//
// Classify it without importing ike/wire: errors.Is(err, ErrAuthFailed),
// ErrNoProposalChosen, ErrTSUnacceptable and the other sentinels of this
// package hold for the notification types they name, whichever side sent
// it (see Is); Remote tells the side. errors.Is also matches a target
// *NotifyError with the same Type and Remote, and it sees Err, our reason.
type NotifyError struct {
	// Type is the error notification's type (RFC 7296 section 3.10.1).
	Type wire.NotifyType
	// Remote is true for a notification the peer sent us.
	Remote bool
	// Data is the notification data (for INVALID_KE_PAYLOAD the group
	// the responder wants); nil for most types.
	Data []byte
	// Err is our reason when we sent it; nil for the peer's.
	Err error
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

// Is matches another *NotifyError of the same Type and side, and the
// sentinel error that classifies e.Type (for AUTHENTICATION_FAILED
// ErrAuthFailed, and so on: see the sentinels' comments), on both sides.
func (e *NotifyError) Is(target error) bool {
	if t, ok := target.(*NotifyError); ok {
		return t.Type == e.Type && t.Remote == e.Remote
	}
	return target != nil && notifyClass(e.Type) == target
}

// notifyClass returns the sentinel error classifying an error
// notification type, or nil.
func notifyClass(t wire.NotifyType) error {
	switch t {
	case wire.AUTHENTICATION_FAILED, wire.AUTHORIZATION_FAILED:
		return ErrAuthFailed
	case wire.NO_PROPOSAL_CHOSEN:
		return ErrNoProposalChosen
	case wire.INVALID_KE_PAYLOAD:
		return ErrInvalidKE
	case wire.TS_UNACCEPTABLE, wire.SINGLE_PAIR_REQUIRED:
		return ErrTSUnacceptable
	case wire.FAILED_CP_REQUIRED:
		return ErrCPRequired
	case wire.INTERNAL_ADDRESS_FAILURE:
		return ErrNoAddress
	case wire.NO_ADDITIONAL_SAS:
		return ErrNoAdditionalSAs
	case wire.TEMPORARY_FAILURE:
		return ErrTemporary
	case wire.UNSUPPORTED_CRITICAL_PAYLOAD, wire.INVALID_MAJOR_VERSION, wire.INVALID_SYNTAX, wire.INVALID_MESSAGE_ID:
		return ErrProtocol
	}
	return nil
}

func notifyErr(t wire.NotifyType, err error) *NotifyError {
	return &NotifyError{Type: t, Err: err}
}

// Sentinel errors of the engines, for errors.Is. Together with
// ErrAuthFailed, ErrNoPeerConfig and ErrIdentityLimit (declared next to
// the code that returns them) they are the classes an embedder needs;
// a *NotifyError matches the class of its notification type, sent or
// received, so no caller has to import ike/wire to tell them apart.
var (
	// ErrTimeout: the peer did not answer within the retransmission
	// schedule (RFC 7296 section 2.4).
	ErrTimeout = errors.New("ike: peer did not respond")
	// ErrClosed: the SA or engine was closed.
	ErrClosed = errors.New("ike: closed")
	// ErrPeerDeleted: the peer ended the IKE SA with an INFORMATIONAL
	// Delete (RFC 7296 section 1.4.1), e.g. a gateway that terminated the
	// session or shut down. SA.Err returns it; it is distinct from our own
	// Close (SA.Err nil), a dead peer (ErrTimeout) and a refused
	// authentication (ErrAuthFailed). The hooks keep nil for this orderly
	// end: an IKEDown with a nil error is a Delete by either side.
	ErrPeerDeleted = errors.New("ike: deleted by the peer")
	// ErrProtocol: the peer's message broke the protocol (missing or
	// unexpected payloads); wrapped with details. Matches the
	// notifications UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_MAJOR_VERSION,
	// INVALID_SYNTAX and INVALID_MESSAGE_ID.
	ErrProtocol = errors.New("ike: protocol violation")
	// ErrNoProposalChosen: no proposal was acceptable to both sides
	// (notification NO_PROPOSAL_CHOSEN).
	ErrNoProposalChosen = errors.New("ike: no proposal chosen")
	// ErrInvalidKE: the key exchange method was refused and retrying
	// with the one the responder asked for did not help
	// (INVALID_KE_PAYLOAD).
	ErrInvalidKE = errors.New("ike: key exchange method refused")
	// ErrTSUnacceptable: the traffic selectors were refused
	// (TS_UNACCEPTABLE, SINGLE_PAIR_REQUIRED).
	ErrTSUnacceptable = errors.New("ike: traffic selectors unacceptable")
	// ErrCPRequired: the gateway requires a configuration payload (a
	// virtual IP request) the client did not send (FAILED_CP_REQUIRED).
	ErrCPRequired = errors.New("ike: configuration payload required")
	// ErrNoAddress: no virtual address could be assigned
	// (INTERNAL_ADDRESS_FAILURE).
	ErrNoAddress = errors.New("ike: no internal address")
	// ErrNoAdditionalSAs: the peer accepts no further CHILD SAs on this
	// IKE SA (NO_ADDITIONAL_SAS).
	ErrNoAdditionalSAs = errors.New("ike: no additional SAs")
	// ErrTemporary: the request collided with another exchange or the
	// peer is busy; retrying later may succeed (TEMPORARY_FAILURE).
	ErrTemporary = errors.New("ike: temporary failure")
)
