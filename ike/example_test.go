package ike_test

import (
	"context"
	"fmt"
	"net/netip"

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
	tr.SetIKEv1Handler(func(p ike.Packet) { fmt.Println("IKEv1 from", p.Remote) })
	fmt.Println(len(tr.LocalAddrs()), "sockets")
	// Output: 2 sockets
}
