package xfrm_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/xfrm"
)

// New validates its options before touching the kernel: removing stale
// state needs a tag that says which state is ours.
func Example() {
	_, err := xfrm.New(xfrm.WithRemoveStale())
	fmt.Println(err)
	// Output: xfrm: WithRemoveStale: needs WithIfID, WithMark or WithReqIDRange to recognise its own state
}

// A gateway hands the kernel data plane to the IKE engine and switches
// its NAT-T socket to ESP-in-UDP decapsulation. (Not run: it needs root
// and a kernel with ESP.)
func Example_gateway() {
	dp, err := xfrm.New(xfrm.WithIfID(42), xfrm.WithReqIDRange(1, 1<<20), xfrm.WithRemoveStale())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dp.Close()

	natt, err := net.ListenUDP("udp", &net.UDPAddr{Port: 4500})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer natt.Close()
	if err := xfrm.EnableUDPEncap(natt); err != nil {
		fmt.Println(err)
		return
	}

	// What the IKE engine does once a CHILD SA is negotiated:
	client := esp.PrefixSelector(netip.MustParsePrefix("198.51.100.7/32"))
	err = dp.AddPolicy(context.Background(), esp.Policy{Dir: esp.DirOut, Src: esp.AnySelector(true), Dst: client, ReqID: 1})
	fmt.Println(err)
	for ev := range dp.Events() {
		fmt.Println(ev) // soft expiry: rekey; acquire: negotiate
	}
}
