package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testpki"
)

// newCRL is a CRL of issuer, signed with key, revoking serials.
func newCRL(t *testing.T, issuer *x509.Certificate, key crypto.Signer, serials ...*big.Int) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(7 * 24 * time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadRevocation: CRLs in PEM and DER, signed by the client CA, and a
// serials file revoke what they list and nothing else; a CRL whose
// signature is not the client CA's, or that no client CA issued, a
// garbled file and a bad serial are errors naming the configuration key.
func TestLoadRevocation(t *testing.T) {
	pki, err := testpki.New(testpki.ECDSAP256, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := pki.Issue(testpki.ECDSAP256, &x509.Certificate{Subject: pkix.Name{CommonName: "bob@example.com"}, EmailAddresses: []string{"bob@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	cas := []*x509.Certificate{pki.CA.Cert}
	crl := newCRL(t, pki.CA.Cert, pki.CA.Key, pki.Client.Cert.SerialNumber)
	for name, data := range map[string][]byte{
		"crl.der": crl,
		"crl.pem": pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}),
	} {
		r, err := loadRevocation(ClientCertConfig{CRL: writeTemp(t, name, data)}, cas, time.Now(), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.revoked(pki.Client.Cert, pki.CA.Cert) == "" {
			t.Errorf("%s: the revoked client certificate passes", name)
		}
		if why := r.revoked(bob.Cert, pki.CA.Cert); why != "" {
			t.Errorf("%s: bob's certificate revoked: %s", name, why)
		}
	}
	// The same serial from another CA is not revoked by this CA's CRL.
	other, err := testpki.New(testpki.ECDSAP256, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	twin, err := other.Issue(testpki.ECDSAP256, &x509.Certificate{SerialNumber: pki.Client.Cert.SerialNumber, Subject: pkix.Name{CommonName: "twin"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadRevocation(ClientCertConfig{CRL: writeTemp(t, "crl.der", crl)}, cas, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if why := r.revoked(twin.Cert, other.CA.Cert); why != "" {
		t.Errorf("a certificate of another CA with the revoked serial is revoked: %s", why)
	}

	// A forger with a CA of the same name but its own key.
	forger := *pki.CA.Cert
	forgerKey := other.CA.Key
	forger.PublicKey = forgerKey.Public()
	forged := newCRL(t, &forger, forgerKey, bob.Cert.SerialNumber)
	foreignCA, foreignKey, err := newCA("foreign", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serials := writeTemp(t, "serials", []byte("# revoked\n"+bob.Cert.SerialNumber.Text(16)+"\n"))
	for _, c := range []struct {
		name  string
		cfg   ClientCertConfig
		cas   []*x509.Certificate
		field string
		want  string
	}{
		{"forged signature", ClientCertConfig{CRL: writeTemp(t, "forged.der", forged)}, cas, fieldCRL, "signature does not verify"},
		{"foreign CA", ClientCertConfig{CRL: writeTemp(t, "foreign.der", newCRL(t, foreignCA, foreignKey, bob.Cert.SerialNumber))}, cas, fieldCRL, "not issued by a client CA"},
		{"no client CA", ClientCertConfig{CRL: writeTemp(t, "crl.der", crl)}, nil, fieldCRL, "no certificate clients"},
		{"garbage", ClientCertConfig{CRL: writeTemp(t, "bad.der", []byte{0x30, 3, 1, 2, 3})}, cas, fieldCRL, "CRL 1"},
		{"PEM without CRL", ClientCertConfig{CRL: writeTemp(t, "ca.pem", pki.CA.CertPEM())}, cas, fieldCRL, "no PEM"},
		{"missing file", ClientCertConfig{CRL: filepath.Join(t.TempDir(), "none.crl")}, cas, fieldCRL, "no such file"},
		{"bad serial", ClientCertConfig{RevokedSerials: writeTemp(t, "s", []byte("01:AB\nnot-hex\n"))}, cas, fieldSerials, `line 2: "not-hex"`},
		{"good serials, forged CRL", ClientCertConfig{RevokedSerials: serials, CRL: writeTemp(t, "forged.der", forged)}, cas, fieldCRL, "signature"},
	} {
		_, err := loadRevocation(c.cfg, c.cas, time.Now(), nil)
		var fe *fieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error of %s containing %q", c.name, err, c.field, c.want)
		}
	}
	r, err = loadRevocation(ClientCertConfig{RevokedSerials: serials}, cas, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.revoked(bob.Cert, pki.CA.Cert) == "" || r.revoked(pki.Client.Cert, pki.CA.Cert) != "" {
		t.Errorf("serials file: bob revoked %q, alice revoked %q", r.revoked(bob.Cert, pki.CA.Cert), r.revoked(pki.Client.Cert, pki.CA.Cert))
	}
}

func TestParseSerials(t *testing.T) {
	got, err := parseSerials([]byte("  0A:1b:FF  # openssl style\nserial=00FF\n0x10\n\n# only a comment\n123456789abcdef0123\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a1bff", "ff", "10", "123456789abcdef0123"} {
		if !got[want] {
			t.Errorf("serial %s missing from %v", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d serials, want 4: %v", len(got), got)
	}
	for _, bad := range []string{"xyz", "-1", "12 34", "0x"} {
		if _, err := parseSerials([]byte(bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v, want an error for line 1", bad, err)
		}
	}
}

// TestCertPolicy: verify refuses a revoked leaf and, with require_user,
// identities that are no configured user (e-mail, DNS name, DN by its
// CN); a failed reload keeps the previous lists, a good one replaces
// them.
func TestCertPolicy(t *testing.T) {
	pki, err := testpki.New(testpki.ECDSAP256, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	chain := []*x509.Certificate{pki.Client.Cert, pki.CA.Cert}
	serials := writeTemp(t, "serials", []byte("# none yet\n"))
	p, err := newCertPolicy(ClientCertConfig{RevokedSerials: serials, RequireUser: true}, []*x509.Certificate{pki.CA.Cert},
		[]UserConfig{{Name: "Alice@example.com"}, {Name: "laptop.example.com"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dn, _ := ipsec.DN(pki.Client.Cert.Subject)
	for _, c := range []struct {
		id ipsec.Identity
		ok bool
	}{
		{ipsec.Email("alice@example.com"), true},
		{dn, true}, // CN alice@example.com
		{ipsec.FQDN("laptop.example.com"), true},
		{ipsec.Email("mallory@example.com"), false},
	} {
		if err := p.verify(c.id, chain); (err == nil) != c.ok {
			t.Errorf("verify(%v): %v, want ok %v", c.id, err, c.ok)
		}
	}
	if err := os.WriteFile(serials, []byte(pki.Client.Cert.SerialNumber.Text(16)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.verify(ipsec.Email("alice@example.com"), chain); err != nil {
		t.Fatalf("revoked before the reload: %v", err)
	}
	if err := p.reload(); err != nil {
		t.Fatal(err)
	}
	if err := p.verify(ipsec.Email("alice@example.com"), chain); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after the reload: %v, want revoked", err)
	}
	if err := os.WriteFile(serials, []byte("garbage!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.reload(); err == nil || !strings.Contains(err.Error(), fieldSerials) {
		t.Errorf("reload of a broken file: %v", err)
	}
	if err := p.verify(ipsec.Email("alice@example.com"), chain); err == nil {
		t.Error("a failed reload dropped the revocation")
	}
	if err := (ClientCertConfig{RequireUser: true}).check(false); err == nil || !strings.Contains(err.Error(), fieldRequireUser) {
		t.Errorf("require_user without users: %v", err)
	}
}

// TestConfigBadCRLSignature starts the program with a client_certs.crl
// signed by another key than the demo CA's: it must exit 1 before it
// opens anything, with a line naming the key.
func TestConfigBadCRLSignature(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(dir, "unused.yaml")}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	ca, _, err := loadPair(filepath.Join(state, caCertFile), filepath.Join(state, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.New(testpki.ECDSAP256, "x@example.com", "x")
	if err != nil {
		t.Fatal(err)
	}
	forger := *ca
	forger.PublicKey = other.CA.Key.Public()
	writeTemp := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTemp("clients.crl", newCRL(t, &forger, other.CA.Key, big.NewInt(1)))
	writeTemp("responder.yaml", []byte("server:\n  name: vpn.example.com\nclient_certs:\n  crl: clients.crl\n"))
	stderr.Reset()
	code := run(t.Context(), []string{"-config", filepath.Join(dir, "responder.yaml"), "-state", state, "-listen", "127.0.0.1", "-pool", "10.99.0.0/24"}, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "client_certs.crl:") || !strings.Contains(stderr.String(), "signature") {
		t.Errorf("exit %d, stderr %q: want 1 and an error naming client_certs.crl", code, stderr.String())
	}
}

// TestClientCertValidityBound: export's client certificates are valid for
// at most 825 days; one stored with a longer validity (issued by hand or
// an older version) is replaced.
func TestClientCertValidityBound(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	ca, caKey, err := newCA("vpn.example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ensureClientCert(dir, "alice@example.com", ca, caKey, now)
	if err != nil {
		t.Fatal(err)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d > 825*24*time.Hour {
		t.Errorf("client certificate valid for %v", d)
	}
	key, sn, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	long := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "bob@example.com"}, EmailAddresses: []string{"bob@example.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, long, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	longCert, _ := x509.ParseCertificate(der)
	if err := writePair(filepath.Join(dir, clientDir), fileSafe("bob@example.com")+".pem", fileSafe("bob@example.com")+".key", longCert, key); err != nil {
		t.Fatal(err)
	}
	got, _, err := ensureClientCert(dir, "bob@example.com", ca, caKey, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Equal(longCert) || got.NotAfter.Sub(got.NotBefore) > 825*24*time.Hour {
		t.Errorf("the stored 10-year certificate was handed out again (valid until %v)", got.NotAfter)
	}
}

// TestExportReissuesRevokedClientCert: `export --auth cert` hands out the
// stored certificate again while it is valid, and a new one (the revoked
// one moved aside) once client_certs revokes it.
func TestExportReissuesRevokedClientCert(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(dir, "unused.yaml")}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	serials := filepath.Join(dir, "revoked.txt")
	if err := os.WriteFile(serials, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(conf, []byte("server:\n  name: vpn.example.com\nclient_certs:\n  revoked_serials: revoked.txt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const user = "bob@example.com"
	export := func() (*x509.Certificate, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		out := filepath.Join(t.TempDir(), "bob.sswan")
		if code := run(t.Context(), []string{"export", "android", "--auth", "cert", "--user", user, "-config", conf, "-state", state, "-o", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("export: %d %s", code, stderr.String())
		}
		c, _, err := loadPair(filepath.Join(state, clientDir, fileSafe(user)+".pem"), filepath.Join(state, clientDir, fileSafe(user)+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return c, stdout.String()
	}
	first, _ := export()
	if again, out := export(); !again.Equal(first) || strings.Contains(out, "revoked") {
		t.Fatalf("a valid certificate was reissued (%s)", out)
	}
	if err := os.WriteFile(serials, []byte(first.SerialNumber.Text(16)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	renewed, out := export()
	if renewed.Equal(first) || renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("export handed out the revoked certificate again")
	}
	if !strings.Contains(out, "revoked") {
		t.Errorf("export did not say it replaced a revoked certificate:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(state, clientDir, fileSafe(user)+"-"+first.SerialNumber.Text(16)+".pem.revoked")); err != nil {
		t.Errorf("the revoked certificate was not kept aside: %v", err)
	}
}
