package ikev1_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
)

// A gateway answers a Main Mode client with a pre-shared key; the client
// (our Initiator here, a native L2TP/IPsec or Cisco IPSec client in real
// life) gets an IPsec SA for traffic between the two hosts. An in-memory
// network stands in for the UDP transport.
func Example() {
	net := iketest.NewNetwork(1)
	gw, client := net.Endpoint(netip.MustParseAddr("192.0.2.1")), net.Endpoint(netip.MustParseAddr("198.51.100.2"))

	lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
		// Main Mode: the identity is not known yet, the key is chosen by
		// the peer's address (here: one key for everyone).
		return &ikev1.PeerConfig{Name: "l2tp", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("example-psk")}, nil
	}
	up := make(chan string, 1)
	resp, err := ikev1.NewResponder(gw, ikev1.WithPeers(lookup), ikev1.WithHooks(ikev1.Hooks{
		ChildUp: func(ike ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			up <- fmt.Sprint("gateway: IPsec SA with ", ike.RemoteID, " ", c.RemoteTS)
		},
	}))
	if err != nil {
		panic(err)
	}
	defer resp.Close()

	init, err := ikev1.NewInitiator(client)
	if err != nil {
		panic(err)
	}
	defer init.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := init.Dial(ctx, netip.MustParseAddrPort("192.0.2.1:500"),
		&ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("example-psk")})
	if err != nil {
		panic(err)
	}
	fmt.Println(<-up) // the gateway installs its SA on the client's last message
	info := sa.Info()
	fmt.Println("client:", info.State, info.Proposal, info.Children[0].Proposal)
	// Output:
	// gateway: IPsec SA with 198.51.100.2 [198.51.100.2/32]
	// client: ESTABLISHED aes256-sha256-modp2048 aes256gcm16
}
