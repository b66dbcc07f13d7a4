package main

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// reexecEnv makes the test binary run the responder's main instead of the
// tests, so the end-to-end test starts the program as a separate process
// inside the server namespace, exactly as an operator would.
const reexecEnv = "GOIPSEC_RESPONDER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// responderProcess is the responder running in a namespace.
type responderProcess struct {
	ns             *testnet.NS
	cmd            *exec.Cmd
	stdout, stderr *testnet.Buffer
	done           chan error
	stopped        bool
}

// startResponder runs `responder args...` in ns and waits for its
// how-to-connect block. It is stopped at the end of the test if the test
// did not stop it.
func startResponder(t *testing.T, ns *testnet.NS, args ...string) *responderProcess {
	t.Helper()
	p := &responderProcess{ns: ns, stdout: &testnet.Buffer{}, stderr: &testnet.Buffer{}, done: make(chan error, 1)}
	p.cmd = ns.Command(context.Background(), os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), reexecEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("responder log:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second) // first start generates two RSA keys
	for !strings.Contains(p.stdout.String(), "listening on:") {
		select {
		case err := <-p.done:
			p.stopped = true
			t.Fatalf("responder exited early: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder did not start within 60 s\n%s", p.stderr.String())
		}
	}
	return p
}

// stop sends SIGTERM, as systemd or Ctrl-C would, and checks for a clean
// exit, an orderly stop in the log and a removed TUN device.
func (p *responderProcess) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("responder exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("responder did not stop within 20 s of SIGTERM")
	}
	if out, err := p.ns.Try("ip", "link", "show", "goipsec0"); err == nil {
		t.Errorf("TUN device still present after shutdown:\n%s", out)
	}
	if !strings.Contains(p.stderr.String(), "responder stopped") {
		t.Errorf("no orderly stop in the log")
	}
}

// howTo returns the value of a "key: value" line of the how-to block.
func howTo(out, key string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// persona is one strongSwan client impersonating a native client.
type persona struct {
	profile string
	ns      *testnet.NS
	server  string // the address it connects to
}

// connectPersona starts the persona's charon with the CA from the
// how-to, logs in as user, checks its virtual IPs and DNS and pings the
// server's inside addresses through the tunnel.
func connectPersona(t *testing.T, c persona, resp *responderProcess, user, password string) (*strongswan.Charon, []netip.Addr) {
	t.Helper()
	caFile := strings.Fields(howTo(resp.stdout.String(), "CA certificate"))[0]
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("CA file from the how-to: %v", err)
	}
	p, err := strongswan.Render("client", c.profile, map[string]string{
		"SERVER": c.server, "SERVER_ID": "vpn.example.com", "EAP_USER": user, "EAP_PASS": password,
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := strongswan.Start(t, c.ns, p, "", strongswan.Files{"x509ca/ca.pem": ca})
	if out, err := cli.Initiate(c.profile, 30*time.Second); err != nil {
		t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", c.profile, err, out, cli.Log(), resp.stderr.String())
	}
	st := strongswan.ParseSAs(cli.ListSAs(), c.profile)
	if !st.IKEUp || !st.ChildUp {
		t.Fatalf("%s: SAs not up: %+v\n%s", c.profile, st, cli.ListSAs())
	}
	gw4, gw6 := testnet.Pool4.Addr().Next(), testnet.Pool6.Addr().Next()
	var vips []netip.Addr
	for _, v6 := range []bool{false, true} {
		vip, ok := st.VIP(v6)
		if !ok {
			t.Errorf("%s: no virtual IP (IPv6 %v)", c.profile, v6)
			continue
		}
		vips = append(vips, vip)
		pool, dst := testnet.Pool4, gw4
		if v6 {
			pool, dst = testnet.Pool6, gw6
		}
		if !pool.Contains(vip) || vip == dst {
			t.Errorf("%s: virtual IP %v not a client address of %v", c.profile, vip, pool)
		}
		if out, err := c.ns.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), dst.String()); err != nil {
			t.Errorf("%s: ping %v from %v through the tunnel: %v\n%s", c.profile, dst, vip, err, out)
		}
	}
	if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
		t.Errorf("%s: DNS server not delivered: %q", c.profile, r)
	}
	t.Logf("%s: IKE %s, ESP %s, virtual IPs %v, pings to %v and %v ok", c.profile, st.IKEAlg, st.ESPAlg, st.VIPs, gw4, gw6)
	return cli, vips
}

// TestEndToEndNativePersonas starts the responder as the README does, on
// its built-in configuration with the test network's addresses given by
// flag, and has strongSwan impersonate the iOS and Windows built-in
// clients. They log in at the same time as the demo user with the
// printed password, get distinct virtual IPs and the DNS server, and
// ping the server's inside addresses. SIGTERM deletes their SAs. A
// second start reuses the state: the same user, the password no longer
// printed, and Windows and then Android behind a NAT get in.
func TestEndToEndNativePersonas(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	state := t.TempDir()
	// A second uplink, so two personas (two charons, each owning UDP 500
	// in its namespace) can be connected at once.
	second4 := netip.MustParseAddr("203.0.113.1")
	args := func(listen ...netip.Addr) []string {
		return []string{
			"-state", state, "-name", "vpn.example.com",
			"-listen", strings.Join(addrStrings(listen), ","),
			"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
			"-dns", testnet.DNS4.String() + "," + testnet.DNS6.String(),
		}
	}
	var password string
	t.Run("first-start-ios-and-windows", func(t *testing.T) {
		topo := testnet.New(t, testnet.NoNAT)
		win := testnet.NewNS(t, "win")
		testnet.Link(t, win, "eth0", topo.Server, "eth1")
		topo.Server.AddAddr("eth1", second4.String()+"/24")
		win.AddAddr("eth0", "203.0.113.2/24")
		resp := startResponder(t, topo.Server, args(testnet.ServerAddr4, testnet.ServerAddr6, second4)...)
		out := resp.stdout.String()
		if got := howTo(out, "user"); got != demoUserName {
			t.Fatalf("printed user %q, want %q:\n%s", got, demoUserName, out)
		}
		if got := howTo(out, "server address"); got != "vpn.example.com" {
			t.Errorf("printed server address %q", got)
		}
		profile := filepath.Join(state, "profiles", demoUserName+".mobileconfig")
		for _, ext := range []string{".ps1", ".sswan"} {
			if _, err := os.Stat(filepath.Join(state, "profiles", demoUserName+ext)); err != nil {
				t.Errorf("profile: %v", err)
			}
		}
		if !strings.Contains(howTo(out, "client profiles"), filepath.Join(state, "profiles")) {
			t.Errorf("the how-to does not say where the profiles are:\n%s", out)
		}
		if data, err := os.ReadFile(profile); err != nil {
			t.Errorf("Apple profile: %v", err)
		} else if v, err := parsePlist(data); err != nil {
			t.Errorf("Apple profile: %v", err)
		} else if vpn := v.(map[string]any)["PayloadContent"].([]any)[1].(map[string]any); vpn["IKEv2"].(map[string]any)["RemoteAddress"] != "vpn.example.com" {
			t.Errorf("Apple profile names %v", vpn["IKEv2"])
		}
		password = howTo(out, "password")
		if len(password) < 16 {
			t.Fatalf("printed password %q", password)
		}
		ios, iosVIPs := connectPersona(t, persona{"ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String()}, resp, demoUserName, password)
		windows, winVIPs := connectPersona(t, persona{"windows-ikev2-eap", win, second4.String()}, resp, demoUserName, password)
		for _, a := range iosVIPs {
			if slices.Contains(winVIPs, a) {
				t.Errorf("both clients got %v", a)
			}
		}
		// Both still up: iOS pings again while Windows is connected.
		if len(iosVIPs) > 0 {
			if out, err := topo.Client.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", iosVIPs[0].String(), testnet.Inner4.String()); err != nil {
				t.Errorf("iOS ping with Windows connected: %v\n%s", err, out)
			}
		}
		if !waitFor(5*time.Second, func() bool { return strings.Count(resp.stderr.String(), "client connected") >= 2 }) {
			t.Error("the responder's log does not show two connections")
		}
		// `responder status` lists both, with their virtual IPs.
		var status, serr bytes.Buffer
		if code := run(context.Background(), []string{"status", "-state", state}, &status, &serr); code != 0 {
			t.Errorf("status: %d %s", code, serr.String())
		}
		st := status.String()
		if strings.Contains(st, " 0 packets") {
			t.Errorf("status shows a CHILD SA without traffic after the pings:\n%s", st)
		}
		if strings.Count(st, "ESTABLISHED") != 2 || strings.Count(st, "EAP: ["+demoUserName+"]") != 2 || strings.Count(st, "INSTALLED") != 2 {
			t.Errorf("status does not list two established clients:\n%s", st)
		}
		for _, a := range append(iosVIPs, winVIPs...) {
			if !strings.Contains(st, a.String()) {
				t.Errorf("status lacks virtual IP %v:\n%s", a, st)
			}
		}
		t.Logf("responder status:\n%s", st)
		if !strings.Contains(resp.stderr.String(), "MODP-1024") {
			t.Error("no warning that MODP-1024 is accepted")
		}
		if strings.Contains(resp.stderr.String(), password) {
			t.Error("the password appears in the log")
		}
		resp.stop(t)
		// Graceful shutdown told both clients.
		for _, c := range []struct {
			name string
			cli  *strongswan.Charon
		}{{"ios-ikev2-eap", ios}, {"windows-ikev2-eap", windows}} {
			if !waitFor(10*time.Second, func() bool { return !strongswan.ParseSAs(c.cli.ListSAs(), c.name).IKEUp }) {
				t.Errorf("%s still has its IKE SA after the responder stopped:\n%s", c.name, c.cli.ListSAs())
			}
		}
	})
	if password == "" {
		t.FailNow()
	}
	t.Run("second-start-windows-android-behind-nat", func(t *testing.T) {
		topo := testnet.New(t, testnet.NATRandomPort)
		// An "Internet" host behind the server's third interface, which
		// knows no route to the pools: only masquerading gets replies
		// back to the clients.
		inet := testnet.NewNS(t, "inet")
		testnet.Link(t, inet, "eth0", topo.Server, "eth2")
		topo.Server.AddAddr("eth2", "198.51.100.193/27")
		inet.AddAddr("eth0", "198.51.100.194/27")
		fwdBefore := topo.Server.Run("cat", sysctlForward4)
		// No -listen this time, as the README starts it: every address,
		// and a server certificate reissued for this namespace's
		// addresses under the CA from the first start.
		t.Cleanup(func() {
			// Registered before the responder starts, so it runs after
			// the responder's stop (cleanups run last first): the table
			// is gone and forwarding is as it was.
			if out, err := topo.Server.Try("nft", "list", "table", "inet", nftTable); err == nil {
				t.Errorf("nftables table left behind:\n%s", out)
			}
			if got := topo.Server.Run("cat", sysctlForward4); got != fwdBefore {
				t.Errorf("ip_forward %q after stop, %q before", got, fwdBefore)
			}
		})
		resp := startResponder(t, topo.Server, append(slices.DeleteFunc(args(), func(a string) bool { return a == "-listen" || a == "" }), "-masquerade", "eth2")...)
		if !strings.Contains(howTo(resp.stdout.String(), "also reachable"), testnet.ServerAddr4.String()) {
			t.Errorf("the how-to does not list the server's address:\n%s", resp.stdout.String())
		}
		out := resp.stdout.String()
		if strings.Contains(out, password) {
			t.Error("the password is printed again on a later start")
		}
		if !strings.Contains(howTo(out, "password"), filepath.Join(state, demoUserFile)) {
			t.Errorf("the how-to does not point to the password file:\n%s", out)
		}
		var u UserConfig
		data, err := os.ReadFile(filepath.Join(state, demoUserFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &u); err != nil || u.Password != password || u.Name != demoUserName {
			t.Fatalf("demo user changed between starts (%v)", err)
		}
		win, winVIPs := connectPersona(t, persona{"windows-ikev2-eap", topo.Client, testnet.ServerAddr4.String()}, resp, u.Name, u.Password)
		if len(winVIPs) > 0 {
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", winVIPs[0].String(), "198.51.100.194"); err != nil {
				t.Errorf("ping to the Internet host through the tunnel and the masquerade: %v\n%s\n%s", err, out, topo.Server.Run("nft", "list", "ruleset"))
			}
		}
		// The Android strongSwan app next, from the same namespace (one
		// charon per namespace owns UDP 500).
		win.Stop()
		connectPersona(t, persona{"android-ikev2-eap", topo.Client, testnet.ServerAddr4.String()}, resp, u.Name, u.Password)
	})
}
func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}
