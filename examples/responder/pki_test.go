package main

import (
	"crypto/rsa"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDemoPKI(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	sc, created, err := ensurePKI(dir, "vpn.example.com", addrs, now)
	if err != nil {
		t.Fatal(err)
	}
	if !created || sc.caFile != filepath.Join(dir, caCertFile) || len(sc.chain) != 2 {
		t.Fatalf("created %v, CA file %q, chain of %d", created, sc.caFile, len(sc.chain))
	}
	leaf := sc.leaf
	ca, err := x509.ParseCertificate(sc.chain[1])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "vpn.example.com" {
		t.Errorf("CN %q: Windows matches it against the server name", leaf.Subject.CommonName)
	}
	for _, n := range []string{"vpn.example.com", "192.0.2.1", "2001:db8::1"} {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("SAN dNSName lacks %q: %v", n, leaf.DNSNames)
		}
	}
	for _, a := range addrs {
		if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { b, _ := netip.AddrFromSlice(ip); return b.Unmap() == a }) {
			t.Errorf("SAN iPAddress lacks %v: %v", a, leaf.IPAddresses)
		}
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("no serverAuth EKU: %v", leaf.ExtKeyUsage)
	}
	if !slices.ContainsFunc(leaf.UnknownExtKeyUsage, oidIKEIntermediate.Equal) || oidIKEIntermediate.String() != "1.3.6.1.5.5.8.2.2" {
		t.Errorf("no ikeIntermediate EKU: %v", leaf.UnknownExtKeyUsage)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Error("no digitalSignature key usage")
	}
	// Apple rejects server certificates valid for more than 825 days.
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour || d < 365*24*time.Hour {
		t.Errorf("server certificate validity %v", d)
	}
	for _, c := range []*x509.Certificate{leaf, ca} {
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() != 2048 {
			t.Errorf("%s: key %T, want RSA-2048", c.Subject.CommonName, c.PublicKey)
		}
	}
	if !ca.IsCA || ca.Equal(leaf) {
		t.Error("CA certificate is not a CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, n := range []string{"vpn.example.com", "192.0.2.1", "2001:db8::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: n, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", n, err)
		}
	}
	for _, f := range []string{caKeyFile, serverKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi.Mode(), err)
		}
	}

	// A second start keeps everything.
	again, created, err := ensurePKI(dir, "vpn.example.com", addrs, now.Add(time.Hour))
	if err != nil || created || !again.leaf.Equal(leaf) {
		t.Errorf("second start: created %v, same leaf %v, %v", created, again.leaf.Equal(leaf), err)
	}
	// A new name reissues the server certificate under the same CA, so
	// clients that trust the CA keep working.
	renamed, created, err := ensurePKI(dir, "gw.example.net", addrs, now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("rename: created %v, %v", created, err)
	}
	if renamed.leaf.Equal(leaf) || renamed.leaf.Subject.CommonName != "gw.example.net" || !slices.Equal(renamed.chain[1], sc.chain[1]) {
		t.Errorf("rename: CN %q, CA kept %v", renamed.leaf.Subject.CommonName, slices.Equal(renamed.chain[1], sc.chain[1]))
	}
	// And so does a certificate about to expire.
	late := renamed.leaf.NotAfter.Add(-24 * time.Hour)
	renewed, _, err := ensurePKI(dir, "gw.example.net", addrs, late)
	if err != nil || renewed.leaf.Equal(renamed.leaf) || !renewed.leaf.NotAfter.After(late.Add(700*24*time.Hour)) {
		t.Errorf("renewal: %v, NotAfter %v", err, renewed.leaf.NotAfter)
	}
}

func TestServerIPAsName(t *testing.T) {
	sc, _, err := ensurePKI(t.TempDir(), "192.0.2.1", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.leaf.IPAddresses) != 1 || !slices.Equal(sc.leaf.DNSNames, []string{"192.0.2.1"}) {
		t.Errorf("IP name: IPs %v, DNS names %v", sc.leaf.IPAddresses, sc.leaf.DNSNames)
	}
}

func TestLoadServerCertMismatch(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, _, err := ensurePKI(d, "vpn.example.com", nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := loadServerCert(filepath.Join(a, serverCertFile), filepath.Join(b, serverKeyFile)); err == nil {
		t.Error("a key of another certificate was accepted")
	} else if fe, ok := err.(*fieldError); !ok || fe.Field != "server.key" {
		t.Errorf("error %v does not name server.key", err)
	}
	if _, err := loadServerCert(filepath.Join(a, serverKeyFile), filepath.Join(a, serverKeyFile)); err == nil {
		t.Error("a key file was accepted as certificate")
	}
}

func TestDemoUser(t *testing.T) {
	dir := t.TempDir()
	u, created, err := ensureDemoUser(dir)
	if err != nil || !created || u.Name != demoUserName || len(u.Password) != 20 {
		t.Fatalf("%+v %v %v", u, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, demoUserFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("demo user file: %v %v", fi.Mode(), err)
	}
	again, created, err := ensureDemoUser(dir)
	if err != nil || created || again.Name != u.Name || again.Password != u.Password {
		t.Errorf("second start: %v %v", created, err)
	}
	other, _, err := ensureDemoUser(t.TempDir())
	if err != nil || other.Password == u.Password {
		t.Error("two state directories got the same password")
	}
	if err := os.WriteFile(filepath.Join(dir, demoUserFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ensureDemoUser(dir); err == nil {
		t.Error("a corrupt demo user file was accepted")
	}
}

func TestRandomPasswordAlphabet(t *testing.T) {
	seen := map[rune]int{}
	for range 200 {
		for _, r := range randomPassword(20) {
			seen[r]++
		}
	}
	for r := range seen {
		if !slices.Contains([]rune(passwordAlphabet), r) {
			t.Errorf("character %q outside the alphabet", r)
		}
	}
	// 4000 draws over 56 symbols: every symbol shows up (p of a miss
	// is about 56 * e^-71).
	if len(seen) != len(passwordAlphabet) {
		t.Errorf("%d of %d symbols used", len(seen), len(passwordAlphabet))
	}
}
