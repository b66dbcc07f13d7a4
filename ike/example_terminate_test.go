package ike_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// A gateway revokes an account: it removes the user from its store and
// ends the user's sessions, and an operator ends another session by the
// session ID a status display shows. The peers are told with a Delete
// and answer; IKEDown reports ErrTerminated. The network is ike/iketest's
// in-memory one, so the example runs anywhere.
func ExampleResponder_TerminateUser() {
	ctx := context.Background()
	chain, key, roots := exampleGatewayCert("vpn.example.com")
	users := ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret("correct horse")},
		ipsec.User{Name: "bob", Password: ipsec.Secret("battery staple")},
	)
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	gwCfg := &ike.PeerConfig{
		Name: "road-warriors", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: chain, Key: key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: users},
		Pools:  []ipsec.AddressPool{pool},
	}
	net := iketest.NewNetwork(1)
	gw := netip.MustParseAddr("192.0.2.1")
	srv, err := ike.NewResponder(net.Endpoint(gw), ike.WithPeers(ike.StaticPeers(gwCfg)),
		ike.WithHooks(&ike.Hooks{
			IKEUp: func(sa ipsec.IKESAInfo) { fmt.Println("up:", sa.EAPIdentity, sa.VirtualIPs) },
			IKEDown: func(sa ipsec.IKESAInfo, err error) {
				fmt.Println("down:", sa.EAPIdentity, errors.Is(err, ike.ErrTerminated))
			},
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ctx)
	<-srv.Ready()

	// Two clients log in.
	clients := map[string]*ike.SA{}
	for i, u := range []struct{ name, password string }{{"alice", "correct horse"}, {"bob", "battery staple"}} {
		in, _ := ike.NewInitiator(net.Endpoint(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})))
		defer in.Close(ctx)
		sa, err := in.Dial(ctx, netip.AddrPortFrom(gw, ike.PortIKE), &ike.PeerConfig{
			Name: "vpn", RemoteID: ipsec.FQDN("vpn.example.com"),
			Local:      ike.LocalAuth{Method: ike.AuthEAP, EAPIdentity: u.name, EAPPassword: ipsec.Secret(u.password)},
			Remote:     ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
			VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
		})
		if err != nil {
			fmt.Println(u.name, err)
			return
		}
		clients[u.name] = sa
	}

	// alice's account is revoked: no new logins, and her session ends now.
	users.Delete("alice")
	fmt.Println("sessions ended:", srv.TerminateUser(ctx, "alice"))
	<-clients["alice"].Done()
	fmt.Println("alice's client was told")

	// An operator kicks the session a status display lists for bob.
	for _, sa := range srv.SAs() {
		if err := srv.Terminate(ctx, sa.SessionID); err != nil {
			fmt.Println(err)
		}
		if err := srv.Terminate(ctx, sa.SessionID); errors.Is(err, ike.ErrSANotFound) {
			fmt.Println("already gone")
		}
	}
	fmt.Println("SAs left:", len(srv.SAs()), "leases:", len(pool.Leases()))
	srv.Shutdown(ctx)
	// Output:
	// up: alice [198.51.100.65]
	// up: bob [198.51.100.66]
	// down: alice true
	// sessions ended: 1
	// alice's client was told
	// down: bob true
	// already gone
	// SAs left: 0 leases: 0
}

// exampleGatewayCert makes a self-signed ECDSA certificate for the
// gateway name (a real gateway loads its certificate and key).
func exampleGatewayCert(name string) (chain [][]byte, key *ecdsa.PrivateKey, roots *x509.CertPool) {
	key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return [][]byte{der}, key, roots
}
