package ike_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testpki"
)

func eapConfigs(t *testing.T) (resp, init *ike.PeerConfig) {
	t.Helper()
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	users := ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret("correct horse")},
		ipsec.User{Name: "bob", Password: ipsec.Secret("battery staple"), Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.100")}},
	)
	resp = &ike.PeerConfig{
		Name: "eap", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: users},
		Pools:  []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")},
	}
	init = &ike.PeerConfig{
		Name: "eap", RemoteID: ipsec.FQDN("vpn.example.com"),
		Local:      ike.LocalAuth{Method: ike.AuthEAP, EAPIdentity: "alice", EAPPassword: ipsec.Secret("correct horse")},
		Remote:     ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
	}
	return resp, init
}

func TestEAPMSCHAPv2(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, respCfg)
		log := recordExchanges(p)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		info := sa.Info()
		if len(info.VirtualIPs) != 1 || info.VirtualIPs[0].String() != "198.51.100.65" {
			t.Errorf("virtual IP %v", info.VirtualIPs)
		}
		checkCrossKeys(t, p.respDP, p.initDP)
		srv := p.resp.SAs()
		if len(srv) != 1 || srv[0].EAPIdentity != "alice" {
			t.Fatalf("responder SA %+v", srv)
		}
		// IKE_AUTH 1 (IDi, no AUTH) .. EAP rounds .. final AUTH: at least
		// identity, challenge, success rounds.
		auths := 0
		for _, l := range log.list() {
			if contains(l, "IKE_AUTH request") {
				auths++
			}
		}
		if auths < 4 {
			t.Errorf("%d IKE_AUTH requests, want identity, response, success ack and AUTH: %v", auths, log.list())
		}
	})
}

func TestEAPFixedAddress(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	initCfg.Local.EAPIdentity, initCfg.Local.EAPPassword = "bob", ipsec.Secret("battery staple")
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if v := sa.Info().VirtualIPs; len(v) != 1 || v[0].String() != "198.51.100.100" {
			t.Errorf("bob's fixed address not used: %v", v)
		}
		// The gateway's view says so too (status, accounting's
		// Framed-IP-Address, a Disconnect-Request matching by address).
		if got := p.resp.SAs(); len(got) != 1 || len(got[0].VirtualIPs) != 1 || got[0].VirtualIPs[0].String() != "198.51.100.100" {
			t.Errorf("responder's SA info: %+v", got)
		}
	})
}

func TestEAPBadCredentials(t *testing.T) {
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", "alice", "Tr0ub4dor&3"},
		{"unknown user", "mallory", "whatever"},
	} {
		t.Run(c.name, func(t *testing.T) {
			respCfg, initCfg := eapConfigs(t)
			initCfg.Local.EAPIdentity, initCfg.Local.EAPPassword = c.user, ipsec.Secret(c.pass)
			synctest.Test(t, func(t *testing.T) {
				var alerts []ike.Alert
				p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { alerts = append(alerts, a) }}))
				_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err == nil {
					t.Fatal("Dial succeeded with bad credentials")
				}
				if !errors.Is(err, ike.ErrAuthFailed) && !errors.Is(err, &ike.NotifyError{Type: wire.AUTHENTICATION_FAILED, Remote: true}) {
					t.Errorf("error %v", err)
				}
				synctest.Wait()
				if len(p.resp.SAs()) != 0 || len(p.respDP.SAs()) != 0 {
					t.Error("state left after failed EAP")
				}
				if len(alerts) == 0 || alerts[0].Kind != ike.AlertAuthFailed {
					t.Errorf("alerts %+v", alerts)
				}
				for _, a := range alerts {
					if contains(a.Err.Error(), c.pass) {
						t.Errorf("password in alert: %v", a.Err)
					}
				}
			})
		})
	}
}

func TestEAPUnderLoss(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		// EAP takes several round trips; with retransmissions at 4 s,
		// 7.2 s, ... they can outlast the default 30 s half-open limit.
		p := newPair(t, respCfg, ike.WithHalfOpenLimits(5*time.Minute, 100, 1000))
		p.net.Loss, p.net.Duplicate, p.net.Delay = 0.25, 0.25, 10*time.Millisecond
		ok := 0
		for range 4 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			sa, err := p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
			cancel()
			if err == nil {
				ok++
				sa.Close(context.Background())
			} else {
				t.Logf("dial: %v", err)
			}
		}
		if ok < 3 {
			t.Errorf("%d of 4 EAP handshakes converged under 25%% loss", ok)
		}
	})
}
