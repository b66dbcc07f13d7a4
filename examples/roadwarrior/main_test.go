package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pskFile := write("psk", "s3cret-psk-value\n")
	empty := write("empty", "")
	notPEM := write("notpem", "hello\n")
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name string
		args []string
		want string // in the one-line error
	}{
		{"no server", []string{"-auth", "psk", "-psk-file", pskFile}, "-server is required"},
		{"no auth", []string{"-server", "192.0.2.1"}, "-auth is required"},
		{"bad auth", []string{"-server", "192.0.2.1", "-auth", "xauth"}, `-auth "xauth"`},
		{"psk without key", []string{"-server", "192.0.2.1", "-auth", "psk"}, "needs -psk or -psk-file"},
		{"psk twice", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk", "x", "-psk-file", pskFile}, "give only one"},
		{"empty psk file", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", empty}, "-psk-file"},
		{"psk with cert", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-cert", notPEM}, "-cert does not apply"},
		{"bad port", []string{"-server", "192.0.2.1:99999", "-auth", "psk", "-psk-file", pskFile}, "bad port"},
		{"bad split", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-split", "198.51.100.0/24,10.0.0.300/8"}, `-split: "10.0.0.300/8"`},
		{"long tun", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-tun", "a-very-long-tun-name"}, "-tun"},
		{"bad level", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-log-level", "loud"}, "-log-level"},
		{"bad id", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-id", "CN=x,,=="}, "-id"},
		{"cert without key", []string{"-server", "192.0.2.1", "-auth", "cert", "-cert", notPEM}, "needs -cert and -key"},
		{"missing cert", []string{"-server", "192.0.2.1", "-auth", "cert", "-cert", missing, "-key", notPEM}, "-cert: open " + missing},
		{"cert not PEM", []string{"-server", "192.0.2.1", "-auth", "cert", "-cert", notPEM, "-key", notPEM}, "no PEM CERTIFICATE"},
		{"eap without user", []string{"-server", "192.0.2.1", "-auth", "eap", "-password-file", pskFile}, "needs -user and -password-file"},
		{"eap with psk", []string{"-server", "192.0.2.1", "-auth", "eap", "-user", "alice", "-password-file", pskFile, "-psk", "x"}, "-psk does not apply"},
		{"missing ca", []string{"-server", "192.0.2.1", "-auth", "eap", "-user", "alice", "-password-file", pskFile, "-ca", missing}, "-ca:"},
		{"negative backoff", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-max-backoff", "10ms"}, "-max-backoff"},
		{"bad tries", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-retransmit-tries", "21"}, "-retransmit-tries 21"},
		{"allow-lan alone", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-allow-lan"}, "-allow-lan only applies with -kill-switch"},
		{"quote in tun", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-tun", `rw"0`}, "-tun"},
		{"pprof not loopback", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-pprof", "0.0.0.0:6060"}, "-pprof \"0.0.0.0:6060\": 0.0.0.0 is not a loopback address"},
		{"pprof no port", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "-pprof", "127.0.0.1"}, "-pprof \"127.0.0.1\": want a loopback IP:PORT"},
		{"extra argument", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", pskFile, "now"}, `unexpected argument "now"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("error is not one line: %q", msg)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error shows the secret: %q", msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestValidateSettings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("password\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := options{server: "vpn.example.com:4501", auth: "eap", user: "alice", passwordFile: pw, tun: "rw0",
		split: "198.51.100.7/24, 2001:db8::/32", logLevel: "debug", dialTimeout: 1, maxBackoff: 60e9, rtTimeout: 1e9, rtTries: 3}
	s, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	if s.host != "vpn.example.com" || s.port != 4501 {
		t.Errorf("server %s port %d", s.host, s.port)
	}
	if got := string(s.peer.Local.EAPPassword); got != "password" {
		t.Errorf("password %q: the line end must not be part of it", got)
	}
	if s.peer.Local.EAPIdentity != "alice" || !s.peer.LocalID.Equal(ipsec.FQDN("alice")) {
		t.Errorf("EAP identity %q, IDi %v", s.peer.Local.EAPIdentity, s.peer.LocalID)
	}
	if !s.peer.RemoteID.Equal(ipsec.FQDN("vpn.example.com")) {
		t.Errorf("remote ID %v, want the server name", s.peer.RemoteID)
	}
	if len(s.split) != 2 || s.split[0].String() != "198.51.100.0/24" || s.split[1].String() != "2001:db8::/32" {
		t.Errorf("split %v", s.split)
	}
	if len(s.peer.VirtualIPs) != 2 || !s.peer.VirtualIPs[0].Is4() || !s.peer.VirtualIPs[1].Is6() {
		t.Errorf("requested virtual IPs %v, want one of each family", s.peer.VirtualIPs)
	}
	if s.peer.Remote.CAs == nil {
		t.Error("no CA pool for the gateway's certificate")
	}
	if s.peer.Proposals != nil {
		t.Errorf("without -pq the engine's defaults are offered, got %s", s.peer.Proposals)
	}
	// -pq: the hybrid ML-KEM proposal first, then the classic ones.
	o.pq = true
	if s, err = o.validate(); err != nil {
		t.Fatal(err)
	}
	if p := s.peer.Proposals; len(p) < 2 || len(p[0].AddKE[0]) == 0 || p[0].AddKE[0][0] != proposal.KEMLKEM768 || len(p[len(p)-1].AddKE[0]) != 0 {
		t.Errorf("-pq offers %s", p)
	}
}

func TestSplitServer(t *testing.T) {
	for _, c := range []struct {
		in   string
		host string
		port uint16
		bad  bool
	}{
		{"192.0.2.1", "192.0.2.1", 500, false},
		{"192.0.2.1:4500", "192.0.2.1", 4500, false},
		{"2001:db8::1", "2001:db8::1", 500, false},
		{"[2001:db8::1]", "2001:db8::1", 500, false},
		{"[2001:db8::1]:501", "2001:db8::1", 501, false},
		{"vpn.example.com", "vpn.example.com", 500, false},
		{"vpn.example.com:0", "", 0, true},
		{":500", "", 0, true},
		{"a:b:c", "", 0, true},
	} {
		host, port, err := splitServer(c.in)
		if (err != nil) != c.bad || host != c.host || port != c.port {
			t.Errorf("splitServer(%q) = %q, %d, %v", c.in, host, port, err)
		}
	}
}

func TestResolvFileRestores(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &resolvFile{path: p}
	if err := r.write(mustAddrs(t, "198.51.100.53", "2001:db8:100::53"), []string{"corp.example"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{"search corp.example\n", "nameserver 198.51.100.53\n", "nameserver 2001:db8:100::53\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, b)
		}
	}
	r.restore()
	if b, _ := os.ReadFile(p); string(b) != "nameserver 192.0.2.53\n" {
		t.Errorf("after restore: %q", b)
	}
}

func mustAddrs(t *testing.T, s ...string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestValidateCertIdentity(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	o := options{server: "192.0.2.1", auth: "cert", certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client.key"),
		caFile: filepath.Join(dir, "ca.pem"), tun: "rw0", logLevel: "info", dialTimeout: 1, maxBackoff: 60e9, rtTimeout: 1e9}
	s, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	if !s.peer.LocalID.Equal(ipsec.Email("client@example.com")) {
		t.Errorf("IDi %v, want the certificate's e-mail SAN", s.peer.LocalID)
	}
	if !s.peer.RemoteID.IsZero() {
		t.Errorf("remote ID %v for a server given as an address, want none", s.peer.RemoteID)
	}
	if len(s.peer.Local.Certificates) != 1 || s.peer.Local.Key == nil {
		t.Errorf("certificates %d, key %v", len(s.peer.Local.Certificates), s.peer.Local.Key != nil)
	}
	// A key file holding a certificate only is refused, naming the flag.
	o.keyFile = o.certFile
	if _, err := o.validate(); err == nil || !strings.Contains(err.Error(), "-key:") {
		t.Errorf("certificate as key: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	b := &backoff{max: 60 * time.Second}
	var got []time.Duration
	for range 9 {
		got = append(got, b.next())
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	b.reset()
	if d := b.next(); d != time.Second {
		t.Errorf("after reset %v, want 1s", d)
	}
}

func TestTSPrefixes(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	got := tsPrefixes([]string{"0.0.0.0/0", "::/0", "10.1.2.3/16", "10.1.0.0/16", "198.51.100.53/32[udp/53]", "10.0.0.1..10.0.0.9", "2001:db8:100::/48"}, log)
	want := []string{"0.0.0.0/0", "::/0", "10.1.0.0/16", "198.51.100.53/32", "2001:db8:100::/48"}
	var gs []string
	for _, p := range got {
		gs = append(gs, p.String())
	}
	if !slices.Equal(gs, want) {
		t.Errorf("tsPrefixes = %v, want %v", gs, want)
	}
}

func TestGatewayRoutes(t *testing.T) {
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range s {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	for _, c := range []struct {
		name        string
		subnets, ts []netip.Prefix
		want        []netip.Prefix
	}{
		{"full tunnel", nil, pfx("0.0.0.0/0", "::/0"), pfx("0.0.0.0/0", "::/0")},
		{"no selectors", nil, nil, pfx("0.0.0.0/0", "::/0")},
		{"narrowed selectors", nil, pfx("198.51.100.0/24"), pfx("198.51.100.0/24")},
		{"pushed subnets beat wide selectors", pfx("198.51.100.0/25", "2001:db8:100::/64"), pfx("0.0.0.0/0", "::/0"),
			pfx("198.51.100.0/25", "2001:db8:100::/64")},
		{"narrowed selectors add to subnets", pfx("198.51.100.0/25"), pfx("198.51.100.0/26", "203.0.113.0/28"),
			pfx("198.51.100.0/25", "203.0.113.0/28")},
		{"subnets masked and deduplicated", pfx("198.51.100.7/25", "198.51.100.0/25"), nil, pfx("198.51.100.0/25")},
	} {
		if got := gatewayRoutes(c.subnets, c.ts); !slices.Equal(got, c.want) {
			t.Errorf("%s: gatewayRoutes = %v, want %v", c.name, got, c.want)
		}
	}
}
