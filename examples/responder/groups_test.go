package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

const groupsYAML = `
users:
  - {name: alice, password: "correct horse battery", groups: [staff]}
  - {name: carol, password: "hunter2 hunter2", groups: [unknown-later, contractors]}
  - {name: dave, password: "no group at all"}
pools: [10.10.10.0/24, fd0a:7e57:10::/112]
subnets: [192.0.2.0/24]
groups:
  staff: {pools: [10.10.10.0/26, "fd0a:7e57:10::100/120"], subnets: [198.51.100.0/24]}
  contractors: {pools: [10.10.10.128/28]}
`

func groupSettings(t *testing.T, yaml string) (*settings, error) {
	t.Helper()
	c, err := parseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c.validate([]netip.Prefix{uplink})
}

func TestGroupsConfigErrors(t *testing.T) {
	for _, c := range []struct{ edit, field string }{
		{"10.10.10.128/28]}", ""}, // the valid original
		{"10.10.11.0/28]}", "groups.contractors.pools[0]"},
		{"10.10.10.0/23]}", "groups.contractors.pools[0]"},
		{"10.10.10.32/28]}", "overlaps another group's pool"}, // staff's range
		{"10.10.10.129/28]}", "groups.contractors.pools[0]"},
	} {
		y := strings.Replace(groupsYAML, "10.10.10.128/28]}", c.edit, 1)
		y = strings.Replace(y, "unknown-later, ", "", 1)
		_, err := groupSettings(t, y)
		if c.field == "" {
			if err != nil {
				t.Errorf("valid groups refused: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("contractors pool %s: error %v, want one naming %s", c.edit, err, c.field)
		}
	}
	if _, err := groupSettings(t, groupsYAML); err == nil || !strings.Contains(err.Error(), `users[1].groups[0]: group "unknown-later" is not defined`) {
		t.Errorf("unknown group: %v", err)
	}
	big := strings.Replace(groupsYAML, "pools: [10.10.10.0/24,", "pools: [10.8.0.0/14,", 1)
	big = strings.Replace(big, "10.10.10.0/26,", "10.8.0.0/19,", 1)
	if _, err := groupSettings(t, strings.Replace(big, "unknown-later, ", "", 1)); err == nil || !strings.Contains(err.Error(), "more than 4096 addresses") {
		t.Errorf("huge group pool: %v", err)
	}
}

// A user of a group gets its pool (and the main pool for the family the
// group has none of) and its subnets; the main pools never lease a
// group's addresses; users without a group keep the configuration.
func TestGroupAuthorizer(t *testing.T) {
	s, err := groupSettings(t, strings.Replace(groupsYAML, "unknown-later, ", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	var main []ipsec.AddressPool
	for _, p := range []netip.Prefix{s.pool4, s.pool6} {
		pool, err := ipsec.NewPool(p)
		if err != nil {
			t.Fatal(err)
		}
		main = append(main, pool)
	}
	gw := []netip.Addr{netip.MustParseAddr("10.10.10.1"), netip.MustParseAddr("fd0a:7e57:10::1")}
	authorize, err := groupAuthorizer(s.groups, main, gw)
	if err != nil || authorize == nil {
		t.Fatalf("groupAuthorizer: %v", err)
	}
	ctx := context.Background()
	lease := func(d *ike.AuthDecision, owner string) []netip.Addr {
		var out []netip.Addr
		for _, p := range d.Pools {
			a, err := p.Acquire(ctx, owner, netip.Addr{})
			if err != nil {
				t.Fatalf("%s: %v", owner, err)
			}
			out = append(out, a)
		}
		return out
	}
	d, err := authorize(ctx, ike.AuthRequest{Method: ike.AuthEAP, Groups: []string{"staff"}})
	if err != nil || d == nil {
		t.Fatalf("staff: %v %v", d, err)
	}
	got := lease(d, "alice")
	if len(got) != 2 || !netip.MustParsePrefix("10.10.10.0/26").Contains(got[0]) || got[0] == gw[0] ||
		!netip.MustParsePrefix("fd0a:7e57:10::100/120").Contains(got[1]) {
		t.Errorf("staff addresses %v", got)
	}
	if len(d.Subnets) != 1 || d.Subnets[0].String() != "198.51.100.0/24" {
		t.Errorf("staff subnets %v", d.Subnets)
	}
	d, _ = authorize(ctx, ike.AuthRequest{Method: ike.AuthEAP, Groups: []string{"other", "contractors"}})
	got = lease(d, "carol")
	if len(got) != 2 || !netip.MustParsePrefix("10.10.10.128/28").Contains(got[0]) || !s.pool6.Contains(got[1]) || d.Subnets != nil {
		t.Errorf("contractors: addresses %v, subnets %v (want the global ones kept)", got, d.Subnets)
	}
	if d, err := authorize(ctx, ike.AuthRequest{Method: ike.AuthEAP}); d != nil || err != nil {
		t.Errorf("no group: %+v %v, want the configuration kept", d, err)
	}
	for i := range 100 {
		a, err := main[0].Acquire(ctx, "dave"+string(rune('a'+i%26))+string(rune('a'+i/26)), netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"10.10.10.0/26", "10.10.10.128/28"} {
			if netip.MustParsePrefix(g).Contains(a) {
				t.Fatalf("main pool leased %v of group range %s", a, g)
			}
		}
	}
}
