package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// childTS returns the "local" and "remote" selector lines of the CHILD SA
// name in `swanctl --list-sas` output.
func childTS(listSAs, name string) (local, remote []string) {
	in := false
	for _, l := range strings.Split(listSAs, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, name+": #") && strings.Contains(t, "reqid"): // the CHILD SA, not the IKE SA of the same name
			in = true
		case in && strings.HasPrefix(t, "local "):
			local = strings.Fields(strings.TrimPrefix(t, "local "))
		case in && strings.HasPrefix(t, "remote "):
			remote = strings.Fields(strings.TrimPrefix(t, "remote "))
			in = false
		}
	}
	return local, remote
}

// TestEndToEndNoVirtualIPClient: a strongSwan client that requests no
// virtual IP and proposes local_ts = 0.0.0.0/0, ::/0 gets
// FAILED_CP_REQUIRED from the responder (pools are configured); the same
// client as a PSK peer configured with no_virtual_ip gets its own outer
// address as its only selector, never 0/0.
func TestEndToEndNoVirtualIPClient(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	state, dir := initState(t), t.TempDir() // demo PKI and user; a directory for configuration files
	const psk = "0123456789abcdef-psk-for-the-host-peers"
	conf := fmt.Sprintf(`server:
  name: vpn.example.com
psk_peers:
  - id: roadwarrior@example.com
    psk: %q
  - id: host@example.com
    psk: %q
    no_virtual_ip: true
pools: [%s, %s]
`, psk, psk, testnet.Pool4, testnet.Pool6)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state)
	const profile = "linux-ikev2-psk-novip"

	// A road-warrior identity without a CP request: refused.
	rw := startPersona(t, persona{profile: profile, ns: topo.Client, server: testnet.ServerAddr4.String(),
		vars: map[string]string{"CLIENT_ID": "roadwarrior@example.com", "PSK": psk}}, resp)
	out, err := rw.Initiate(profile, 20*time.Second)
	if err == nil {
		t.Fatalf("a client without a virtual IP request got its CHILD SA:\n%s\n%s", out, rw.ListSAs())
	}
	if !strings.Contains(rw.Log()+out, "FAILED_CP_REQUIRED") {
		t.Errorf("the client did not receive FAILED_CP_REQUIRED:\n%s\n%s", out, rw.Log())
	}
	if l := resp.Stderr.String(); !strings.Contains(l, "FAILED_CP_REQUIRED") {
		t.Errorf("the responder log does not say FAILED_CP_REQUIRED:\n%s", l)
	}
	if local, _ := childTS(rw.ListSAs(), profile); len(local) != 0 {
		t.Errorf("CHILD SA installed with local selectors %v", local)
	}
	rw.Stop()

	// The host peer allowed without a virtual IP: its own address only.
	host := startPersona(t, persona{profile: profile, ns: topo.Client, server: testnet.ServerAddr4.String(),
		vars: map[string]string{"CLIENT_ID": "host@example.com", "PSK": psk}}, resp)
	if out, err := host.Initiate(profile, 20*time.Second); err != nil {
		t.Fatalf("host peer: %v\n%s\n%s", err, out, host.Log())
	}
	local, remote := childTS(host.ListSAs(), profile)
	want := topo.ClientAddr4.String() + "/32"
	if len(local) != 1 || local[0] != want {
		t.Errorf("host peer's CHILD SA has local selectors %v, want only %s (remote %v)\n%s", local, want, remote, host.ListSAs())
	}
	t.Logf("host peer narrowed to local %v remote %v", local, remote)
}
