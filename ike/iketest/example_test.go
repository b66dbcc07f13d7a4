package iketest_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// A complete IKEv2 handshake in memory: a gateway and a client on an
// iketest.Network, each with a recording DataPlane. The client
// authenticates with a pre-shared key, gets a virtual address from the
// gateway's pool, and both data planes receive the CHILD SA's two ESP
// SAs. Tests of an embedder's gateway logic (hooks, peer lookup, pools)
// run this way without sockets, root or a kernel.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	net := iketest.NewNetwork(1)
	gw := net.Endpoint(netip.MustParseAddr("192.0.2.1"))
	client := net.Endpoint(netip.MustParseAddr("192.0.2.2"))
	gwDP, clientDP := iketest.NewDataPlane(), iketest.NewDataPlane()

	psk := ipsec.Secret("an example key, not for production")
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	resp, err := ike.NewResponder(gw,
		ike.WithPeers(ike.StaticPeers(&ike.PeerConfig{
			Name:    "example",
			LocalID: ipsec.FQDN("vpn.example.com"),
			Local:   ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
			Remote:  ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
			Pools:   []ipsec.AddressPool{pool},
		})),
		ike.WithDataPlane(gwDP), ike.WithRand(iketest.NewRand(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- resp.Serve(ctx) }()

	// A short retransmission timeout covers a first request sent before
	// Serve has registered with the endpoint.
	init, err := ike.NewInitiator(client, ike.WithDataPlane(clientDP), ike.WithRand(iketest.NewRand(2)),
		ike.WithRetransmission(50*time.Millisecond, 1.5, 8))
	if err != nil {
		fmt.Println(err)
		return
	}
	sa, err := init.Dial(ctx, netip.AddrPortFrom(gw.Addr(), ike.PortIKE), &ike.PeerConfig{
		Name:       "example",
		LocalID:    ipsec.Email("alice@example.com"),
		RemoteID:   ipsec.FQDN("vpn.example.com"),
		Local:      ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
		Remote:     ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	info := sa.Info()
	fmt.Println("client:", info.State, "virtual IP", info.VirtualIPs)
	fmt.Println("gateway sees:", resp.SAs()[0].RemoteID)
	fmt.Println("ESP SAs installed:", len(gwDP.SAs()), "and", len(clientDP.SAs()))

	if err := sa.Close(ctx); err != nil {
		fmt.Println("close:", err)
	}
	cancel()
	<-served
	fmt.Println("ESP SAs left:", len(clientDP.SAs()))
	// Output:
	// client: ESTABLISHED virtual IP [198.51.100.65]
	// gateway sees: alice@example.com
	// ESP SAs installed: 2 and 2
	// ESP SAs left: 0
}
