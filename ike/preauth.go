package ike

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// Pre-authentication cost: what an unauthenticated peer can make the
// responder spend. Before IKE_AUTH proves who a peer is, the responder
// bounds, per source and in total, the half-open SAs it keeps (cookies
// first, then drops, as strongSwan's cookie_threshold_ip and
// block_threshold do), the Diffie-Hellman work it queues, the sources
// whose IKE_AUTH keeps failing, and the explanations and log lines it
// writes for refused proposals. Every table here is bounded, so many
// source addresses cannot grow them without limit either: the per-source
// half-open counts by the half-open maximum, the failed-authentication
// table by maxAuthFailSources, the key exchange queue by its size.

// sourceKey is the unit the per-source limits count: an IPv4 address, or
// the /64 of an IPv6 address (the block one subscriber usually gets, so
// that an attacker with a /64 counts once, not 2^64 times).
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a.WithZone("")
}

// rateLimiter is a token bucket: up to burst events at once, refilled
// at one per interval. It counts what it refuses so the next allowed
// log line can say how much was suppressed.
type rateLimiter struct {
	interval time.Duration
	burst    float64

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed uint64
}

func newRateLimiter(interval time.Duration, burst int) *rateLimiter {
	return &rateLimiter{interval: interval, burst: float64(burst), tokens: float64(burst)}
}

// allow reports whether an event at now may pass and, if so, how many
// were refused since the last one that passed.
func (l *rateLimiter) allow(now time.Time) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.interval))
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// Rates of what the read loop writes for hostile requests: a few at
// once, then one a second. An explanation of a hostile list costs about
// a millisecond even cut by boundMismatch (BenchmarkMismatchExplain).
const (
	logInterval     = time.Second
	logBurst        = 5
	explainInterval = time.Second
	explainBurst    = 5
)

// maxAuthFailSources bounds the failed-authentication table (about 64
// bytes an entry). When it is full of live entries, further sources are
// not tracked until entries expire: the limit fails open for new
// sources rather than forgetting the ones already blocked.
const maxAuthFailSources = 16384

// authFailures counts failed IKE_AUTH attempts per source in fixed
// windows.
type authFailures struct {
	limit  int
	window time.Duration

	mu        sync.Mutex
	m         map[netip.Addr]authFailEntry
	lastSweep time.Time
}

type authFailEntry struct {
	start        time.Time // of the current window
	n            int       // failures in it
	blockedUntil time.Time
}

func (en authFailEntry) expired(now time.Time, window time.Duration) bool {
	return !now.Before(en.start.Add(window)) && !now.Before(en.blockedUntil)
}

func newAuthFailures(limit int, window time.Duration) *authFailures {
	return &authFailures{limit: limit, window: window, m: map[netip.Addr]authFailEntry{}}
}

// blocked reports whether src's IKE_SA_INIT requests are to be dropped.
func (a *authFailures) blocked(src netip.Addr, now time.Time) bool {
	if a.limit == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	en, ok := a.m[src]
	return ok && now.Before(en.blockedUntil)
}

// record counts one failure of src and reports whether src is blocked
// from now on.
func (a *authFailures) record(src netip.Addr, now time.Time) bool {
	if a.limit == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	en, ok := a.m[src]
	if !ok && len(a.m) >= maxAuthFailSources {
		a.sweep(now)
		if len(a.m) >= maxAuthFailSources {
			return false
		}
	}
	if !ok || !now.Before(en.start.Add(a.window)) {
		en.start, en.n = now, 0
	}
	en.n++
	if en.n >= a.limit {
		en.blockedUntil = now.Add(a.window)
	}
	a.m[src] = en
	return en.n >= a.limit
}

// sweep removes expired entries, at most once a second so that a full
// table of live entries does not make every failure walk it. The caller
// holds mu.
func (a *authFailures) sweep(now time.Time) {
	if !a.lastSweep.IsZero() && now.Sub(a.lastSweep) < time.Second {
		return
	}
	a.lastSweep = now
	for k, en := range a.m {
		if en.expired(now, a.window) {
			delete(a.m, k)
		}
	}
}

// size returns the number of tracked sources.
func (a *authFailures) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// kexPool bounds the responder's IKE_SA_INIT key exchange work. The read
// loop admits a request only if a queue slot is free (reserve); the SA
// goroutine then computes under one of the worker slots. Waiting SA
// goroutines are parked on a channel and cost no CPU, so a flood of
// expensive groups queues up to queue computations and runs at most
// workers of them at once, leaving the socket reader free to answer
// others.
type kexPool struct {
	queue   chan struct{}
	workers chan struct{}
}

func newKexPool(workers, queue int) *kexPool {
	if workers == 0 {
		workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return &kexPool{queue: make(chan struct{}, queue), workers: make(chan struct{}, workers)}
}

// reserve takes a queue slot without blocking.
func (k *kexPool) reserve() bool {
	select {
	case k.queue <- struct{}{}:
		return true
	default:
		return false
	}
}

func (k *kexPool) unreserve() { <-k.queue }

// run computes f under a worker slot, waiting for one until ctx ends.
func (k *kexPool) run(ctx context.Context, f func()) error {
	select {
	case k.workers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-k.workers }()
	f()
	return nil
}

// countHalfOpen counts a new half-open SA of the source of remote. The
// caller holds mu.
func (e *engine) countHalfOpen(sa *ikeSA, remote netip.AddrPort) {
	sa.countedHalfOpen = true
	sa.halfOpenSrc = sourceKey(remote.Addr())
	e.halfOpen++
	e.halfOpenBySrc[sa.halfOpenSrc]++
}

// uncountHalfOpen ends an SA's half-open accounting and gives back a key
// exchange queue slot it still holds. The caller holds mu.
func (e *engine) uncountHalfOpen(sa *ikeSA) {
	if sa.countedHalfOpen {
		sa.countedHalfOpen = false
		e.halfOpen--
		if e.halfOpenBySrc[sa.halfOpenSrc]--; e.halfOpenBySrc[sa.halfOpenSrc] <= 0 {
			delete(e.halfOpenBySrc, sa.halfOpenSrc)
		}
	}
	if sa.kexQueued {
		sa.kexQueued = false
		e.kex.unreserve()
	}
}

// releaseKex gives back sa's key exchange queue slot, if it holds one.
func (e *engine) releaseKex(sa *ikeSA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sa.kexQueued {
		sa.kexQueued = false
		e.kex.unreserve()
	}
}

// blockInit drops an IKE_SA_INIT request refused by a per-source limit:
// counted always, logged at most at logInterval.
func (e *engine) blockInit(p Packet, reason string) {
	e.stats.blocked.Add(1)
	if !e.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	if ok, suppressed := e.blockLog.allow(time.Now()); ok {
		e.log.Warn("peer too aggressive, dropping IKE_SA_INIT", "peer", p.Remote.String(), "reason", reason, "suppressed", suppressed)
	}
}

// noteAuthFailure counts a failed IKE_AUTH of a responder SA against the
// source it came from (the address the IKE_SA_INIT response reached, so
// not a spoofed one).
func (e *engine) noteAuthFailure(sa *ikeSA, err error) {
	var ne *NotifyError
	if sa.weInitiated || !errors.As(err, &ne) || ne.Remote || ne.Type != wire.AUTHENTICATION_FAILED {
		return
	}
	if errors.Is(err, ErrIdentityLimit) || errors.Is(err, errNotAuthorized) {
		// An account at its limit or refused by Hooks.Authorize (a valid
		// login) is not a guess: it must not get its NAT address blocked
		// for every other user behind it.
		return
	}
	src := sourceKey(sa.initRemote.Addr())
	if e.authFails.record(src, time.Now()) && e.log.Enabled(context.Background(), slog.LevelWarn) {
		if ok, suppressed := e.blockLog.allow(time.Now()); ok {
			e.log.Warn("too many failed authentications, dropping IKE_SA_INIT from this source for a while", "peer", sa.initRemote.Addr().String(),
				"window", e.cfg.authFailWindow.String(), "suppressed", suppressed)
		}
	}
}

// Bounds of the proposal-mismatch report made on the read loop: real
// clients send at most about a dozen proposals of a few dozen transforms.
const (
	maxReportedProposals  = 16
	maxReportedTransforms = 32 // per transform type and proposal
)

// reportMismatch tells the log and the Alert hook that an IKE_SA_INIT
// request's proposals matched none of ours. It runs on the socket read
// loop, where the full analysis of a hostile 64 KB SA payload costs
// milliseconds: the error is cut to maxReportedProposals proposals of
// maxReportedTransforms transforms of each type, the warning is written
// at most at logInterval, and the explanation (Alert.Detail) is built
// only for an Alert hook and at most at explainInterval; beyond that
// Detail says it was suppressed. The Alert itself always fires.
func (e *engine) reportMismatch(info ipsec.IKESAInfo, err error) {
	remote := info.Remote
	f := e.cfg.hooks.Alert
	logging := e.log.Enabled(context.Background(), slog.LevelWarn)
	if f == nil && !logging {
		return
	}
	var mm *proposal.MismatchError
	note := ""
	if errors.As(err, &mm) {
		n := len(mm.Peer)
		var cut bool
		if mm, cut = boundMismatch(mm); cut {
			note = fmt.Sprintf("(the peer sent %d proposals; the first %d of them, with at most %d transforms of each type, are analysed)\n", n, len(mm.Peer), maxReportedTransforms)
		}
		err = mm
	}
	now := time.Now()
	if logging {
		if ok, suppressed := e.mismatchLog.allow(now); ok {
			e.log.Warn("IKE proposal mismatch", "peer", remote.String(), "notify", wire.NO_PROPOSAL_CHOSEN.String(), "err", err, "suppressed", suppressed)
		}
	}
	if f == nil {
		return
	}
	detail := "explanation suppressed: too many proposal mismatches at once"
	if ok, _ := e.explainLimit.allow(now); ok {
		if mm != nil {
			detail = note + mm.Explain()
		} else {
			detail = err.Error()
		}
	}
	f(Alert{Kind: AlertProposalMismatch, Err: err, Detail: detail, Info: info})
}

// boundMismatch returns mm with the peer's list cut to what the report
// covers (a copy, if anything was cut), and whether anything was cut.
func boundMismatch(mm *proposal.MismatchError) (*proposal.MismatchError, bool) {
	peer := mm.Peer
	cut := len(peer) > maxReportedProposals
	peer = peer[:min(len(peer), maxReportedProposals)]
	out := make(proposal.List, len(peer))
	for i, p := range peer {
		q := proposal.Proposal{Number: p.Number, Protocol: p.Protocol, SPI: p.SPI}
		q.Encr, cut = capSlice(p.Encr, cut)
		q.PRF, cut = capSlice(p.PRF, cut)
		q.Integ, cut = capSlice(p.Integ, cut)
		q.KE, cut = capSlice(p.KE, cut)
		q.ESN, cut = capSlice(p.ESN, cut)
		for t := range p.AddKE {
			q.AddKE[t], cut = capSlice(p.AddKE[t], cut)
		}
		q.Unknown, cut = capSlice(p.Unknown, cut)
		out[i] = q
	}
	if !cut {
		return mm, false
	}
	return &proposal.MismatchError{Local: mm.Local, Peer: out, Options: mm.Options}, true
}

func capSlice[T any](s []T, cut bool) ([]T, bool) {
	if len(s) > maxReportedTransforms {
		return s[:maxReportedTransforms:maxReportedTransforms], true
	}
	return s, cut
}

// admission is what a responder SA counts against the engine's limits
// (preauth.go, rekey.go) and gives back when it is established or ends.
type admission struct {
	countedHalfOpen   bool
	halfOpenSrc       netip.Addr // source key counted while countedHalfOpen
	kexQueued         bool       // holds a slot of the engine's key exchange queue
	countedSuperseded bool       // counted in engine.superseded
}
