package ike

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
)

// Responder accepts IKE SAs from initiators: remote-access clients or
// other gateways (RFC 7296, the responder side).
//
// Lifecycle: NewResponder registers with the transport at once, and what
// arrives before Serve is held (up to earlyPackets messages) and answered
// when Serve starts, so a peer that sends right after `go srv.Serve(ctx)`
// loses nothing. Ready is closed when Serve accepts. Serve runs until its
// ctx ends, Shutdown (graceful: peers are told and answer) or Close
// (immediate).
type Responder struct {
	e *engine

	phase atomic.Int32 // phaseNew, phaseServing, phaseDraining, phaseClosed
	mu    sync.Mutex   // guards early and the phase changes
	early []Packet     // received before Serve (phaseNew)
	held  int          // bytes in early
	ready chan struct{}
	// stop is closed by Shutdown and Close to end Serve; stopped when
	// the engine's SAs are gone.
	stop, stopped chan struct{}
	stopOnce      sync.Once
	stopErr       error // Shutdown's result, set before stopped closes
}

const (
	phaseNew int32 = iota
	phaseServing
	phaseDraining
	phaseClosed
)

// earlyPackets and earlyBytes bound the messages held between
// NewResponder and Serve: enough for a burst of first IKE_SA_INIT
// requests, little memory if Serve never comes.
const (
	earlyPackets = 64
	earlyBytes   = 256 << 10
)

// NewResponder returns a responder on conn. WithPeers is required. It
// registers with conn at once (see Responder for what happens before
// Serve).
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
	r := &Responder{e: newEngine(conn, cfg, true), ready: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
	// Registered now, not in Serve: what arrives in between is held (see
	// receive), so a Dial right after `go Serve` loses nothing. A second
	// responder on the transport is refused here.
	if err := r.e.register(r.receive); err != nil {
		r.e.shutdown(context.Background()) // no SAs yet: detaches the data plane's events
		return nil, err
	}
	return r, nil
}

// receive is the transport's handler: it holds messages until Serve,
// passes them on while serving and drops new IKE_SA_INIT requests while
// draining (the engine refuses them as closed).
func (r *Responder) receive(p Packet) {
	if r.phase.Load() == phaseNew {
		r.mu.Lock()
		if r.phase.Load() == phaseNew {
			if len(r.early) < earlyPackets && r.held+len(p.Data) <= earlyBytes {
				r.early = append(r.early, p)
				r.held += len(p.Data)
			} else {
				r.e.stats.dropped.Add(1)
			}
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
	if r.phase.Load() == phaseClosed {
		r.e.stats.dropped.Add(1)
		return
	}
	r.e.receive(p)
}

// Ready is closed once Serve accepts IKE SAs and has handed on what was
// held for it. Messages that arrive earlier are not lost (see
// Responder); Ready is for an embedder that reports its own readiness,
// such as a service manager's notification.
func (r *Responder) Ready() <-chan struct{} { return r.ready }

// Serve answers peers until ctx ends, Shutdown or Close; it first answers
// what arrived since NewResponder. When ctx ends it deletes every SA,
// telling the peers with one Delete each without waiting for their
// answers, and returns ctx's error. After Shutdown or Close it returns
// ErrClosed once the SAs are gone, like net/http's ErrServerClosed. A
// responder serves once: a second call, or one after Shutdown or Close,
// returns an error at once.
func (r *Responder) Serve(ctx context.Context) error {
	r.mu.Lock()
	if r.phase.Load() != phaseNew {
		r.mu.Unlock()
		return fmt.Errorf("%w: Serve: the responder is serving or was shut down", ErrClosed)
	}
	early := r.early
	r.early = nil
	r.phase.Store(phaseServing)
	r.mu.Unlock()
	for _, p := range early {
		r.e.receive(p)
	}
	close(r.ready)
	select {
	case <-ctx.Done():
		r.closeNow()
		<-r.stopped // a Shutdown under way finishes first
		return ctx.Err()
	case <-r.stop:
		<-r.stopped
		return ErrClosed
	}
}

// Shutdown ends the responder gracefully: it stops accepting IKE_SA_INIT
// requests, deletes every established IKE SA telling the peer and waiting
// for its answer (as Terminate does, all at once), drops half-open SAs,
// and returns when all are gone, or when ctx ends: then the rest are
// removed without waiting and ctx's error is returned. Serve then returns
// ErrClosed. Shutdown may be called without Serve; later calls wait for
// the first and return its result.
func (r *Responder) Shutdown(ctx context.Context) error {
	first := false
	r.stopOnce.Do(func() {
		first = true
		r.mu.Lock()
		r.early = nil
		r.phase.Store(phaseDraining)
		r.mu.Unlock()
		close(r.stop)
	})
	if !first {
		select {
		case <-r.stopped:
			return r.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.e.mu.Lock()
	r.e.closed = true // no new IKE SAs: IKE_SA_INIT, rekeys and reauthentications are refused
	r.e.mu.Unlock()
	var wg sync.WaitGroup
	for _, sa := range r.e.running() {
		wg.Go(func() { r.e.terminate(ctx, sa, nil) })
	}
	wg.Wait()
	err := ctx.Err()
	r.finish(err)
	return err
}

// Close ends the responder at once: every SA is removed from the data
// plane, its leases released and IKEDown run; established peers get one
// Delete, unacknowledged. Serve returns ErrClosed. It returns nil; later
// calls do nothing.
func (r *Responder) Close() error {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.early = nil
		r.phase.Store(phaseDraining)
		r.mu.Unlock()
		close(r.stop)
		r.finish(nil)
	})
	return nil
}

// closeNow is Serve's end when its ctx ends.
func (r *Responder) closeNow() {
	r.stopOnce.Do(func() {
		r.phase.Store(phaseDraining)
		close(r.stop)
		r.finish(nil)
	})
}

// finish removes what is left, detaches the engine and marks the
// responder closed.
func (r *Responder) finish(err error) {
	sctx, cancel := context.WithTimeout(context.Background(), dpTimeout)
	defer cancel()
	r.e.shutdown(sctx)
	r.stopErr = err
	r.phase.Store(phaseClosed)
	close(r.stopped)
}

// SAs returns snapshots of the current IKE SAs.
func (r *Responder) SAs() []ipsec.IKESAInfo {
	var out []ipsec.IKESAInfo
	for _, sa := range r.e.running() {
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

// running returns the IKE SAs whose goroutine was started. The table
// also holds the new IKE SA an IKE rekey reserved until its exchange
// completes (or fails, and it never runs): a command sent to it would
// wait for that, or forever.
func (e *engine) running() []*ikeSA {
	all := e.list()
	out := all[:0]
	for _, sa := range all {
		if sa.started.Load() {
			out = append(out, sa)
		}
	}
	return out
}

// Redirect asks the peer of every established IKE SA for which match
// returns true to move to gateway gw (RFC 5685 section 6, for load
// balancing or maintenance): an INFORMATIONAL request with REDIRECT; the
// client sets up a new IKE SA there and deletes this one. It returns how
// many SAs were asked. Only peers that announced REDIRECT_SUPPORTED are
// asked.
func (r *Responder) Redirect(ctx context.Context, gw netip.Addr, match func(ipsec.IKESAInfo) bool) int {
	n := 0
	for _, sa := range r.e.running() {
		asked := false
		err := sa.do(ctx, func() {
			if sa.state != stateEstablished || !sa.peerRedirect || !match(sa.info()) {
				return
			}
			asked = true
			sa.queueRequest(&request{exchange: wire.INFORMATIONAL,
				build: func() ([]wire.Payload, error) {
					return []wire.Payload{&wire.Notify{Type: wire.REDIRECT, Data: gwIdentity(gw)}}, nil
				},
				onReply: func(*wire.Message, []wire.Payload) error { return nil }})
		})
		if err == nil && asked {
			n++
		}
	}
	return n
}

// Rekey starts rekeying (scope) every established IKE SA for which match
// returns true, and returns how many were started. Rekeying a Windows
// client's CHILD SAs from the gateway fails behind a NAT (see
// ChildConfig.RekeyTime); IKE SA rekeys work with every native client.
func (r *Responder) Rekey(ctx context.Context, scope RekeyScope, match func(ipsec.IKESAInfo) bool) int {
	n := 0
	for _, sa := range r.e.running() {
		ok := false
		err := sa.do(ctx, func() {
			if sa.state == stateEstablished && match(sa.info()) {
				ok = sa.rekeyNow(scope)
			}
		})
		if err == nil && ok {
			n++
		}
	}
	return n
}

// Terminate ends the session id (ipsec.IKESAInfo.SessionID, as in SAs and
// every hook): the peer gets an INFORMATIONAL Delete for the IKE SA, and
// when it answered, after a short wait (terminateWait) or when ctx ends,
// the CHILD SAs leave the data plane, the addresses go back to their
// pools and IKEDown runs with ErrTerminated. It returns once the session
// is gone, nil also when the peer did not answer, or an error wrapping
// ErrSANotFound for an unknown or ended session.
func (r *Responder) Terminate(ctx context.Context, id uint64) error {
	if id == 0 || len(r.e.bySession(id)) == 0 {
		return fmt.Errorf("%w: %d", ErrSANotFound, id)
	}
	r.e.terminateSession(ctx, id, ErrTerminated)
	return nil
}

// TerminateMatching ends, as Terminate does and concurrently, every
// session with an IKE SA for which match returns true, and returns how
// many sessions it ended. match runs on the caller's goroutine with
// snapshots as SAs returns them.
func (r *Responder) TerminateMatching(ctx context.Context, match func(ipsec.IKESAInfo) bool) int {
	ids := map[uint64]bool{}
	for _, info := range r.SAs() {
		if info.SessionID != 0 && match(info) {
			ids[info.SessionID] = true
		}
	}
	var wg sync.WaitGroup
	for id := range ids {
		wg.Go(func() { r.e.terminateSession(ctx, id, ErrTerminated) })
	}
	wg.Wait()
	return len(ids)
}

// TerminateUser ends the sessions of the user name: the peers that proved
// name with EAP (ipsec.IKESAInfo.EAPIdentity) and, among peers without
// EAP, those whose IKE identity prints as name. It returns how many
// sessions it ended.
//
// Removing a user from an ipsec.Users store does not end its sessions by
// itself (a store may serve several engines, and an embedder may want to
// let a session run out): call TerminateUser after Users.Delete to revoke
// an account at once.
func (r *Responder) TerminateUser(ctx context.Context, name string) int {
	return r.TerminateMatching(ctx, func(i ipsec.IKESAInfo) bool {
		return i.EAPIdentity == name || i.EAPIdentity == "" && i.RemoteID.String() == name
	})
}
