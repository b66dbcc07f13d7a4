package ike_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// s2sGateway is one site of a site-to-site VPN: one transport for UDP 500 and
// 4500, shared by the Responder that answers the other site and the
// Initiator that dials it.
type s2sGateway struct {
	name string
	id   ipsec.Identity
	lan  netip.Prefix
	tr   *ike.Transport
	resp *ike.Responder
	init *ike.Initiator
}

// config is the gateway's configuration towards its peer, used both to
// answer it and to dial it.
func (g *s2sGateway) config(peer *s2sGateway) *ike.PeerConfig {
	psk := ipsec.Secret("example site-to-site psk 0123456789")
	return &ike.PeerConfig{
		Name:    g.name + "-" + peer.name,
		LocalID: g.id, RemoteID: peer.id,
		Local:  ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
		Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		Children: []ike.ChildConfig{{Name: "lan",
			LocalTS:  []esp.Selector{esp.PrefixSelector(g.lan)},
			RemoteTS: []esp.Selector{esp.PrefixSelector(peer.lan)}}},
	}
}

// start opens the gateway's transport and starts both engines on it.
func (g *s2sGateway) start(ctx context.Context, peer *s2sGateway) error {
	var err error
	g.tr, err = ike.ListenUDP(ctx,
		ike.WithListenAddrs(netip.MustParseAddr("127.0.0.1")),
		ike.WithPorts(0, 0)) // real gateways keep 500 and 4500
	if err != nil {
		return err
	}
	// One data plane for both engines: xfrm.New or esp.NewUserspace in a
	// real s2sGateway.
	dp := iketest.NewDataPlane()
	g.resp, err = ike.NewResponder(g.tr, ike.WithPeers(ike.StaticPeers(g.config(peer))), ike.WithDataPlane(dp))
	if err != nil {
		return err
	}
	go g.resp.Serve(ctx)
	g.init, err = ike.NewInitiator(g.tr, ike.WithDataPlane(dp))
	return err
}

// Two gateways, each with one transport shared by a Responder and an
// Initiator, dial each other: two IKE SAs, one in each direction, both
// with a CHILD SA between the two sites' subnets. The transport routes
// each message to the engine that owns its IKE SA.
func Example_siteToSite() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &s2sGateway{name: "site-a", id: ipsec.FQDN("a.example.net"), lan: netip.MustParsePrefix("198.51.100.0/24")}
	b := &s2sGateway{name: "site-b", id: ipsec.FQDN("b.example.net"), lan: netip.MustParsePrefix("192.0.2.0/24")}
	for _, g := range [][2]*s2sGateway{{a, b}, {b, a}} {
		if err := g[0].start(ctx, g[1]); err != nil {
			fmt.Println(err)
			return
		}
		defer g[0].tr.Close()
		defer g[0].init.Close(context.Background())
	}
	// Site B dials first: site A's Serve has been running the longest.
	for _, g := range [][2]*s2sGateway{{b, a}, {a, b}} {
		ikePort, _ := g[1].tr.Ports()
		sa, err := g[0].init.Dial(ctx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ikePort), g[0].config(g[1]))
		if err != nil {
			fmt.Println(g[0].name, err)
			return
		}
		child := sa.Info().Children[0]
		fmt.Printf("%s dialed %s: %v === %v\n", g[0].name, g[1].name, child.LocalTS, child.RemoteTS)
	}
	for _, g := range []*s2sGateway{a, b} {
		for _, sa := range g.resp.SAs() {
			fmt.Printf("%s answered %s: %v === %v\n", g.name, sa.RemoteID, sa.Children[0].LocalTS, sa.Children[0].RemoteTS)
		}
	}
	// Output:
	// site-b dialed site-a: [192.0.2.0/24] === [198.51.100.0/24]
	// site-a dialed site-b: [198.51.100.0/24] === [192.0.2.0/24]
	// site-a answered b.example.net: [198.51.100.0/24] === [192.0.2.0/24]
	// site-b answered a.example.net: [192.0.2.0/24] === [198.51.100.0/24]
}
