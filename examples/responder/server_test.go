package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// testCA is a throw-away self-signed CA certificate.
func testCA(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPeerConfigsClientCAs checks which CAs certificate clients are
// accepted from, which are also the CAs the CERTREQ names: the demo CA
// with the demo PKI, client_cas when configured (and then only those),
// none with an own server certificate and no client_cas; and that a
// certificate configuration exists exactly when there are such CAs.
func TestPeerConfigsClientCAs(t *testing.T) {
	demo, own1, own2 := testCA(t, "demo"), testCA(t, "own 1"), testCA(t, "own 2")
	for _, c := range []struct {
		name      string
		sc        serverCert
		clientCAs []*x509.Certificate
		want      []*x509.Certificate
	}{
		{"demo PKI", serverCert{caFile: "ca.pem", root: demo}, nil, []*x509.Certificate{demo}},
		{"demo PKI and client_cas", serverCert{caFile: "ca.pem", root: demo}, []*x509.Certificate{own1}, []*x509.Certificate{own1}},
		{"own certificate", serverCert{root: demo}, nil, nil},
		{"own certificate and client_cas", serverCert{}, []*x509.Certificate{own1, own2}, []*x509.Certificate{own1, own2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &settings{clientCAs: c.clientCAs}
			peers, cas := peerConfigs(ike.PeerConfig{}, s, &c.sc, ipsec.NewUsers())
			if len(cas) != len(c.want) {
				t.Fatalf("CAs %d, want %d", len(cas), len(c.want))
			}
			for i := range cas {
				if !cas[i].Equal(c.want[i]) {
					t.Errorf("CA %d is %q, want %q", i, cas[i].Subject.CommonName, c.want[i].Subject.CommonName)
				}
			}
			var cert *ike.PeerConfig
			for _, p := range peers {
				if p.Remote.Method == ike.AuthPubkey {
					cert = p
				}
			}
			if (cert != nil) != (len(c.want) > 0) {
				t.Fatalf("certificate configuration present %v, want %v", cert != nil, len(c.want) > 0)
			}
			if cert == nil {
				return
			}
			// Trusted are exactly the wanted CAs: the demo CA is not
			// once client_cas replace it.
			for _, ca := range []*x509.Certificate{demo, own1, own2} {
				_, err := ca.Verify(x509.VerifyOptions{Roots: cert.Remote.CAs})
				if want := slices.ContainsFunc(c.want, ca.Equal); (err == nil) != want {
					t.Errorf("configuration trusts %q: %v, want %v", ca.Subject.CommonName, err == nil, want)
				}
			}
		})
	}
}
