package esp

import (
	"context"
	"fmt"
	"time"
)

// DataPlane is what the IKE engines drive: it holds the SAs and policies
// they negotiate and reports back when an SA reaches a lifetime limit or a
// policy needs an SA that does not exist yet. The userspace engine
// (NewUserspace) and the Linux XFRM implementation (package xfrm) satisfy
// it; esptest.DataPlane records calls for engine tests.
//
// Rekeying without loss (make before break): the IKE engine adds the new
// inbound SA first, so the peer may switch at once; adding the new outbound
// SA with the same ReqID makes it the one used for sending (the newest
// outbound SA of a ReqID wins, as in XFRM); the old SAs keep working until
// DeleteSA removes them.
//
// Implementations are safe for concurrent use.
type DataPlane interface {
	// AddSA installs sa. It fails with ErrSAExists when sa.ID() is taken.
	AddSA(ctx context.Context, sa *SA) error
	// UpdateSA changes the outer addresses, UDP encapsulation ports,
	// lifetimes and NAT keepalive flag of the installed SA id to those in
	// sa (MOBIKE and NAT rebinding, RFC 4555 and RFC 3948). Keys,
	// algorithms, SPI and direction cannot change: that is a rekey.
	UpdateSA(ctx context.Context, id SAID, sa *SA) error
	// DeleteSA removes an SA; ErrSANotFound if it is not installed.
	DeleteSA(ctx context.Context, id SAID) error
	// AddPolicy installs p; ErrPolicyExists when a policy with the same
	// Dir, Src, Dst (and IfID, where the data plane has interface IDs)
	// and ReqID is installed. A policy with the same selectors but
	// another ReqID (two peers that negotiated identical traffic
	// selectors) is accepted and takes over the traffic, as strongSwan
	// does: the newest carries it, the older ones wait below it.
	AddPolicy(ctx context.Context, p Policy) error
	// DeletePolicy removes the policy with p's Dir, Src, Dst and ReqID;
	// when it carried the traffic, the newest remaining policy of the same
	// selectors takes over.
	DeletePolicy(ctx context.Context, p Policy) error
	// SAStats returns a snapshot of the SA's counters.
	SAStats(id SAID) (SAStats, error)
	// Events delivers expiry and acquire events. The channel is buffered;
	// when the reader falls behind, events are dropped and counted, never
	// blocking the data path. It is closed by Close.
	Events() <-chan Event
	// Close removes all state and releases the data plane's resources.
	Close() error
}

// SAStats is a snapshot of one SA's counters.
type SAStats struct {
	Bytes   uint64    // inner payload bytes sent or accepted
	Packets uint64    // packets sent or accepted
	LastUse time.Time // last packet (zero if none): DPD and idle timeouts use it
	// ReplayDrops and AuthFailures are inbound-only rejections.
	ReplayDrops  uint64
	AuthFailures uint64
	// Seq is the last sequence number sent (outbound) or the highest
	// accepted (inbound), 64 bits with ESN.
	Seq uint64
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventSoftExpire: a soft lifetime limit was reached; rekey now.
	EventSoftExpire EventKind = iota + 1
	// EventHardExpire: a hard limit was reached; the SA has been removed.
	EventHardExpire
	// EventAcquire: an outbound packet matched a protect policy whose
	// ReqID has no outbound SA; negotiate one (RFC 4301 section 5.1).
	EventAcquire
)

// String returns the event kind's name.
func (k EventKind) String() string {
	switch k {
	case EventSoftExpire:
		return "soft-expire"
	case EventHardExpire:
		return "hard-expire"
	case EventAcquire:
		return "acquire"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is a notification from the data plane to the IKE engine.
type Event struct {
	// Kind says what happened.
	Kind  EventKind
	SA    SAID   // expiry events: the SA
	ReqID uint32 // the SA's or policy's ReqID
	// Stats are, for expiry events, the SA's counters when it expired:
	// after a hard expiry, which removed the SA, the last ones there are
	// (accounting adds them, SAStats no longer can).
	Stats SAStats
	// Policy, Src and Dst describe acquire events: the policy that
	// matched and the triggering packet's source and destination (single
	// address, protocol and port each), which the IKE engine sends as the
	// first traffic selectors of TSi/TSr (RFC 7296 section 2.9).
	Policy   Policy
	Src, Dst Selector
	// Packet repeats Dst. It predates Src and Dst and is kept for
	// compatibility; both data planes set all three.
	Packet Selector
}

// String describes the event.
func (e Event) String() string {
	if e.Kind == EventAcquire {
		return fmt.Sprintf("esp event acquire reqid=%d packet %s -> %s policy {%s}", e.ReqID, e.Src, e.Dst, &e.Policy)
	}
	return fmt.Sprintf("esp event %s %s reqid=%d", e.Kind, e.SA, e.ReqID)
}
