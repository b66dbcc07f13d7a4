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

// TestEndToEndCiscoIPSecAgainstResponder runs examples/responder with a
// Cisco IPSec group (name and secret) and connects with -ike v1 as the
// demo user behind a NAT: Aggressive Mode with the group name, then Main
// Mode with a blank group; each time the tunnel comes up with an address
// of the responder's pool and pings from it through the tunnel. A wrong
// password stops roadwarrior with a clear message. The responder proves
// its address with the group secret (no -remote-id: Apple's client does
// not check the gateway's identity either).
func TestEndToEndCiscoIPSecAgainstResponder(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t) // root and ip, as for the strongSwan tests
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NATRandomPort)
	const secret = "goipsec-responder-group-secret-42"
	dir := t.TempDir()
	conf, secretFile, wrongFile := filepath.Join(dir, "responder.yaml"), filepath.Join(dir, "group"), filepath.Join(dir, "wrong")
	for name, content := range map[string]string{
		conf:       "ikev1:\n  allow_aggressive: true\n  group_name: ExampleGroup\n  group_secret: " + secret + "\n",
		secretFile: secret + "\n",
		wrongFile:  "not-the-demo-password\n",
	} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := startResponder(t, topo.Server, append([]string{"-config", conf}, respArgs()...)...)
	pwFile := r.demoPasswordFile(t)
	const tunName = "gi-rw8"
	args := func(pw string, group ...string) []string {
		a := []string{"-server", testnet.ServerAddr4.String(), "-ike", "v1", "-auth", "psk", "-group-secret-file", secretFile,
			"-user", "demo", "-password-file", pw, "-tun", tunName, "-split", testnet.Inner4.String() + "/32",
			"-retransmit-timeout", "500ms", "-retransmit-tries", "2", "-dial-timeout", "10s"}
		if len(group) > 0 {
			a = append(a, "-group", group[0])
		}
		return a
	}

	bad := startRoadwarrior(t, topo.Client, args(wrongFile, "ExampleGroup")...)
	select {
	case err := <-bad.Done:
		bad.exited = true
		if err == nil {
			t.Error("roadwarrior exited 0 after a wrong XAuth password, want status 1")
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("roadwarrior still runs 60 s after a wrong XAuth password; stderr:\n%s", bad.Stderr.String())
	}
	if msg := bad.Stderr.String(); !strings.Contains(msg, "authentication failed, not retrying") || !strings.Contains(msg, "refused our XAuth credentials") {
		t.Errorf("no clear message about the refused password:\n%s", msg)
	}

	for _, c := range []struct {
		name  string
		group []string
	}{
		{"aggressive mode with group name", []string{"ExampleGroup"}},
		{"main mode with blank group", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startRoadwarrior(t, topo.Client, args(pwFile, c.group...)...)
			waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
			up := p.Stdout.String()
			_, rest, _ := strings.Cut(up, "virtual IPs [")
			vip, _, _ := strings.Cut(rest, "]")
			if !strings.HasPrefix(vip, "198.51.100.") || !strings.Contains(up, "routes ["+testnet.Inner4.String()+"/32] via "+tunName) {
				t.Fatalf("tunnel-up line:\n%s", up)
			}
			out, err := topo.Client.Try("ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip, testnet.Inner4.String())
			if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
				t.Errorf("ping %s from %s through the tunnel: %v\n%s", testnet.Inner4, vip, err, out)
			}
			if st := r.status(t); !strings.Contains(st, vip) {
				t.Errorf("responder status does not list %s:\n%s", vip, st)
			}
			p.stop(t, tunName)
		})
	}
	if strings.Contains(r.out.String(), secret) {
		t.Error("the group secret appears in the responder's output")
	}
}

// TestEndToEndCiscoIPSecSplitInclude has examples/responder hand out two
// networks as Cisco Unity split-include to a -ike v1 client without
// -split: exactly those are routed through the tunnel (the one holding
// the gateway's own address with the gateway pinned outside), other
// destinations stay on the normal routes, and a host inside them answers
// pings.
func TestEndToEndCiscoIPSecSplitInclude(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NATRandomPort)
	const secret = "goipsec-responder-group-secret-42"
	dir := t.TempDir()
	conf, secretFile := filepath.Join(dir, "responder.yaml"), filepath.Join(dir, "group")
	for name, content := range map[string]string{
		conf:       "subnets:\n  - 198.51.100.0/25\n  - 192.0.2.0/31\nikev1:\n  group_secret: " + secret + "\n",
		secretFile: secret + "\n",
	} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := startResponder(t, topo.Server, append([]string{"-config", conf}, respArgs()...)...)
	const tunName = "gi-rw9"
	p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-ike", "v1", "-auth", "psk",
		"-group-secret-file", secretFile, "-user", "demo", "-password-file", r.demoPasswordFile(t), "-tun", tunName)
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
	if !strings.Contains(p.Stdout.String(), "routes [198.51.100.0/25 192.0.2.0/31] via "+tunName) {
		t.Errorf("routes are not the split-include networks:\n%s", p.Stdout.String())
	}
	for _, c := range []struct {
		dst string
		in  bool
	}{
		{testnet.Inner4.String(), true},
		{"198.51.100.100", true},
		{"198.51.100.200", false}, // next to the /25
		{"203.0.113.9", false},
		{"192.0.2.0", true},
		{testnet.ServerAddr4.String(), false}, // the gateway: pinned outside
	} {
		out, _ := topo.Client.Try("ip", "-4", "route", "get", c.dst)
		if strings.Contains(out, tunName) != c.in {
			t.Errorf("%s through the tunnel: %v, want %v: %s", c.dst, !c.in, c.in, out)
		}
	}
	if out, err := topo.Client.Try("ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", testnet.Inner4.String()); err != nil {
		t.Errorf("ping %s inside a split-include network: %v\n%s", testnet.Inner4, err, out)
	}
	p.stop(t, tunName)
}
