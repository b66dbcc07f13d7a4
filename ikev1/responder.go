package ikev1

import (
	"context"
	"fmt"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/transport"
)

// Responder answers IKEv1 peers: Main and Aggressive Mode, Quick Mode,
// Informational exchanges (Delete, DPD). It shares its transport with the
// IKEv2 engines of package ike (messages are routed by version).
type Responder struct {
	e *engine
}

// NewResponder registers a responder on conn (a *transport.Transport or
// ike.Transport) at once: messages that arrive before Serve are kept.
// WithPeers is required.
func NewResponder(conn transport.Conn, opts ...Option) (*Responder, error) {
	e, err := newEngine(conn, true, opts)
	if err != nil {
		return nil, err
	}
	return &Responder{e: e}, nil
}

// Serve runs until ctx ends, then closes the responder (deleting its SAs).
func (r *Responder) Serve(ctx context.Context) error {
	<-ctx.Done()
	r.Close()
	return ctx.Err()
}

// Close deletes every SA, telling the peers, and unregisters from the
// transport. It is idempotent.
func (r *Responder) Close() error {
	r.e.close()
	return nil
}

// SAs returns snapshots of the established ISAKMP SAs with their IPsec
// SAs and counters.
func (r *Responder) SAs() []ipsec.IKESAInfo { return r.e.infos() }

// Terminate deletes the ISAKMP SA of a session (ipsec.IKESAInfo.SessionID)
// and its IPsec SAs, telling the peer.
func (r *Responder) Terminate(sessionID uint64) error {
	for _, sa := range r.e.list() {
		if sa.session == sessionID {
			sa.closeAndWait()
			return nil
		}
	}
	return fmt.Errorf("ikev1: Terminate: no session %d", sessionID)
}
