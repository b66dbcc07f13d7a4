package ike

import (
	"context"
	"errors"
	"fmt"

	"github.com/goipsec/ipsec"
)

// Responder accepts IKE SAs from initiators: remote-access clients or
// other gateways (RFC 7296, the responder side).
type Responder struct {
	e *engine
}

// NewResponder returns a responder on conn. WithPeers is required.
func NewResponder(conn Conn, opts ...Option) (*Responder, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if conn == nil {
		return nil, errors.New("ike: NewResponder: nil transport")
	}
	if cfg.peers == nil {
		return nil, errors.New("ike: NewResponder: WithPeers is required")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Responder{e: newEngine(conn, cfg, true)}, nil
}

// Serve registers the responder with the transport and answers peers
// until ctx ends; then it deletes every SA (telling the peers), leaves the
// transport and returns ctx's error. It fails at once if the transport
// already has an IKEv2 responder. Initiators may share the transport.
func (r *Responder) Serve(ctx context.Context) error {
	if err := r.e.register(r.e.receive); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), dpTimeout)
	defer cancel()
	r.e.shutdown(sctx)
	return ctx.Err()
}

// SAs returns snapshots of the current IKE SAs.
func (r *Responder) SAs() []ipsec.IKESAInfo {
	var out []ipsec.IKESAInfo
	for _, sa := range r.e.list() {
		var info ipsec.IKESAInfo
		if sa.do(context.Background(), func() { info = sa.info() }) == nil {
			out = append(out, info)
		}
	}
	return out
}

// Stats are responder counters.
type Stats struct {
	HalfOpen    int    // IKE SAs between IKE_SA_INIT and IKE_AUTH
	CookiesSent uint64 // COOKIE notifications sent (RFC 7296 section 2.6)
	Rejected    uint64 // IKE_SA_INIT requests refused (limits, bad proposals, syntax)
	Dropped     uint64 // packets dropped (malformed, unknown SPI, queue full)
	// Blocked counts IKE_SA_INIT requests dropped by the per-source
	// limits: too many half-open SAs (WithSourceLimits) or failed
	// authentications (WithAuthFailureLimit).
	Blocked uint64
	// KeyExchangeDropped counts IKE_SA_INIT requests dropped because the
	// key exchange queue was full (WithKeyExchangeLimits).
	KeyExchangeDropped uint64
}

// Stats returns the responder's counters.
func (r *Responder) Stats() Stats {
	r.e.mu.Lock()
	h := r.e.halfOpen
	r.e.mu.Unlock()
	return Stats{HalfOpen: h, CookiesSent: r.e.stats.cookiesSent.Load(), Rejected: r.e.stats.rejected.Load(), Dropped: r.e.stats.dropped.Load(),
		Blocked: r.e.stats.blocked.Load(), KeyExchangeDropped: r.e.stats.kexDropped.Load()}
}

// String summarizes the counters.
func (s Stats) String() string {
	return fmt.Sprintf("half-open %d, cookies sent %d, rejected %d, dropped %d, blocked %d, key exchanges dropped %d",
		s.HalfOpen, s.CookiesSent, s.Rejected, s.Dropped, s.Blocked, s.KeyExchangeDropped)
}
