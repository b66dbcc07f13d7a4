package ike_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// TestResponderOptionsRefusedByInitiator: every option only a responder
// uses makes NewInitiator fail with an error naming it, instead of being
// ignored; NewResponder accepts each of them, and the options of both
// roles pass NewInitiator.
func TestResponderOptionsRefusedByInitiator(t *testing.T) {
	peers := ike.WithPeers(func(context.Context, ike.PeerQuery) (*ike.PeerConfig, error) { return nil, nil })
	responderOnly := map[string]ike.Option{
		"WithPeers":             peers,
		"WithRedirect":          ike.WithRedirect(func(context.Context, ike.RedirectQuery) (netip.Addr, bool) { return netip.Addr{}, false }),
		"WithRedirectOnAuth":    ike.WithRedirectOnAuth(func(context.Context, ipsec.IKESAInfo) (netip.Addr, bool) { return netip.Addr{}, false }),
		"WithHalfOpenLimits":    ike.WithHalfOpenLimits(10*time.Second, 5, 50),
		"WithSourceLimits":      ike.WithSourceLimits(1, 2),
		"WithAuthFailureLimit":  ike.WithAuthFailureLimit(3, time.Minute),
		"WithKeyExchangeLimits": ike.WithKeyExchangeLimits(1, 8),
		"WithIdentityLimits":    ike.WithIdentityLimits(ike.IdentityLimits{IKESAs: 1}),
		"WithAuthorizeTimeout":  ike.WithAuthorizeTimeout(time.Second),
	}
	net := iketest.NewNetwork(1)
	for name, opt := range responderOnly {
		_, err := ike.NewInitiator(net.Endpoint(netip.MustParseAddr("192.0.2.2")), opt)
		if err == nil || !strings.HasPrefix(err.Error(), "ike: "+name+":") {
			t.Errorf("NewInitiator(%s): %v, want an error naming the option", name, err)
		}
		r, err := ike.NewResponder(net.Endpoint(netip.MustParseAddr("192.0.2.1")), peers, opt)
		if err != nil {
			t.Errorf("NewResponder(%s): %v", name, err)
			continue
		}
		r.Close() // leaves the transport for the next one

	}
	both := []ike.Option{ike.WithRand(iketest.NewRand(1)), ike.WithRetransmission(time.Second, 2, 3), ike.WithForceUDPEncap(),
		ike.WithCertificateRequests(), ike.WithDataPlane(iketest.NewDataPlane()), ike.WithHooks(&ike.Hooks{})}
	if _, err := ike.NewInitiator(net.Endpoint(netip.MustParseAddr("192.0.2.3")), both...); err != nil {
		t.Errorf("NewInitiator with options of both roles: %v", err)
	}
}
