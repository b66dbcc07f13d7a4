package xfrm_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/xfrm"
)

// New validates its options before touching the kernel: removing stale
// state needs a tag that says which state is ours.
func Example() {
	_, err := xfrm.New(xfrm.WithRemoveStale())
	fmt.Println(err)
	// Output: xfrm: WithRemoveStale: needs WithIfID, WithIfIDRange, WithMark or WithReqIDRange to recognise its own state
}

// A gateway runs the IKEv2 engine on the kernel data plane: the data
// plane takes over the IKE transport's sockets (ESP-in-UDP decapsulation
// on port 4500, IPsec bypass, NAT keepalives) and is handed to the
// responder. Routes to the client pools must exist (any
// device): XFRM policies act on routed packets. (Not run: it needs root
// and a kernel with ESP.)
func Example_gateway() {
	ctx := context.Background()
	tr, err := ike.ListenUDP(ctx) // UDP 500 and 4500, IPv4 and IPv6
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	dp, err := xfrm.New(xfrm.WithReqIDRange(1, 1<<20), xfrm.WithRemoveStale())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dp.Close() // after Serve returned: removes whatever is left
	if err := dp.UseTransport(tr); err != nil {
		fmt.Println(err)
		return
	}

	pool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	psk := ipsec.Secret("a long random pre-shared key")
	cfg := &ike.PeerConfig{
		Name: "clients", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		Pools: []ipsec.AddressPool{pool},
	}
	srv, err := ike.NewResponder(tr, ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(dp))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Serve(ctx) // until ctx ends; every peer gets a Delete
}

// The data plane on its own: what the IKE engine does once a CHILD SA is
// negotiated, and the events it reads back. (Not run.)
func ExampleDataPlane_AddPolicy() {
	dp, err := xfrm.New(xfrm.WithIfID(42))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dp.Close()
	client := esp.PrefixSelector(netip.MustParsePrefix("198.51.100.7/32"))
	err = dp.AddPolicy(context.Background(), esp.Policy{Dir: esp.DirOut, Src: esp.AnySelector(true), Dst: client, ReqID: 1})
	fmt.Println(err)
	for ev := range dp.Events() {
		fmt.Println(ev) // soft expiry: rekey; acquire: negotiate
	}
}
