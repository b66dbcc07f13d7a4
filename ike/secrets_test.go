package ike_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// secretLog collects the secret buffers an engine reports.
type secretLog struct {
	mu   sync.Mutex
	bufs []secretBuf
}

type secretBuf struct {
	kind string
	b    []byte
}

func (l *secretLog) observe(kind string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bufs = append(l.bufs, secretBuf{kind, b})
}

// check fails for every reported buffer of the given kinds that is not
// all zeros, and when none of a kind was reported.
func (l *secretLog) check(t *testing.T, side string, kinds ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, kind := range kinds {
		seen := 0
		for _, s := range l.bufs {
			if s.kind != kind {
				continue
			}
			seen++
			for _, c := range s.b {
				if c != 0 {
					t.Errorf("%s: %s buffer of %d bytes not wiped", side, kind, len(s.b))
					break
				}
			}
		}
		if seen == 0 {
			t.Errorf("%s: no %s buffer reported", side, kind)
		}
	}
}

// observedPair is a pair whose engines report their secret buffers.
func observedPair(t *testing.T, respCfg *ike.PeerConfig) (p *pair, resp, init *secretLog) {
	t.Helper()
	resp, init = &secretLog{}, &secretLog{}
	p = newPair(t, respCfg, ike.WithSecretObserver(resp.observe))
	p.init.Close(context.Background())
	in, err := ike.NewInitiator(p.net.Endpoint(clientAddr), ike.WithDataPlane(p.initDP), ike.WithRand(iketest.NewRand(2)),
		ike.WithClock(func() time.Time { return wallClock }), ike.WithSecretObserver(init.observe))
	if err != nil {
		t.Fatal(err)
	}
	p.init = in
	return p, resp, init
}

// TestSecretsWipedPSK: after a PSK handshake, a CHILD SA with PFS and an
// IKE rekey, every DH shared secret is zero on both sides and the
// gateway's copy of the PSK is zero; the client keeps its copy for
// reauthentication until the SA ends.
func TestSecretsWipedPSK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p, resp, init := observedPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if _, err := sa.AddChild(context.Background(), ike.ChildConfig{Name: "pfs",
			RemoteTS:  []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))},
			Proposals: mustProposals(t, "aes128gcm16-curve25519")}); err != nil {
			t.Fatalf("AddChild: %v", err)
		}
		if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		p.resp.SAs() // synchronise with the gateway's SA goroutines
		resp.check(t, "gateway", "dh", "psk")
		init.check(t, "client", "dh")
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		init.check(t, "client after Close", "psk")
	})
}

// TestSecretsWipedEAP: after an EAP-MSCHAPv2 handshake both MSKs are
// zero, and the client's copy of its EAP password once the SA ends.
func TestSecretsWipedEAP(t *testing.T) {
	respCfg, initCfg := eapConfigs(t) // outside the bubble: certificates need today's date
	synctest.Test(t, func(t *testing.T) {
		p, resp, init := observedPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		synctest.Wait()
		p.resp.SAs()
		resp.check(t, "gateway", "dh", "msk")
		init.check(t, "client", "dh", "msk")
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		init.check(t, "client after Close", "eap password")
	})
}
