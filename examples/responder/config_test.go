package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/proposal"
)

// uplink is a host address for the overlap check.
var uplink = netip.MustParsePrefix("203.0.113.10/24")

func TestDefaultConfigValid(t *testing.T) {
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate([]netip.Prefix{uplink})
	if err != nil {
		t.Fatal(err)
	}
	if !s.pool4.IsValid() || !s.pool6.IsValid() {
		t.Errorf("default pools: %v %v", s.pool4, s.pool6)
	}
	if len(s.dns) == 0 || len(s.users) != 0 || s.tunName == "" || s.tunMTU < 1280 {
		t.Errorf("default settings: %+v", s)
	}
	// The default proposals must accept every built-in client.
	for _, p := range proposal.Profiles() {
		if p.IKEVersion != 2 {
			continue
		}
		if _, err := proposal.Select(s.ike, p.IKE, proposal.SelectOptions{}); err != nil {
			t.Errorf("client profile %s: IKE: %v", p.Name, err)
		}
		if _, err := proposal.Select(s.esp, p.ESP, proposal.SelectOptions{SkipKE: true}); err != nil {
			t.Errorf("client profile %s: ESP: %v", p.Name, err)
		}
	}
}

// TestDefaultConfigDocumentsEveryKey keeps the commented example complete:
// every YAML key of Config appears in it.
func TestDefaultConfigDocumentsEveryKey(t *testing.T) {
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !bytes.Contains(defaultConfig, []byte(key+":")) {
				t.Errorf("default.yaml does not document %q", key)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
}

func TestConfigOverrides(t *testing.T) {
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	o := overrides{name: "vpn.example.com", listen: "192.0.2.1, 2001:db8::1", pools: "198.51.100.0/24", dns: "198.51.100.53", level: "debug", tun: "gi-test0"}
	o.apply(c)
	s, err := c.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	if s.name != "vpn.example.com" || !reflect.DeepEqual(s.listen, want) || s.pool4 != netip.MustParsePrefix("198.51.100.0/24") ||
		s.pool6.IsValid() || len(s.dns) != 1 || s.level.String() != "DEBUG" || s.tunName != "gi-test0" {
		t.Errorf("after overrides: %+v", s)
	}
}

func TestConfigFull(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ensurePKI(dir, "vpn.example.com", nil, timeNow()); err != nil {
		t.Fatal(err)
	}
	yml := `
server:
  name: vpn.example.com
  listen: [192.0.2.1, "2001:db8::1"]
  certificate: ` + filepath.Join(dir, serverCertFile) + `
  key: ` + filepath.Join(dir, serverKeyFile) + `
users:
  - {name: alice, password: "correct horse"}
  - {name: bob, password: "battery staple"}
pools: [198.51.100.0/25, "2001:db8:100::/120"]
dns: [198.51.100.53]
dns_domains: [corp.example.com]
subnets: [198.51.100.128/25]
proposals: {ike: "aes256-sha256-modp2048", esp: "aes256gcm16"}
tun: {name: vpn0, mtu: 1380}
log: {level: warn, key_log: /tmp/keys}
`
	c, err := parseConfig([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate([]netip.Prefix{uplink})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.users) != 2 || s.users[1].Name != "bob" || len(s.ike) != 1 || len(s.esp) != 1 || s.tunMTU != 1380 ||
		s.keyLog != "/tmp/keys" || s.level.String() != "WARN" || len(s.subnets) != 1 || s.dnsDomains[0] != "corp.example.com" {
		t.Errorf("settings: %+v", s)
	}
	if _, err := loadServerCert(s.certFile, s.keyFile); err != nil {
		t.Errorf("loading the configured certificate: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, c := range []struct {
		name, yaml string
		want       string // the key the error must name
	}{
		{"unknown-field", "pools: [198.51.100.0/24]\nserver:\n  nmae: x\n", "field nmae not found"},
		{"unknown-top", "pool: [198.51.100.0/24]\n", "field pool not found"},
		{"wrong-type", "pools: 5\n", "cannot unmarshal"},
		{"two-documents", "pools: [198.51.100.0/24]\n---\npools: []\n", "more than one YAML document"},
		{"server-name", "server: {name: 'not a name!'}\npools: [198.51.100.0/24]\n", "server.name"},
		{"listen", "server: {listen: [192.0.2.300]}\npools: [198.51.100.0/24]\n", "server.listen[0]"},
		{"cert-without-key", "server: {certificate: " + missing + "}\npools: [198.51.100.0/24]\n", "server.key"},
		{"missing-certificate", "server: {certificate: " + missing + ", key: " + missing + "}\npools: [198.51.100.0/24]\n", "server.certificate"},
		{"user-name", "users: [{password: longenough}]\npools: [198.51.100.0/24]\n", "users[0].name"},
		{"user-twice", "users: [{name: a, password: longenough}, {name: a, password: longenough}]\npools: [198.51.100.0/24]\n", "users[1].name"},
		{"short-password", "users: [{name: a, password: short}]\npools: [198.51.100.0/24]\n", "users[0].password"},
		{"no-pool", "pools: []\n", "pools:"},
		{"bad-cidr", "pools: [198.51.100.0/24, 198.51.100.0/33]\n", "pools[1]: bad CIDR"},
		{"host-bits", "pools: [198.51.100.1/24]\n", "pools[0]"},
		{"tiny-pool", "pools: [198.51.100.1/32]\n", "pools[0]"},
		{"second-v4-pool", "pools: [198.51.100.0/24, 192.0.2.0/24]\n", "pools[1]"},
		{"pool-overlaps-uplink", "pools: [203.0.113.0/25]\n", "pools[0]: 203.0.113.0/25 overlaps the host's address"},
		{"dns", "pools: [198.51.100.0/24]\ndns: [dns.example.com]\n", "dns[0]"},
		{"dns-domain", "pools: [198.51.100.0/24]\ndns_domains: ['bad domain']\n", "dns_domains[0]"},
		{"subnet", "pools: [198.51.100.0/24]\nsubnets: [10.0.0.0]\n", "subnets[0]"},
		{"ike-proposal", "pools: [198.51.100.0/24]\nproposals: {ike: aes256-sha256-modp9999}\n", "proposals.ike"},
		{"esp-proposal", "pools: [198.51.100.0/24]\nproposals: {esp: nonsense}\n", "proposals.esp"},
		{"tun-name", "pools: [198.51.100.0/24]\ntun: {name: a-very-long-interface-name}\n", "tun.name"},
		{"tun-mtu", "pools: [198.51.100.0/24]\ntun: {mtu: 576}\n", "tun.mtu"},
		{"log-level", "pools: [198.51.100.0/24]\nlog: {level: loud}\n", "log.level"},
		{"masquerade", "pools: [198.51.100.0/24]\nforward: {masquerade: 'eth0\"; flush ruleset'}\n", "forward.masquerade"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig([]byte(c.yaml))
			if err == nil {
				_, err = cfg.validate([]netip.Prefix{uplink})
			}
			if err == nil {
				t.Fatalf("no error, want one naming %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, c.want)
			}
			// Past YAML decoding, every error is typed with its key.
			decoding := strings.HasPrefix(c.want, "field ") || strings.HasPrefix(c.want, "cannot") || strings.HasPrefix(c.want, "more than")
			var fe *fieldError
			if !decoding && (!errors.As(err, &fe) || !strings.HasPrefix(c.want, fe.Field)) {
				t.Errorf("%v: not a *fieldError for %q", err, c.want)
			}
		})
	}
}

// TestRunBadConfig runs the program as an operator would with a broken
// file: exit status 1, one line naming the key, nothing started (no
// state directory, which is the first thing a start creates).
func TestRunBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(path, []byte("pools: [198.51.100.0/24]\ndns: [198.51.100.300]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-config", path, "-state", state}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "dns[0]") {
		t.Errorf("stderr %q: want one line naming dns[0]", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state directory created despite the bad configuration: %v", err)
	}
	// An unknown key in a file names the file and the line.
	if err := os.WriteFile(path, []byte("pools: [198.51.100.0/24]\nlisten: [192.0.2.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-config", path, "-state", state}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), path) || !strings.HasSuffix(stderr.String(), "line 2: field listen not found\n") {
		t.Errorf("unknown key: status %d, %q", code, stderr.String())
	}
}

// TestRunBadConfigNothingStarted runs the program on the four broken
// configurations the issue names (and a few of the new keys): each exits
// with status 1 and one line naming the problem, before the state
// directory, the first thing a start creates, exists.
func TestRunBadConfigNothingStarted(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	// A pool over one of this host's own addresses.
	var hostPool string
	for _, p := range hostAddrs() {
		if a := p.Addr(); a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			hostPool = netip.PrefixFrom(a, 28).Masked().String()
			break
		}
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown-field", "pools: [198.51.100.0/24]\nserver: {nmae: x}\n", "field nmae not found"},
		{"bad-cidr", "pools: [198.51.100.0/33]\n", `pools[0]: bad CIDR "198.51.100.0/33"`},
		{"missing-certificate", "server: {certificate: " + missing + ", key: " + missing + "}\npools: [198.51.100.0/24]\n", "server.certificate: stat " + missing + ": no such file or directory"},
		{"pool-overlaps-uplink", "pools: [" + hostPool + "]\n", "overlaps the host's address"},
		{"missing-pkcs12", "server: {pkcs12: " + missing + "}\npools: [198.51.100.0/24]\n", "server.pkcs12: stat"},
		{"missing-client-ca", "client_cas: [" + missing + "]\npools: [198.51.100.0/24]\n", "client_cas[0]: open"},
		{"short-psk", "psk_peers: [{id: a@example.com, psk: short}]\npools: [198.51.100.0/24]\n", "psk_peers[0].psk: the key of"},
		{"bad-metrics", "metrics: 9100\npools: [198.51.100.0/24]\n", "metrics:"},
		{"negative-dpd", "ikev2: {dpd_delay: -1s}\npools: [198.51.100.0/24]\n", "ikev2.dpd_delay: -1s is negative"},
		{"pprof-without-metrics", "metrics_pprof: true\npools: [198.51.100.0/24]\n", "metrics_pprof: needs metrics"},
		{"bad-dataplane", "dataplane: dpdk\npools: [198.51.100.0/24]\n", "dataplane:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "pool-overlaps-uplink" && hostPool == "" {
				t.Skip("this host has no IPv4 address besides loopback")
			}
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			state := filepath.Join(dir, c.name+"-state")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"-config", path, "-state", state}, &stdout, &stderr)
			got := stderr.String()
			if code != 1 || strings.Count(got, "\n") != 1 || !strings.Contains(got, c.want) || !strings.Contains(got, path) {
				t.Errorf("status %d, stderr %q: want 1 and one line naming %s and %q", code, got, path, c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Errorf("state directory created despite the bad configuration: %v", err)
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "frobnicate") {
		t.Errorf("unknown command: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-no-such-flag"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown flag: %d %q", code, stderr.String())
	}
}

func TestInit(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com"}, &stdout, &stderr); code != 0 {
		t.Fatalf("init: %d %s", code, stderr.String())
	}
	written, err := os.ReadFile(filepath.Join(state, "responder.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, defaultConfig) {
		t.Error("init wrote something other than the commented default")
	}
	for _, f := range []string{caCertFile, caKeyFile, serverCertFile, serverKeyFile, demoUserFile} {
		fi, err := os.Stat(filepath.Join(state, f))
		if err != nil {
			t.Errorf("init did not create %s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".key") || f == demoUserFile {
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
			}
		}
	}
	leaf, _, err := loadPair(filepath.Join(state, serverCertFile), filepath.Join(state, serverKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "vpn.example.com" {
		t.Errorf("server certificate CN %q", leaf.Subject.CommonName)
	}
	// A second init must not overwrite the operator's file.
	stderr.Reset()
	if code := run(context.Background(), []string{"init", "-state", state}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not overwriting") {
		t.Errorf("second init: %d %q", code, stderr.String())
	}
}

func TestRelativeCertificatePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(path, []byte("server: {certificate: certs/server.pem, key: /abs/server.key}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Certificate != filepath.Join(dir, "certs/server.pem") || c.Server.Key != "/abs/server.key" {
		t.Errorf("certificate %q, key %q", c.Server.Certificate, c.Server.Key)
	}
}

func TestServerIdentity(t *testing.T) {
	listen := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")}
	name, addrs := serverIdentity(&settings{name: "vpn.example.com", listen: listen})
	if name != "vpn.example.com" || len(addrs) != 2 {
		t.Errorf("explicit name: %q %v", name, addrs)
	}
	name, _ = serverIdentity(&settings{listen: listen})
	want := listen[0].String() // listen addresses keep the operator's order
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") && validDNSName(h) {
		want = h
	}
	if name != want {
		t.Errorf("default name %q, want %q", name, want)
	}
}

// A key left out of the file keeps its default; an empty file is the
// default configuration, as default.yaml promises.
func TestConfigFileOverDefaults(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	partial := filepath.Join(dir, "partial.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(partial, []byte("dns: [198.51.100.53]\ntun: {mtu: 1380}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	def, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(empty)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, def) {
		t.Errorf("empty file: %+v, want the default %+v", c, def)
	}
	c, err = loadConfig(partial)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Pools, def.Pools) || c.TUN.Name != def.TUN.Name || c.TUN.MTU != 1380 || !reflect.DeepEqual(c.DNS, []string{"198.51.100.53"}) {
		t.Errorf("partial file: %+v", c)
	}
}

// TestConfigPSKPeers: keys from the file (relative to the configuration,
// trailing newline dropped) or inline, identities parsed as strongSwan
// does, and errors that name the key but never contain the PSK.
func TestConfigPSKPeers(t *testing.T) {
	dir := t.TempDir()
	const fileKey = "file-key-0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "b.psk"), []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "pools: [198.51.100.0/24]\npsk_peers:\n  - {id: branch.example.com, psk_file: b.psk}\n  - {id: 192.0.2.7, psk: inline-key-0123456789}\n  - {id: laptop@example.com, psk: mail-key-0123456789}\n"
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, psk string }{{"branch.example.com", fileKey}, {"192.0.2.7", "inline-key-0123456789"}, {"laptop@example.com", "mail-key-0123456789"}}
	if len(s.pskPeers) != len(want) {
		t.Fatalf("%d PSK peers", len(s.pskPeers))
	}
	for i, w := range want {
		if s.pskPeers[i].id.String() != w.id || string(s.pskPeers[i].psk) != w.psk {
			t.Errorf("peer %d: %v", i, s.pskPeers[i].id)
		}
	}
	if s.pskPeers[1].id.Type != ipsec.IDIPv4Addr || s.pskPeers[2].id.Type != ipsec.IDRFC822Addr || s.pskPeers[0].id.Type != ipsec.IDFQDN {
		t.Errorf("identity types %v %v %v", s.pskPeers[0].id.Type, s.pskPeers[1].id.Type, s.pskPeers[2].id.Type)
	}
	const secret = "0123456789abcdef-secret"
	for _, c := range []struct{ yaml, want string }{
		{"psk_peers: [{id: a.example.com, psk: " + secret + ", psk_file: b.psk}]", "psk_peers[0].psk_file: either"},
		{"psk_peers: [{psk: " + secret + "}]", "psk_peers[0].id: empty"},
		{"psk_peers: [{id: a.example.com, psk: " + secret + "}, {id: a.example.com, psk: " + secret + "}]", "psk_peers[1].id"},
		{"psk_peers: [{id: a.example.com, psk: 0123456789}]", "psk_peers[0].psk: the key of"},
		{"psk_peers: [{id: a.example.com, psk_file: /nonexistent/" + secret + "}]", "psk_peers[0].psk_file"},
	} {
		cfg, err := parseConfig([]byte("pools: [198.51.100.0/24]\n" + c.yaml + "\n"))
		if err == nil {
			_, err = cfg.validate(nil)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want an error starting %q", c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789") && !strings.Contains(c.yaml, "/nonexistent/") {
			t.Errorf("the PSK appears in the error: %v", err)
		}
	}
}

// TestConfigFileLimits: a PSK file or CA file that is a device or too
// large fails with an error naming the key, instead of hanging.
func TestConfigFileLimits(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"psk_peers: [{id: a.example.com, psk_file: /dev/zero}]", "psk_peers[0].psk_file: /dev/zero: larger than"},
		{"client_cas: [/dev/zero]", "client_cas[0]: /dev/zero: larger than"},
	} {
		cfg, err := parseConfig([]byte("pools: [198.51.100.0/24]\n" + c.yaml + "\n"))
		if err == nil {
			_, err = cfg.validate(nil)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
}

// TestConfigIdentityLimits reads the per-account limits: the default file
// sets the library's defaults, a file may lower or lift them (-1:
// unlimited), and a left-out key keeps 0, the library's default.
func TestConfigIdentityLimits(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want ike.IdentityLimits
	}{
		{string(defaultConfig), ike.IdentityLimits{IKESAs: ike.DefaultIdentityIKESAs, Leases: ike.DefaultIdentityLeases}},
		{"pools: [198.51.100.0/24]\nlimits: {sas_per_user: 2, leases_per_user: -1}\n", ike.IdentityLimits{IKESAs: 2, Leases: -1}},
		{"pools: [198.51.100.0/24]\nlimits: {leases_per_user: 1}\n", ike.IdentityLimits{Leases: 1}},
		{"pools: [198.51.100.0/24]\n", ike.IdentityLimits{}},
	} {
		cfg, err := parseConfig([]byte(c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		s, err := cfg.validate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.limits != c.want {
			t.Errorf("%q: limits %+v, want %+v", c.yaml[max(0, len(c.yaml)-60):], s.limits, c.want)
		}
	}
	for _, bad := range []string{"limits: {sas_per_user: many}", "limits: {sas: 2}"} {
		if _, err := parseConfig([]byte("pools: [198.51.100.0/24]\n" + bad + "\n")); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line", bad, err)
		}
	}
}

// TestConfigIKEv2DPD: ikev2.dpd_delay reaches the settings; absent it is
// 30 s, 0 turns the probes off.
func TestConfigIKEv2DPD(t *testing.T) {
	d0, d2 := time.Duration(0), 2*time.Minute
	for _, c := range []struct {
		set  *time.Duration
		want time.Duration
	}{{nil, 30 * time.Second}, {&d0, 0}, {&d2, 2 * time.Minute}} {
		cfg, err := parseConfig(defaultConfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.IKEv2.DPDDelay = c.set
		cfg.Pools = []string{"198.51.100.0/24"}
		s, err := cfg.validate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.dpd2 != c.want {
			t.Errorf("set %v: dpd %v, want %v", c.set, s.dpd2, c.want)
		}
	}
}

// TestDefaultProposalsHybridFirst: without proposals.ike the responder
// accepts the post-quantum hybrid proposal first, then the compatible ones.
func TestDefaultProposalsHybridFirst(t *testing.T) {
	cfg, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pools = []string{"198.51.100.0/24"}
	s, err := cfg.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append(proposal.HybridIKE(), proposal.CompatibleIKE()...)
	if s.ike.String() != want.String() {
		t.Errorf("default IKE proposals %s, want %s", s.ike, want)
	}
}
