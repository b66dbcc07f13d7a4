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
// responder spend on its socket read loop. A refused proposal list is
// reported with bounded work and at a bounded rate.

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
