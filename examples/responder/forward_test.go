package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/testnet"
)

var testPools = []netip.Prefix{netip.MustParsePrefix("198.51.100.64/26"), netip.MustParsePrefix("2001:db8:100:1::/120")}

func TestCheckMasquerade(t *testing.T) {
	if err := checkMasquerade(""); err != nil {
		t.Errorf("no masquerade: %v", err)
	}
	err := checkMasquerade("gi-no-such0")
	if fe, ok := err.(*fieldError); !ok || fe.Field != "forward.masquerade" || !strings.Contains(err.Error(), "gi-no-such0") {
		t.Errorf("missing uplink: %v", err)
	}
}

// TestNftRuleset has nftables itself check the ruleset (nft -c applies
// nothing), inside a namespace of the test's own.
func TestNftRuleset(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nft")
	rules := nftRuleset(forwardRules{uplink: "eth0", device: "goipsec0", pools: testPools})
	for _, want := range []string{`oifname "eth0" ip saddr 198.51.100.64/26 masquerade`, `oifname "eth0" ip6 saddr 2001:db8:100:1::/120 masquerade`, "maxseg size set rt mtu"} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	// Apply it twice (a restart after a crash replaces the table), then
	// delete it.
	for range 2 {
		cmd := ns.Command(context.Background(), "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft rejects the ruleset: %v\n%s\n%s", err, out, rules)
		}
	}
	if out := ns.Run("nft", "list", "tables"); strings.Count(out, nftTable) != 1 {
		t.Errorf("tables after two applies:\n%s", out)
	}
	ns.Run("nft", "delete", "table", "inet", nftTable)
}

// TestNftRulesetKernel: with the kernel data plane there is no device
// carrying the clients' traffic, so the MSS clamping matches the pools;
// nftables accepts the ruleset.
func TestNftRulesetKernel(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nftk")
	rules := nftRuleset(forwardRules{uplink: "eth0", pools: testPools})
	for _, want := range []string{"ip saddr 198.51.100.64/26 tcp flags syn", "ip6 daddr 2001:db8:100:1::/120 tcp flags syn", `oifname "eth0" ip saddr 198.51.100.64/26 masquerade`} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	if strings.Contains(rules, `iifname ""`) {
		t.Errorf("ruleset matches an empty device name:\n%s", rules)
	}
	cmd := ns.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft rejects the ruleset: %v\n%s\n%s", err, out, rules)
	}
	ns.Run("nft", "delete", "table", "inet", nftTable)
}
