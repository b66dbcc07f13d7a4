package ike_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testpki"
)

// wallClock is taken outside any synctest bubble, whose fake clock starts
// in 2000: certificate validity needs the real date.
var wallClock = time.Now()

var (
	gwAddr     = netip.MustParseAddr("192.0.2.1")
	clientAddr = netip.MustParseAddr("192.0.2.2")
)

type pair struct {
	net          *iketest.Network
	resp         *ike.Responder
	init         *ike.Initiator
	respDP       *iketest.DataPlane
	initDP       *iketest.DataPlane
	cancel       context.CancelFunc
	respCfg      *ike.PeerConfig
	serveStopped chan struct{}
}

func newPair(t *testing.T, respCfg *ike.PeerConfig, respOpts ...ike.Option) *pair {
	t.Helper()
	return newPairDP(t, respCfg, iketest.NewDataPlane(), respOpts...)
}

// newPairDP is newPair with the gateway's recording data plane given
// (respOpts may wrap it in another WithDataPlane).
func newPairDP(t *testing.T, respCfg *ike.PeerConfig, respDP *iketest.DataPlane, respOpts ...ike.Option) *pair {
	t.Helper()
	p := &pair{net: iketest.NewNetwork(1), respDP: respDP, initDP: iketest.NewDataPlane(), respCfg: respCfg}
	var err error
	p.resp, err = ike.NewResponder(p.net.Endpoint(gwAddr), append([]ike.Option{
		ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithDataPlane(p.respDP), ike.WithRand(iketest.NewRand(1)),
		ike.WithClock(func() time.Time { return wallClock }),
	}, respOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.init, err = ike.NewInitiator(p.net.Endpoint(clientAddr), ike.WithDataPlane(p.initDP), ike.WithRand(iketest.NewRand(2)),
		ike.WithClock(func() time.Time { return wallClock }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.serveStopped = make(chan struct{})
	go func() { p.resp.Serve(ctx); close(p.serveStopped) }()
	synctest.Wait() // Serve has registered with the transport
	t.Cleanup(func() {
		p.init.Close(context.Background())
		cancel()
		<-p.serveStopped
	})
	return p
}

func pskConfigs() (resp, init *ike.PeerConfig) {
	psk := ipsec.Secret("goipsec ladder psk 0123456789")
	resp = &ike.PeerConfig{
		Name: "psk", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
	}
	init = &ike.PeerConfig{
		Name: "psk", LocalID: ipsec.Email("alice@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
	}
	return resp, init
}

// checkCrossKeys asserts that each side's outbound SA is the other side's
// inbound SA: same SPI, algorithm and keys.
func checkCrossKeys(t *testing.T, a, b *iketest.DataPlane) {
	t.Helper()
	as, bs := a.SAs(), b.SAs()
	if len(as) != 2 || len(bs) != 2 {
		t.Fatalf("SAs installed: %d and %d, want 2 each", len(as), len(bs))
	}
	for _, s := range as {
		want := esp.DirIn
		if s.Dir == esp.DirIn {
			want = esp.DirOut
		}
		o, ok := b.SA(s.SPI, want)
		if !ok {
			t.Fatalf("SA %08x %s has no counterpart", s.SPI, s.Dir)
		}
		if !bytes.Equal(s.EncrKey, o.EncrKey) || !bytes.Equal(s.IntegKey, o.IntegKey) || s.Encr != o.Encr || s.Integ != o.Integ {
			t.Errorf("SA %08x: keys or algorithms differ between the peers", s.SPI)
		}
		if len(s.EncrKey) == 0 {
			t.Errorf("SA %08x has no key", s.SPI)
		}
	}
	if len(a.Policies()) == 0 || len(b.Policies()) == 0 {
		t.Errorf("policies: %d and %d", len(a.Policies()), len(b.Policies()))
	}
}

func TestHandshakePSK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26"), mustPool(t, "2001:db8:100:1::/120")}
		respCfg.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
		respCfg.DNSDomains = []string{"corp.example.com"}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
		p := newPair(t, respCfg)
		var up []ipsec.IKESAInfo
		respCfg.Name = "changed after start" // must not matter
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		info := sa.Info()
		if info.State != "ESTABLISHED" || len(info.Children) != 1 {
			t.Fatalf("initiator SA %+v", info)
		}
		if len(info.VirtualIPs) != 2 || info.VirtualIPs[0].String() != "198.51.100.65" || info.VirtualIPs[1].String() != "2001:db8:100:1::1" {
			t.Errorf("virtual IPs %v", info.VirtualIPs)
		}
		dns, domains := sa.DNS()
		if len(dns) != 1 || dns[0] != respCfg.DNS[0] || len(domains) != 1 || domains[0] != "corp.example.com" {
			t.Errorf("DNS %v %v", dns, domains)
		}
		checkCrossKeys(t, p.respDP, p.initDP)
		up = p.resp.SAs()
		if len(up) != 1 || up[0].State != "ESTABLISHED" || !up[0].RemoteID.Equal(initCfg.LocalID) {
			t.Fatalf("responder SAs %+v", up)
		}
		// The client's traffic selector is narrowed to its virtual IPs.
		if got := up[0].Children[0].RemoteTS; len(got) != 2 || got[0] != "198.51.100.65/32" {
			t.Errorf("responder remote TS %v", got)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("responder still has %d SAs after Delete", n)
		}
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()) + len(p.respDP.Policies()) + len(p.initDP.Policies()); n != 0 {
			t.Errorf("%d data plane entries left after Delete", n)
		}
	})
}

func mustPool(t testing.TB, s string) *ipsec.Pool {
	p, err := ipsec.NewPool(netip.MustParsePrefix(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandshakeWrongPSK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		initCfg.Local.PSK = ipsec.Secret("not the right key at all 12345")
		var alerts []ike.Alert
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { alerts = append(alerts, a) }}))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if !errors.Is(err, &ike.NotifyError{Type: wire.AUTHENTICATION_FAILED, Remote: true}) {
			t.Fatalf("Dial error %v, want AUTHENTICATION_FAILED from the responder", err)
		}
		synctest.Wait()
		if len(alerts) != 1 || alerts[0].Kind != ike.AlertAuthFailed {
			t.Errorf("alerts %+v", alerts)
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("responder kept %d SAs", n)
		}
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()); n != 0 {
			t.Errorf("%d SAs installed after failed authentication", n)
		}
	})
}

func TestHandshakeCertificates(t *testing.T) {
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		pki, err := testpki.New(kt, "client@example.com", "vpn.example.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(pki.CA.Cert)
		synctest.Test(t, func(t *testing.T) {
			respCfg := &ike.PeerConfig{
				Name: "cert", LocalID: ipsec.FQDN("vpn.example.com"),
				Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
				Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
			}
			initCfg := &ike.PeerConfig{
				Name: "cert", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
				Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER}, Key: pki.Client.Key},
				Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
			}
			p := newPair(t, respCfg)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if !sa.Info().RemoteID.Equal(ipsec.FQDN("vpn.example.com")) {
				t.Errorf("remote id %v", sa.Info().RemoteID)
			}
			checkCrossKeys(t, p.respDP, p.initDP)
		})
	}
}

func TestHandshakeUnderLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		p.net.Loss, p.net.Duplicate, p.net.Reorder, p.net.Delay = 0.3, 0.3, 0.2, 20*time.Millisecond
		var ok int
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			sa, err := p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
			cancel()
			if err != nil {
				t.Logf("dial under loss: %v", err)
				continue
			}
			ok++
			sa.Close(context.Background())
		}
		if ok < 4 {
			t.Errorf("only %d of 5 handshakes converged with 30%% loss and duplication", ok)
		}
	})
}
