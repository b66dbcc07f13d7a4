package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/pkcs12"

	"github.com/goipsec/ipsec/proposal"
)

// initState makes a state directory with the demo PKI and user.
func initState(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(state, "r.yaml")}, io.Discard, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	return state
}

// TestExportAppleCert checks the certificate profile: a PKCS#12 payload
// the VPN payload points to by UUID, decodable with the printed
// password, holding a clientAuth certificate for the identity the VPN
// payload sends; no EAP keys; the password only with -include-password.
func TestExportAppleCert(t *testing.T) {
	state := initState(t)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "carol.mobileconfig")
	if code := run(context.Background(), []string{"export", "apple", "--auth", "cert", "--user", "carol@example.com", "-state", state, "-name", "vpn.example.com", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: %d %s", code, stderr.String())
	}
	pw := howTo(stdout.String(), "PKCS#12 password")
	if len(pw) != 20 {
		t.Fatalf("printed PKCS#12 password %q:\n%s", pw, stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(pw)) {
		t.Error("the PKCS#12 password is in the profile without -include-password")
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v: it holds a private key", fi.Mode().Perm())
	}
	v, err := parsePlist(data)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[any]map[string]any{}
	for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
		m := p.(map[string]any)
		byType[m["PayloadType"]] = m
	}
	p12 := byType["com.apple.security.pkcs12"]
	vpn := byType["com.apple.vpn.managed"]
	if p12 == nil || vpn == nil || byType["com.apple.security.root"] == nil {
		t.Fatalf("payload types %v: want root, pkcs12 and vpn", slices.Collect(func(yield func(any) bool) {
			for k := range byType {
				if !yield(k) {
					return
				}
			}
		}))
	}
	ike := vpn["IKEv2"].(map[string]any)
	for k, want := range map[string]any{
		"AuthenticationMethod": "Certificate", "ExtendedAuthEnabled": int64(0), "LocalIdentifier": "carol@example.com",
		"CertificateType": "RSA", "PayloadCertificateUUID": p12["PayloadUUID"], "RemoteIdentifier": "vpn.example.com",
	} {
		if ike[k] != want {
			t.Errorf("IKEv2.%s = %v, want %v", k, ike[k], want)
		}
	}
	for _, k := range []string{"AuthName", "AuthPassword"} {
		if _, ok := ike[k]; ok {
			t.Errorf("certificate profile has EAP key %s", k)
		}
	}
	if _, ok := p12["Password"]; ok {
		t.Error("Password in the PKCS#12 payload without -include-password")
	}
	pfx, _ := p12["PayloadContent"].([]byte)
	_, cert, err := pkcs12.Decode(pfx, pw)
	if err != nil {
		t.Fatalf("PKCS#12 payload with the printed password: %v", err)
	}
	if !slices.Contains(cert.EmailAddresses, "carol@example.com") || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("client certificate SAN %v EKU %v", cert.EmailAddresses, cert.ExtKeyUsage)
	}
	ca, err := loadChain(filepath.Join(state, caCertFile))
	if err != nil || cert.CheckSignatureFrom(ca[0]) != nil {
		t.Errorf("client certificate not issued by the demo CA (%v)", err)
	}

	// -include-password puts it into the payload; a second export keeps
	// the certificate but uses a new password.
	stdout.Reset()
	if code := run(context.Background(), []string{"export", "apple", "--auth", "cert", "--user", "carol@example.com", "-state", state, "-include-password", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export -include-password: %s", stderr.String())
	}
	data, _ = os.ReadFile(out)
	v, _ = parsePlist(data)
	for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
		m := p.(map[string]any)
		if m["PayloadType"] != "com.apple.security.pkcs12" {
			continue
		}
		pw2, _ := m["Password"].(string)
		_, cert2, err := pkcs12.Decode(m["PayloadContent"].([]byte), pw2)
		if err != nil || pw2 == pw || !cert2.Equal(cert) {
			t.Errorf("with -include-password: %v (same password %v, same certificate %v)", err, pw2 == pw, err == nil && cert2.Equal(cert))
		}
	}
	if strings.Contains(stdout.String(), "PKCS#12 password:") {
		t.Errorf("password printed although it is in the profile: %s", stdout.String())
	}
	// Refusals: no user, a password that would be lost (-o - without
	// -include-password), an unknown method, a bad name.
	for _, args := range [][]string{
		{"export", "apple", "--auth", "cert", "-state", state},
		{"export", "windows", "--auth", "cert", "--user", "x.example.com", "-state", state, "-o", "-"},
		{"export", "apple", "--auth", "token", "--user", "x", "-state", state},
		{"export", "apple", "--auth", "cert", "--user", "no spaces please", "-state", state, "-o", out},
	} {
		stderr.Reset()
		if code := run(context.Background(), args, io.Discard, &stderr); code == 0 || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: status %d, %q", args, code, stderr.String())
		}
	}
}

// TestExportLinux checks the swanctl directory: layout, identities, the
// CA, the password only on request, and proposals the responder
// accepts (through the proposal package, each on its own).
func TestExportLinux(t *testing.T) {
	state := initState(t)
	demo, _, err := ensureDemoUser(state)
	if err != nil {
		t.Fatal(err)
	}
	read := func(dir, rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		return string(b)
	}
	for _, c := range []struct {
		auth, user string
		withPW     bool
	}{{"eap", "demo", false}, {"eap", "demo", true}, {"cert", "laptop.example.com", false}} {
		dir := filepath.Join(t.TempDir(), "out")
		args := []string{"export", "linux", "--auth", c.auth, "--user", c.user, "-state", state, "-name", "vpn.example.com", "-o", dir}
		if c.withPW {
			args = append(args, "-include-password")
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: %s", args, stderr.String())
		}
		conf := read(dir, "conf.d/goipsec.conf")
		if !strings.Contains(conf, `remote_addrs = "vpn.example.com"`) || !strings.Contains(conf, `id = "vpn.example.com"`) || !strings.Contains(conf, "cacerts = goipsec-ca.pem") {
			t.Errorf("%s: configuration:\n%s", c.auth, conf)
		}
		ca, _ := loadChain(filepath.Join(state, caCertFile))
		if got, err := loadChain(filepath.Join(dir, "x509ca", "goipsec-ca.pem")); err != nil || !got[0].Equal(ca[0]) {
			t.Errorf("%s: CA file: %v", c.auth, err)
		}
		switch {
		case c.auth == "cert":
			cert, err := loadChain(filepath.Join(dir, "x509", fileSafe(c.user)+".pem"))
			if err != nil || !slices.Contains(cert[0].DNSNames, c.user) {
				t.Errorf("client certificate: %v", err)
			}
			if _, err := loadKey(filepath.Join(dir, "private", fileSafe(c.user)+".key")); err != nil {
				t.Errorf("client key: %v", err)
			}
			if fi, err := os.Stat(filepath.Join(dir, "private", fileSafe(c.user)+".key")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("client key mode: %v", err)
			}
			// No send_cert: strongSwan's default (ifasked) answers the
			// responder's CERTREQ, as the end-to-end test shows.
			if !strings.Contains(conf, "auth = pubkey\n      certs = "+fileSafe(c.user)+".pem") || strings.Contains(conf, "send_cert") {
				t.Errorf("certificate configuration:\n%s", conf)
			}
			pw := howTo(stdout.String(), "PKCS#12 password")
			// The modern profile (PBES2/AES-256), which x/crypto/pkcs12
			// cannot read: our reader (go-pkcs12) and OpenSSL can
			// (TestP12Profiles).
			if _, _, err := decodePKCS12([]byte(read(dir, fileSafe(c.user)+".p12")), pw); err != nil {
				t.Errorf("the PKCS#12 beside the configuration with the printed password: %v", err)
			}
		case c.withPW:
			if !strings.Contains(conf, `secret = "`+demo.Password+`"`) {
				t.Errorf("-include-password: no secret:\n%s", conf)
			}
		default:
			if strings.Contains(conf, demo.Password) || !strings.Contains(conf, "# secrets {") {
				t.Errorf("password without -include-password, or no hint where it goes:\n%s", conf)
			}
		}
	}
	cfg, _ := parseConfig(defaultConfig)
	s, err := cfg.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		list  string
		proto proposal.Protocol
		local proposal.List
	}{{linuxIKEProposals, proposal.ProtoIKE, s.ike}, {linuxESPProposals, proposal.ProtoESP, s.esp}} {
		for _, kw := range strings.Split(c.list, ",") {
			peer, err := proposal.Parse(strings.TrimSpace(kw), c.proto)
			if err != nil {
				t.Fatalf("%q: %v", kw, err)
			}
			if _, err := proposal.Select(c.local, peer, proposal.SelectOptions{}); err != nil {
				t.Errorf("Linux proposal %q is not accepted by the responder: %v", kw, err)
			}
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"export", "linux", "-state", state, "-o", "-"}, io.Discard, &stderr); code != 2 || !regexp.MustCompile(`directory`).MatchString(stderr.String()) {
		t.Errorf("linux to stdout: %d %q", code, stderr.String())
	}
}

// TestExportAndroidCert: an ikev2-cert .sswan with the PKCS#12 embedded
// (decodable with the printed password) and the identity in its SAN.
func TestExportAndroidCert(t *testing.T) {
	state := initState(t)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "phone.sswan")
	if code := run(context.Background(), []string{"export", "android", "--auth", "cert", "--user", "phone.example.com", "-state", state, "-name", "vpn.example.com", "-include-password", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: %d %s", code, stderr.String())
	}
	pw := howTo(stdout.String(), "PKCS#12 password")
	if pw == "" {
		t.Fatalf("no PKCS#12 password printed (the .sswan cannot carry it):\n%s", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type  string
		Local struct {
			P12, ID, EAPID string `json:",omitempty"`
		}
		Remote struct{ Addr, ID, Cert string }
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "ikev2-cert" || p.Local.ID != "phone.example.com" || p.Remote.ID != "vpn.example.com" || p.Remote.Cert == "" {
		t.Errorf("profile: %s", data)
	}
	pfx, err := base64.StdEncoding.DecodeString(p.Local.P12)
	if err != nil {
		t.Fatal(err)
	}
	_, cert, err := pkcs12.Decode(pfx, pw)
	if err != nil || !slices.Contains(cert.DNSNames, "phone.example.com") {
		t.Errorf("local.p12 with the printed password: %v", err)
	}
}

// TestExportLinuxPSK: the PSK peer's configuration, the key only with
// -include-password; refusals for other kinds and unknown peers.
func TestExportLinuxPSK(t *testing.T) {
	state := initState(t)
	const psk = "export-psk-0123456789"
	conf := filepath.Join(state, "psk.yaml")
	if err := os.WriteFile(conf, []byte("server: {name: vpn.example.com}\npsk_peers: [{id: box.example.com, psk: "+psk+"}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, withPW := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		args := []string{"export", "linux", "--auth", "psk", "--user", "box.example.com", "-config", conf, "-state", state, "-o", dir}
		if withPW {
			args = append(args, "-include-password")
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: %s", args, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(dir, "conf.d", "goipsec.conf"))
		if err != nil {
			t.Fatal(err)
		}
		conf := string(b)
		if !strings.Contains(conf, "auth = psk\n      id = \"box.example.com\"") || !strings.Contains(conf, "auth = psk\n      id = \"vpn.example.com\"") {
			t.Errorf("PSK configuration:\n%s", conf)
		}
		if strings.Contains(conf, psk) != withPW {
			t.Errorf("-include-password %v, key in the file %v", withPW, strings.Contains(conf, psk))
		}
		if strings.Contains(stdout.String()+stderr.String(), psk) {
			t.Error("the key was printed")
		}
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"export", "android", "--auth", "psk", "--user", "box.example.com", "-config", conf, "-state", state}, 2},
		{[]string{"export", "linux", "--auth", "psk", "--user", "other.example.com", "-config", conf, "-state", state, "-o", t.TempDir()}, 1},
		{[]string{"export", "linux", "--auth", "psk", "-config", conf, "-state", state, "-o", t.TempDir()}, 1},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), c.args, io.Discard, &stderr); code != c.code || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: status %d (want %d), %q", c.args, code, c.code, stderr.String())
		}
	}
}
