package ikev1_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
)

// TestRekeyLadder runs an ISAKMP SA with short lifetimes for 10 virtual
// minutes in a synctest bubble: our initiator re-authenticates phase 1
// (a new Main Mode, then the old SA deleted) and rekeys phase 2 (a new
// Quick Mode, then the old IPsec SA deleted) many times, on a network
// that loses, duplicates and reorders packets, while traffic flows every
// second. No packet may find its SA missing, and the counters of both
// sides add up to what the data planes carried.
func TestRekeyLadder(t *testing.T) {
	for _, lossy := range []bool{false, true} {
		t.Run(map[bool]string{false: "clean", true: "lossy"}[lossy], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				children := []ikev1.ChildConfig{{Name: "net", Lifetime: 40 * time.Second, RekeyMargin: 10 * time.Second,
					LocalTS: []esp.Selector{sel("10.9.0.5/32")}, RemoteTS: []esp.Selector{sel("10.1.0.0/16")}}}
				gwChild := []ikev1.ChildConfig{{Name: "net", Lifetime: time.Hour, LocalTS: []esp.Selector{sel("10.1.0.0/16")}, RemoteTS: []esp.Selector{sel("10.9.0.0/24")}}}
				p := newPair(t, pskLookup("k", false, gwChild...), false)
				if lossy {
					p.net.Loss, p.net.Duplicate, p.net.Reorder, p.net.Delay = 0.05, 0.05, 0.05, 5*time.Millisecond
				}
				cfg := &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Lifetime: 100 * time.Second, RekeyMargin: 20 * time.Second,
					DPDDelay: -1, Children: children}
				sa, err := p.dial(t, cfg)
				if err != nil {
					t.Fatal(err)
				}
				session := sa.Info().SessionID
				var sent int
				for i := 0; i < 600; i++ {
					time.Sleep(time.Second)
					synctest.Wait()
					if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
						t.Fatalf("second %d: client to gateway: %v", i, err)
					}
					if err := p.gwDP.Transmit(p.clDP, 0, 100); err != nil {
						t.Fatalf("second %d: gateway to client: %v", i, err)
					}
					sent += 100
				}
				if got := sa.Info().SessionID; got != session {
					t.Errorf("session ID changed over re-authentication: %d -> %d", session, got)
				}
				p.clEv.mu.Lock()
				ups, childUps := len(p.clEv.up), len(p.clEv.childUp)
				p.clEv.mu.Unlock()
				// 600 s with phase 1 renewed every ~80 s and phase 2 every ~30 s.
				if ups < 6 || childUps < 18 {
					t.Errorf("%d phase 1 and %d phase 2 SAs in 10 minutes; want at least 6 and 18", ups, childUps)
				}
				in, out := p.gwDP.Totals()
				if int(in.Bytes) != sent || int(out.Bytes) != sent {
					t.Errorf("gateway data plane carried %d/%d bytes, want %d", in.Bytes, out.Bytes, sent)
				}
				sas := p.resp.SAs()
				if len(sas) > 2 {
					t.Errorf("responder holds %d ISAKMP SAs: old ones are not deleted", len(sas))
				}
				sa.Close()
				synctest.Wait()
			})
		})
	}
}

// TestDPD: a peer that goes silent is probed and, without an answer,
// declared dead on both sides' terms: our initiator's SA ends with
// ErrDeadPeer and an AlertPeerDead, its IPsec SAs leave the data plane.
func TestDPD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pskLookup("k", false), false)
		cfg := &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), DPDDelay: 10 * time.Second, DPDTimeout: 30 * time.Second}
		sa, err := p.dial(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A quiet but alive peer answers the probes: the SA stays.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if sa.Err() != nil {
			t.Fatalf("SA ended while the peer was alive: %v", sa.Err())
		}
		// The gateway vanishes.
		p.net.SetFilter(func(pk *ike.Packet) bool { return pk.Remote.Addr() != gwAddr && pk.Local.Addr() != gwAddr })
		start := time.Now()
		select {
		case <-sa.Done():
		case <-time.After(2 * time.Minute):
			t.Fatal("dead peer not detected in 2 minutes")
		}
		if d := time.Since(start); d < 30*time.Second || d > 50*time.Second {
			t.Errorf("declared dead after %v, want between the timeout (30 s) and delay+timeout+retry", d)
		}
		if !errors.Is(sa.Err(), ikev1.ErrDeadPeer) {
			t.Errorf("SA ended with %v, want ErrDeadPeer", sa.Err())
		}
		p.clEv.mu.Lock()
		dead := false
		for _, a := range p.clEv.alerts {
			dead = dead || a.Kind == ikev1.AlertPeerDead
		}
		p.clEv.mu.Unlock()
		if !dead {
			t.Error("no AlertPeerDead")
		}
		if in, _ := p.clDP.Totals(); in.Packets != 0 {
			t.Errorf("unexpected traffic %+v", in)
		}
		if n := len(p.clDP.SAs()) + len(p.clDP.Policies()); n != 0 {
			t.Errorf("%d SAs and policies left in the client's data plane", n)
		}
	})
}

var _ = context.Background
var _ = netip.Addr{}

// TestExchangeMemoryBounded: a long-lived SA with DPD every few seconds
// keeps a bounded number of exchanges' messages.
func TestExchangeMemoryBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pskLookup("k", false), false)
		sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), DPDDelay: 2 * time.Second, Lifetime: 10 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // about 1800 DPD exchanges each way
		synctest.Wait()
		if sa.Err() != nil {
			t.Fatalf("SA ended: %v", sa.Err())
		}
		if n := ikev1.ExchangesKept(sa); n > 40 {
			t.Errorf("the SA keeps %d exchanges after an hour of DPD", n)
		}
	})
}

// countingUsers counts the gateway's credential checks.
type countingUsers struct {
	ipsec.UserStore
	n atomic.Int32
}

func (c *countingUsers) LookupUser(ctx context.Context, name string) (*ipsec.User, error) {
	c.n.Add(1)
	return c.UserStore.LookupUser(ctx, name)
}

// TestXAuthRenewalWithoutSecondXAuth: a Cisco IPSec client renewing phase
// 1 (our initiator re-authenticates every ~60 s here, as iOS does at 80-90
// % of its lifetime) keeps its virtual address and its traffic, and the
// gateway checks the password once: the new ISAKMP SA inherits the
// session and gets a bare XAUTH_STATUS OK.
func TestXAuthRenewalWithoutSecondXAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &countingUsers{UserStore: ipsec.NewUsers(ipsec.User{Name: "bob", Password: ipsec.Secret("pw-1")})}
		pool, _ := ipsec.NewPool(netip.MustParsePrefix("10.77.0.0/24"))
		lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
			return &ikev1.PeerConfig{Name: "cisco", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("g"),
				XAuth: &ikev1.XAuthConfig{Users: users, Pools: []ipsec.AddressPool{pool}}}, nil
		}
		p := newPair(t, lookup, true)
		sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("g"), Lifetime: 80 * time.Second, RekeyMargin: 20 * time.Second,
			DPDDelay: -1, XAuth: &ikev1.XAuthConfig{User: "bob", Password: ipsec.Secret("pw-1")}})
		if err != nil {
			t.Fatal(err)
		}
		vip := sa.Info().VirtualIPs[0]
		for i := 0; i < 300; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
				t.Fatalf("second %d: %v", i, err)
			}
			if err := p.gwDP.Transmit(p.clDP, 0, 100); err != nil {
				t.Fatalf("second %d, back: %v", i, err)
			}
		}
		p.clEv.mu.Lock()
		ups := len(p.clEv.up)
		p.clEv.mu.Unlock()
		if ups < 4 {
			t.Errorf("%d phase 1 SAs in 5 minutes, want at least 4", ups)
		}
		if n := users.n.Load(); n != 1 {
			t.Errorf("the gateway checked the password %d times, want once", n)
		}
		info := sa.Info()
		if len(info.VirtualIPs) != 1 || info.VirtualIPs[0] != vip {
			t.Errorf("virtual address after renewals: %v, was %v", info.VirtualIPs, vip)
		}
		if l := pool.Leases(); len(l) != 1 {
			t.Errorf("leases: %v, want the one address", l)
		}
		sa.Close()
		synctest.Wait()
	})
}

// TestLostAnswerResentOnRetransmission: the responder's Main Mode message
// 2 is lost once; the initiator retransmits message 1 after 1 s and gets
// the answer at once, not when the responder's own timer (4 s) fires.
func TestLostAnswerResentOnRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pair{net: iketest.NewNetwork(1), gwDP: iketest.NewDataPlane(), clDP: iketest.NewDataPlane(), gwEv: newEvents(), clEv: newEvents()}
		p.gw, p.cl = p.net.Endpoint(gwAddr), p.net.Endpoint(clientAddr)
		var err error
		if p.resp, err = ikev1.NewResponder(p.gw, ikev1.WithPeers(pskLookup("k", false)), ikev1.WithDataPlane(p.gwDP)); err != nil {
			t.Fatal(err)
		}
		if p.init, err = ikev1.NewInitiator(p.cl, ikev1.WithDataPlane(p.clDP), ikev1.WithRetransmissions(time.Second, time.Second, time.Second)); err != nil {
			t.Fatal(err)
		}
		defer p.init.Close()
		defer p.resp.Close()
		var dropped atomic.Bool
		p.net.SetFilter(func(pk *ike.Packet) bool {
			if pk.Remote.Addr() == gwAddr && len(pk.Data) > 18 && pk.Data[18] == 2 && dropped.CompareAndSwap(false, true) {
				return false // the responder's first Main Mode message
			}
			return true
		})
		start := time.Now()
		if _, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k")}); err != nil {
			t.Fatal(err)
		}
		if !dropped.Load() {
			t.Fatal("no message dropped")
		}
		if d := time.Since(start); d >= 3*time.Second {
			t.Errorf("handshake took %v: the lost answer waited for the responder's timer", d)
		}
	})
}
