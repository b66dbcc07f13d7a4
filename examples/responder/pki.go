package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// oidIKEIntermediate is id-kp-ipsecIKE's older sibling, the "IP security
// IKE intermediate" EKU (1.3.6.1.5.5.8.2.2) that Windows and macOS look
// for on a gateway certificate.
var oidIKEIntermediate = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 8, 2, 2}

const (
	// serverValidity stays below the 825 days Apple accepts for TLS
	// server certificates, which iOS applies to IKEv2 too.
	serverValidity = 800 * 24 * time.Hour
	caValidity     = 10 * 365 * 24 * time.Hour
	rsaBits        = 2048
)

// Files of the state directory.
const (
	caCertFile     = "ca.pem"
	caKeyFile      = "ca.key"
	serverCertFile = "server.pem"
	serverKeyFile  = "server.key"
	demoUserFile   = "demo-user"
)

// serverCert is the certificate chain and key the responder presents.
type serverCert struct {
	chain [][]byte // DER, leaf first
	leaf  *x509.Certificate
	key   crypto.Signer
	// caFile is the file clients must trust (demo PKI), empty for an
	// operator's own certificate.
	caFile string
	// root is the self-signed CA at the end of the chain, which client
	// profiles carry; nil when the chain does not include it (a publicly
	// trusted certificate needs no CA payload).
	root *x509.Certificate
}

// ensurePKI loads the demo PKI from dir, creating the CA on first use and
// (re)issuing the server certificate when it does not cover name and
// addrs, so a changed server name keeps the CA clients already trust.
func ensurePKI(dir, name string, addrs []netip.Addr, now time.Time) (*serverCert, bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	caCert, caKey, err := loadPair(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
	created := false
	if errors.Is(err, os.ErrNotExist) {
		caCert, caKey, err = newCA(name, now)
		if err == nil {
			err = writePair(dir, caCertFile, caKeyFile, caCert, caKey)
		}
		created = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("demo CA: %w", err)
	}
	leaf, key, err := loadPair(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("demo server certificate: %w", err)
	}
	if err != nil || created || !covers(leaf, name, addrs, now) || leaf.CheckSignatureFrom(caCert) != nil {
		leaf, key, err = newServerCert(caCert, caKey, name, addrs, now)
		if err == nil {
			err = writePair(dir, serverCertFile, serverKeyFile, leaf, key)
		}
		if err != nil {
			return nil, false, fmt.Errorf("demo server certificate: %w", err)
		}
	}
	return &serverCert{chain: [][]byte{leaf.Raw, caCert.Raw}, leaf: leaf, key: key, caFile: filepath.Join(dir, caCertFile), root: caCert}, created, nil
}

// covers reports whether leaf names name and every address, and is valid
// for at least another week.
func covers(leaf *x509.Certificate, name string, addrs []netip.Addr, now time.Time) bool {
	if now.Add(7*24*time.Hour).After(leaf.NotAfter) || leaf.Subject.CommonName != name {
		return false
	}
	for _, n := range append([]string{name}, addrStrings(addrs)...) {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// newKey makes the RSA key of a new certificate and its random serial
// number.
func newKey() (*rsa.PrivateKey, *big.Int, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	return key, sn, nil
}

func newCA(name string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, sn, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "goipsec demo CA " + name, Organization: []string{"goipsec responder"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// newServerCert issues what every native client accepts: RSA, CN = the
// server name (Windows compares it with the address the user typed), SAN
// with the name and each address both as iPAddress and as dNSName (some
// clients match an address typed as server name only against dNSName),
// EKUs serverAuth and ikeIntermediate.
func newServerCert(ca *x509.Certificate, caKey crypto.Signer, name string, addrs []netip.Addr, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, sn, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       sn,
		Subject:            pkix.Name{CommonName: name},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.Add(serverValidity),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidIKEIntermediate},
	}
	seen := map[string]bool{}
	addName := func(n string) {
		if !seen[n] {
			seen[n] = true
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	addName(name)
	all := addrs
	if ip, err := netip.ParseAddr(name); err == nil {
		all = append([]netip.Addr{ip}, addrs...)
	}
	seenIP := map[netip.Addr]bool{}
	for _, a := range all {
		if seenIP[a] {
			continue
		}
		seenIP[a] = true
		tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
		addName(a.String())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// writePair writes a certificate (0644) and its key (0600) atomically.
func writePair(dir, certName, keyName string, cert *x509.Certificate, key crypto.Signer) error {
	kd, err := marshalPKCS8(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// marshalPKCS8 is the unencrypted PKCS#8 form of a key.
func marshalPKCS8(key crypto.Signer) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(key) }

// writeFileAtomic replaces path so a crash never leaves half a key.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// loadPair reads a PEM certificate and its PEM private key.
func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	chain, err := loadChain(certPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	return chain[0], key, nil
}

// loadChain reads every CERTIFICATE block of a PEM file, leaf first.
func loadChain(path string) ([]*x509.Certificate, error) {
	data, err := readFileLimited(path, maxCredentialFile)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

// loadKey reads a PEM private key: PKCS#8, PKCS#1 (RSA) or SEC 1 (EC).
func loadKey(path string) (crypto.Signer, error) {
	data, err := readFileLimited(path, maxCredentialFile)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no PEM private key", path)
		}
		var k any
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
}

// loadServerCert reads the operator's certificate and key from the
// configured PEM files or PKCS#12 file.
func (s *settings) loadServerCert() (*serverCert, error) {
	if s.pkcs12File == "" {
		return loadServerCert(s.certFile, s.keyFile)
	}
	data, err := readFileLimited(s.pkcs12File, maxCredentialFile)
	if err != nil {
		return nil, &fieldError{Field: "server.pkcs12", Err: err}
	}
	chain, key, err := decodePKCS12(data, s.pkcs12Pass)
	if err != nil {
		return nil, fieldErr("server.pkcs12", "%s: %v", s.pkcs12File, err)
	}
	sc := &serverCert{leaf: chain[0], key: key}
	for _, c := range chain {
		sc.chain = append(sc.chain, c.Raw)
	}
	if last := chain[len(chain)-1]; len(chain) > 1 && last.CheckSignatureFrom(last) == nil {
		sc.root = last
	}
	return sc, nil
}

// loadServerCert reads an operator's certificate chain and key and checks
// that they belong together.
func loadServerCert(certPath, keyPath string) (*serverCert, error) {
	chain, err := loadChain(certPath)
	if err != nil {
		return nil, &fieldError{Field: "server.certificate", Err: err}
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, &fieldError{Field: "server.key", Err: err}
	}
	type pub interface{ Equal(crypto.PublicKey) bool }
	if p, ok := key.Public().(pub); !ok || !p.Equal(chain[0].PublicKey) {
		return nil, fieldErr("server.key", "%s does not belong to the certificate in %s", keyPath, certPath)
	}
	sc := &serverCert{leaf: chain[0], key: key}
	for _, c := range chain {
		sc.chain = append(sc.chain, c.Raw)
	}
	if last := chain[len(chain)-1]; len(chain) > 1 && last.CheckSignatureFrom(last) == nil {
		sc.root = last
	}
	return sc, nil
}

// clientValidity is how long a client certificate lasts; Apple's
// 825-day limit applies to TLS server certificates only, but the same
// bound keeps a lost device's certificate from living for a decade.
const clientValidity = 800 * 24 * time.Hour

// maxClientValidity is the longest validity of a client certificate that
// export hands out.
const maxClientValidity = 825 * 24 * time.Hour

// clientDir holds the issued client certificates in the state directory.
const clientDir = "clients"

// clientIdentity is the IKE identity a certificate client of user uses
// and its certificate names in the SAN: an e-mail address (ID_RFC822_ADDR)
// for names with an @, a DNS name (ID_FQDN) otherwise. strongSwan and the
// Apple and Windows clients send one of these, matched against the SAN.
func clientIdentity(user string) (email, dns string, err error) {
	if strings.Contains(user, "@") {
		local, domain, _ := strings.Cut(user, "@")
		if local == "" || strings.ContainsAny(local, " \t\"<>()[],;:\\") || !validDNSName(domain) {
			return "", "", fmt.Errorf("user %q: not usable as an e-mail identity in a certificate", user)
		}
		return user, "", nil
	}
	if !validDNSName(user) {
		return "", "", fmt.Errorf("user %q: a certificate identity must be an e-mail address or a DNS-style name (letters, digits, -, .)", user)
	}
	return "", user, nil
}

// ensureClientCert loads user's client certificate from the state
// directory or issues one under the demo CA: CN and SAN = the identity,
// EKU clientAuth, RSA-2048 (what Windows' and Apple's IKEv2 clients sign
// with), valid for clientValidity. A certificate that no longer chains to
// the CA, expires within a week or was issued for longer than
// maxClientValidity (by an older version) is reissued.
func ensureClientCert(dir, user string, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	email, dns, err := clientIdentity(user)
	if err != nil {
		return nil, nil, err
	}
	cdir := filepath.Join(dir, clientDir)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return nil, nil, err
	}
	base := fileSafe(user)
	cert, key, err := loadPair(filepath.Join(cdir, base+".pem"), filepath.Join(cdir, base+".key"))
	if err == nil && cert.CheckSignatureFrom(ca) == nil && now.Add(7*24*time.Hour).Before(cert.NotAfter) && cert.Subject.CommonName == user &&
		cert.NotAfter.Sub(cert.NotBefore) <= maxClientValidity {
		return cert, key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("client certificate of %q: %w", user, err)
	}
	k, sn, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: user, Organization: []string{"goipsec responder"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(clientValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if email != "" {
		tmpl.EmailAddresses = []string{email}
	} else {
		tmpl.DNSNames = []string{dns}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, err
	}
	if err := writePair(cdir, base+".pem", base+".key", cert, k); err != nil {
		return nil, nil, err
	}
	return cert, k, nil
}
