package ike_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// Per-group policies: the user store gives each EAP user its groups
// (ipsec.User.Groups); Authorize maps the first known group to its
// address pool and pushed subnets, and refuses users in none. It may
// block (a directory lookup) until ctx's deadline.
func ExampleHooks_authorize() {
	staffPool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.0/26"))
	contractorPool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.128/26"))
	policies := map[string]*ike.AuthDecision{
		"staff":       {Pools: []ipsec.AddressPool{staffPool}, Subnets: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
		"contractors": {Pools: []ipsec.AddressPool{contractorPool}, Subnets: []netip.Prefix{netip.MustParsePrefix("203.0.113.128/28")}},
	}
	hooks := &ike.Hooks{
		Authorize: func(ctx context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
			for _, g := range req.Groups {
				if d, ok := policies[g]; ok {
					return d, nil
				}
			}
			return nil, fmt.Errorf("%s is in no VPN group", req.Info.EAPIdentity)
		},
	}
	_ = ike.WithHooks(hooks) // given to ike.NewResponder

	// What the engine does after EAP succeeded for two users:
	carol := ike.AuthRequest{Method: ike.AuthEAP, Info: ipsec.IKESAInfo{EAPIdentity: "carol"}, Groups: []string{"contractors"}}
	d, err := hooks.Authorize(context.Background(), carol)
	fmt.Println(d.Subnets, err)
	mallory := ike.AuthRequest{Method: ike.AuthEAP, Info: ipsec.IKESAInfo{EAPIdentity: "mallory"}}
	_, err = hooks.Authorize(context.Background(), mallory)
	fmt.Println(err)
	// Output:
	// [203.0.113.128/28] <nil>
	// mallory is in no VPN group
}
