package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

// reexecEnv makes the test binary run roadwarrior's main instead of the
// tests, so the end-to-end test starts the program as its own process in
// the client namespace, as a user would.
const reexecEnv = "GOIPSEC_ROADWARRIOR_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// rwProcess is roadwarrior running in a namespace.
type rwProcess struct {
	*testnet.Process
	ns     *testnet.NS
	exited bool
}

// startRoadwarrior runs `roadwarrior args...` in ns; it is killed at the
// end of the test if the test did not stop it.
func startRoadwarrior(t *testing.T, ns *testnet.NS, args ...string) *rwProcess {
	t.Helper()
	proc, err := ns.Start([]string{reexecEnv + "=1"}, os.Args[0], args...)
	if err != nil {
		t.Fatal(err)
	}
	p := &rwProcess{Process: proc, ns: ns}
	t.Cleanup(func() {
		if !p.exited {
			_ = p.Cmd.Process.Kill()
			// waitLines may have taken the exit status already.
			select {
			case <-p.Done:
			case <-time.After(10 * time.Second):
			}
		}
		t.Logf("roadwarrior stdout:\n%s", p.Stdout.String())
		if t.Failed() {
			t.Logf("roadwarrior stderr:\n%s", p.Stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and checks for exit status 0 and a removed TUN.
func (p *rwProcess) stop(t *testing.T, tunName string) {
	t.Helper()
	inTime, err := p.Terminate(30 * time.Second)
	p.exited = true
	if !inTime {
		t.Fatal("roadwarrior did not stop within 30 s of SIGTERM")
	}
	if err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	if out, err := p.ns.Try("ip", "link", "show", tunName); err == nil {
		t.Errorf("TUN device still present after shutdown:\n%s", out)
	}
}

// waitLines waits until stdout holds n lines starting with prefix.
func waitLines(t *testing.T, out *testnet.Buffer, done <-chan error, prefix string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		count := 0
		for l := range strings.SplitSeq(out.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				count++
			}
		}
		if count >= n {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("roadwarrior exited (%v) before %d %q lines; stdout:\n%s", err, n, prefix, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d %q lines within %v; stdout:\n%s", n, prefix, d, out.String())
		}
	}
}

// TestEndToEndAgainstStrongSwan runs roadwarrior against a strongSwan PSK
// responder: tunnel up, ping through the split route, resolv.conf
// written; then the responder restarts, roadwarrior reconnects and the
// ping works again; SIGTERM ends it with status 0, the TUN device gone
// and resolv.conf restored.
func TestEndToEndAgainstStrongSwan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NATRandomPort)
	const psk = "goipsec-roadwarrior-psk-0123456789"
	vars := map[string]string{
		"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
		"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
	}
	sp, err := strongswan.Render("server", "ikev2-psk", vars)
	if err != nil {
		t.Fatal(err)
	}
	srv := strongswan.Start(t, topo.Server, sp, "", nil)

	dir := t.TempDir()
	pskFile, resolv := filepath.Join(dir, "psk"), filepath.Join(dir, "resolv.conf")
	const oldResolv = "nameserver 192.0.2.53\n"
	for name, content := range map[string]string{pskFile: psk + "\n", resolv: oldResolv} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const tunName = "gi-rw0"
	p := startRoadwarrior(t, topo.Client,
		"-server", testnet.ServerAddr4.String(), "-auth", "psk", "-psk-file", pskFile,
		"-id", "client@example.com", "-remote-id", "vpn.example.com", "-tun", tunName,
		"-split", "198.51.100.0/24,2001:db8:100::/64", "-resolv", resolv, "-dpd", "2s", "-log-level", "debug")
	stdout, stderr, done := p.Stdout, p.Stderr, p.Done

	ping := func(when string) {
		t.Helper()
		for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
				t.Errorf("%s: ping %s through the tunnel: %v\n%s", when, dst, err, out)
			}
		}
	}
	waitLines(t, stdout, done, "tunnel up:", 1, 45*time.Second)
	up := stdout.String()
	for _, want := range []string{"gateway 192.0.2.1:4500", "IKE aes256-sha256", "ESP aes256gcm16", "198.51.100.", "2001:db8:100:1::", "DNS [198.51.100.53 2001:db8:100::53]"} {
		if !strings.Contains(up, want) {
			t.Errorf("tunnel-up line lacks %q:\n%s", want, up)
		}
	}
	ping("first SA")
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver "+testnet.DNS4.String()) || !strings.Contains(string(b), "nameserver "+testnet.DNS6.String()) {
		t.Errorf("resolv.conf while up:\n%s", b)
	}
	if st := strongswan.ParseSAs(srv.ListSAs(), "ikev2-psk"); !st.IKEUp || !st.ChildUp {
		t.Errorf("strongSwan does not show the SAs up:\n%s", srv.ListSAs())
	}

	// The gateway restarts: its SAs are gone; roadwarrior notices (Delete
	// or dead peer detection) and reconnects to the new daemon.
	srv.Stop()
	srv = strongswan.Start(t, topo.Server, sp, "", nil)
	waitLines(t, stdout, done, "tunnel down:", 1, 60*time.Second)
	waitLines(t, stdout, done, "tunnel up:", 2, 90*time.Second)
	ping("after the gateway restarted")
	if st := strongswan.ParseSAs(srv.ListSAs(), "ikev2-psk"); !st.IKEUp || !st.ChildUp {
		t.Errorf("restarted strongSwan does not show the SAs up:\n%s", srv.ListSAs())
	}

	p.stop(t, tunName)
	if b, _ := os.ReadFile(resolv); string(b) != oldResolv {
		t.Errorf("resolv.conf not restored: %q", b)
	}
	if !strings.Contains(stderr.String(), "roadwarrior stopped") {
		t.Error("no orderly stop in the log")
	}
	if strings.Contains(stderr.String(), psk) || strings.Contains(stdout.String(), psk) {
		t.Error("the PSK appears in roadwarrior's output")
	}
	// The Delete reached the gateway: it holds no SA of ours any more.
	if st := strongswan.ParseSAs(srv.ListSAs(), "ikev2-psk"); st.IKEUp {
		t.Errorf("strongSwan still has the IKE SA after our shutdown:\n%s", srv.ListSAs())
	}
}

// TestEndToEndFullTunnelGatewayKilled routes everything through the
// tunnel (no -split) behind a NAT, checks that the gateway itself stays
// routed outside the tunnel, then kills the strongSwan responder without
// a Delete: dead peer detection must notice, the reconnection attempts
// back off while the gateway is away, and the tunnel comes back when it
// returns. At shutdown the exclude route is gone too.
func TestEndToEndFullTunnelGatewayKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NATRandomPort)
	const psk = "goipsec-roadwarrior-psk-0123456789"
	sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
		"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
		"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := strongswan.Start(t, topo.Server, sp, "", nil)
	pskFile := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(pskFile, []byte(psk), 0o600); err != nil {
		t.Fatal(err)
	}
	const tunName = "gi-rw1"
	p := startRoadwarrior(t, topo.Client,
		"-server", testnet.ServerAddr4.String(), "-auth", "psk", "-psk-file", pskFile,
		"-remote-id", "vpn.example.com", "-tun", tunName, "-dpd", "1s",
		"-retransmit-timeout", "500ms", "-retransmit-tries", "2", "-dial-timeout", "5s", "-max-backoff", "4s")
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
	if !strings.Contains(p.Stdout.String(), "routes everything via "+tunName) {
		t.Errorf("not a full tunnel:\n%s", p.Stdout.String())
	}
	gwRoute := func() string {
		out, _ := topo.Client.Try("ip", "-4", "route", "get", testnet.ServerAddr4.String())
		return out
	}
	if r := gwRoute(); strings.Contains(r, tunName) {
		t.Errorf("the gateway is routed into the tunnel: %s", r)
	}
	if out, _ := topo.Client.Try("ip", "-4", "route", "get", "203.0.113.9"); !strings.Contains(out, tunName) {
		t.Errorf("203.0.113.9 is not routed through the tunnel: %s", out)
	}
	ping := func(when string) {
		t.Helper()
		for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
				t.Errorf("%s: ping %s through the full tunnel: %v\n%s", when, dst, err, out)
			}
		}
	}
	ping("first SA")

	srv.Kill()
	waitLines(t, p.Stdout, p.Done, "tunnel down:", 1, 30*time.Second)
	if r := gwRoute(); strings.Contains(r, tunName) {
		t.Errorf("route to the gateway still into the tunnel after it went down: %s", r)
	}
	// Let at least one attempt fail while the gateway is away.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Stderr.String(), "connection failed") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(p.Stderr.String(), "connection failed") {
		t.Error("no failed reconnection attempt logged while the gateway was away")
	}
	srv = strongswan.Start(t, topo.Server, sp, "", nil)
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 2, 60*time.Second)
	ping("after the gateway came back")
	if st := strongswan.ParseSAs(srv.ListSAs(), "ikev2-psk"); !st.IKEUp || !st.ChildUp {
		t.Errorf("strongSwan does not show the new SAs up:\n%s", srv.ListSAs())
	}
	p.stop(t, tunName)
	if out, _ := topo.Client.Try("ip", "-4", "route", "show", testnet.ServerAddr4.String()+"/32"); strings.TrimSpace(out) != "" {
		t.Errorf("exclude route to the gateway left behind: %s", out)
	}
}

// TestEndToEndCertAndEAP connects with a certificate and with
// EAP-MSCHAPv2 to strongSwan responders that prove themselves with a
// certificate from -ca, and pings through the split route.
func TestEndToEndCertAndEAP(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com", testnet.ServerAddr4.String())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("s3cret-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		profile string
		args    []string
	}{
		{"ikev2-cert", []string{"-auth", "cert", "-cert", filepath.Join(dir, "client.pem"), "-key", filepath.Join(dir, "client.key")}},
		{"ikev2-eap", []string{"-auth", "eap", "-user", "alice", "-password-file", pwFile}},
	} {
		t.Run(c.profile, func(t *testing.T) {
			topo := testnet.New(t, testnet.NATRandomPort)
			sp, err := strongswan.Render("server", c.profile, map[string]string{
				"SERVER_ID": "vpn.example.com", "POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(),
				"DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String()})
			if err != nil {
				t.Fatal(err)
			}
			srv := strongswan.Start(t, topo.Server, sp, strongswan.Users(map[string]string{"alice": "s3cret-password"}),
				strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/server.pem": pki.Server.CertPEM(), "private/server.key": pki.Server.KeyPEM()})
			const tunName = "gi-rw2"
			args := append([]string{"-server", testnet.ServerAddr4.String(), "-remote-id", "vpn.example.com",
				"-ca", filepath.Join(dir, "ca.pem"), "-tun", tunName, "-split", "198.51.100.0/24"}, c.args...)
			p := startRoadwarrior(t, topo.Client, args...)
			waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", testnet.Inner4.String()); err != nil {
				t.Errorf("ping %s through the tunnel: %v\n%s", testnet.Inner4, err, out)
			}
			if st := strongswan.ParseSAs(srv.ListSAs(), c.profile); !st.IKEUp || !st.ChildUp {
				t.Errorf("strongSwan does not show the SAs up:\n%s", srv.ListSAs())
			}
			p.stop(t, tunName)
			if strings.Contains(p.Stderr.String(), "s3cret") {
				t.Error("the password appears in roadwarrior's log")
			}
		})
	}
}

// TestEndToEndAgainstResponder builds the responder example, starts it
// on its built-in configuration in the server namespace, and connects
// with the demo user it prints and the CA it writes: tunnel up, ping of
// the responder's inside address, reconnect after the responder
// restarts.
func TestEndToEndAgainstResponder(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t) // root and ip, as for the strongSwan tests
	testnet.Require(t, "ping", "go")
	dir, state := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "responder")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/goipsec/ipsec/examples/responder").CombinedOutput(); err != nil {
		t.Fatalf("go build responder: %v\n%s", err, out)
	}
	topo := testnet.New(t, testnet.NATRandomPort)
	respArgs := []string{"-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String() + "," + testnet.ServerAddr6.String(),
		"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
		"-dns", testnet.DNS4.String() + "," + testnet.DNS6.String()}
	startResp := func() (*exec.Cmd, *testnet.Buffer, chan error) {
		out := &testnet.Buffer{}
		cmd := topo.Server.Command(context.Background(), bin, respArgs...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
			}
			if t.Failed() {
				t.Logf("responder output:\n%s", out.String())
			}
		})
		deadline := time.Now().Add(90 * time.Second) // the first start generates RSA keys
		for !strings.Contains(out.String(), "listening on:") {
			select {
			case err := <-done:
				t.Fatalf("responder exited: %v\n%s", err, out.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("responder did not start:\n%s", out.String())
			}
		}
		return cmd, out, done
	}
	cmd, out, done := startResp()
	var password string
	for l := range strings.SplitSeq(out.String(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == "password" {
			password = strings.TrimSpace(v)
		}
	}
	if password == "" {
		t.Fatalf("the responder printed no demo password:\n%s", out.String())
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inside4 := testnet.Pool4.Addr().Next()
	const tunName = "gi-rw3"
	p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-remote-id", "vpn.example.com",
		"-auth", "eap", "-user", "demo", "-password-file", pwFile, "-ca", filepath.Join(state, "ca.pem"),
		"-tun", tunName, "-split", testnet.Pool4.String()+","+testnet.Pool6.String(), "-dpd", "2s",
		"-retransmit-timeout", "500ms", "-retransmit-tries", "2", "-max-backoff", "4s")
	ping := func(when string) {
		t.Helper()
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", inside4.String()); err != nil {
			t.Errorf("%s: ping the responder's inside address %v: %v\n%s", when, inside4, err, out)
		}
	}
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
	ping("first SA")

	// Restart the responder (SIGTERM sends Delete to its peers).
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("responder exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("responder did not stop")
	}
	waitLines(t, p.Stdout, p.Done, "tunnel down:", 1, 30*time.Second)
	startResp()
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 2, 60*time.Second)
	ping("after the responder restarted")
	p.stop(t, tunName)
}

// TestEndToEndGatewaySplitTunnel has the strongSwan responder narrow its
// traffic selectors to 198.51.100.0/24: without -split, roadwarrior
// routes only that subnet through the tunnel.
func TestEndToEndGatewaySplitTunnel(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	topo := testnet.New(t, testnet.NoNAT)
	const psk = "goipsec-roadwarrior-psk-0123456789"
	sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
		"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
		"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	const full = "local_ts = 0.0.0.0/0, ::/0"
	if !strings.Contains(sp.Conf, full) {
		t.Fatalf("profile ikev2-psk no longer has %q", full)
	}
	sp.Conf = strings.Replace(sp.Conf, full, "local_ts = 198.51.100.0/24", 1)
	strongswan.Start(t, topo.Server, sp, "", nil)
	pskFile := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(pskFile, []byte(psk), 0o600); err != nil {
		t.Fatal(err)
	}
	const tunName = "gi-rw4"
	p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-auth", "psk", "-psk-file", pskFile,
		"-remote-id", "vpn.example.com", "-tun", tunName)
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
	if !strings.Contains(p.Stdout.String(), "routes [198.51.100.0/24] via "+tunName) {
		t.Errorf("routes not taken from the gateway's traffic selectors:\n%s", p.Stdout.String())
	}
	if out, _ := topo.Client.Try("ip", "-4", "route", "get", "203.0.113.9"); strings.Contains(out, tunName) {
		t.Errorf("203.0.113.9 is routed into the split tunnel: %s", out)
	}
	if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", testnet.Inner4.String()); err != nil {
		t.Errorf("ping %s through the tunnel: %v\n%s", testnet.Inner4, err, out)
	}
	p.stop(t, tunName)
}
