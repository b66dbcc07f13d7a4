package testpki

import (
	"crypto/x509"
	"slices"
	"testing"
)

func TestNewVerifies(t *testing.T) {
	for _, kt := range []KeyType{RSA2048, ECDSAP256} {
		p, err := New(kt, "client@example.com", "vpn.example.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(p.CA.Cert)
		if _, err := p.Server.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "vpn.example.com"}); err != nil {
			t.Errorf("server cert: %v", err)
		}
		if err := p.Server.Cert.VerifyHostname("192.0.2.1"); err != nil {
			t.Errorf("server cert IP SAN: %v", err)
		}
		if !slices.Contains(p.Server.Cert.DNSNames, "192.0.2.1") {
			t.Error("IP address missing from dNSName SANs (Windows needs it)")
		}
		if _, err := p.Client.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("client cert: %v", err)
		}
		if len(p.Server.KeyPEM()) == 0 || len(p.CA.CertPEM()) == 0 {
			t.Error("empty PEM")
		}
	}
}
