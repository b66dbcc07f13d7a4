package ike

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
)

// Gateway identity types of the REDIRECT notifies (RFC 5685 section 10).
const (
	gwIPv4 = 1
	gwIPv6 = 2
	gwFQDN = 3
)

// maxRedirects bounds how often an initiator follows REDIRECT for one
// Dial, so two misconfigured gateways cannot bounce it forever (RFC 5685
// section 6 asks for such a limit).
const maxRedirects = 5

// RedirectQuery is what a responder's redirect callback is told about an
// IKE_SA_INIT request from a client that supports REDIRECT.
type RedirectQuery struct {
	// Local and Remote are our address and the client's, with ports.
	Local, Remote netip.AddrPort
	// RedirectedFrom is the gateway that sent the client here, if any
	// (REDIRECTED_FROM): a load balancer uses it to avoid loops.
	RedirectedFrom netip.Addr
}

// RedirectFunc decides whether to send a client elsewhere (RFC 5685): it
// returns the gateway address and true to redirect. It runs on the
// transport's read loop for each new IKE_SA_INIT and must be quick.
type RedirectFunc func(ctx context.Context, q RedirectQuery) (netip.Addr, bool)

// AuthRedirectFunc decides, once a peer has authenticated in IKE_AUTH,
// whether to send it to another gateway (RFC 5685 section 6): by its
// identity, for per-user or per-tenant gateways. It returns the gateway
// and true to redirect. It runs on the IKE SA's goroutine.
type AuthRedirectFunc func(ctx context.Context, info ipsec.IKESAInfo) (netip.Addr, bool)

// authRedirectLinger is how long a redirected IKE SA waits for the
// client's Delete.
const authRedirectLinger = 30 * time.Second

// redirectOnAuth asks the embedder whether to redirect the authenticated
// peer and, if so, returns the REDIRECT notify that replaces the CHILD SA
// and configuration in our IKE_AUTH response. The IKE SA stays (quietly)
// until the peer deletes it.
func (sa *ikeSA) redirectOnAuth() *wire.Notify {
	f := sa.e.cfg.redirectAuth
	if f == nil || sa.weInitiated || !sa.peerRedirect {
		return nil
	}
	gw, ok := f(sa.e.ctx, sa.info())
	if !ok || !gw.IsValid() {
		return nil
	}
	sa.log.Info("redirecting authenticated client", "ike_sa", sa.name(), "to", gw.String())
	sa.e.established(sa) // no longer half-open
	sa.halfOpenDeadline = time.Time{}
	sa.state = stateEstablished
	sa.redirected = true
	sa.rekeyed = true // its end is not a client going away
	sa.lingerUntil = time.Now().Add(authRedirectLinger)
	return &wire.Notify{Type: wire.REDIRECT, Data: gwIdentity(gw)}
}

// followAuthRedirect follows a REDIRECT in the gateway's last IKE_AUTH
// response (RFC 5685 section 6), which we have authenticated: a new IKE
// SA at the other gateway takes over the pending Dial and its handle, and
// this one is deleted.
func (sa *ikeSA) followAuthRedirect(n *wire.Notify) error {
	gw, _, err := parseGWIdentity(n.Data)
	if err == nil && sa.redirects+1 > maxRedirects {
		err = fmt.Errorf("%w: more than %d redirects", ErrProtocol, maxRedirects)
	}
	if err != nil {
		sa.log.Warn("IKE_AUTH failed", "err", err)
		sa.destroy(err)
		return err
	}
	e := sa.e
	ikePort, _ := e.conn.Ports()
	ns := newSA(e, true, netip.AddrPortFrom(e.localAddrFor(gw), ikePort), netip.AddrPortFrom(gw, PortIKE))
	ns.redirectedFrom, ns.redirects = sa.remote.Addr(), sa.redirects+1
	ns.continueSession(sa)
	ns.setCfg(sa.cfg)
	ns.cfg.retarget(gw)
	if err := e.registerInitiator(ns); err != nil {
		sa.destroy(err)
		return err
	}
	sa.log.Info("gateway redirects us after authentication", "ike_sa", sa.name(), "to", gw.String())
	ns.dialDone, sa.dialDone = sa.dialDone, nil
	if h := sa.handle; h != nil {
		h.cur.Store(ns)
		ns.handle, sa.handle = h, nil
	}
	ns.start(nil)
	go ns.do(e.ctx, func() { ns.startInit(nil) })
	// The gateway gave us no CHILD SA; delete the IKE SA it authenticated.
	sa.state = stateEstablished
	sa.rekeyed = true
	sa.startDelete(true, nil)
	return nil
}

// gwIdentity encodes a gateway identity (type, length, value).
func gwIdentity(a netip.Addr) []byte {
	a = a.Unmap()
	t := byte(gwIPv6)
	if a.Is4() {
		t = gwIPv4
	}
	b := a.AsSlice()
	return append([]byte{t, byte(len(b))}, b...)
}

// parseGWIdentity decodes a gateway identity and returns the rest (the
// nonce data of a REDIRECT in IKE_SA_INIT). FQDN gateways are reported as
// unsupported: resolving names is the embedder's business.
func parseGWIdentity(b []byte) (netip.Addr, []byte, error) {
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		return netip.Addr{}, nil, fmt.Errorf("%w: truncated gateway identity", ErrProtocol)
	}
	t, v, rest := b[0], b[2:2+int(b[1])], b[2+int(b[1]):]
	switch {
	case t == gwIPv4 && len(v) == 4, t == gwIPv6 && len(v) == 16:
		a, _ := netip.AddrFromSlice(v)
		return a.Unmap(), rest, nil
	case t == gwFQDN:
		return netip.Addr{}, rest, fmt.Errorf("%w: redirect to a gateway by name (%q) is not supported", ErrProtocol, v)
	}
	return netip.Addr{}, nil, fmt.Errorf("%w: gateway identity type %d", ErrProtocol, t)
}

// redirectInit answers an IKE_SA_INIT with REDIRECT when the callback says
// so (RFC 5685 section 5): the new gateway and the initiator's nonce,
// statelessly. It reports whether it did.
func (e *engine) redirectInit(p Packet, h wire.Header, ps []wire.Payload, nonce []byte) bool {
	if e.cfg.redirect == nil {
		return false
	}
	supported := false
	var from netip.Addr
	for _, pl := range ps {
		if n, ok := pl.(*wire.Notify); ok {
			switch n.Type {
			case wire.REDIRECT_SUPPORTED:
				supported = true
			case wire.REDIRECTED_FROM:
				// Sent instead of REDIRECT_SUPPORTED after a redirect
				// (RFC 5685 section 5); it implies the support.
				supported = true
				from, _, _ = parseGWIdentity(n.Data)
			}
		}
	}
	if !supported {
		return false
	}
	gw, ok := e.cfg.redirect(e.ctx, RedirectQuery{Local: p.Local, Remote: p.Remote, RedirectedFrom: from})
	if !ok || !gw.IsValid() {
		return false
	}
	e.log.Info("redirecting client", "peer", p.Remote.String(), "to", gw.String())
	e.sendInitNotify(p, h, &wire.Notify{Type: wire.REDIRECT, Data: append(gwIdentity(gw), nonce...)})
	return true
}

// followRedirect restarts our IKE_SA_INIT at the gateway named by a
// REDIRECT in the response, after checking that it echoes our nonce (RFC
// 5685 section 5: otherwise anyone could redirect us).
func (sa *ikeSA) followRedirect(n *wire.Notify) error {
	gw, rest, err := parseGWIdentity(n.Data)
	if err != nil {
		return err
	}
	if !equalBytes(rest, sa.ni) {
		return fmt.Errorf("%w: REDIRECT without our nonce", ErrProtocol)
	}
	if !sa.redirectedBy(sa.remote.Addr()) {
		return fmt.Errorf("%w: more than %d redirects", ErrProtocol, maxRedirects)
	}
	sa.log.Info("gateway redirects us", "to", gw.String())
	sa.remote = netip.AddrPortFrom(gw, PortIKE)
	// initRemote is read by other SAs' goroutines under the engine lock
	// (hasOtherSA, the init table), so it changes only under that lock.
	sa.e.mu.Lock()
	sa.initRemote = sa.remote
	sa.e.mu.Unlock()
	sa.local = netip.AddrPortFrom(sa.e.localAddrFor(gw), sa.local.Port())
	sa.ni = nil
	sa.ex.initOver(false)
	sa.startInit(nil)
	return nil
}

// redirectEstablished follows a gateway's REDIRECT of an established SA
// (RFC 5685 section 6): like a reauthentication, but at the new gateway,
// which we tell where we come from.
func (sa *ikeSA) redirectEstablished(n *wire.Notify) {
	gw, _, err := parseGWIdentity(n.Data)
	if err != nil || !sa.weInitiated || sa.state != stateEstablished {
		sa.log.Warn("ignoring REDIRECT", "err", err)
		return
	}
	if sa.redirects++; sa.redirects > maxRedirects {
		sa.log.Warn("ignoring REDIRECT: too many", "to", gw.String())
		return
	}
	sa.log.Info("gateway moves us", "to", gw.String())
	sa.startReauthAt(gw)
}
