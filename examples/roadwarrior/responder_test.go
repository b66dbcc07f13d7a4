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

	"github.com/goipsec/ipsec/internal/testnet"
)

// responderProc is examples/responder running in a namespace.
type responderProc struct {
	bin, state string
	ns         *testnet.NS
	cmd        *exec.Cmd
	out        *testnet.Buffer
}

// startResponder builds examples/responder, starts it in ns with its
// state in a fresh directory and args, and waits until it listens. It is
// stopped (SIGTERM) when the test ends.
func startResponder(t *testing.T, ns *testnet.NS, args ...string) *responderProc {
	t.Helper()
	testnet.Require(t, "go")
	dir := t.TempDir()
	r := &responderProc{bin: filepath.Join(dir, "responder"), state: filepath.Join(dir, "state"), ns: ns, out: &testnet.Buffer{}}
	if out, err := exec.Command("go", "build", "-o", r.bin, "github.com/goipsec/ipsec/examples/responder").CombinedOutput(); err != nil {
		t.Fatalf("go build responder: %v\n%s", err, out)
	}
	r.cmd = ns.Command(context.Background(), r.bin, append([]string{"-state", r.state}, args...)...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("responder output:\n%s", r.out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second) // the first start generates RSA keys
	for !strings.Contains(r.out.String(), "listening on:") {
		select {
		case err := <-done:
			t.Fatalf("responder exited: %v\n%s", err, r.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder did not start:\n%s", r.out.String())
		}
	}
	return r
}

// demoPasswordFile writes the demo user's password the responder printed
// into a file for -password-file.
func (r *responderProc) demoPasswordFile(t *testing.T) string {
	t.Helper()
	var password string
	for l := range strings.SplitSeq(r.out.String(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == "password" {
			password = strings.TrimSpace(v)
		}
	}
	if password == "" {
		t.Fatalf("the responder printed no demo password:\n%s", r.out.String())
	}
	name := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(name, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// status runs `responder status` against the running responder.
func (r *responderProc) status(t *testing.T) string {
	t.Helper()
	out, err := r.ns.Try(r.bin, "status", "-state", r.state)
	if err != nil {
		t.Errorf("responder status: %v\n%s", err, out)
	}
	return out
}

// respArgs are the responder flags for the standard topology.
func respArgs() []string {
	return []string{"-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String() + "," + testnet.ServerAddr6.String(),
		"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
		"-dns", testnet.DNS4.String() + "," + testnet.DNS6.String()}
}
