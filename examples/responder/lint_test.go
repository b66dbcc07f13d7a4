package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// issue signs tmpl with a fresh key under the CA of a demo state dir.
func issue(t *testing.T, state string, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	ca, caKey, err := loadPair(filepath.Join(state, caCertFile), filepath.Join(state, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLintCert(t *testing.T) {
	state := t.TempDir()
	now := time.Now()
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	sc, _, err := ensurePKI(state, "vpn.example.com", addrs, now)
	if err != nil {
		t.Fatal(err)
	}
	if f := lintCert(sc.leaf, "vpn.example.com", addrs, now); len(f) != 0 {
		t.Errorf("the demo certificate has findings: %+v", f)
	}
	good := func() *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "vpn.example.com"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(400 * 24 * time.Hour),
			KeyUsage:           x509.KeyUsageDigitalSignature,
			ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidIKEIntermediate},
			DNSNames:           []string{"vpn.example.com", "192.0.2.1"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
		}
	}
	for _, c := range []struct {
		name   string
		mutate func(*x509.Certificate)
		want   string
	}{
		{"no-address-in-san", func(c *x509.Certificate) { c.DNSNames = c.DNSNames[:1]; c.IPAddresses = nil }, "the SAN does not contain 192.0.2.1"},
		{"address-only-as-ip", func(c *x509.Certificate) { c.DNSNames = c.DNSNames[:1] }, "192.0.2.1 is in the SAN as iPAddress but not as dNSName"},
		{"no-server-auth", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, "lacks the serverAuth"},
		{"no-ike-intermediate", func(c *x509.Certificate) { c.UnknownExtKeyUsage = nil }, "lacks the ikeIntermediate"},
		{"no-eku", func(c *x509.Certificate) { c.ExtKeyUsage, c.UnknownExtKeyUsage = nil, nil }, "no extended key usage"},
		{"cn-mismatch", func(c *x509.Certificate) { c.Subject.CommonName = "other.example.com" }, "the subject CN is"},
		{"too-long", func(c *x509.Certificate) { c.NotAfter = now.Add(900 * 24 * time.Hour) }, "more than 825"},
		{"expired", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour) }, "expired on"},
		{"no-digital-signature", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }, "digitalSignature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmpl := good()
			if f := lintCert(issue(t, state, tmpl), "vpn.example.com", addrs, now); len(f) != 0 {
				t.Fatalf("the good template has findings: %+v", f)
			}
			c.mutate(tmpl)
			findings := lintCert(issue(t, state, tmpl), "vpn.example.com", addrs, now)
			found := false
			for _, f := range findings {
				found = found || strings.Contains(f.Problem, c.want)
				if f.Clients == "" {
					t.Errorf("finding without clients: %+v", f)
				}
			}
			if !found {
				t.Errorf("findings %+v, want one about %q", findings, c.want)
			}
		})
	}
}

func TestRunLint(t *testing.T) {
	state := t.TempDir()
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com"}, io.Discard, io.Discard); code != 0 {
		t.Fatal("init failed")
	}
	var out, errb bytes.Buffer
	// The demo certificate was issued for the host's addresses; lint it
	// for the name only, as a server with -listen of none of them.
	if code := run(context.Background(), []string{"lint", "-state", state, "-name", "vpn.example.com", "-listen", "::"}, &out, &errb); code != 0 {
		t.Errorf("lint of the demo certificate: %d\n%s%s", code, out.String(), errb.String())
	}
	// A certificate without serverAuth, given by -cert.
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "vpn.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(100 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DNSNames: []string{"vpn.example.com"},
	}
	bad := filepath.Join(state, "bad.pem")
	if err := os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issue(t, state, tmpl).Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"lint", "-state", state, "-name", "vpn.example.com", "-listen", "192.0.2.1", "-cert", bad}, &out, &errb); code != 1 {
		t.Errorf("lint of a bad certificate: status %d", code)
	}
	for _, want := range []string{"rejected by", "serverAuth", "does not contain 192.0.2.1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunLintPKCS12 lints the server certificate of a configuration that
// holds it as PKCS#12: the demo certificate packed by our encoder is fine
// for its name; a wrong password is an error, not a finding.
func TestRunLintPKCS12(t *testing.T) {
	state := t.TempDir()
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com"}, io.Discard, io.Discard); code != 0 {
		t.Fatal("init failed")
	}
	leaf, key, err := loadPair(filepath.Join(state, serverCertFile), filepath.Join(state, serverKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := encodePKCS12(leaf, key, "lint-pass")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "server.p12"), pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	for pw, wantCode := range map[string]int{"lint-pass": 0, "wrong": 1} {
		conf := filepath.Join(state, "r-"+pw+".yaml")
		if err := os.WriteFile(conf, []byte("server: {name: vpn.example.com, pkcs12: server.p12, pkcs12_password: "+pw+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"lint", "-config", conf, "-state", state, "-listen", "::"}, &out, &errb)
		if code != wantCode || (wantCode == 0) != strings.Contains(out.String(), "server.p12: fine") || (wantCode == 1) != strings.Contains(errb.String(), "wrong password") {
			t.Errorf("password %q: status %d\n%s%s", pw, code, out.String(), errb.String())
		}
	}
}
