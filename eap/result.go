package eap

import (
	"fmt"

	"github.com/goipsec/ipsec"
)

// Status is where a conversation stands after a Process call.
type Status uint8

// Statuses.
const (
	// StatusContinue: send the returned packet and wait for the next one.
	StatusContinue Status = iota
	// StatusSuccess: the conversation ended with EAP-Success.
	StatusSuccess
	// StatusFailure: the conversation ended with EAP-Failure.
	StatusFailure
)

// String returns "continue", "success" or "failure".
func (s Status) String() string {
	switch s {
	case StatusContinue:
		return "continue"
	case StatusSuccess:
		return "success"
	case StatusFailure:
		return "failure"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result describes the state of a conversation. Once Status is final the
// Result no longer changes.
type Result struct {
	// Status is how far the conversation got.
	Status Status
	// Method is the method in progress or the one that decided the
	// outcome (0 before any method started).
	Method Type
	// Identity is the EAP identity: the authenticated name at Success
	// (the MSCHAPv2 user name, or the identity a TLS client certificate
	// was bound to), the claimed one before.
	Identity string
	// MSK is the 64-octet Master Session Key at Success for methods that
	// derive one (MSCHAPv2, TLS); IKEv2 computes AUTH over it (RFC 7296
	// section 2.16). Nil for MD5 and GTC: IKE then uses SK_pi/SK_pr.
	MSK ipsec.Secret
	// EMSK is the Extended MSK where the method derives one (TLS).
	EMSK ipsec.Secret
	// User is the account that authenticated (server side), for address
	// assignment and authorization; nil on the peer side or when the
	// store has no entry (EAP-TLS without a user table).
	User *ipsec.User
	// Err is why the conversation failed; errors.Is(Err, ErrAuthFailed)
	// for bad credentials. It never contains secrets.
	Err error
}

// String summarises r without key material.
func (r Result) String() string {
	s := fmt.Sprintf("eap %s method=%s identity=%q msk=%t", r.Status, r.Method, r.Identity, len(r.MSK) > 0)
	if r.Err != nil {
		s += " err=" + r.Err.Error()
	}
	return s
}

// GoString is String, so %#v prints no key material either.
func (r Result) GoString() string { return r.String() }
