package ike

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
)

// verifyPeerCert parses the peer's end-entity certificate and the
// intermediates it sent (CERT payloads, X.509 Certificate - Signature) and
// verifies the chain against roots at now; it returns the verified chain,
// leaf first. Extended key usages are not enforced here, as strongSwan
// does not either for clients: client certificates in the field carry
// anything from clientAuth to none at all. Gateway certificates are
// checked by gatewayEKU.
func verifyPeerCert(leafDER []byte, intermediates [][]byte, roots *x509.CertPool, now time.Time) ([]*x509.Certificate, error) {
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("%w: peer certificate: %v", ErrAuthFailed, err)
	}
	if roots == nil {
		return nil, fmt.Errorf("%w: no trusted CA configured for certificate authentication", ErrAuthFailed)
	}
	pool := x509.NewCertPool()
	for _, der := range intermediates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue // a broken extra certificate does not spoil a good chain
		}
		pool.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %q: %v", ErrAuthFailed, leaf.Subject.String(), err)
	}
	return chains[0], nil
}

// Extended key usages a gateway certificate may carry besides serverAuth
// and anyExtendedKeyUsage, which crypto/x509 does not know by name.
var (
	// oidIKEIntermediate is the "IP security IKE intermediate" EKU
	// that Windows and macOS accept.
	oidIKEIntermediate = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 8, 2, 2}
	// oidIPsecIKE is id-kp-ipsecIKE (RFC 4945 section 5.1.3.12).
	oidIPsecIKE = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 17}
)

// gatewayEKU checks that a gateway's certificate is meant for a server:
// it must carry serverAuth, ikeIntermediate, id-kp-ipsecIKE or
// anyExtendedKeyUsage. A certificate without the extension is refused
// too, unlike RFC 4945's advice, because client certificates of small
// CAs often carry none, and one of them must not pass for the gateway
// (Windows and macOS demand serverAuth or ikeIntermediate as well).
func gatewayEKU(leaf *x509.Certificate) error {
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	for _, o := range leaf.UnknownExtKeyUsage {
		if o.Equal(oidIKEIntermediate) || o.Equal(oidIPsecIKE) {
			return nil
		}
	}
	return fmt.Errorf("%w: gateway certificate %q has neither the serverAuth nor the ikeIntermediate extended key usage (RemoteAuth.AllowAnyEKU accepts it)", ErrAuthFailed, leaf.Subject.String())
}

// certMatchesID reports whether a certificate vouches for an IKE identity:
// a distinguished name must equal the subject; FQDN, e-mail and IP
// identities must appear among the subjectAltNames (an IP address may also
// be a dNSName, since Windows wants it so). This is strongSwan's matching
// without wildcards.
func certMatchesID(c *x509.Certificate, id ipsec.Identity) bool {
	switch id.Type {
	case ipsec.IDDERASN1DN:
		return bytes.Equal(c.RawSubject, id.Data) || dnEqual(c.RawSubject, id.Data)
	case ipsec.IDFQDN:
		name := string(id.Data)
		for _, d := range c.DNSNames {
			if strings.EqualFold(d, name) {
				return true
			}
		}
		// Apple sends a configured remote identity that looks like a DN
		// as ID_FQDN; accept it when it spells the subject.
		return strings.Contains(name, "=") && strings.EqualFold(name, c.Subject.String())
	case ipsec.IDRFC822Addr:
		for _, e := range c.EmailAddresses {
			if strings.EqualFold(e, string(id.Data)) {
				return true
			}
		}
	case ipsec.IDIPv4Addr, ipsec.IDIPv6Addr:
		a, ok := id.Addr()
		if !ok {
			return false
		}
		for _, ip := range c.IPAddresses {
			if ip.Equal(net.IP(a.AsSlice())) {
				return true
			}
		}
		for _, d := range c.DNSNames {
			if d == a.String() {
				return true
			}
		}
	}
	return false
}

// dnEqual compares two DER names by their RFC 4514 strings, which forgives
// differences in string types (PrintableString vs UTF8String).
func dnEqual(a, b []byte) bool {
	an := ipsec.Identity{Type: ipsec.IDDERASN1DN, Data: a}.String()
	bn := ipsec.Identity{Type: ipsec.IDDERASN1DN, Data: b}.String()
	// String falls back to "ID_DER_ASN1_DN:<hex>" for undecodable names;
	// those compare only byte for byte.
	return !strings.HasPrefix(an, "ID_") && an == bn
}

// certReq returns our CERTREQ payload, nil without configured CAs.
func (e *engine) certReq() *wire.CertReq {
	if len(e.cfg.certReqData) == 0 {
		return nil
	}
	return &wire.CertReq{Encoding: wire.CertX509Signature, Data: e.cfg.certReqData}
}
