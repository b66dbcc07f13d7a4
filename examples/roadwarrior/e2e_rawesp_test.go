package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndResponderWithoutNAT: the roadwarrior and the responder
// programs on their built-in settings, with no NAT between them, over
// IPv4 and over IPv6: the CHILD SA is raw ESP (not ESP in UDP) on both
// ends and pings pass. Before, the responder could not install a CHILD
// SA without UDP encapsulation (TEMPORARY_FAILURE, no tunnel).
func TestEndToEndResponderWithoutNAT(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t) // the namespaces' tools come with the interop prerequisites
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NoNAT)
	r := startResponder(t, topo.Server, respArgs()...)
	for i, server := range []string{testnet.ServerAddr4.String(), testnet.ServerAddr6.String()} {
		t.Run(server, func(t *testing.T) {
			tunName := []string{"gi-rw8", "gi-rw9"}[i]
			p := startRoadwarrior(t, topo.Client, "-server", server,
				"-auth", "eap", "-user", "demo", "-password-file", r.demoPasswordFile(t), "-ca", filepath.Join(r.state, "ca.pem"),
				"-tun", tunName)
			waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
			for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
				if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
					t.Errorf("ping %s through the tunnel: %v\n%s", dst, err, out)
				}
			}
			st := r.status(t)
			if !strings.Contains(st, "TUNNEL,") || strings.Contains(st, "TUNNEL-in-UDP") {
				t.Errorf("the responder's CHILD SA is not raw ESP:\n%s", st)
			}
			if !strings.Contains(st, "in  ") || strings.Contains(st, "in  0 bytes") {
				t.Errorf("no traffic counted on the raw ESP SA:\n%s", st)
			}
			p.stop(t, tunName)
		})
	}
}
