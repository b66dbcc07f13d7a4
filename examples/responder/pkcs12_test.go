package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/pkcs12"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/goipsec/ipsec/internal/testnet"
)

// issueTestClient makes a demo CA and a client certificate for user.
func issueTestClient(t *testing.T, dir, user string) (*x509.Certificate, *x509.Certificate, crypto.Signer) {
	t.Helper()
	now := time.Now()
	ca, caKey, err := newCA("vpn.example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ensureClientCert(dir, user, ca, caKey, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca, cert, key
}

// TestPKCS12DecodesWithXCrypto checks the encoder against an independent
// decoder (golang.org/x/crypto/pkcs12) for an RSA and an ECDSA key and a
// non-ASCII password, and that a wrong password is refused by the MAC.
func TestPKCS12DecodesWithXCrypto(t *testing.T) {
	_, cert, rsaKey := issueTestClient(t, t.TempDir(), "alice@example.com")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecTmpl := &x509.Certificate{SerialNumber: cert.SerialNumber, Subject: cert.Subject, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}
	ecDER, err := x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, ecKey.Public(), ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecCert, _ := x509.ParseCertificate(ecDER)
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		key  crypto.Signer
		pw   string
	}{
		{"rsa", cert, rsaKey, "Kx9mPq2Wz7"},
		{"ecdsa-unicode-password", ecCert, ecKey, "pässwörd-€"},
		{"empty-password", cert, rsaKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pfx, err := encodePKCS12(tc.cert, tc.key, tc.pw)
			if err != nil {
				t.Fatal(err)
			}
			key, got, err := pkcs12.Decode(pfx, tc.pw)
			if err != nil {
				t.Fatalf("x/crypto/pkcs12 cannot decode our PFX: %v", err)
			}
			if !got.Equal(tc.cert) {
				t.Error("decoded certificate differs")
			}
			type pub interface{ Equal(crypto.PublicKey) bool }
			if k, ok := key.(crypto.Signer); !ok || !k.Public().(pub).Equal(tc.key.Public()) {
				t.Errorf("decoded key %T does not match", key)
			}
			if _, _, err := pkcs12.Decode(pfx, tc.pw+"x"); err == nil {
				t.Error("wrong password accepted")
			}
			// Our own reader (used for the server's PKCS#12) agrees.
			chain, k2, err := decodePKCS12(pfx, tc.pw)
			if err != nil || len(chain) != 1 || !chain[0].Equal(tc.cert) || !k2.Public().(pub).Equal(tc.key.Public()) {
				t.Errorf("decodePKCS12: %v, %d certificates", err, len(chain))
			}
			if _, _, err := decodePKCS12(pfx, tc.pw+"x"); err == nil || !strings.Contains(err.Error(), "wrong password") {
				t.Errorf("decodePKCS12 with a wrong password: %v", err)
			}
		})
	}
}

// TestPKCS12OpenSSL has OpenSSL, the parser behind many importers,
// verify the MAC and decrypt both bags, and report the algorithms.
func TestPKCS12OpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if testnet.InCI() {
			t.Fatal("openssl missing (apt-get install openssl)")
		}
		t.Skip("openssl missing: apt-get install openssl to run this test")
	}
	dir := t.TempDir()
	_, cert, key := issueTestClient(t, dir, "bob")
	const pw = "S3cret-pfx"
	pfx, err := encodePKCS12(cert, key, pw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bob.p12")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkcs12", "-info", "-noout", "-in", path, "-passin", "pass:"+pw).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, out)
	}
	for _, want := range []string{"MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC", "Shrouded Keybag", "Certificate bag"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl output lacks %q:\n%s", want, out)
		}
	}
	// The key and certificate come out as a pair that belongs together.
	pemOut, err := exec.Command("openssl", "pkcs12", "-in", path, "-passin", "pass:"+pw, "-nodes").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -nodes: %v\n%s", err, pemOut)
	}
	// localKeyID pairs the key with its certificate; go-pkcs12 writes no
	// friendlyName (importers then show the certificate's subject).
	if strings.Count(string(pemOut), "localKeyID:") != 2 {
		t.Errorf("bag attributes missing:\n%s", pemOut)
	}
	if out, err := exec.Command("openssl", "pkcs12", "-info", "-noout", "-in", path, "-passin", "pass:wrong").CombinedOutput(); err == nil {
		t.Errorf("openssl accepted a wrong password:\n%s", out)
	}
}

func TestClientCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, caKey, err := newCA("vpn.example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, email, dns string
	}{
		{"alice@example.com", "alice@example.com", ""},
		{"mac-book", "", "mac-book"},
	} {
		cert, _, err := ensureClientCert(dir, tc.user, ca, caKey, now)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			t.Errorf("%s: no clientAuth EKU", tc.user)
		}
		if (tc.email != "") != slices.Contains(cert.EmailAddresses, tc.email) || (tc.dns != "") != slices.Contains(cert.DNSNames, tc.dns) {
			t.Errorf("%s: SAN e-mail %v DNS %v", tc.user, cert.EmailAddresses, cert.DNSNames)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: does not verify under the CA: %v", tc.user, err)
		}
		k, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() < 2048 {
			t.Errorf("%s: key %T", tc.user, cert.PublicKey)
		}
		// A second call returns the same certificate.
		again, _, err := ensureClientCert(dir, tc.user, ca, caKey, now)
		if err != nil || !again.Equal(cert) {
			t.Errorf("%s: reissued on the second call (%v)", tc.user, err)
		}
	}
	// Under another CA the stored certificate is reissued.
	ca2, caKey2, _ := newCA("other", now)
	c2, _, err := ensureClientCert(dir, "mac-book", ca2, caKey2, now)
	if err != nil || c2.CheckSignatureFrom(ca2) != nil {
		t.Errorf("not reissued under a new CA: %v", err)
	}
	for _, bad := range []string{"bad name", "@example.com", "a@", "x/../y"} {
		if _, _, err := ensureClientCert(dir, bad, ca, caKey, now); err == nil {
			t.Errorf("user %q accepted as a certificate identity", bad)
		}
	}
}

// TestServerPKCS12 loads the server certificate from a PKCS#12 file
// named in the configuration: from our encoder (leaf only) and, when
// openssl is installed, a legacy file with the chain that OpenSSL
// wrote. A wrong password is a one-line error naming the key, without
// the password.
func TestServerPKCS12(t *testing.T) {
	dir := t.TempDir()
	sc, _, err := ensurePKI(dir, "vpn.example.com", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const pw = "server-p12-pass"
	pfx, err := encodePKCS12(sc.leaf, sc.key, pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.p12"), pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]int{"server.p12": 1} // file -> chain length
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "pkcs12", "-export", "-legacy", "-in", filepath.Join(dir, serverCertFile), "-inkey", filepath.Join(dir, serverKeyFile),
			"-certfile", filepath.Join(dir, caCertFile), "-passout", "pass:"+pw, "-out", filepath.Join(dir, "chain.p12")).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
		}
		files["chain.p12"] = 2
	} else if testnet.InCI() {
		t.Fatal("openssl missing (apt-get install openssl)")
	}
	for file, n := range files {
		yml := "server:\n  pkcs12: " + file + "\n  pkcs12_password: " + pw + "\npools: [198.51.100.0/24]\n"
		if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(filepath.Join(dir, "r.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.validate(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.loadServerCert()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(got.chain) != n || !got.leaf.Equal(sc.leaf) || (n == 2) != (got.root != nil) {
			t.Errorf("%s: chain of %d (want %d), leaf %s, root %v", file, len(got.chain), n, got.leaf.Subject.CommonName, got.root != nil)
		}
		s.pkcs12Pass = "wrong"
		_, err = s.loadServerCert()
		if err == nil || !strings.HasPrefix(err.Error(), "server.pkcs12: ") || !strings.Contains(err.Error(), "wrong password") || strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s with a wrong password: %v", file, err)
		}
	}
}

// FuzzDecodePKCS12 feeds arbitrary bytes to the PKCS#12 reader used for
// the server's certificate: errors, never a panic, and a success must
// return a key that matches the first certificate.
func FuzzDecodePKCS12(f *testing.F) {
	dir := f.TempDir()
	now := time.Now()
	ca, caKey, err := newCA("fuzz", now)
	if err != nil {
		f.Fatal(err)
	}
	cert, key, err := ensureClientCert(dir, "fuzz", ca, caKey, now)
	if err != nil {
		f.Fatal(err)
	}
	pfx, err := encodePKCS12(cert, key, "pw")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pfx, "pw")
	f.Add(pfx[:len(pfx)/2], "pw")
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03}, "")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		chain, k, err := decodePKCS12(data, password)
		if err != nil {
			return
		}
		type pub interface{ Equal(crypto.PublicKey) bool }
		if len(chain) == 0 || !k.Public().(pub).Equal(chain[0].PublicKey) {
			t.Errorf("decoded a key that does not match the first certificate")
		}
	})
}

// TestPKCS12IterationLimit: a file asking for more key-derivation
// rounds than maxPKCS12Iterations is refused before any derivation
// runs, in the MAC and in the encryption parameters; our own output
// passes the check.
func TestPKCS12IterationLimit(t *testing.T) {
	_, cert, key := issueTestClient(t, t.TempDir(), "iter")
	pfx, err := encodePKCS12(cert, key, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPKCS12Iterations(pfx); err != nil {
		t.Fatalf("our own PFX: %v", err)
	}
	// Every INTEGER 2048 (02 02 08 00) in the file is an iteration
	// count: the MAC's and the two PBE parameters'. Each in turn becomes
	// 32767 (02 02 7f ff, same length, so the DER stays valid) and is
	// checked against a limit below and above it.
	count := bytes.Count(pfx, []byte{0x02, 0x02, 0x08, 0x00})
	if count != 3 {
		t.Fatalf("%d iteration counts found, want 3 (MAC, certificate bag, key bag)", count)
	}
	idx := 0
	for i := 0; i < count; i++ {
		j := bytes.Index(pfx[idx:], []byte{0x02, 0x02, 0x08, 0x00}) + idx
		bad := bytes.Clone(pfx)
		bad[j+2], bad[j+3] = 0x7f, 0xff // 32767
		idx = j + 4
		if err := checkPKCS12IterationsLimit(bad, 30000); err == nil || !strings.Contains(err.Error(), "iteration count 32767") {
			t.Errorf("count #%d raised to 32767 with a limit of 30000: %v", i+1, err)
		}
		if err := checkPKCS12IterationsLimit(bad, maxPKCS12Iterations); err != nil {
			t.Errorf("count #%d at 32767 refused under the real limit: %v", i+1, err)
		}
	}
}

// requireOpenSSL skips (fails in CI) without the openssl command.
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if testnet.InCI() {
			t.Fatal("openssl missing (apt-get install openssl)")
		}
		t.Skip("openssl missing: apt-get install openssl to run this test")
	}
}

// TestP12Profiles: export's PKCS#12 per target platform. Apple, Windows
// and Android get the legacy profile (3DES, SHA-1 MAC), which
// x/crypto/pkcs12 (an independent decoder of only that format) reads;
// Linux gets the modern one (PBES2 with AES-256-CBC, SHA-256 MAC). OpenSSL
// reports the algorithms and our reader takes both.
func TestP12Profiles(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	_, cert, key := issueTestClient(t, dir, "carol")
	const pw = "Profile-pw-1"
	for _, tc := range []struct {
		kind string
		want []string
	}{
		{"apple", []string{"MAC: sha1, Iteration 2048", "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"}},
		{"windows", []string{"MAC: sha1, Iteration 2048", "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"}},
		{"android", []string{"MAC: sha1, Iteration 2048", "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"}},
		{"linux", []string{"MAC: sha256, Iteration 2048", "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			pfx, err := p12ProfileFor(tc.kind).encode(cert, key, pw)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.kind+".p12")
			if err := os.WriteFile(path, pfx, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("openssl", "pkcs12", "-info", "-noout", "-in", path, "-passin", "pass:"+pw).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl pkcs12 -info: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("openssl output lacks %q:\n%s", w, out)
				}
			}
			_, _, xerr := pkcs12.Decode(pfx, pw)
			if legacy := p12ProfileFor(tc.kind) == p12Legacy; legacy != (xerr == nil) {
				t.Errorf("x/crypto/pkcs12 (legacy only): %v", xerr)
			}
			chain, k, err := decodePKCS12(pfx, pw)
			type pub interface{ Equal(crypto.PublicKey) bool }
			if err != nil || len(chain) != 1 || !chain[0].Equal(cert) || !k.Public().(pub).Equal(key.Public()) {
				t.Errorf("decodePKCS12: %v", err)
			}
			if _, _, err := decodePKCS12(pfx, pw+"x"); err == nil || !strings.Contains(err.Error(), "wrong password") {
				t.Errorf("decodePKCS12 with a wrong password: %v", err)
			}
		})
	}
}

// TestServerPKCS12OpenSSL3Default: the server's certificate as the file
// OpenSSL 3 writes without -legacy (PBES2/AES-256, HMAC-SHA-256), with
// the CA, loads without conversion; a wrong password is a one-line
// error without the password.
func TestServerPKCS12OpenSSL3Default(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	sc, _, err := ensurePKI(dir, "vpn.example.com", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const pw = "openssl3-default"
	p12 := filepath.Join(dir, "server.p12")
	out, err := exec.Command("openssl", "pkcs12", "-export", "-in", filepath.Join(dir, serverCertFile), "-inkey", filepath.Join(dir, serverKeyFile),
		"-certfile", filepath.Join(dir, caCertFile), "-passout", "pass:"+pw, "-out", p12).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
	}
	info, err := exec.Command("openssl", "pkcs12", "-info", "-noout", "-in", p12, "-passin", "pass:"+pw).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "PBES2") {
		t.Fatalf("not OpenSSL 3's default format (%v):\n%s", err, info)
	}
	yml := "server:\n  pkcs12: server.p12\n  pkcs12_password: " + pw + "\npools: [198.51.100.0/24]\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(filepath.Join(dir, "r.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.loadServerCert()
	if err != nil {
		t.Fatalf("OpenSSL 3 default PKCS#12: %v", err)
	}
	if len(got.chain) != 2 || !got.leaf.Equal(sc.leaf) || got.root == nil {
		t.Errorf("chain of %d, leaf %s, root %v", len(got.chain), got.leaf.Subject.CommonName, got.root != nil)
	}
	s.pkcs12Pass = "wrong"
	if _, err := s.loadServerCert(); err == nil || !strings.Contains(err.Error(), "wrong password") || strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong password: %v", err)
	}
}

// TestPKCS12IterationLimitPBKDF2: the iteration check also follows
// PBKDF2's parameters, in PBES2 (the encryption of the modern profile
// and OpenSSL 3) and in a PBMAC1 MAC (RFC 9579), so neither can make the
// reader run billions of rounds.
func TestPKCS12IterationLimitPBKDF2(t *testing.T) {
	_, cert, key := issueTestClient(t, t.TempDir(), "iter2")
	modern, err := p12Modern.encode(cert, key, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pbmac1, err := gopkcs12.Modern2026.WithIterations(2048).Encode(key, cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	for name, pfx := range map[string][]byte{"pbes2": modern, "pbmac1": pbmac1} {
		if _, _, err := decodePKCS12(pfx, "pw"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Each INTEGER 2048 (02 02 08 00): the MAC's (or PBMAC1's
		// PBKDF2) and the two PBES2 PBKDF2 counts.
		count := bytes.Count(pfx, []byte{0x02, 0x02, 0x08, 0x00})
		if count != 3 {
			t.Fatalf("%s: %d iteration counts found, want 3", name, count)
		}
		idx := 0
		for i := range count {
			j := bytes.Index(pfx[idx:], []byte{0x02, 0x02, 0x08, 0x00}) + idx
			bad := bytes.Clone(pfx)
			bad[j+2], bad[j+3] = 0x7f, 0xff // 32767
			idx = j + 4
			if err := checkPKCS12IterationsLimit(bad, 30000); err == nil || !strings.Contains(err.Error(), "iteration count 32767") {
				t.Errorf("%s: count #%d raised to 32767 with a limit of 30000: %v", name, i+1, err)
			}
			if err := checkPKCS12IterationsLimit(bad, maxPKCS12Iterations); err != nil {
				t.Errorf("%s: count #%d at 32767 refused under the real limit: %v", name, i+1, err)
			}
		}
	}
}
