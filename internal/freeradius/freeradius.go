// Package freeradius starts a real FreeRADIUS 3.2 (the Debian package)
// for interop tests: a copy of /etc/freeradius/3.0 in a temporary
// directory with a generated users file, clients, an EAP-TLS PKI and the
// accounting detail files below it, running as root in a network
// namespace (testnet). Tests that use it skip when FreeRADIUS is not
// installed, and fail in CI (testnet.Require).
package freeradius

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

// Config is what the server knows.
type Config struct {
	// Users is the authorize ("users") file of the files module.
	Users string
	// Secret is the shared secret of every client ("testing123" when
	// empty).
	Secret string
	// Clients are the addresses allowed to send requests ("127.0.0.1"
	// when empty).
	Clients []string
}

// Server is a running FreeRADIUS.
type Server struct {
	// NS is the namespace it runs in; Dir its configuration directory
	// (raddb), with log/radacct below it.
	NS  *testnet.NS
	Dir string
	// Proc is the freeradius -X process; its Stdout is the debug log.
	Proc *testnet.Process
	// PKI issued the server's EAP-TLS certificate (CA, Server) and a
	// client certificate (Client, "alice@example.com").
	PKI *testpki.PKI
}

// Start runs FreeRADIUS in ns (a new namespace when nil) and waits until
// it is ready. It is stopped at the end of the test; a failed test logs
// the tail of its debug output.
func Start(t testing.TB, ns *testnet.NS, cfg Config) *Server {
	t.Helper()
	testnet.Require(t, "freeradius", "radclient", "ip")
	if _, err := os.Stat("/etc/freeradius/3.0/radiusd.conf"); err != nil {
		if testnet.InCI() {
			t.Fatalf("no FreeRADIUS configuration: %v", err)
		}
		t.Skipf("no FreeRADIUS configuration: %v", err)
	}
	if cfg.Secret == "" {
		cfg.Secret = "testing123"
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []string{"127.0.0.1"}
	}
	dir := filepath.Join(t.TempDir(), "raddb")
	if out, err := exec.Command("cp", "-a", "/etc/freeradius/3.0", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	edit := func(name string, f func(string) string) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f(string(b))), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"log", "run", "tls"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// Everything the server writes goes below dir, and it runs as root
	// (the test's user) instead of switching to freerad.
	edit("radiusd.conf", func(s string) string {
		s = regexp.MustCompile(`(?m)^logdir = .*$`).ReplaceAllString(s, "logdir = "+dir+"/log")
		s = regexp.MustCompile(`(?m)^run_dir = .*$`).ReplaceAllString(s, "run_dir = "+dir+"/run")
		s = regexp.MustCompile(`(?m)^(\s*)(user|group) = freerad`).ReplaceAllString(s, "$1#$2 = freerad")
		return s
	})
	// EAP-TLS with the test PKI instead of the snakeoil certificate.
	pki, err := testpki.New(testpki.RSA2048, "alice@example.com", "radius.example.com")
	if err != nil {
		t.Fatal(err)
	}
	write("tls/server.pem", string(pki.Server.CertPEM()))
	write("tls/server.key", string(pki.Server.KeyPEM()))
	write("tls/ca.pem", string(pki.CA.CertPEM()))
	edit("mods-available/eap", func(s string) string {
		s = regexp.MustCompile(`(?m)^(\s*)private_key_password = .*$`).ReplaceAllString(s, "$1#private_key_password")
		s = regexp.MustCompile(`(?m)^(\s*)private_key_file = .*$`).ReplaceAllString(s, "${1}private_key_file = "+dir+"/tls/server.key")
		s = regexp.MustCompile(`(?m)^(\s*)certificate_file = .*$`).ReplaceAllString(s, "${1}certificate_file = "+dir+"/tls/server.pem")
		s = regexp.MustCompile(`(?m)^(\s*)ca_file = .*$`).ReplaceAllString(s, "${1}ca_file = "+dir+"/tls/ca.pem")
		return s
	})
	var clients strings.Builder
	for i, c := range cfg.Clients {
		clients.WriteString("client c" + string(rune('a'+i)) + " {\n\tipaddr = " + c + "\n\tsecret = " + cfg.Secret + "\n}\n")
	}
	write("clients.conf", clients.String())
	write("mods-config/files/authorize", cfg.Users)

	if ns == nil {
		ns = testnet.NewNS(t, "rad")
	}
	proc, err := ns.Start(nil, "freeradius", "-X", "-d", dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{NS: ns, Dir: dir, Proc: proc, PKI: pki}
	t.Cleanup(func() {
		proc.Terminate(5 * time.Second)
		if t.Failed() {
			out := proc.Stdout.String()
			if len(out) > 20000 {
				out = out[len(out)-20000:]
			}
			t.Logf("freeradius output (tail):\n%s\n%s", out, proc.Stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(proc.Stdout.String(), "Ready to process requests") {
		select {
		case err := <-proc.Done:
			t.Fatalf("freeradius exited: %v\n%s\n%s", err, proc.Stdout.String(), proc.Stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("freeradius not ready after 30 s:\n%s", proc.Stdout.String())
		}
	}
	return s
}

// Detail returns the accounting records of the detail files, in the
// order written, each the text of one record.
func (s *Server) Detail() []string {
	files, _ := filepath.Glob(filepath.Join(s.Dir, "log/radacct/*/detail-*"))
	var all string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all += string(b)
	}
	all = strings.TrimSpace(all)
	if all == "" {
		return nil
	}
	return strings.Split(all, "\n\n")
}
