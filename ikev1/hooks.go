package ikev1

import (
	"context"
	"fmt"

	"github.com/goipsec/ipsec"
)

// Hooks are optional callbacks for SA events. They run on the ISAKMP SA's
// goroutine and must not block. The SA snapshots are those of the IKEv2
// engine (ipsec.IKESAInfo with Version 1), so one status page or
// accounting backend serves both.
type Hooks struct {
	// IKEUp: an ISAKMP SA was established (phase 1 done).
	IKEUp func(ipsec.IKESAInfo)
	// IKEDown: an ISAKMP SA was deleted, timed out or failed; err says why
	// (nil for an orderly delete).
	IKEDown func(info ipsec.IKESAInfo, err error)
	// ChildUp and ChildDown report IPsec SAs (Quick Mode). ChildDown
	// carries the final counters.
	ChildUp   func(ike ipsec.IKESAInfo, child ipsec.ChildSAInfo)
	ChildDown func(ike ipsec.IKESAInfo, child ipsec.ChildSAInfo)
	// ReqIDDown: the last IPsec SA with this ReqID (child.ReqID) left the
	// data plane; no rekey or re-authentication carries it on. An
	// embedder keeping per-client state by ReqID drops it now, as the
	// L2TP/IPsec glue calls l2tp.Server.ClosePeer(reqID): no StopCCN can
	// reach that client any more. It comes after that SA's ChildDown, if
	// any, and may run on another goroutine than the SA's; it must not
	// block.
	ReqIDDown func(reqID uint32)
	// Alert reports a peer-caused problem worth an operator's attention.
	Alert func(Alert)
	// Authorize decides, on a responder, whether a peer that proved its
	// identity in phase 1 may connect: info holds its identity,
	// addresses and proposal. An error refuses it with
	// AUTHENTICATION-FAILED (logged, and raised as AlertAuthFailed). It
	// may block (a directory query) until ctx ends (5 s); only this SA
	// waits.
	Authorize func(ctx context.Context, info ipsec.IKESAInfo) error
	// AuthorizeChild decides, on a responder, whether a peer's Quick Mode
	// may set up the IPsec SA child (its selectors, mode and proposal;
	// no SPIs or counters yet) before anything is installed: a gateway
	// keeps two clients from claiming the same inside address. An error
	// refuses the Quick Mode with INVALID-ID-INFORMATION. It runs on the
	// SA's goroutine and must not block.
	AuthorizeChild func(ike ipsec.IKESAInfo, child ipsec.ChildSAInfo) error
}

// AlertKind classifies an Alert.
type AlertKind uint8

// Alert kinds.
const (
	// AlertNoProposal: no proposal of the peer matched ours; Explanation
	// says what each side offered.
	AlertNoProposal AlertKind = iota + 1
	// AlertAuthFailed: the peer's HASH or signature did not verify, or no
	// configuration accepts it.
	AlertAuthFailed
	// AlertPeerDead: DPD declared the peer dead.
	AlertPeerDead
	// AlertWeakMode: a peer used Aggressive Mode with a PSK.
	AlertWeakMode
)

// String returns a short name of the kind.
func (k AlertKind) String() string {
	switch k {
	case AlertNoProposal:
		return "no-proposal"
	case AlertAuthFailed:
		return "auth-failed"
	case AlertPeerDead:
		return "peer-dead"
	case AlertWeakMode:
		return "weak-mode"
	}
	return fmt.Sprintf("AlertKind(%d)", uint8(k))
}

// Alert is a notable, peer-caused event.
type Alert struct {
	Kind        AlertKind       // what happened
	Info        ipsec.IKESAInfo // what is known of the SA so far
	Err         error           // the error behind it, if any
	Explanation string          // for AlertNoProposal: both sides' proposals
}
