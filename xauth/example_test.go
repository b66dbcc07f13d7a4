package xauth_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/xauth"
)

// Example runs what follows Phase 1 for a "Cisco IPSec" client: XAuth
// between a gateway Server and a Client, then the Mode Config pull. In
// IKEv1 every message travels in an Attributes payload of a Transaction
// exchange; here they are handed over directly.
func Example() {
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})
	gw, err := xauth.NewServer(xauth.ServerConfig{Users: users})
	if err != nil {
		log.Fatal(err)
	}
	client, err := xauth.NewClient(xauth.ClientConfig{Name: "alice", Password: ipsec.Secret("wonderland")})
	if err != nil {
		log.Fatal(err)
	}

	msg, err := gw.Start()
	if err != nil {
		log.Fatal(err)
	}
	for msg != nil {
		fmt.Println("gateway:", msg.Type, msg.Attrs) // Identifiers are random
		answer, _, err := client.Process(msg)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("client: ", answer.Type, answer.Attrs)
		var res xauth.Result
		msg, res, err = gw.Process(context.Background(), answer)
		if err != nil {
			log.Fatal(err)
		}
		if res.Status != xauth.StatusContinue {
			fmt.Println("xauth:", res.Status, res.User.Name)
		}
	}

	// Mode Config pull: the client asks as racoon does, the gateway
	// answers with the lease its pool gave.
	req := xauth.NewRequest(7, xauth.AppleRequest...)
	reply, err := xauth.Reply(req, &xauth.Lease{
		IP4:          netip.MustParseAddr("10.10.0.2"),
		DNS:          []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		SplitInclude: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")},
		Banner:       "Welcome",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("gateway:", reply)
	lease, err := xauth.ParseLease(reply)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client: ", lease.IP4, lease.DNS, lease.SplitInclude, lease.Banner)
	// Output:
	// gateway: CFG_REQUEST [XAUTH_TYPE(TV) XAUTH_USER_NAME(0) XAUTH_USER_PASSWORD(0)]
	// client:  CFG_REPLY [XAUTH_TYPE(TV) XAUTH_USER_NAME(5) XAUTH_USER_PASSWORD(10)]
	// gateway: CFG_SET [XAUTH_STATUS(TV)]
	// client:  CFG_ACK [XAUTH_STATUS(TV)]
	// xauth: success alice
	// gateway: CFG_REPLY id=7 [ INTERNAL_IP4_ADDRESS(4) INTERNAL_IP4_DNS(4) UNITY_BANNER(7) UNITY_SPLIT_INCLUDE(14) ]
	// client:  10.10.0.2 [192.0.2.53] [10.10.0.0/16] Welcome
}
