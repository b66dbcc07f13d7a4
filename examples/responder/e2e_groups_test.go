package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndGroupsAndLimits applies `groups:` and `limits:` on the
// wire, with iOS personas (strongSwan, EAP-MSCHAPv2) in three
// namespaces: alice (group staff) gets her IPv4 address from the staff
// pool, bob (no group) from the rest of the main pool, and a second
// login of alice while the first is up is refused (sas_per_user: 1)
// with AUTHENTICATION_FAILED; after her first session ends she gets in
// again.
func TestEndToEndGroupsAndLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state, dir := initState(t), t.TempDir()
	staff := netip.MustParsePrefix("198.51.100.96/28") // inside testnet.Pool4
	const alicePass, bobPass = "alice-groups-Pa55word-0123", "bob-groups-Pa55word-4567"
	conf := fmt.Sprintf(`server:
  name: vpn.example.com
users:
  - {name: alice, password: %q, groups: [staff]}
  - {name: bob, password: %q}
pools: [%s, %s]
dns: [%s]
groups:
  staff: {pools: [%s]}
limits: {sas_per_user: 1}
`, alicePass, bobPass, testnet.Pool4, testnet.Pool6, testnet.DNS4, staff)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	second := testnet.NewNS(t, "c2")
	testnet.Link(t, second, "eth0", topo.Server, "eth1")
	topo.Server.AddAddr("eth1", "203.0.113.1/24")
	second.AddAddr("eth0", "203.0.113.2/24")
	third := testnet.NewNS(t, "c3")
	testnet.Link(t, third, "eth0", topo.Server, "eth2")
	topo.Server.AddAddr("eth2", "203.0.113.129/25")
	third.AddAddr("eth0", "203.0.113.130/25")
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state)

	const profile = "ios-ikev2-eap"
	alice, aliceVIPs := connectPersona(t, eapPersona(profile, topo.Client, testnet.ServerAddr4.String(), "alice", alicePass), resp)
	if len(aliceVIPs) == 0 || !staff.Contains(aliceVIPs[0]) {
		t.Errorf("alice (group staff) got %v, want an IPv4 address of the staff pool %s", aliceVIPs, staff)
	}
	_, bobVIPs := connectPersona(t, eapPersona(profile, second, "203.0.113.1", "bob", bobPass), resp)
	if len(bobVIPs) == 0 || staff.Contains(bobVIPs[0]) {
		t.Errorf("bob (no group) got %v, want an address outside the staff pool %s", bobVIPs, staff)
	}

	again := startPersona(t, eapPersona(profile, third, "203.0.113.129", "alice", alicePass), resp)
	if out, err := again.Initiate(profile, 20*time.Second); err == nil {
		t.Errorf("a second session of alice beyond sas_per_user: 1 was accepted:\n%s", out)
	}
	if l := again.Log(); !strings.Contains(l, "AUTHENTICATION_FAILED") {
		t.Errorf("the second login did not get AUTHENTICATION_FAILED:\n%s", l)
	}
	if l := resp.Stderr.String(); !strings.Contains(l, "alice") || !strings.Contains(strings.ToLower(l), "limit") {
		t.Errorf("the responder log does not explain the refusal:\n%s", l)
	}
	alice.Stop()
	if !waitFor(10*time.Second, func() bool {
		_, err := again.Initiate(profile, 10*time.Second)
		return err == nil
	}) {
		t.Errorf("alice cannot log in again after her first session ended:\n%s", again.Log())
	}
}
