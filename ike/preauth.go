package ike

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// Pre-authentication cost: what an unauthenticated peer can make the
// responder spend. Before IKE_AUTH proves who a peer is, the responder
// bounds, per source and in total, the half-open SAs it keeps (cookies
// first, then drops, as strongSwan's cookie_threshold_ip and
// block_threshold do) and the explanations and log lines it writes for
// refused proposals. The per-source table only holds sources with
// half-open SAs, so it is bounded by the half-open maximum.

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

// countHalfOpen counts a new half-open SA of the source of remote. The
// caller holds mu.
func (e *engine) countHalfOpen(sa *ikeSA, remote netip.AddrPort) {
	sa.countedHalfOpen = true
	sa.halfOpenSrc = sourceKey(remote.Addr())
	e.halfOpen++
	e.halfOpenBySrc[sa.halfOpenSrc]++
}

// uncountHalfOpen ends an SA's half-open accounting. The caller holds
// mu.
func (e *engine) uncountHalfOpen(sa *ikeSA) {
	if sa.countedHalfOpen {
		sa.countedHalfOpen = false
		e.halfOpen--
		if e.halfOpenBySrc[sa.halfOpenSrc]--; e.halfOpenBySrc[sa.halfOpenSrc] <= 0 {
			delete(e.halfOpenBySrc, sa.halfOpenSrc)
		}
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
func (e *engine) reportMismatch(remote netip.AddrPort, err error) {
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
	f(Alert{Kind: AlertProposalMismatch, Err: err, Detail: detail})
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
