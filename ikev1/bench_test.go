package ikev1_test

import (
	"context"
	"crypto/x509"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

// The handshake benchmarks measure a complete phase 1 and the Quick Mode
// of the first IPsec SA, both sides in one process on the in-memory
// network (both sides' CPU per op), with crypto/rand. They use the
// transforms of package ike's BenchmarkHandshake/*/modp2048 where IKEv1
// has them (AES-128, SHA2-256, MODP-2048; CBC+HMAC instead of GCM in
// phase 1, which IKEv1 lacks), so
//
//	go test -run '^$' -bench 'Handshake' -benchmem ./ike ./ikev1
//
// compares the two in one run: MainModePSK with psk/modp2048,
// MainModeRSA with rsa2048/modp2048.

var benchIKE = mustProposals("aes128-sha256-modp2048", proposal.ProtoIKE)

func benchHandshake(b *testing.B, resp, cl *ikev1.PeerConfig) {
	n := iketest.NewNetwork(1)
	lookup := func(context.Context, ikev1.PeerQuery) (*ikev1.PeerConfig, error) { return resp, nil }
	r, err := ikev1.NewResponder(n.Endpoint(gwAddr), ikev1.WithPeers(lookup), ikev1.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	in, err := ikev1.NewInitiator(n.Endpoint(clientAddr), ikev1.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	remote := netip.AddrPortFrom(gwAddr, 500)
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		sa, err := in.Dial(ctx, remote, cl)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		sa.Close()
	}
}

func benchConfigs(mode ikev1.Mode) (resp, cl *ikev1.PeerConfig) {
	child := []ikev1.ChildConfig{{Name: "net", LocalTS: []esp.Selector{sel("10.1.0.0/16")}, RemoteTS: []esp.Selector{sel("10.9.0.0/16")}}}
	resp = &ikev1.PeerConfig{Name: "gw", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("benchmark pre-shared key 0123456789"), AllowAggressive: true,
		Proposals: benchIKE, DPDDelay: -1, Children: child}
	cl = &ikev1.PeerConfig{Name: "cl", Auth: ikev1.AuthPSK, PSK: resp.PSK, Mode: mode, LocalID: ipsec.FQDN("client.example.com"),
		Proposals: benchIKE, DPDDelay: -1, Children: []ikev1.ChildConfig{{Name: "net",
			LocalTS: []esp.Selector{sel("10.9.0.5/32")}, RemoteTS: []esp.Selector{sel("10.1.0.0/16")}}}}
	return resp, cl
}

// BenchmarkHandshakeMainModePSK: Main Mode with a PSK and Quick Mode.
func BenchmarkHandshakeMainModePSK(b *testing.B) {
	resp, cl := benchConfigs(ikev1.MainMode)
	b.Run("modp2048", func(b *testing.B) { benchHandshake(b, resp, cl) })
}

// BenchmarkHandshakeAggressivePSK: Aggressive Mode with a PSK and Quick
// Mode.
func BenchmarkHandshakeAggressivePSK(b *testing.B) {
	resp, cl := benchConfigs(ikev1.AggressiveMode)
	b.Run("modp2048", func(b *testing.B) { benchHandshake(b, resp, cl) })
}

// BenchmarkHandshakeMainModeRSA: Main Mode with RSA-2048 signatures and
// certificates (a CA, one certificate each way) and Quick Mode.
func BenchmarkHandshakeMainModeRSA(b *testing.B) {
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	resp, cl := benchConfigs(ikev1.MainMode)
	resp.Auth, resp.PSK, resp.Certificates, resp.Key, resp.CAs = ikev1.AuthPubkey, nil, [][]byte{pki.Server.DER}, pki.Server.Key, roots
	cl.Auth, cl.PSK, cl.Certificates, cl.Key, cl.CAs = ikev1.AuthPubkey, nil, [][]byte{pki.Client.DER}, pki.Client.Key, roots
	cl.LocalID = ipsec.Identity{}
	b.Run("modp2048", func(b *testing.B) { benchHandshake(b, resp, cl) })
}
