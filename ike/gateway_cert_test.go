package ike_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testpki"
)

// gatewayCerts is one CA with several gateway certificates: the real
// gateway's (vpn.example.com, 192.0.2.1 = gwAddr), another gateway's of
// the same CA (other.example.com, 192.0.2.5), and certificates naming
// gwAddr but lacking a server EKU.
type gatewayCerts struct {
	pki                                *testpki.PKI
	roots                              *x509.CertPool
	other, clientEKU, noEKU, ikeInterm *testpki.Cert
}

func newGatewayCerts(t *testing.T) *gatewayCerts {
	t.Helper()
	pki, err := testpki.New(testpki.ECDSAP256, "client@example.com", "vpn.example.com", gwAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayCerts{pki: pki, roots: x509.NewCertPool()}
	g.roots.AddCert(pki.CA.Cert)
	issue := func(cn string, ip netip.Addr, ekus []x509.ExtKeyUsage, unknown []asn1.ObjectIdentifier) *testpki.Cert {
		c, err := pki.Issue(testpki.ECDSAP256, &x509.Certificate{
			Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}, IPAddresses: []net.IP{ip.AsSlice()},
			ExtKeyUsage: ekus, UnknownExtKeyUsage: unknown,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g.other = issue("other.example.com", netip.MustParseAddr("192.0.2.5"), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil)
	g.clientEKU = issue("laptop.example.com", gwAddr, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
	g.noEKU = issue("plain.example.com", gwAddr, nil, nil)
	g.ikeInterm = issue("legacy.example.com", gwAddr, nil, []asn1.ObjectIdentifier{testpki.OIDIKEIntermediate})
	return g
}

// gatewayConfigs: the gateway authenticates with cert (its IDr the
// certificate's first DNS name, which the certificate contains), the
// client with a PSK and expects a certificate of the CA, with no RemoteID.
func (g *gatewayCerts) configs(cert *testpki.Cert) (resp, init *ike.PeerConfig) {
	resp, init = pskConfigs()
	resp.LocalID = ipsec.FQDN(cert.Cert.DNSNames[0])
	resp.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{cert.DER}, Key: cert.Key}
	init.RemoteID = ipsec.Identity{}
	init.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: g.roots}
	return resp, init
}

// TestGatewayCertificateMustNameDialedAddress dials the gateway by address
// without a RemoteID. The gateway's own certificate (the address in its
// SAN) is accepted, whatever IDr it contains; a valid certificate of the
// same CA for another gateway is refused, unless RemoteID names that
// gateway's identity.
func TestGatewayCertificateMustNameDialedAddress(t *testing.T) {
	g := newGatewayCerts(t)
	for _, c := range []struct {
		name     string
		cert     *testpki.Cert
		remoteID ipsec.Identity
		ok       bool
	}{
		{"own certificate", g.pki.Server, ipsec.Identity{}, true},
		{"another gateway of the CA", g.other, ipsec.Identity{}, false},
		{"another gateway, its identity configured", g.other, ipsec.FQDN("other.example.com"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := g.configs(c.cert)
				initCfg.RemoteID = c.remoteID
				var alerts []ike.Alert
				p := newPair(t, respCfg)
				in, err := ike.NewInitiator(p.net.Endpoint(netip.MustParseAddr("192.0.2.3")), ike.WithClock(func() time.Time { return wallClock }),
					ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { alerts = append(alerts, a) }}))
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close(context.Background())
				sa, err := in.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if !c.ok {
					if !errors.Is(err, ike.ErrAuthFailed) {
						t.Fatalf("Dial: %v, want ErrAuthFailed", err)
					}
					if len(alerts) != 1 || alerts[0].Kind != ike.AlertAuthFailed {
						t.Errorf("alerts %+v, want one AlertAuthFailed", alerts)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if got := sa.Info().RemoteID; !got.Equal(respCfg.LocalID) {
					t.Errorf("gateway identity %v, want %v", got, respCfg.LocalID)
				}
				sa.Close(context.Background())
			})
		})
	}
}

// TestGatewayCertificateNeedsServerEKU: a certificate of the CA naming
// the dialed address is refused as the gateway's when it has neither
// serverAuth nor ikeIntermediate (a client certificate, or one without
// the extension), unless RemoteAuth.AllowAnyEKU relaxes the check.
func TestGatewayCertificateNeedsServerEKU(t *testing.T) {
	g := newGatewayCerts(t)
	for _, c := range []struct {
		name   string
		cert   *testpki.Cert
		relax  bool
		wantOK bool
	}{
		{"serverAuth and ikeIntermediate", g.pki.Server, false, true},
		{"ikeIntermediate only", g.ikeInterm, false, true},
		{"clientAuth only", g.clientEKU, false, false},
		{"no EKU", g.noEKU, false, false},
		{"clientAuth only, relaxed", g.clientEKU, true, true},
		{"no EKU, relaxed", g.noEKU, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := g.configs(c.cert)
				initCfg.Remote.AllowAnyEKU = c.relax
				p := newPair(t, respCfg)
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if !c.wantOK {
					if !errors.Is(err, ike.ErrAuthFailed) || !strings.Contains(err.Error(), "extended key usage") {
						t.Fatalf("Dial: %v, want ErrAuthFailed for the EKU", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				sa.Close(context.Background())
			})
		})
	}
}

// TestRedirectKeepsExpectedGateway: a REDIRECT in IKE_SA_INIT is not
// authenticated, so the gateway it names must still prove the address we
// dialed; a redirect of an established (authenticated) IKE SA moves the
// expectation to the new gateway's address.
func TestRedirectKeepsExpectedGateway(t *testing.T) {
	g := newGatewayCerts(t)
	gwB := netip.MustParseAddr("192.0.2.5") // g.other names it
	t.Run("at init", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := g.configs(g.pki.Server)
			p := newPair(t, respCfg, ike.WithRedirect(func(context.Context, ike.RedirectQuery) (netip.Addr, bool) { return gwB, true }))
			bCfg, _ := g.configs(g.other)
			p.secondResponder(t, gwB, bCfg)
			if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); !errors.Is(err, ike.ErrAuthFailed) || !strings.Contains(err.Error(), gwAddr.String()) {
				t.Fatalf("Dial redirected to another gateway of the CA: %v, want ErrAuthFailed naming %v", err, gwAddr)
			}
		})
	})
	t.Run("established", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := g.configs(g.pki.Server)
			p := newPair(t, respCfg)
			bCfg, _ := g.configs(g.other)
			b := p.secondResponder(t, gwB, bCfg)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			if n := p.resp.Redirect(context.Background(), gwB, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
				t.Fatalf("Redirect asked %d SAs", n)
			}
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if got := sa.Info().Remote.Addr(); got != gwB || len(b.SAs()) != 1 {
				t.Errorf("after the redirect: connected to %v, gateway B has %d SAs", got, len(b.SAs()))
			}
			sa.Close(context.Background())
		})
	})
}

// TestVerifyCertificateRefusesPeer: the responder's
// RemoteAuth.VerifyCertificate sees the client's identity and verified
// chain after the AUTH signature verified; its error (a revoked
// certificate) becomes AUTHENTICATION_FAILED and an AlertAuthFailed
// carrying it.
func TestVerifyCertificateRefusesPeer(t *testing.T) {
	g := newGatewayCerts(t)
	errRevoked := errors.New("certificate revoked")
	for _, revoked := range []bool{false, true} {
		t.Run(map[bool]string{false: "valid", true: "revoked"}[revoked], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := g.configs(g.pki.Server)
				var gotID ipsec.Identity
				var gotChain []*x509.Certificate
				respCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: g.roots, VerifyCertificate: func(id ipsec.Identity, chain []*x509.Certificate) error {
					gotID, gotChain = id, chain
					if revoked && chain[0].SerialNumber.Cmp(g.pki.Client.Cert.SerialNumber) == 0 {
						return errRevoked
					}
					return nil
				}}
				initCfg.LocalID = ipsec.Email("client@example.com")
				initCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{g.pki.Client.DER}, Key: g.pki.Client.Key}
				var alerts []ike.Alert
				p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { alerts = append(alerts, a) }}))
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if !gotID.Equal(initCfg.LocalID) || len(gotChain) != 2 || !gotChain[0].Equal(g.pki.Client.Cert) || !gotChain[1].Equal(g.pki.CA.Cert) {
					t.Errorf("VerifyCertificate called with %v and %d certificates, want the client's identity and chain", gotID, len(gotChain))
				}
				if !revoked {
					if err != nil {
						t.Fatalf("Dial: %v", err)
					}
					sa.Close(context.Background())
					return
				}
				var ne *ike.NotifyError
				if !asNotify(err, &ne) || ne.Type != wire.AUTHENTICATION_FAILED || !ne.Remote {
					t.Fatalf("Dial: %v, want AUTHENTICATION_FAILED from the gateway", err)
				}
				if len(alerts) != 1 || alerts[0].Kind != ike.AlertAuthFailed || !errors.Is(alerts[0].Err, errRevoked) || !errors.Is(alerts[0].Err, ike.ErrAuthFailed) {
					t.Errorf("alerts %+v, want one AlertAuthFailed wrapping the callback's error", alerts)
				}
				synctest.Wait()
				if n := len(p.resp.SAs()); n != 0 {
					t.Errorf("gateway keeps %d SAs", n)
				}
			})
		})
	}
}
