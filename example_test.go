package ipsec_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
)

func ExampleParseIdentity() {
	for _, s := range []string{"vpn.example.com", "198.51.100.7", "alice@example.com", "C=US, O=Example, CN=gw"} {
		id, _ := ipsec.ParseIdentity(s)
		fmt.Println(id.Type, id)
	}
	// Output:
	// ID_FQDN vpn.example.com
	// ID_IPV4_ADDR 198.51.100.7
	// ID_RFC822_ADDR alice@example.com
	// ID_DER_ASN1_DN CN=gw,O=Example,C=US
}

func ExamplePool() {
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	ctx := context.Background()
	a, _ := pool.Acquire(ctx, "alice", netip.Addr{})
	b, _ := pool.Acquire(ctx, "bob", netip.Addr{})
	pool.Release(a)
	again, _ := pool.Acquire(ctx, "alice", netip.Addr{}) // alice reconnects
	fmt.Println(a, b, again)
	// Output: 198.51.100.65 198.51.100.66 198.51.100.65
}

func ExampleSecret() {
	psk := ipsec.Secret("correct horse battery staple")
	fmt.Println("psk:", psk)
	// Output: psk: <redacted>
}
