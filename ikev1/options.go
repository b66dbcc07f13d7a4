package ikev1

import (
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/goipsec/ipsec/esp"
)

// Option configures a Responder or an Initiator.
type Option func(*config)

type config struct {
	peers    PeerLookup
	dp       esp.DataPlane
	log      *slog.Logger
	rand     io.Reader
	now      func() time.Time
	hooks    Hooks
	keylog   io.Writer
	halfOpen int
	retrans  []time.Duration
	natKeep  time.Duration
}

func defaultConfig() config {
	return config{
		log:      slog.New(slog.DiscardHandler),
		rand:     rand.Reader,
		now:      time.Now,
		halfOpen: 1000,
		// strongSwan's default: 4 s, then x1.8, five retransmissions.
		retrans: []time.Duration{4 * time.Second, 7200 * time.Millisecond, 13 * time.Second, 23 * time.Second, 42 * time.Second},
		natKeep: 20 * time.Second,
	}
}

// WithPeers sets how a responder finds the configuration for a peer.
// Required for a Responder.
func WithPeers(f PeerLookup) Option { return func(c *config) { c.peers = f } }

// WithDataPlane sets where IPsec SAs and policies go: esp.NewUserspace or
// xfrm.New. Without one, SAs are negotiated but not installed (tests).
func WithDataPlane(dp esp.DataPlane) Option { return func(c *config) { c.dp = dp } }

// WithLogger sets the logger (default: discard). The keys are those of
// package ike: ike_sa, peer, exchange, mid, child_sa, spi_in, spi_out,
// proposal, notify, err.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithRand sets the source of cookies, nonces, SPIs and private values
// (default crypto/rand.Reader).
func WithRand(r io.Reader) Option { return func(c *config) { c.rand = r } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithHooks sets the callbacks for SA events.
func WithHooks(h Hooks) Option { return func(c *config) { c.hooks = h } }

// WithKeyLogWriter writes, for every ISAKMP SA, a line of Wireshark's
// IKEv1 decryption table (initiator cookie, phase 1 encryption key, both
// in hex) and for every IPsec SA a line of its ESP SA table, so captures
// can be decrypted. It writes secrets: for debugging only.
func WithKeyLogWriter(w io.Writer) Option { return func(c *config) { c.keylog = w } }

// WithHalfOpenLimit caps the phase 1 exchanges that have not completed
// (default 1000); further requests are dropped.
func WithHalfOpenLimit(n int) Option { return func(c *config) { c.halfOpen = n } }

// WithRetransmissions sets the waits between retransmissions of our last
// message; after the last one the exchange fails (default 4 s growing by
// 1.8 to five retransmissions, as strongSwan).
func WithRetransmissions(waits ...time.Duration) Option {
	return func(c *config) { c.retrans = append([]time.Duration(nil), waits...) }
}

func (c *config) validate(responder bool) error {
	if responder && c.peers == nil {
		return errors.New("ikev1: NewResponder: WithPeers is required")
	}
	if c.log == nil || c.rand == nil || c.now == nil {
		return errors.New("ikev1: WithLogger, WithRand and WithClock take non-nil values")
	}
	if c.halfOpen <= 0 {
		return errors.New("ikev1: WithHalfOpenLimit: the limit must be positive")
	}
	if len(c.retrans) == 0 {
		return errors.New("ikev1: WithRetransmissions: at least one wait")
	}
	return nil
}
