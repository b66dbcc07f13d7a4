package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// responderProcess is the responder running in a namespace.
type responderProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan error
}

// startResponder runs `responder args...` in ns and waits for its
// how-to-connect block. At the end of the test it sends SIGTERM and
// checks for a clean exit and a removed TUN device.
func startResponder(t *testing.T, ns *testnet.NS, args ...string) *responderProcess {
	t.Helper()
	p := &responderProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = ns.Command(context.Background(), os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), reexecEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("responder exited with %v after SIGTERM\n%s", err, p.stderr.String())
			}
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("responder did not stop within 20 s of SIGTERM\n%s", p.stderr.String())
		}
		if out, err := ns.Try("ip", "link", "show", "goipsec0"); err == nil {
			t.Errorf("TUN device still present after shutdown:\n%s", out)
		}
		if !strings.Contains(p.stderr.String(), "responder stopped") {
			t.Errorf("no orderly stop in the log:\n%s", p.stderr.String())
		}
		if t.Failed() {
			t.Logf("responder log:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second) // first start generates two RSA keys
	for !strings.Contains(p.stdout.String(), "listening on:") {
		select {
		case err := <-p.done:
			t.Fatalf("responder exited early: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder did not start within 60 s\n%s", p.stderr.String())
		}
	}
	return p
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

// TestEndToEndNativePersonas starts the responder on its built-in
// configuration (test addresses by flag) and has strongSwan impersonate
// the iOS and Windows built-in clients, which log in as the demo user
// with the printed password and ping the server's inside addresses.
func TestEndToEndNativePersonas(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	state := t.TempDir()
	args := []string{
		"-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String() + "," + testnet.ServerAddr6.String(),
		"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
		"-dns", testnet.DNS4.String() + "," + testnet.DNS6.String(),
	}
	gw4, gw6 := testnet.Pool4.Addr().Next(), testnet.Pool6.Addr().Next()
	var password string
	for i, c := range []struct {
		profile string
		nat     testnet.NATMode
	}{
		{"ios-ikev2-eap", testnet.NoNAT},
		{"windows-ikev2-eap", testnet.NATRandomPort},
	} {
		t.Run(c.profile, func(t *testing.T) {
			topo := testnet.New(t, c.nat)
			resp := startResponder(t, topo.Server, args...)
			out := resp.stdout.String()
			if got := howTo(out, "user"); got != demoUserName {
				t.Fatalf("printed user %q, want %q:\n%s", got, demoUserName, out)
			}
			if got := howTo(out, "server address"); got != "vpn.example.com" {
				t.Errorf("printed server address %q", got)
			}
			if i == 0 {
				// First start: the password is printed once.
				password = howTo(out, "password")
				if len(password) < 16 {
					t.Fatalf("printed password %q", password)
				}
			} else {
				// Later starts keep the user and point to the file.
				if strings.Contains(out, password) {
					t.Error("the password is printed again on a later start")
				}
				var u UserConfig
				data, err := os.ReadFile(filepath.Join(state, demoUserFile))
				if err != nil {
					t.Fatal(err)
				}
				if err := yaml.Unmarshal(data, &u); err != nil || u.Password != password {
					t.Fatalf("demo user changed between starts (%v)", err)
				}
			}
			if strings.Contains(resp.stderr.String(), password) {
				t.Error("the password appears in the log")
			}
			caFile := strings.Fields(howTo(out, "CA certificate"))[0]
			ca, err := os.ReadFile(caFile)
			if err != nil {
				t.Fatalf("CA file from the how-to: %v", err)
			}
			p, err := strongswan.Render("client", c.profile, map[string]string{
				"SERVER": testnet.ServerAddr4.String(), "SERVER_ID": "vpn.example.com",
				"EAP_USER": demoUserName, "EAP_PASS": password,
			})
			if err != nil {
				t.Fatal(err)
			}
			cli := strongswan.Start(t, topo.Client, p, "", strongswan.Files{"x509ca/ca.pem": ca})
			if out, err := cli.Initiate(c.profile, 30*time.Second); err != nil {
				t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", c.profile, err, out, cli.Log(), resp.stderr.String())
			}
			st := strongswan.ParseSAs(cli.ListSAs(), c.profile)
			if !st.IKEUp || !st.ChildUp {
				t.Fatalf("SAs not up: %+v\n%s", st, cli.ListSAs())
			}
			for _, v6 := range []bool{false, true} {
				vip, ok := st.VIP(v6)
				if !ok {
					t.Errorf("no virtual IP (IPv6 %v)", v6)
					continue
				}
				pool, dst := testnet.Pool4, gw4
				if v6 {
					pool, dst = testnet.Pool6, gw6
				}
				if !pool.Contains(vip) || vip == dst {
					t.Errorf("virtual IP %v not a client address of %v", vip, pool)
				}
				if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), dst.String()); err != nil {
					t.Errorf("ping %v from %v through the tunnel: %v\n%s", dst, vip, err, out)
				}
			}
			if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
				t.Errorf("DNS server not delivered: %q", r)
			}
			if !waitFor(5*time.Second, func() bool { return strings.Contains(resp.stderr.String(), "client connected") }) {
				t.Error("no connection in the responder's log")
			}
			t.Logf("%s: IKE %s, ESP %s, virtual IPs %v, pings to %v and %v ok", c.profile, st.IKEAlg, st.ESPAlg, st.VIPs, gw4, gw6)
		})
	}
}

func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}
