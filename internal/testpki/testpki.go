// Package testpki generates throw-away certificate hierarchies for tests:
// a CA, a server certificate shaped the way native clients demand (SAN with
// the server's names, IP addresses as both iPAddress and dNSName for
// Windows, EKU serverAuth plus ikeIntermediate) and a client certificate.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// OIDIKEIntermediate is the ikeIntermediate extended key usage
// (RFC 4945 section 5.1.3.12), which older macOS required.
var OIDIKEIntermediate = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 8, 2, 2}

// KeyType selects the key algorithm of generated certificates.
type KeyType int

// Key types.
const (
	RSA2048 KeyType = iota
	ECDSAP256
)

// Cert is a certificate with its private key.
type Cert struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
	// DER is the certificate's DER encoding.
	DER []byte
}

// CertPEM returns the certificate in PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// KeyPEM returns the private key in PKCS#8 PEM.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err) // only for key types this package generates itself
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PKI is a CA with one server and one client certificate.
type PKI struct {
	// CA issued Server's and Client's certificates.
	CA, Server, Client *Cert
}

func newKey(kt KeyType) (crypto.Signer, error) {
	if kt == ECDSAP256 {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// New creates a CA, a server certificate for serverNames (DNS names or IP
// addresses; the first is the subject CN) and a client certificate for
// clientID (an e-mail address, put into CN and an rfc822Name SAN).
func New(kt KeyType, clientID string, serverNames ...string) (*PKI, error) {
	now := time.Now()
	caKey, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Country: []string{"XX"}, Organization: []string{"goipsec test"}, CommonName: "goipsec test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca, err := sign(caTmpl, caTmpl, caKey, caKey)
	if err != nil {
		return nil, err
	}
	if len(serverNames) == 0 {
		return nil, fmt.Errorf("testpki: no server name")
	}
	srvKey, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber:       serial(),
		Subject:            pkix.Name{Country: []string{"XX"}, Organization: []string{"goipsec test"}, CommonName: serverNames[0]},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.Add(2 * 365 * 24 * time.Hour), // below Apple's 825-day limit
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDIKEIntermediate},
	}
	for _, n := range serverNames {
		if ip := net.ParseIP(n); ip != nil {
			srvTmpl.IPAddresses = append(srvTmpl.IPAddresses, ip)
		}
		// Windows matches IP addresses only against dNSName entries.
		srvTmpl.DNSNames = append(srvTmpl.DNSNames, n)
	}
	srv, err := sign(srvTmpl, ca.Cert, srvKey, caKey)
	if err != nil {
		return nil, err
	}
	cliKey, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	cliTmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{Country: []string{"XX"}, Organization: []string{"goipsec test"}, CommonName: clientID},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		EmailAddresses: []string{clientID},
	}
	cli, err := sign(cliTmpl, ca.Cert, cliKey, caKey)
	if err != nil {
		return nil, err
	}
	return &PKI{CA: ca, Server: srv, Client: cli}, nil
}

// Issue signs another certificate under the PKI's CA with a new key of
// type kt: tmpl supplies the names, key usages and extended key usages;
// a zero serial number and validity are filled in (random, from an hour
// ago for two years). Tests use it for a second gateway of the same CA or
// certificates lacking an extended key usage.
func (p *PKI) Issue(kt KeyType, tmpl *x509.Certificate) (*Cert, error) {
	key, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	t := *tmpl
	if t.SerialNumber == nil {
		t.SerialNumber = serial()
	}
	if t.NotBefore.IsZero() {
		t.NotBefore = time.Now().Add(-time.Hour)
	}
	if t.NotAfter.IsZero() {
		t.NotAfter = t.NotBefore.Add(2 * 365 * 24 * time.Hour)
	}
	if t.KeyUsage == 0 {
		t.KeyUsage = x509.KeyUsageDigitalSignature
	}
	return sign(&t, p.CA.Cert, key, p.CA.Key)
}

func sign(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*Cert, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: c, Key: key, DER: der}, nil
}

// WriteFiles writes ca.pem, server.pem, server.key, client.pem and
// client.key into dir.
func (p *PKI) WriteFiles(dir string) error {
	files := map[string][]byte{
		"ca.pem": p.CA.CertPEM(), "server.pem": p.Server.CertPEM(), "server.key": p.Server.KeyPEM(),
		"client.pem": p.Client.CertPEM(), "client.key": p.Client.KeyPEM(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
