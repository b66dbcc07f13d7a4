package ike

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
)

// Authorization (Hooks.Authorize) runs after the peer proved its identity
// and before the responder answers the last IKE_AUTH request. It may
// block, so it runs on a goroutine of its own with a deadline; the IKE SA
// goes on serving its loop (timers, snapshots, Terminate) and picks the
// result up as an event. Meanwhile the IKE_AUTH request stays unanswered:
// its retransmissions are dropped (the peer's retransmission timer covers
// the wait), and once the answer is sent, retransmissions get it from the
// response cache like any other (RFC 7296 section 2.1).

// DefaultAuthorizeTimeout bounds one call of Hooks.Authorize. It stays
// below DefaultHalfOpenTimeout, which would end the waiting IKE SA first,
// and below the few retransmissions after which clients give up
// (strongSwan waits about 165 s, Windows about 60 s).
const DefaultAuthorizeTimeout = 10 * time.Second

// AuthRequest is what Hooks.Authorize learns of an authenticated peer.
// It is a copy the hook may keep.
type AuthRequest struct {
	// Info is the IKE SA as far as it is known: addresses, the peer's
	// identity (RemoteID), its EAP identity, the IKE proposal. It has no
	// virtual addresses and no CHILD SAs yet.
	Info ipsec.IKESAInfo
	// PeerConfig is the Name of the configuration the PeerLookup chose.
	PeerConfig string
	// Method is how the peer authenticated: AuthPSK, AuthPubkey (a
	// certificate) or AuthEAP.
	Method AuthMethod
	// EAPMethod is the EAP method that succeeded when Method is AuthEAP
	// (eap.TypeMSCHAPv2, eap.TypeTLS, ...), zero otherwise.
	EAPMethod eap.Type
	// User is the account of the user store (RemoteAuth.Users) that
	// authenticated with EAP, without its secrets (Password and NTHash
	// are nil). It is nil for PSK and certificate peers, with an EAP
	// backend and for EAP-TLS clients the store does not know.
	User *ipsec.User
	// Groups are the user's groups (User.Groups), nil without a user.
	Groups []string
	// Certificates is the peer's verified certificate chain, leaf first
	// and trust anchor last, when Method is AuthPubkey; nil otherwise.
	Certificates []*x509.Certificate
}

// AuthDecision is what an Authorize hook may change in the peer's
// configuration once it knows who the peer is: per-user or per-group
// address pools, pushed subnets, DNS servers and traffic selectors. A nil
// field keeps the PeerConfig's value; a non-nil empty slice clears it (an
// empty Subnets, for example, makes a split tunnel a full one). The
// changes apply to this IKE SA only, for its whole life, rekeys included.
type AuthDecision struct {
	// Pools replace PeerConfig.Pools: where the peer's virtual addresses
	// come from.
	Pools []ipsec.AddressPool
	// Subnets replace PeerConfig.Subnets: the networks pushed as
	// INTERNAL_IP4/6_SUBNET, which also narrow the gateway's traffic
	// selectors when LocalTS is not set.
	Subnets []netip.Prefix
	// DNS and DNSDomains replace PeerConfig.DNS and DNSDomains.
	DNS        []netip.Addr
	DNSDomains []string
	// LocalTS and RemoteTS replace ChildConfig.LocalTS and RemoteTS of
	// every CHILD configuration (of one made from the PeerConfig's Name
	// when it has none): the traffic selectors the peer is narrowed to.
	LocalTS, RemoteTS []esp.Selector
}

// validate reports an unusable decision (a bug in the embedder's hook).
func (d *AuthDecision) validate() error {
	if d == nil {
		return nil
	}
	for i, p := range d.Pools {
		if p == nil {
			return fmt.Errorf("AuthDecision.Pools[%d] is nil", i)
		}
	}
	for i, p := range d.Subnets {
		if !p.IsValid() {
			return fmt.Errorf("AuthDecision.Subnets[%d] is not a valid prefix", i)
		}
	}
	for i, a := range d.DNS {
		if !a.IsValid() {
			return fmt.Errorf("AuthDecision.DNS[%d] is not a valid address", i)
		}
	}
	for _, ts := range []struct {
		name string
		l    []esp.Selector
	}{{"LocalTS", d.LocalTS}, {"RemoteTS", d.RemoteTS}} {
		for i, s := range ts.l {
			if !s.Start.IsValid() || !s.End.IsValid() || s.Start.Is4() != s.End.Is4() || s.End.Less(s.Start) || s.EndPort < s.StartPort {
				return fmt.Errorf("AuthDecision.%s[%d] is not a valid selector", ts.name, i)
			}
		}
	}
	return nil
}

// apply changes the IKE SA's own copy of its configuration.
func (d *AuthDecision) apply(c *PeerConfig) {
	if d == nil {
		return
	}
	if d.Pools != nil {
		c.Pools = slices.Clone(d.Pools)
	}
	if d.Subnets != nil {
		c.Subnets = slices.Clone(d.Subnets)
	}
	if d.DNS != nil {
		c.DNS = slices.Clone(d.DNS)
	}
	if d.DNSDomains != nil {
		c.DNSDomains = slices.Clone(d.DNSDomains)
	}
	if d.LocalTS == nil && d.RemoteTS == nil {
		return
	}
	if len(c.Children) == 0 {
		c.Children = []ChildConfig{{Name: c.Name}}
	}
	for i := range c.Children {
		if d.LocalTS != nil {
			c.Children[i].LocalTS = slices.Clone(d.LocalTS)
		}
		if d.RemoteTS != nil {
			c.Children[i].RemoteTS = slices.Clone(d.RemoteTS)
		}
	}
}

// pendingAuthz is an IKE_AUTH request waiting for its authorization.
type pendingAuthz struct {
	mid  uint32   // the request's message ID
	from reqAddrs // where the request came from: the response goes there
	// then completes IKE_AUTH once the peer is authorized.
	then func() ([]wire.Payload, error)
}

// errNotAuthorized marks a refusal by Hooks.Authorize: the peer proved
// its credentials, so the refusal is no guess the per-source failure
// limit counts (noteAuthFailure).
var errNotAuthorized = errors.New("not authorized")

// errAuthzPending tells handleRequest that the answer to the request
// follows when the Authorize hook has decided.
var errAuthzPending = errors.New("ike: authorization pending")

// authzWaiting reports whether the request mid is the one waiting for
// its authorization: its retransmissions get no answer yet (none outside
// IKE_AUTH, t nil).
func (t *authTask) authzWaiting(mid uint32) bool {
	return t != nil && t.awaiting != nil && t.awaiting.mid == mid
}

// awaitAuthz notes the request p waiting for the hook's answer.
func (t *authTask) awaitAuthz(p *pendingAuthz) { t.awaiting = p }

// authzDecided takes the hook's answer to p: false when p is no longer
// waiting (IKE_AUTH ended meanwhile, t nil).
func (t *authTask) authzDecided(p *pendingAuthz) bool {
	if t == nil || t.awaiting != p {
		return false
	}
	t.awaiting = nil
	return true
}

// authorize runs Hooks.Authorize for a peer that authenticated with
// method, then (or at once, without a hook) completes IKE_AUTH with then.
func (sa *ikeSA) authorize(method AuthMethod, then func() ([]wire.Payload, error)) ([]wire.Payload, error) {
	f := sa.e.cfg.hooks.Authorize
	if f == nil {
		return then()
	}
	req := sa.authRequest(method)
	timeout := sa.e.cfg.authzTimeout
	if timeout <= 0 {
		timeout = DefaultAuthorizeTimeout
	}
	p := &pendingAuthz{mid: sa.ex.peerID(), from: sa.reqFrom, then: then}
	sa.auth.awaitAuthz(p)
	sa.log.Debug("authorizing peer", "method", method.String(), "config", sa.cfg.Name)
	ctx, cancel := context.WithTimeout(sa.e.ctx, timeout)
	go sa.runAuthorize(ctx, cancel, f, req, p, timeout)
	return nil, errAuthzPending
}

// authRequest collects the facts for the hook.
func (sa *ikeSA) authRequest(method AuthMethod) AuthRequest {
	req := AuthRequest{Info: sa.info(), PeerConfig: sa.cfg.Name, Method: method}
	switch method {
	case AuthPubkey:
		req.Certificates = slices.Clone(sa.auth.chain)
	case AuthEAP:
		req.EAPMethod = sa.auth.eapMethod
		if u := sa.eapUser; u != nil {
			c := *u
			c.Password, c.NTHash = nil, nil
			c.Addresses = slices.Clone(u.Addresses)
			c.Groups = slices.Clone(u.Groups)
			req.User = &c
			req.Groups = slices.Clone(u.Groups)
		}
	}
	return req
}

type authzResult struct {
	d   *AuthDecision
	err error
}

// runAuthorize calls the hook off the SA's loop and hands the result
// to the SA as an event. A hook that overruns its deadline refuses the
// peer; its late answer is dropped.
func (sa *ikeSA) runAuthorize(ctx context.Context, cancel context.CancelFunc, f func(context.Context, AuthRequest) (*AuthDecision, error), req AuthRequest, p *pendingAuthz, timeout time.Duration) {
	defer cancel()
	res := make(chan authzResult, 1)
	go func() {
		d, err := f(ctx, req)
		res <- authzResult{d, err}
	}()
	var r authzResult
	select {
	case r = <-res:
	case <-ctx.Done():
		r.err = fmt.Errorf("no answer within %v: %w", timeout, ctx.Err())
	case <-sa.done:
		return // the IKE SA ended while waiting (half-open timeout, shutdown)
	}
	sa.post(func() { sa.authorized(p, r) })
}

// authorized applies the hook's result on the SA's loop and answers
// the waiting IKE_AUTH request.
func (sa *ikeSA) authorized(p *pendingAuthz, r authzResult) {
	if sa.state != stateAuth || !sa.auth.authzDecided(p) {
		return
	}
	err := r.err
	if err == nil {
		if err = r.d.validate(); err != nil {
			err = fmt.Errorf("unusable decision: %w", err)
		}
	}
	var resp []wire.Payload
	if err != nil {
		err = fmt.Errorf("%w: %w: %w", ErrAuthFailed, errNotAuthorized, err)
		sa.log.Warn("peer not authorized", "notify", wire.AUTHENTICATION_FAILED.String(), "err", err)
		sa.alert(AlertAuthFailed, err, err.Error())
		err = notifyErr(wire.AUTHENTICATION_FAILED, err)
	} else {
		if r.d != nil {
			r.d.apply(sa.cfg)
			sa.log.Debug("authorization changed the peer's configuration", "pools", len(sa.cfg.Pools), "subnets", fmt.Sprint(sa.cfg.Subnets))
		}
		resp, err = p.then()
	}
	sa.reqFrom = p.from
	sa.answerRequest(wire.IKE_AUTH, p.mid, resp, err)
}
