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

// TestEndToEndProposals is issue #14 as an operator meets it: the
// configuration file restricts proposals.ike to a line without MODP-1024.
// strongSwan impersonating the Windows built-in client (twelve MODP_1024
// proposals) is refused in IKE_SA_INIT with NO_PROPOSAL_CHOSEN and the
// responder's log names MODP_1024; the iOS persona, which leads with
// MODP_2048, connects with exactly that and pings through the tunnel.
// proposals.esp is what its CHILD SA gets too: the line puts AES-GCM,
// which iOS does not offer, before AES-128 with SHA-1, which it offers
// after its AES-256 ones, so the defaults would have chosen otherwise.
func TestEndToEndProposals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	const (
		ikeLine  = "aes256-sha256-modp2048, aes256gcm16-prfsha256-curve25519"
		espLine  = "aes256gcm16, aes128-sha1"
		user     = "alice"
		password = "proposals-e2e-Pa55word-0123"
	)
	state, dir := t.TempDir(), t.TempDir()
	conf := fmt.Sprintf(`server:
  name: vpn.example.com
users:
  - name: %s
    password: %q
pools: [%s, %s]
dns: [%s]
proposals:
  ike: %q
  esp: %q
`, user, password, testnet.Pool4, testnet.Pool6, testnet.DNS4, ikeLine, espLine)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	// Windows from its own namespace: each charon owns UDP 500 there.
	win := testnet.NewNS(t, "win")
	testnet.Link(t, win, "eth0", topo.Server, "eth1")
	topo.Server.AddAddr("eth1", "203.0.113.1/24")
	win.AddAddr("eth0", "203.0.113.2/24")

	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state)
	if log := resp.Stderr.String(); strings.Contains(log, "MODP-1024") {
		t.Errorf("the start-up log warns that MODP-1024 is accepted although proposals.ike excludes it:\n%s", log)
	}

	// Windows: refused before any state, with the reason in both logs.
	winP := eapPersona("windows-ikev2-eap", win, "203.0.113.1", user, password)
	winCli := startPersona(t, winP, resp)
	out, err := winCli.Initiate(winP.profile, 30*time.Second)
	if err == nil {
		t.Fatalf("the Windows persona connected with MODP_1024 offers only:\n%s\n%s", out, winCli.ListSAs())
	}
	if st := strongswan.ParseSAs(winCli.ListSAs(), winP.profile); st.IKEUp {
		t.Errorf("the Windows persona has an IKE SA: %+v", st)
	}
	if l := winCli.Log(); !strings.Contains(l, "NO_PROPOSAL_CHOSEN") {
		t.Errorf("the Windows persona did not receive NO_PROPOSAL_CHOSEN:\n%s", l)
	}
	if !waitFor(5*time.Second, func() bool {
		l := resp.Stderr.String()
		return strings.Contains(l, "NO_PROPOSAL_CHOSEN") && strings.Contains(l, "MODP_1024") &&
			strings.Contains(l, `msg="proposals refused" addr=203.0.113.2:500`)
	}) {
		t.Errorf("the responder's log does not explain the refusal with NO_PROPOSAL_CHOSEN and MODP_1024:\n%s", resp.Stderr.String())
	}

	// iOS: MODP_2048, its first proposal, is on the operator's line.
	iosP := eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), user, password)
	iosCli, _ := connectPersona(t, iosP, resp)
	st := strongswan.ParseSAs(iosCli.ListSAs(), iosP.profile)
	if !strings.Contains(st.IKEAlg, "MODP_2048") || !strings.Contains(st.IKEAlg, "AES_CBC-256") && !strings.Contains(st.IKEAlg, "AES_CBC_256") {
		t.Errorf("iOS negotiated IKE %q, want AES-CBC-256 with MODP_2048 from the configured line", st.IKEAlg)
	}
	if !strings.Contains(st.ESPAlg, "AES_CBC-128/HMAC_SHA1_96") {
		t.Errorf("iOS negotiated ESP %q, want AES_CBC-128/HMAC_SHA1_96 from the configured line", st.ESPAlg)
	}
	if strings.Contains(resp.Stderr.String(), password) {
		t.Error("the password appears in the log")
	}
}
