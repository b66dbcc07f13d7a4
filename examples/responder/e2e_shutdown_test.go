package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndShutdownTellsClients: SIGTERM drains the responder
// (ike.Responder.Shutdown): a connected client receives a Delete for its
// IKE SA and its SAs are gone at once, without waiting for dead peer
// detection; the program still stops cleanly (checked by stop).
func TestEndToEndShutdownTellsClients(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NoNAT)
	resp := startResponder(t, topo.Server, "-state", t.TempDir(), "-name", "vpn.example.com",
		"-listen", strings.Join(addrStrings([]netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6}), ","),
		"-pool", testnet.Pool4.String()+","+testnet.Pool6.String(), "-dns", testnet.DNS4.String())
	ios := eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), demoUserName, howTo(resp.Stdout.String(), "password"))
	cli, _ := connectPersona(t, ios, resp)
	start := time.Now()
	resp.stop(t)
	if d := time.Since(start); d > shutdownGrace+5*time.Second {
		t.Errorf("stopping took %v", d)
	}
	if !waitFor(5*time.Second, func() bool { return !strongswan.ParseSAs(cli.ListSAs(), ios.profile).IKEUp }) {
		t.Errorf("the client still has its SAs after the server stopped:\n%s", cli.ListSAs())
	}
	if l := cli.Log(); !strings.Contains(l, "received DELETE for IKE_SA") {
		t.Errorf("the client was not told with a Delete:\n%s", l)
	}
}
