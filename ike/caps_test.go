package ike_test

import (
	"context"
	"crypto/x509"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/testpki"
)

// capsEAPConfigs is a gateway for EAP users alice and carol, and their
// client configurations. The clients send their address as IKE identity,
// as Windows does, so each device is a different IKE identity of one
// account: only the EAP identity ties them together, and INITIAL_CONTACT
// of one device does not replace another's SA. ECDSA keeps the many
// handshakes cheap.
func capsEAPConfigs(t *testing.T) (resp, alice, carol *ike.PeerConfig) {
	t.Helper()
	pki, err := testpki.New(testpki.ECDSAP256, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	users := ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret("correct horse")},
		ipsec.User{Name: "carol", Password: ipsec.Secret("battery staple")},
	)
	resp = &ike.PeerConfig{
		Name: "eap", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: users},
	}
	client := func(user, password string) *ike.PeerConfig {
		return &ike.PeerConfig{
			Name: "eap", RemoteID: ipsec.FQDN("vpn.example.com"),
			Local:      ike.LocalAuth{Method: ike.AuthEAP, EAPIdentity: user, EAPPassword: ipsec.Secret(password)},
			Remote:     ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
			VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
		}
	}
	return resp, client("alice", "correct horse"), client("carol", "battery staple")
}

func dialGW(in *ike.Initiator, cfg *ike.PeerConfig) (*ike.SA, error) {
	return in.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), cfg)
}

// TestEAPClientWithoutAddress: when the gateway can give an EAP client no
// address (pool exhausted, or the identity's address limit), the last
// IKE_AUTH response carries AUTH and INTERNAL_ADDRESS_FAILURE. The IKE SA
// still stands (RFC 7296 section 3.15.4), as it does with other
// authentication methods and in strongSwan: our client must not drop it,
// leaving the gateway with an SA the client forgot.
func TestEAPClientWithoutAddress(t *testing.T) {
	respCfg, alice, _ := capsEAPConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		pool := mustPool(t, "198.51.100.64/30") // two addresses, both reserved
		pool.Reserve(netip.MustParseAddr("198.51.100.65"))
		pool.Reserve(netip.MustParseAddr("198.51.100.66"))
		respCfg.Pools = []ipsec.AddressPool{pool}
		p := newPair(t, respCfg)
		sa, err := dialGW(p.init, alice)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if info := sa.Info(); info.State != "ESTABLISHED" || len(info.VirtualIPs) != 0 || len(info.Children) != 0 {
			t.Errorf("client SA %s with addresses %v and %d CHILD SAs", info.State, info.VirtualIPs, len(info.Children))
		}
		synctest.Wait()
		if got := p.resp.SAs(); len(got) != 1 || got[0].SPIi != sa.Info().SPIi {
			t.Fatalf("gateway SAs %+v", got)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("gateway keeps %d SAs after the Delete", n)
		}
	})
}
