package ike

import (
	"context"

	"github.com/goipsec/ipsec"
)

// Hooks are optional callbacks into the embedding program. They run on the
// IKE SA's goroutine and must not block; copy what you need and return.
// Authorize is the exception: it runs on a goroutine of its own and may
// block until its context's deadline. Every argument is a snapshot the
// callee may keep.
type Hooks struct {
	// IKEUp: an IKE SA was established (after IKE_AUTH).
	IKEUp func(ipsec.IKESAInfo)
	// IKEDown: an IKE SA was deleted, timed out or failed; err says why
	// (nil for an orderly delete).
	IKEDown func(info ipsec.IKESAInfo, err error)
	// ChildUp and ChildDown report CHILD SAs.
	ChildUp   func(ike ipsec.IKESAInfo, child ipsec.ChildSAInfo)
	ChildDown func(ike ipsec.IKESAInfo, child ipsec.ChildSAInfo)
	// Rekeyed reports a completed IKE or CHILD SA rekey (see
	// RekeyEvent). A CHILD rekey also raises ChildUp for the new SA and,
	// when the old one is deleted, ChildDown; an IKE rekey raises neither
	// IKEUp nor IKEDown: the session goes on with the same SessionID.
	Rekeyed func(RekeyEvent)
	// Alert reports a peer-caused problem worth an operator's attention
	// (failed authentication, proposal mismatch with its explanation).
	Alert func(a Alert)
	// Authorize decides, on a responder, whether a peer that proved its
	// identity (PSK, certificate or EAP) may connect, and may choose its
	// pools, subnets, DNS and traffic selectors by who it is (per-user or
	// per-group policies, see AuthDecision). req carries the identities,
	// the configuration's name, the method, the EAP user and its groups
	// and the peer's certificate chain. It runs on its own goroutine, so
	// it may block (a directory or RADIUS query) and may call the
	// Responder; ctx ends at WithAuthorizeTimeout. A nil decision keeps
	// the configuration. An error, or no answer in time, refuses the
	// peer: it gets AUTHENTICATION_FAILED, the refusal is logged (Warn)
	// and reported as an AlertAuthFailed whose Err wraps the error.
	//
	// Breaking change: this hook used to be
	// func(context.Context, ipsec.IKESAInfo) error, called on the SA's
	// goroutine; req.Info is that argument, and returning (nil, err)
	// keeps the old meaning.
	Authorize func(ctx context.Context, req AuthRequest) (*AuthDecision, error)
}

// Alert is a notable, peer-caused event.
type Alert struct {
	Kind   AlertKind       // what kind of event
	Info   ipsec.IKESAInfo // what is known of the SA so far
	Err    error           // the error behind it, if any
	Detail string          // operator-facing explanation, e.g. a proposal mismatch
}

// AlertKind classifies alerts.
type AlertKind uint8

// Alert kinds.
const (
	AlertProposalMismatch AlertKind = iota + 1
	AlertAuthFailed
	AlertPeerConfigMissing
	AlertRetransmitTimeout
	AlertMalformed
	// AlertChildFailed: the IKE SA stands but its first CHILD SA was
	// refused (FAILED_CP_REQUIRED, TS_UNACCEPTABLE, a data plane that
	// cannot install it, ...); Detail says why.
	AlertChildFailed
	// AlertIdentityLimit: an identity reached its IdentityLimits and
	// was refused an IKE SA or an address.
	AlertIdentityLimit
)

// String names the alert kind.
func (k AlertKind) String() string {
	switch k {
	case AlertProposalMismatch:
		return "proposal-mismatch"
	case AlertAuthFailed:
		return "auth-failed"
	case AlertPeerConfigMissing:
		return "peer-config-missing"
	case AlertRetransmitTimeout:
		return "retransmit-timeout"
	case AlertMalformed:
		return "malformed"
	case AlertChildFailed:
		return "child-failed"
	case AlertIdentityLimit:
		return "identity-limit"
	}
	return "alert"
}
