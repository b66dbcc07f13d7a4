package ike

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// Option configures NewResponder and NewInitiator. Options whose comment
// says they are a responder's (WithPeers, WithProposals,
// WithPreferPeerProposals, WithRedirect, WithRedirectOnAuth,
// WithHalfOpenLimits, WithSourceLimits, WithAuthFailureLimit,
// WithKeyExchangeLimits, WithIdentityLimits) make NewInitiator fail with
// an error naming the option; the others apply to both roles, as every
// IKE SA, whoever started it, rekeys, retransmits and installs CHILD SAs.
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
	// DefaultSourceCookieThreshold: a source address (an IPv6 /64) with
	// this many half-open SAs must bring a cookie even below the global
	// threshold (strongSwan's charon.cookie_threshold_ip, 3).
	DefaultSourceCookieThreshold = 3
	// DefaultSourceMaxHalfOpen drops IKE_SA_INIT requests from a source
	// address (an IPv6 /64) that already has this many half-open SAs,
	// cookie or not, so one address that answers cookies cannot take the
	// slots of everyone else (strongSwan's charon.block_threshold, 5).
	DefaultSourceMaxHalfOpen = 5
	// DefaultAuthFailureLimit and DefaultAuthFailureWindow: a source
	// address (an IPv6 /64) whose IKE_AUTH failed this many times within
	// the window gets its IKE_SA_INIT requests dropped until the window
	// after the last counted failure has passed. Ten a minute leaves room
	// for a user mistyping a password a few times (also behind a NAT
	// shared with others) and turns password guessing from one address
	// into ten guesses a minute.
	DefaultAuthFailureLimit  = 10
	DefaultAuthFailureWindow = time.Minute
	// DefaultKeyExchangeQueue bounds the IKE_SA_INIT key exchanges
	// admitted but not yet computed; requests beyond it are dropped (the
	// initiator retransmits). 128 MODP-3072 computations are about a
	// second of one core's work.
	DefaultKeyExchangeQueue = 128
	// DefaultFragmentMTU is the IP MTU IKE fragments are sized for; 1280
	// is the IPv6 minimum and safe on every path (RFC 7383 section 2.5.1).
	DefaultFragmentMTU = 1280
)

type config struct {
	peers        PeerLookup
	dp           esp.DataPlane
	logger       *slog.Logger
	hooks        Hooks
	accounting   accountingConfig // WithAccounting (accounting.go)
	rand         io.Reader
	now          func() time.Time
	proposals    proposal.List
	proposalsSet bool // WithProposals was given
	preferPeer   bool
	keyLog       io.Writer
	rt           retransmission // WithRetransmission (exchange.go)
	halfOpenTO   time.Duration
	cookieThresh int
	maxHalfOpen  int
	redirect     RedirectFunc
	redirectAuth AuthRedirectFunc
	certReqData  []byte                      // SHA-1 hashes of the CAs' public keys for CERTREQ
	forceEncap   bool                        // fake a NAT so ESP is always UDP-encapsulated
	nonceLen     *atomic.Int32               // test hook: size of our nonces (nil or 0: ourNonce)
	onSecret     func(kind string, b []byte) // test hook: a buffer holding a secret to be wiped

	// Pre-authentication limits per source (an IPv4 address or IPv6 /64)
	// and of the key exchange work; see WithSourceLimits,
	// WithAuthFailureLimit, WithKeyExchangeLimits.
	srcCookieThresh int
	srcMaxHalfOpen  int
	authFailLimit   int
	authFailWindow  time.Duration
	kexWorkers      int // 0: GOMAXPROCS-1, at least 1
	kexQueue        int
	limits          IdentityLimits
	authzTimeout    time.Duration // WithAuthorizeTimeout (authorize.go)
}

func defaultConfig() config {
	return config{
		logger:       slog.New(slog.DiscardHandler),
		rand:         rand.Reader,
		now:          time.Now,
		rt:           retransmission{DefaultRetransmitTimeout, DefaultRetransmitBase, DefaultRetransmitTries},
		halfOpenTO:   DefaultHalfOpenTimeout,
		cookieThresh: DefaultCookieThreshold,
		maxHalfOpen:  DefaultMaxHalfOpen,

		srcCookieThresh: DefaultSourceCookieThreshold,
		srcMaxHalfOpen:  DefaultSourceMaxHalfOpen,
		authFailLimit:   DefaultAuthFailureLimit,
		authFailWindow:  DefaultAuthFailureWindow,
		kexQueue:        DefaultKeyExchangeQueue,
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

// WithProposals sets the IKE proposals of a responder (default
// proposal.CompatibleIKE, which accepts every native client's stock
// proposals). They are the only IKE proposals a responder negotiates: in
// IKE_SA_INIT, which comes before any identity and so before any
// PeerConfig is chosen, and in every IKE SA rekey, in both directions. A
// responder therefore refuses a PeerConfig that sets Proposals (see
// PeerConfig.Proposals); ESP proposals are per peer, in
// ChildConfig.Proposals. An initiator takes its IKE proposals from each
// PeerConfig it dials, and NewInitiator refuses this option, as well as
// WithPreferPeerProposals, which orders the responder's IKE selection only
// (ESP follows PeerConfig.PreferPeerProposals).
func WithProposals(l proposal.List) Option {
	return func(c *config) { c.proposals, c.proposalsSet = l.Clone(), true }
}

// WithForceUDPEncap makes every peer encapsulate ESP in UDP (port 4500)
// even without a NAT, as strongSwan's encap = yes: our
// NAT_DETECTION_SOURCE_IP notifies carry a value that cannot match, so the
// peer believes we are behind a NAT (RFC 7296 section 2.23 allows it),
// and our CHILD SAs use UDP encapsulation. The engine does this by itself
// when its data plane reports that it cannot send raw ESP (a data plane
// with a RawESP() bool method returning false, such as an esp.Userspace
// without esp.WithRawESP), so that clients not behind a NAT still get a
// working tunnel instead of a CHILD SA the data plane cannot install.
func WithForceUDPEncap() Option { return func(c *config) { c.forceEncap = true } }

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
	return func(c *config) { c.rt = retransmission{timeout, base, tries} }
}

// WithHalfOpenLimits sets the half-open SA timeout, the number of
// half-open SAs above which cookies are required, and the hard maximum.
func WithHalfOpenLimits(timeout time.Duration, cookieThreshold, max int) Option {
	return func(c *config) { c.halfOpenTO, c.cookieThresh, c.maxHalfOpen = timeout, cookieThreshold, max }
}

// WithSourceLimits sets the per-source half-open limits of a responder:
// from cookieThreshold half-open SAs on, a source must bring a cookie
// (RFC 7296 section 2.6) even while the global count is below the
// threshold of WithHalfOpenLimits; at max half-open SAs its further
// IKE_SA_INIT requests are dropped until some complete or time out
// (Stats.Blocked counts them). A source is an IPv4 address or an IPv6
// /64, the block a single subscriber usually gets. Defaults:
// DefaultSourceCookieThreshold, DefaultSourceMaxHalfOpen; 0 as
// cookieThreshold demands cookies from every source.
func WithSourceLimits(cookieThreshold, max int) Option {
	return func(c *config) { c.srcCookieThresh, c.srcMaxHalfOpen = cookieThreshold, max }
}

// WithAuthFailureLimit makes a responder drop the IKE_SA_INIT requests of
// a source (an IPv4 address or an IPv6 /64) whose IKE_AUTH failed
// failures times within window, until window has passed since the last
// of them (Stats.Blocked counts the drops). Established SAs and
// exchanges already under way are not affected. failures 0 turns the
// limit off. Defaults: DefaultAuthFailureLimit, DefaultAuthFailureWindow.
// Clients sharing a NAT share the limit.
func WithAuthFailureLimit(failures int, window time.Duration) Option {
	return func(c *config) { c.authFailLimit, c.authFailWindow = failures, window }
}

// WithKeyExchangeLimits bounds the Diffie-Hellman (key exchange) work of
// a responder's IKE_SA_INIT: at most workers computations run at once
// (0: one less than GOMAXPROCS, at least one, so a flood of expensive
// groups leaves a core to the socket reader and to established SAs),
// and at most queue requests wait or run; further requests are dropped
// and counted in Stats.KeyExchangeDropped (the initiator retransmits).
// Default: automatic workers, DefaultKeyExchangeQueue.
func WithKeyExchangeLimits(workers, queue int) Option {
	return func(c *config) { c.kexWorkers, c.kexQueue = workers, queue }
}

func (c *config) validate() error {
	switch {
	case c.rand == nil:
		return fmt.Errorf("ike: WithRand: nil reader")
	case c.now == nil:
		return fmt.Errorf("ike: WithClock: nil function")
	case c.logger == nil:
		return fmt.Errorf("ike: WithLogger: nil logger")
	case c.rt.timeout <= 0 || c.rt.base < 1 || c.rt.tries < 0 || c.rt.tries > 20:
		return fmt.Errorf("ike: WithRetransmission: timeout %v, base %v, tries %d out of range", c.rt.timeout, c.rt.base, c.rt.tries)
	case c.halfOpenTO <= 0 || c.cookieThresh < 0 || c.maxHalfOpen <= 0:
		return fmt.Errorf("ike: WithHalfOpenLimits: %v, %d, %d out of range", c.halfOpenTO, c.cookieThresh, c.maxHalfOpen)
	case c.srcCookieThresh < 0 || c.srcMaxHalfOpen <= 0:
		return fmt.Errorf("ike: WithSourceLimits: %d, %d out of range", c.srcCookieThresh, c.srcMaxHalfOpen)
	case c.authFailLimit < 0 || c.authFailLimit > 0 && c.authFailWindow <= 0:
		return fmt.Errorf("ike: WithAuthFailureLimit: %d, %v out of range", c.authFailLimit, c.authFailWindow)
	case c.kexWorkers < 0 || c.kexQueue <= 0:
		return fmt.Errorf("ike: WithKeyExchangeLimits: %d, %d out of range", c.kexWorkers, c.kexQueue)
	}
	if err := c.accounting.validate(); err != nil {
		return err
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

// WithAccounting reports every session's start, interim updates every
// interim (0: none; at least MinAccountingInterim) and stop to a. The
// interim updates come from each IKE SA's own timer, one per interval and
// session.
func WithAccounting(a Accounting, interim time.Duration) Option {
	return func(c *config) { c.accounting = accountingConfig{acct: a, interim: interim} }
}

// WithAuthorizeTimeout sets the deadline of the context Hooks.Authorize
// gets (default DefaultAuthorizeTimeout; zero or less restores it). A
// hook that has not answered by then refuses the peer. Keep it below the
// half-open timeout (WithHalfOpenLimits), which ends an IKE SA still
// waiting for its authorization.
func WithAuthorizeTimeout(d time.Duration) Option {
	return func(c *config) { c.authzTimeout = d }
}

// WithCertificateRequests names the certification authorities we trust for
// peer certificates; CERTREQ payloads (RFC 7296 section 3.7) carrying the
// SHA-1 hashes of their public keys go into a responder's IKE_SA_INIT
// responses and an initiator's IKE_AUTH requests (when it authenticates the
// gateway by certificate). Windows picks its machine certificate by these
// hashes and strongSwan clients send their certificate only when asked
// (send_cert = ifasked is their default), so a gateway with certificate
// clients should set it.
func WithCertificateRequests(cas ...*x509.Certificate) Option {
	var data []byte
	for _, ca := range cas {
		if ca == nil {
			continue
		}
		h := sha1.Sum(ca.RawSubjectPublicKeyInfo)
		data = append(data, h[:]...)
	}
	return func(c *config) { c.certReqData = data }
}

// WithIdentityLimits sets the responder's per-identity limits (see
// IdentityLimits; default DefaultIdentityIKESAs IKE SAs and
// DefaultIdentityLeases addresses per family). PeerConfig.Limits
// overrides them per configuration.
func WithIdentityLimits(l IdentityLimits) Option { return func(c *config) { c.limits = l } }

// WithRedirect installs a responder's redirect decision for IKE_SA_INIT
// (the basis for load balancing over gateways). Only clients that sent
// REDIRECT_SUPPORTED are redirected.
func WithRedirect(f RedirectFunc) Option { return func(c *config) { c.redirect = f } }

// WithRedirectOnAuth installs a responder's redirect decision for
// authenticated peers. A redirected peer gets our AUTH and a REDIRECT in
// the last IKE_AUTH response, but no CHILD SA or configuration; it
// deletes the IKE SA and connects to the other gateway. Only peers that
// announced REDIRECT_SUPPORTED are redirected.
func WithRedirectOnAuth(f AuthRedirectFunc) Option { return func(c *config) { c.redirectAuth = f } }
