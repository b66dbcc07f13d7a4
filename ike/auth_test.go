package ike

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

func TestSharedKeyAuthMatchesRFC(t *testing.T) {
	p, err := alg.NewPRF(proposal.PRFHMACSHA2256)
	if err != nil {
		t.Fatal(err)
	}
	psk := []byte("goipsec-psk")
	msg, nonce, skp, id := []byte("IKE_SA_INIT bytes"), []byte("Nr"), []byte("SK_pi"), []byte{2, 0, 0, 0, 'g', 'w'}
	// Independent computation with crypto/hmac (RFC 7296 section 2.15).
	mac := func(k, d []byte) []byte { h := hmac.New(sha256.New, k); h.Write(d); return h.Sum(nil) }
	octets := append(append(append([]byte{}, msg...), nonce...), mac(skp, id)...)
	want := mac(mac(psk, []byte("Key Pad for IKEv2")), octets)
	got := sharedKeyAuth(p, psk, signedOctets(p, msg, nonce, skp, id, nil))
	if !hmac.Equal(got, want) {
		t.Fatalf("AUTH = %x, want %x", got, want)
	}
}

func TestSignVerifyAllSchemes(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	octets := []byte("signed octets")
	cases := []struct {
		name   string
		key    crypto.Signer
		hashes []uint16
		method uint8
	}{
		{"rsa-legacy", rsaKey, nil, authRSASig},
		{"rsa-7427", rsaKey, []uint16{hashSHA2_256}, authDigitalSign},
		{"rsa-7427-sha512", rsaKey, []uint16{hashSHA2_512}, authDigitalSign},
		{"rsa-7427-sha1-only", rsaKey, []uint16{hashSHA1}, authRSASig},
		{"p256-legacy", p256, nil, authECDSA256},
		{"p384-legacy", p384, nil, authECDSA384},
		{"p521-legacy", p521, nil, authECDSA521},
		{"p256-7427", p256, ourHashAlgorithms, authDigitalSign},
		{"p384-7427", p384, ourHashAlgorithms, authDigitalSign},
		{"ed25519", edKey, ourHashAlgorithms, authDigitalSign},
	}
	for _, c := range cases {
		m, sig, err := sign(c.key, octets, c.hashes, rand.Reader)
		if err != nil {
			t.Errorf("%s: sign: %v", c.name, err)
			continue
		}
		if m != c.method {
			t.Errorf("%s: method %d, want %d", c.name, m, c.method)
		}
		if err := verify(m, sig, c.key.Public(), octets); err != nil {
			t.Errorf("%s: verify: %v", c.name, err)
		}
		if err := verify(m, sig, c.key.Public(), []byte("other octets")); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s: verify of other octets: %v", c.name, err)
		}
		bad := append([]byte(nil), sig...)
		bad[len(bad)-1] ^= 1
		if err := verify(m, bad, c.key.Public(), octets); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s: tampered signature: %v", c.name, err)
		}
		for i := range len(sig) {
			if err := verify(m, sig[:i], c.key.Public(), octets); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("%s: truncated to %d: %v", c.name, i, err)
			}
		}
	}
	// A signature made with one key kind never verifies with another.
	m, sig, _ := sign(p256, octets, nil, rand.Reader)
	if err := verify(m, sig, &rsaKey.PublicKey, octets); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("ECDSA signature against RSA key: %v", err)
	}
	if err := verify(authDSSSig, sig, &rsaKey.PublicKey, octets); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("DSS accepted: %v", err)
	}
	if _, _, err := sign(edKey, octets, nil, rand.Reader); err == nil {
		t.Error("Ed25519 without RFC 7427 must fail")
	}
}

func TestVerifyPeerCertAndIdentity(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	now := time.Now()
	chain, err := verifyPeerCert(pki.Client.DER, [][]byte{{1, 2, 3}}, roots, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[1].Equal(pki.CA.Cert) {
		t.Fatalf("verified chain has %d certificates, want the leaf and the CA", len(chain))
	}
	leaf := chain[0]
	if _, err := verifyPeerCert(pki.Client.DER, nil, roots, now.Add(5*365*24*time.Hour)); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("expired certificate: %v", err)
	}
	other, _ := testpki.New(testpki.ECDSAP256, "x@example.com", "gw")
	if _, err := verifyPeerCert(other.Client.DER, nil, roots, now); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("foreign CA: %v", err)
	}
	if _, err := verifyPeerCert([]byte{0x30, 1}, nil, roots, now); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("garbage certificate: %v", err)
	}
	if _, err := verifyPeerCert(pki.Client.DER, nil, nil, now); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("no roots: %v", err)
	}
	dn, _ := ipsec.DN(pkix.Name{Country: []string{"XX"}, Organization: []string{"goipsec test"}, CommonName: "client@example.com"})
	for _, c := range []struct {
		cert *x509.Certificate
		id   string
		want bool
	}{
		{leaf, "client@example.com", true},
		{leaf, "CLIENT@example.com", true},
		{leaf, "mallory@example.com", false},
		{pki.Server.Cert, "vpn.example.com", true},
		{pki.Server.Cert, "192.0.2.1", true},
		{pki.Server.Cert, "192.0.2.2", false},
		{pki.Server.Cert, "other.example.com", false},
		{pki.Server.Cert, "CN=vpn.example.com,O=goipsec test,C=XX", true}, // DN sent as FQDN by Apple
	} {
		id, err := ipsec.ParseIdentity(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if c.id[0] == 'C' && c.id[1] == 'N' {
			id = ipsec.FQDN(c.id)
		}
		if got := certMatchesID(c.cert, id); got != c.want {
			t.Errorf("certMatchesID(%s, %v) = %v, want %v", c.cert.Subject, id, got, c.want)
		}
	}
	if !certMatchesID(leaf, dn) {
		t.Errorf("subject DN %v does not match", dn)
	}
}
