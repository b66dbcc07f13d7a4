package main

import (
	"bytes"
	"context"
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

// ciscoConfig is an ikev1: section for "Cisco IPSec" clients on the
// defaults otherwise: XAuth with the users, the pools, a group name for
// Aggressive Mode; the group key and the Main Mode key are the demo key.
const ciscoConfig = "ikev1:\n  allow_aggressive: true\n  group_name: ExampleGroup\n"

// ciscoResponder starts the responder from a configuration file with
// ciscoConfig and returns it with the demo IKEv1 key and the demo user's
// password from its how-to.
func ciscoResponder(t *testing.T, ns *testnet.NS, state string, listen ...string) (resp *responderProcess, psk, password string) {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "responder.yaml")
	if err := os.WriteFile(cfgFile, []byte(ciscoConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(listen) == 0 {
		listen = []string{testnet.ServerAddr4.String()}
	}
	resp = startResponder(t, ns, "-config", cfgFile, "-state", state, "-name", "vpn.example.com",
		"-listen", strings.Join(listen, ","), "-pool", testnet.Pool4.String()+","+testnet.Pool6.String(), "-dns", testnet.DNS4.String(),
		"-metrics", "127.0.0.1:9100")
	out := resp.Stdout.String()
	psk, ok := strings.CutSuffix(howTo(out, "IKEv1 PSK"), " (every client address)")
	if !ok || len(psk) < minPSKLength {
		t.Fatalf("no demo IKEv1 key in the how-to:\n%s", out)
	}
	if c := howTo(out, "Cisco IPSec"); !strings.Contains(c, "group name ExampleGroup") || !strings.Contains(c, "export apple --type ikev1") {
		t.Errorf("the how-to's Cisco IPSec line: %q", c)
	}
	return resp, psk, howTo(out, "password")
}

// ciscoPersona is one of the XAuth personas logging in as the demo user
// with the group key (or, ikev1-xauth-rsa, a client certificate of the
// demo CA).
func ciscoPersona(t *testing.T, profile string, ns *testnet.NS, state, psk, password string) persona {
	t.Helper()
	vars := map[string]string{"PSK": psk, "GROUP_ID": "ExampleGroup", "EAP_USER": demoUserName, "EAP_PASS": password}
	p := persona{profile: profile, ns: ns, server: testnet.ServerAddr4.String(), vars: vars}
	switch profile {
	case "ikev1-xauth-rsa":
		mac := macPersona(t, ns, p.server, state, "carol")
		p.files = mac.files
		vars["CLIENT_ID"] = "O=goipsec responder, CN=carol"
	case "ios-ikev1-hybrid":
		// Hybrid: the CA to check the server with, no client certificate.
		p.files = macPersona(t, ns, p.server, state, "carol").files
	}
	return p
}

// connectCisco connects a Cisco IPSec persona and checks that it got a
// virtual address of the pool and pings the server's inside address
// from it; it returns the charon and the address.
func connectCisco(t *testing.T, p persona, resp *responderProcess) (*strongswan.Charon, netip.Addr) {
	t.Helper()
	cli := startPersona(t, p, resp)
	if out, err := cli.Initiate(p.profile, 30*time.Second); err != nil {
		t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", p.profile, err, out, cli.Log(), resp.Stderr.String())
	}
	st := strongswan.ParseSAs(cli.ListSAs(), p.profile)
	vip, ok := st.VIP(false)
	if !st.IKEUp || !st.ChildUp || !ok || !testnet.Pool4.Contains(vip) || vip == testnet.Pool4.Addr().Next() {
		t.Fatalf("%s: SAs %+v, virtual address %v (pool %v)\n%s", p.profile, st, vip, testnet.Pool4, cli.ListSAs())
	}
	if err := pingFrom(p.ns, vip, 3); err != nil {
		t.Fatalf("%s: %v", p.profile, err)
	}
	if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
		t.Errorf("%s: DNS server not delivered: %q", p.profile, r)
	}
	t.Logf("%s: IKE %s, ESP %s, virtual address %v, pings ok", p.profile, st.IKEAlg, st.ESPAlg, vip)
	return cli, vip
}

// sentProposals counts the IKE proposals of the first "configured
// proposals" line of a charon log.
func sentProposals(log string) int {
	for _, l := range strings.Split(log, "\n") {
		if _, rest, ok := strings.Cut(l, "configured proposals: "); ok {
			return strings.Count(rest, "IKE:")
		}
	}
	return 0
}

// pingFrom sends n echo requests from vip to testnet.Inner4 through the
// tunnel, all to be answered.
func pingFrom(ns *testnet.NS, vip netip.Addr, n int) error {
	out, err := ns.Try("ping", "-n", "-c", fmt.Sprint(n), "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String())
	if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
		return fmt.Errorf("ping %v -> %v through the tunnel: %v\n%s", vip, testnet.Inner4, err, out)
	}
	return nil
}

// TestEndToEndCiscoIPSec runs the responder from a configuration file
// with a group name and otherwise its defaults; Apple's "Cisco IPSec"
// personas (Main Mode with a blank group name and Apple's exact list,
// Aggressive Mode with the group name and Apple's list) and the shared
// ikev1-xauth-psk and ikev1-xauth-rsa personas connect one after the
// other, directly and behind a NAT: each logs in as the demo user with
// XAuth, gets an address of the pool and the DNS server by Mode Config and
// pings through its tunnel; status shows its user and address. No key or
// password is in the log.
func TestEndToEndCiscoIPSec(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	for _, tc := range []struct {
		name string
		nat  testnet.NATMode
	}{{"direct", testnet.NoNAT}, {"behind NAT", testnet.NATRandomPort}} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			topo := testnet.New(t, tc.nat)
			resp, psk, password := ciscoResponder(t, topo.Server, state)
			profiles := []string{"ios-ikev1-xauth-main", "ios-ikev1-xauth-aggr", "ikev1-xauth-psk", "ikev1-xauth-rsa", "ios-ikev1-hybrid"}
			for _, profile := range profiles {
				p := ciscoPersona(t, profile, topo.Client, state, psk, password)
				cli, vip := connectCisco(t, p, resp)
				if want := map[string]int{"ios-ikev1-xauth-main": 15, "ios-ikev1-xauth-aggr": 4}[profile]; want > 0 {
					// Apple's whole list went out (DES included): strongSwan
					// drops what it cannot build without a word elsewhere.
					if n := sentProposals(cli.Log()); n != want {
						t.Errorf("%s sent %d phase 1 transforms, want Apple's %d", profile, n, want)
					}
				}
				var o, e bytes.Buffer
				if code := run(context.Background(), []string{"status", "-state", state}, &o, &e); code != 0 ||
					!strings.Contains(o.String(), ", IKEv1, ") || !strings.Contains(o.String(), "XAuth: ["+demoUserName+"]") ||
					!strings.Contains(o.String(), "virtual IPs "+vip.String()) {
					t.Errorf("%s: status does not list the client with its user and address: %d\n%s%s", profile, code, o.String(), e.String())
				}
				if tc.nat != testnet.NoNAT && !strings.Contains(o.String(), "(behind NAT)") {
					t.Errorf("%s: status does not mark the client as behind a NAT:\n%s", profile, o.String())
				}
				cli.Stop()
			}
			log := resp.Stderr.String()
			if n := strings.Count(log, "XAuth succeeded"); n != len(profiles) {
				t.Errorf("%d successful XAuth logins in the log, want %d", n, len(profiles))
			}
			for _, secret := range []string{psk, password} {
				if strings.Contains(log, secret) {
					t.Errorf("a key or password is in the responder's log")
				}
			}
			if !strings.Contains(log, "IKEv1 Aggressive Mode is allowed") {
				t.Errorf("no warning about Aggressive Mode at start")
			}
		})
	}
}

// TestEndToEndCiscoIPSecWrongPassword: a Cisco IPSec client with a wrong
// XAuth password gets no tunnel and no address and sees the failure; the
// responder logs the failure without the password and counts it in the
// metrics; no lease stays behind.
func TestEndToEndCiscoIPSecWrongPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	state := t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	resp, psk, password := ciscoResponder(t, topo.Server, state)
	const wrong = "not-the-password-4711"
	p := ciscoPersona(t, "ios-ikev1-xauth-main", topo.Client, state, psk, wrong)
	cli := startPersona(t, p, resp)
	out, err := cli.Initiate(p.profile, 30*time.Second)
	if st := strongswan.ParseSAs(cli.ListSAs(), p.profile); err == nil || st.ChildUp {
		t.Fatalf("a wrong XAuth password got a tunnel: %v\n%s\n%s", err, out, cli.ListSAs())
	}
	// strongSwan's client reports the gateway's STATUS FAIL.
	clog := cli.Log()
	if !strings.Contains(clog, "XAuth authentication of '"+demoUserName+"' (myself) failed") {
		t.Errorf("the client does not see the XAuth failure:\n%s", clog)
	}
	if !waitFor(5*time.Second, func() bool { return !strings.Contains(cliStatus(state), ", IKEv1, ") }) {
		t.Errorf("the refused client keeps an SA:\n%s", cliStatus(state))
	}
	log := resp.Stderr.String()
	if !strings.Contains(log, "XAuth failed") || strings.Contains(log, "XAuth succeeded") {
		t.Errorf("the log does not show one failed XAuth:\n%s", log)
	}
	m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100")
	for k, want := range map[string]float64{
		`goipsec_auth_failures_total`: 1, `goipsec_clients{ike="v1"}`: 0,
		`goipsec_pool_addresses_leased{pool="` + testnet.Pool4.String() + `"}`: 0,
	} {
		if m[k] != want {
			t.Errorf("metrics: %s = %v, want %v", k, m[k], want)
		}
	}
	for _, secret := range []string{wrong, password, psk} {
		if strings.Contains(log, secret) || strings.Contains(clog, secret) {
			t.Errorf("a password or key is in a log")
		}
	}
}

// cliStatus is `responder status` for the state directory.
func cliStatus(state string) string {
	var o, e bytes.Buffer
	run(context.Background(), []string{"status", "-state", state}, &o, &e)
	return o.String() + e.String()
}

// TestEndToEndCiscoIPSecAndIKEv2SharePool: an iOS IKEv2 persona and a
// Cisco IPSec persona, both the demo user, connected at the same time get
// different addresses of the one pool and both ping; status shows both
// addresses, the metrics one client of each IKE version and two leases.
func TestEndToEndCiscoIPSecAndIKEv2SharePool(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state := t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	ns := testnet.NewNS(t, "v2ios")
	testnet.Link(t, ns, "eth0", topo.Server, "eth1")
	topo.Server.AddAddr("eth1", "203.0.113.65/26")
	ns.AddAddr("eth0", "203.0.113.66/26")
	resp, psk, password := ciscoResponder(t, topo.Server, state, testnet.ServerAddr4.String(), "203.0.113.65")

	cisco := ciscoPersona(t, "ios-ikev1-xauth-aggr", topo.Client, state, psk, password)
	ciscoCli, v1vip := connectCisco(t, cisco, resp)
	ios := eapPersona("ios-ikev2-eap", ns, "203.0.113.65", demoUserName, password)
	iosCli, v2vips := connectPersona(t, ios, resp)
	if len(v2vips) == 0 || !testnet.Pool4.Contains(v2vips[0]) {
		t.Fatalf("the IKEv2 client's addresses %v", v2vips)
	}
	if v2vips[0] == v1vip {
		t.Fatalf("the IKEv1 and the IKEv2 client both hold %v", v1vip)
	}
	if err := pingFrom(topo.Client, v1vip, 3); err != nil {
		t.Errorf("the Cisco IPSec client after the IKEv2 one connected: %v", err)
	}
	checkPersona(t, ios, iosCli)
	st := cliStatus(state)
	if !strings.Contains(st, "virtual IPs "+v1vip.String()) || !strings.Contains(st, "virtual IPs "+v2vips[0].String()) {
		t.Errorf("status does not show both addresses:\n%s", st)
	}
	m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100")
	for k, want := range map[string]float64{
		`goipsec_clients{ike="v1"}`: 1, `goipsec_clients{ike="v2"}`: 1,
		`goipsec_pool_addresses_leased{pool="` + testnet.Pool4.String() + `"}`: 2,
	} {
		if m[k] != want {
			t.Errorf("metrics: %s = %v, want %v", k, m[k], want)
		}
	}
	_ = ciscoCli
}

// TestEndToEndCiscoIPSecRenewal: the Aggressive Mode Cisco IPSec persona
// renews phase 1 after 60 s (a new Aggressive Mode, as racoon does at
// 80-90 % of the lifetime); the responder does not run XAuth again (iOS
// could not answer it), and the tunnel and its pings go on through the
// renewal with the same address.
func TestEndToEndCiscoIPSecRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state := t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	resp, psk, password := ciscoResponder(t, topo.Server, state)
	p := ciscoPersona(t, "ios-ikev1-xauth-aggr", topo.Client, state, psk, password)
	p.vars["REAUTH_TIME"] = "60s"
	cli, vip := connectCisco(t, p, resp)
	before := strongswan.ParseSAs(cli.ListSAs(), p.profile)
	deadline := time.Now().Add(90 * time.Second)
	renewed, lost, sent := false, 0, 0
	for time.Now().Before(deadline) {
		if err := pingFrom(topo.Client, vip, 1); err != nil {
			lost++
		}
		sent++
		if strings.Contains(resp.Stderr.String(), "XAuth skipped") {
			if !renewed {
				// A few more pings on the renewed SA.
				deadline = time.Now().Add(10 * time.Second)
			}
			renewed = true
		}
		time.Sleep(time.Second)
	}
	log := resp.Stderr.String()
	if !renewed {
		t.Fatalf("no phase 1 renewal within 90 s (or it ran XAuth again):\nresponder log:\n%s\nclient log:\n%s", log, cli.Log())
	}
	if n := strings.Count(log, "XAuth succeeded"); n != 1 {
		t.Errorf("%d XAuth logins, want 1 (none on the renewal)", n)
	}
	if lost > 1 {
		t.Errorf("%d of %d pings lost across the renewal", lost, sent)
	}
	st := strongswan.ParseSAs(cli.ListSAs(), p.profile)
	if nv, _ := st.VIP(false); !st.IKEUp || !st.ChildUp || nv != vip {
		t.Fatalf("after the renewal: %+v (address %v, was %v)\n%s", st, nv, vip, cli.ListSAs())
	}
	if err := pingFrom(topo.Client, vip, 3); err != nil {
		t.Errorf("after the renewal: %v", err)
	}
	t.Logf("renewed phase 1 (was %s): %d of %d pings answered", before.IKEAlg, sent-lost, sent)
}
