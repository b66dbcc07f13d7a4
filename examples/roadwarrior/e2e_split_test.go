package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndPushedSubnets has examples/responder push two subnets
// (INTERNAL_IP4/6_SUBNET; it narrows the selectors to them): without
// -split, roadwarrior routes exactly those through the tunnel, pings a
// host inside them, and leaves other destinations (even next to the
// pushed subnet) on the normal routes. One pushed subnet holds the
// gateway's own address, which must stay outside the tunnel.
func TestEndToEndPushedSubnets(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t) // root and ip, as for the strongSwan tests
	testnet.Require(t, "ping")
	// Behind a NAT: ESP in UDP, which the userspace data planes of both
	// ends speak.
	topo := testnet.New(t, testnet.NATRandomPort)
	conf := filepath.Join(t.TempDir(), "responder.yaml")
	if err := os.WriteFile(conf, []byte("subnets:\n  - 198.51.100.0/25\n  - 2001:db8:100::/64\n  - 192.0.2.0/31\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startResponder(t, topo.Server, append([]string{"-config", conf}, respArgs()...)...)
	const tunName = "gi-rw5"
	// No -remote-id: the gateway, dialed by address, must prove that
	// address with its certificate (the demo PKI's names the listen
	// addresses) while it sends its name as IDr.
	p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(),
		"-auth", "eap", "-user", "demo", "-password-file", r.demoPasswordFile(t), "-ca", filepath.Join(r.state, "ca.pem"),
		"-tun", tunName)
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
	if !strings.Contains(p.Stdout.String(), "routes [198.51.100.0/25 2001:db8:100::/64 192.0.2.0/31] via "+tunName) {
		t.Errorf("routes are not the pushed subnets:\n%s", p.Stdout.String())
	}
	for _, c := range []struct {
		family, dst string
		in          bool
	}{
		{"-4", testnet.Inner4.String(), true},
		{"-4", "198.51.100.100", true},
		{"-6", testnet.Inner6.String(), true},
		{"-4", "198.51.100.200", false}, // next to the pushed /25
		{"-4", "203.0.113.9", false},
		{"-4", "192.0.2.0", true},                   // in the pushed /31 with the gateway
		{"-4", testnet.ServerAddr4.String(), false}, // the gateway itself: pinned outside
		{"-6", "2001:db8:101::1", false},
	} {
		out, _ := topo.Client.Try("ip", c.family, "route", "get", c.dst)
		if strings.Contains(out, tunName) != c.in {
			t.Errorf("%s through the tunnel: %v, want %v: %s", c.dst, !c.in, c.in, out)
		}
	}
	for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
			t.Errorf("ping %s inside a pushed subnet: %v\n%s", dst, err, out)
		}
	}
	p.stop(t, tunName)
	if out, _ := topo.Client.Try("ip", "-4", "route", "show", testnet.ServerAddr4.String()+"/32"); strings.TrimSpace(out) != "" {
		t.Errorf("host route to the gateway left behind: %s", out)
	}
}
