package ike

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// Option configures NewResponder and NewInitiator.
type Option func(*config)

// Retransmission defaults follow strongSwan (charon.retransmit_*): 4 s,
// growing by 1.8 per try, 5 retransmissions, so a dead peer is given up
// after about 165 s (RFC 7296 section 2.4 leaves the numbers open).
const (
	DefaultRetransmitTimeout = 4 * time.Second
	DefaultRetransmitBase    = 1.8
	DefaultRetransmitTries   = 5
	// DefaultHalfOpenTimeout bounds how long a responder keeps an IKE SA
	// that finished IKE_SA_INIT but not IKE_AUTH.
	DefaultHalfOpenTimeout = 30 * time.Second
	// DefaultCookieThreshold: above this many half-open SAs the responder
	// demands cookies (RFC 7296 section 2.6).
	DefaultCookieThreshold = 100
	// DefaultMaxHalfOpen drops new IKE_SA_INIT requests beyond this many
	// half-open SAs, cookie or not, so a flood cannot exhaust memory.
	DefaultMaxHalfOpen = 20000
	// DefaultFragmentMTU is the IP MTU IKE fragments are sized for; 1280
	// is the IPv6 minimum and safe on every path (RFC 7383 section 2.5.1).
	DefaultFragmentMTU = 1280
)

type config struct {
	peers        PeerLookup
	dp           esp.DataPlane
	logger       *slog.Logger
	hooks        Hooks
	rand         io.Reader
	now          func() time.Time
	proposals    proposal.List
	preferPeer   bool
	keyLog       io.Writer
	rtTimeout    time.Duration
	rtBase       float64
	rtTries      int
	halfOpenTO   time.Duration
	cookieThresh int
	maxHalfOpen  int
	redirect     RedirectFunc
	redirectAuth AuthRedirectFunc
	certReqData  []byte // SHA-1 hashes of the CAs' public keys for CERTREQ
	limits       IdentityLimits
}

func defaultConfig() config {
	return config{
		logger:       slog.New(slog.DiscardHandler),
		rand:         rand.Reader,
		now:          time.Now,
		rtTimeout:    DefaultRetransmitTimeout,
		rtBase:       DefaultRetransmitBase,
		rtTries:      DefaultRetransmitTries,
		halfOpenTO:   DefaultHalfOpenTimeout,
		cookieThresh: DefaultCookieThreshold,
		maxHalfOpen:  DefaultMaxHalfOpen,
	}
}

// WithPeers sets the lookup that selects a PeerConfig for each peer
// (required for a responder).
func WithPeers(lookup PeerLookup) Option { return func(c *config) { c.peers = lookup } }

// WithDataPlane sets where negotiated CHILD SAs are installed: the
// userspace engine (esp.NewUserspace) or the kernel (package xfrm).
// Without one, CHILD SAs are negotiated but carry no traffic.
func WithDataPlane(dp esp.DataPlane) Option { return func(c *config) { c.dp = dp } }

// WithLogger sets the logger (default: discard). Debug shows one line per
// message in strongSwan's summary form, Info SA state changes, Warn
// peer-caused failures. No key material is ever logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithHooks installs callbacks; see Hooks. nil removes them.
func WithHooks(h *Hooks) Option {
	return func(c *config) {
		c.hooks = Hooks{}
		if h != nil {
			c.hooks = *h
		}
	}
}

// WithRand sets the source of nonces, SPIs, IVs and private keys (default
// crypto/rand). Tests use a fixed stream for repeatable exchanges.
func WithRand(r io.Reader) Option { return func(c *config) { c.rand = r } }

// WithClock sets the time source for certificate validation and SA
// timestamps (timers use the time package, which testing/synctest fakes).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithProposals sets the IKE proposals a responder accepts in IKE_SA_INIT,
// before any identity is known (default proposal.CompatibleIKE, which
// accepts every native client's stock proposals).
func WithProposals(l proposal.List) Option {
	return func(c *config) { c.proposals = l.Clone() }
}

// WithPreferPeerProposals makes the responder pick by the peer's order.
func WithPreferPeerProposals() Option { return func(c *config) { c.preferPeer = true } }

// WithKeyLogWriter writes the keys of every IKE SA and CHILD SA to w in the
// formats of Wireshark's "IKEv2 Decryption Table" and "ESP SAs" tables, so
// captures can be decrypted. Anyone with this output can read the traffic:
// use it for debugging only.
func WithKeyLogWriter(w io.Writer) Option { return func(c *config) { c.keyLog = w } }

// WithRetransmission sets the initiator's retransmission schedule: the
// first timeout, the factor it grows by, and the number of retransmissions
// before the peer is declared dead.
func WithRetransmission(timeout time.Duration, base float64, tries int) Option {
	return func(c *config) { c.rtTimeout, c.rtBase, c.rtTries = timeout, base, tries }
}

// WithHalfOpenLimits sets the half-open SA timeout, the number of
// half-open SAs above which cookies are required, and the hard maximum.
func WithHalfOpenLimits(timeout time.Duration, cookieThreshold, max int) Option {
	return func(c *config) { c.halfOpenTO, c.cookieThresh, c.maxHalfOpen = timeout, cookieThreshold, max }
}

func (c *config) validate() error {
	switch {
	case c.rand == nil:
		return fmt.Errorf("ike: WithRand: nil reader")
	case c.now == nil:
		return fmt.Errorf("ike: WithClock: nil function")
	case c.logger == nil:
		return fmt.Errorf("ike: WithLogger: nil logger")
	case c.rtTimeout <= 0 || c.rtBase < 1 || c.rtTries < 0 || c.rtTries > 20:
		return fmt.Errorf("ike: WithRetransmission: timeout %v, base %v, tries %d out of range", c.rtTimeout, c.rtBase, c.rtTries)
	case c.halfOpenTO <= 0 || c.cookieThresh < 0 || c.maxHalfOpen <= 0:
		return fmt.Errorf("ike: WithHalfOpenLimits: %v, %d, %d out of range", c.halfOpenTO, c.cookieThresh, c.maxHalfOpen)
	}
	for _, p := range c.proposals {
		if p.Protocol != proposal.ProtoIKE {
			return fmt.Errorf("ike: WithProposals: %s is not an IKE proposal", p)
		}
		if len(p.KE) == 0 {
			return fmt.Errorf("ike: WithProposals: %s has no key exchange method", p)
		}
	}
	return nil
}
