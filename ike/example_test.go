package ike_test

import (
	"context"
	"crypto"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
)

// A gateway opens one transport for UDP 500 and 4500 and lets the engines
// and the data plane register for what they handle.
func ExampleListenUDP() {
	tr, err := ike.ListenUDP(context.Background(),
		ike.WithListenAddrs(netip.MustParseAddr("127.0.0.1")),
		ike.WithPorts(0, 0)) // a real gateway keeps the defaults, 500 and 4500
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	fmt.Println(len(tr.LocalAddrs()), "sockets")
	// Output: 2 sockets
}

// A remote-access gateway: certificate towards the clients, EAP-MSCHAPv2
// users, virtual addresses and DNS, userspace ESP on a TUN device.
func ExampleNewResponder() {
	ctx := context.Background()
	tr, err := ike.ListenUDP(ctx) // UDP 500 and 4500, IPv4 and IPv6
	if err != nil {
		return
	}
	defer tr.Close()
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	var chain [][]byte    // our certificate chain (DER), leaf first
	var key crypto.Signer // its private key
	var dp esp.DataPlane  // esp.NewUserspace(tunDevice, esp.WithUDPSendConn(...)) or the kernel's
	cfg := &ike.PeerConfig{
		Name:    "road-warriors",
		LocalID: ipsec.FQDN("vpn.example.com"),
		Local:   ike.LocalAuth{Method: ike.AuthPubkey, Certificates: chain, Key: key},
		Remote:  ike.RemoteAuth{Method: ike.AuthEAP, Users: ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("s3cret")})},
		Pools:   []ipsec.AddressPool{pool},
		DNS:     []netip.Addr{netip.MustParseAddr("198.51.100.53")},
	}
	srv, err := ike.NewResponder(tr, ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(dp),
		ike.WithHooks(&ike.Hooks{IKEUp: func(sa ipsec.IKESAInfo) { fmt.Println("up:", sa.RemoteID, sa.VirtualIPs) }}))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Serve(ctx) // until ctx ends; then every peer gets a Delete
}

// A client: PSK towards a gateway, asking for a virtual IPv4 address.
func ExampleInitiator_Dial() {
	ctx := context.Background()
	tr, err := ike.ListenUDP(ctx, ike.WithPorts(0, 0))
	if err != nil {
		return
	}
	defer tr.Close()
	init, err := ike.NewInitiator(tr)
	if err != nil {
		return
	}
	psk := ipsec.Secret("a long random pre-shared key")
	sa, err := init.Dial(ctx, netip.MustParseAddrPort("192.0.2.1:500"), &ike.PeerConfig{
		Name: "office", LocalID: ipsec.Email("alice@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
	})
	if err != nil {
		fmt.Println("no tunnel:", err)
		return
	}
	defer sa.Close(ctx)
	fmt.Println(sa.Info().VirtualIPs)
}
