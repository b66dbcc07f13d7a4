package main

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndTerminate runs the responder as its own process with an iOS
// persona (strongSwan): `responder terminate ID` with the #N of status
// ends its session, the client is told (its SAs are gone without waiting
// for DPD) and status is empty; the client connects again, and
// `responder terminate -user` ends that session too.
func TestEndToEndTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state := t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	resp := startResponder(t, topo.Server, "-state", state, "-name", "vpn.example.com",
		"-listen", strings.Join(addrStrings([]netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6}), ","),
		"-pool", testnet.Pool4.String()+","+testnet.Pool6.String(), "-dns", testnet.DNS4.String())
	password := howTo(resp.Stdout.String(), "password")
	ios := eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), demoUserName, password)
	cli, _ := connectPersona(t, ios, resp)
	cmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "-state", state), &out, &errb)
		return code, out.String() + errb.String()
	}
	clientDown := func() bool { return !strongswan.ParseSAs(cli.ListSAs(), ios.profile).IKEUp }

	code, st := cmd("status")
	m := regexp.MustCompile(`(?m)^#(\d+): ESTABLISHED`).FindStringSubmatch(st)
	if code != 0 || m == nil {
		t.Fatalf("status: %d\n%s", code, st)
	}
	if code, out := cmd("terminate", m[1]); code != 0 || !strings.Contains(out, "terminated session #"+m[1]) {
		t.Fatalf("terminate %s: %d %s", m[1], code, out)
	}
	if !waitFor(5*time.Second, clientDown) {
		t.Errorf("the client still has its SAs after terminate:\n%s", cli.ListSAs())
	}
	if code, st := cmd("status"); code != 0 || !strings.Contains(st, "no clients connected") {
		t.Errorf("status after terminate: %d\n%s", code, st)
	}
	if code, out := cmd("terminate", m[1]); code != 1 || !strings.Contains(out, "no session #"+m[1]) {
		t.Errorf("terminating an ended session: %d %s", code, out)
	}

	// The client comes back; its user is then terminated.
	if out, err := cli.Initiate(ios.profile, 30*time.Second); err != nil {
		t.Fatalf("reconnect: %v\n%s", err, out)
	}
	checkPersona(t, ios, cli)
	if code, out := cmd("terminate", "-user", demoUserName); code != 0 || !strings.Contains(out, "terminated 1 session(s) of "+demoUserName) {
		t.Fatalf("terminate -user: %d %s", code, out)
	}
	if !waitFor(5*time.Second, clientDown) {
		t.Errorf("the client still has its SAs after terminate -user:\n%s", cli.ListSAs())
	}
	if !strings.Contains(resp.Stderr.String(), "session terminated by the operator") || !strings.Contains(resp.Stderr.String(), "sessions terminated by the operator") {
		t.Errorf("the responder's log does not record the terminations:\n%s", resp.Stderr.String())
	}
}
