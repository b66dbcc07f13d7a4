package ike

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
)

// SendRawRequest is a test hook: it sends a request of exchange exch whose
// encrypted part holds the payloads parsed from raw (first payload type
// first) over the established SA, as an authenticated but hostile peer
// could, and returns when the response arrived. Fuzzing uses it to reach
// the processing behind the integrity check.
func (s *SA) SendRawRequest(ctx context.Context, exch wire.ExchangeType, first wire.PayloadType, raw []byte) error {
	ps, err := wire.ParsePayloads(first, raw)
	if err != nil {
		return err
	}
	sa := s.sa()
	done := make(chan struct{})
	if err := sa.do(ctx, func() {
		if sa.state != stateEstablished {
			err = fmt.Errorf("%w: not established", ErrClosed)
			close(done)
			return
		}
		sa.queueRequest(&request{exchange: exch,
			abort:   func(error) { close(done) },
			build:   func() ([]wire.Payload, error) { return ps, nil },
			onReply: func(*wire.Message, []wire.Payload) error { close(done); return nil }})
	}); err != nil {
		return err
	}
	select {
	case <-done:
		return err
	case <-sa.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SendHalfOpenRequest is a test hook: each IKE SA of in that finished
// IKE_SA_INIT but not IKE_AUTH sends a request of exchange exch carrying
// inner under its keys, with the message ID the responder expects next
// (that of the IKE_AUTH request in flight, if any), as a peer that has the
// keys but has not authenticated could. It returns how many SAs sent.
func (in *Initiator) SendHalfOpenRequest(ctx context.Context, exch wire.ExchangeType, inner []wire.Payload) (int, error) {
	n := 0
	for _, sa := range in.e.list() {
		var err error
		if derr := sa.do(ctx, func() {
			if sa.state != stateAuth {
				return
			}
			mid := sa.ex.nextMID
			if sa.ex.pending != nil {
				mid = sa.ex.pending.mid
			}
			var pkts [][]byte
			if pkts, err = sa.encode(exch, false, mid, inner); err == nil {
				sa.sendPackets(pkts)
				n++
			}
		}); derr != nil {
			return n, derr
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// WithNonceLen is a test hook: the engine sends nonces of n.Load() bytes
// (0: the default), so a test can play a peer with short nonces.
func WithNonceLen(n *atomic.Int32) Option { return func(c *config) { c.nonceLen = n } }

// WithSecretObserver is a test hook: f is told of every buffer holding a
// secret the engine owns and must wipe after use (DH shared secrets, the
// per-SA PSK and EAP password copies, EAP MSKs). It runs on SA
// goroutines.
func WithSecretObserver(f func(kind string, b []byte)) Option {
	return func(c *config) { c.onSecret = f }
}

// IdleFootprint is a test hook: for each running IKE SA of r, what it
// holds that only the initial exchanges or a pending deadline need (the
// raw IKE_SA_INIT messages, the nonces, SK_pi/SK_pr, an armed timer,
// the SK ciphers built, a reassembler),
// and whether its loop has a goroutine or queued events.
func (r *Responder) IdleFootprint() []string {
	var out []string
	for _, sa := range r.e.running() {
		sa.do(context.Background(), func() {
			var held []string
			if sa.initReq != nil || sa.initResp != nil {
				held = append(held, "IKE_SA_INIT messages")
			}
			if sa.ni != nil || sa.nr != nil {
				held = append(held, "nonces")
			}
			if sa.keys != nil && (sa.keys.SKpi != nil || sa.keys.SKpr != nil) {
				held = append(held, "SK_p")
			}
			if sa.timer != nil {
				held = append(held, "timer")
			}
			if sa.ex.lastResp != nil {
				held = append(held, "cached response")
			}
			for _, c := range []alg.Crypter{sa.ex.in, sa.ex.out} {
				if s, ok := c.(*skCrypter); !ok || s.c != nil {
					held = append(held, "SK cipher")
					break
				}
			}
			if sa.ex.reqFrags != nil || sa.ex.respFrags != nil {
				held = append(held, "reassembler")
			}
			if held != nil {
				out = append(out, fmt.Sprintf("%s: %v", sa.name(), held))
			}
		})
	}
	return out
}

// ArmedTimers is a test hook: how many of r's IKE SAs have a timer armed
// (the ones that will wake without a packet or a command).
func (r *Responder) ArmedTimers() int {
	n := 0
	for _, sa := range r.e.running() {
		sa.do(context.Background(), func() {
			if sa.timer != nil && sa.timerAt != 0 {
				n++
			}
		})
	}
	return n
}

// SharedState is a test hook: how many distinct PeerConfig and negotiated
// proposal copies the responder's established SAs and their CHILD SAs
// hold (intern.go shares equal ones).
func (r *Responder) SharedState() (configs, ikeProps, childProps int) {
	cs := map[*PeerConfig]bool{}
	ip := map[any]bool{}
	cp := map[any]bool{}
	for _, sa := range r.e.running() {
		_ = sa.do(context.Background(), func() {
			if sa.state != stateEstablished {
				return
			}
			cs[sa.cfg] = true
			ip[sa.prop] = true
			for _, c := range sa.children {
				cp[c.prop] = true
			}
		})
	}
	return len(cs), len(ip), len(cp)
}

// ExpireCachedResponses is a test hook: every SA of the responder does
// now what it does respCacheTTL after its last response (drops the cached
// response and, with nothing else due, its timer), so that a benchmark
// can measure the SAs as they idle for hours without waiting minutes.
func (r *Responder) ExpireCachedResponses() {
	for _, sa := range r.e.running() {
		_ = sa.do(context.Background(), func() {
			sa.ex.expireResponse(sa.ex.respCacheUntil())
			sa.armTimer()
		})
	}
}
