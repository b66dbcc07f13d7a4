package ike_test

import (
	"context"
	"crypto/x509"
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

// TestIdleSAsHoldNoGoroutine: established IKE SAs that have nothing to
// do run no goroutine, on either side (issue 20: 100,000 idle SAs in one
// process), and still answer when a request comes.
func TestIdleSAsHoldNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.DPDDelay = 0
		p := newPair(t, respCfg, ike.WithIdentityLimits(ike.IdentityLimits{IKESAs: -1}))
		before := ourGoroutines()
		const n = 6
		sas := make([]*ike.SA, 0, n)
		for range n {
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			sas = append(sas, sa)
		}
		synctest.Wait()
		if got := ourGoroutines() - before; got != 0 {
			t.Errorf("%d goroutines of ours for %d idle IKE SA pairs, want none", got, n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := ourGoroutines() - before; got != 0 {
			t.Errorf("%d goroutines of ours for %d IKE SA pairs idle for an hour, want none", got, n)
		}
		// Without DPD, rekeying or accounting nothing is due: no timer
		// can wake the responder's SAs, and they keep nothing of the
		// initial exchanges.
		if got := p.resp.ArmedTimers(); got != 0 {
			t.Errorf("%d of %d idle responder SAs without deadlines have a timer armed", got, n)
		}
		for _, held := range p.resp.IdleFootprint() {
			t.Errorf("idle responder SA holds %s", held)
		}
		// An idle SA wakes for a request: an INFORMATIONAL is answered.
		if err := sas[n-1].SendRawRequest(context.Background(), wire.INFORMATIONAL, 0, nil); err != nil {
			t.Fatalf("empty INFORMATIONAL on an idle SA: %v", err)
		}
		if got := len(p.resp.SAs()); got != n {
			t.Fatalf("responder holds %d SAs, want %d", got, n)
		}
		for _, sa := range sas {
			if err := sa.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := len(p.resp.SAs()); got != 0 {
			t.Errorf("responder holds %d SAs after the Deletes", got)
		}
	})
}

// TestIdleSAsWakeForTheirDeadlines: an idle SA with DPD wakes at its DPD
// deadline (one timer each), and between deadlines nothing runs.
func TestIdleSAsWakeForTheirDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.DPDDelay = 10 * time.Minute
		p := newPair(t, respCfg)
		before := ourGoroutines()
		const n = 3
		for range n {
			if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
				t.Fatalf("Dial: %v", err)
			}
		}
		synctest.Wait()
		if got := p.resp.ArmedTimers(); got != n {
			t.Errorf("%d of %d responder SAs with DPD have a timer armed", got, n)
		}
		sent0, _ := p.net.Stats()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if sent, _ := p.net.Stats(); sent != sent0 {
			t.Errorf("%d packets sent before the DPD deadline", sent-sent0)
		}
		time.Sleep(6 * time.Minute) // past the deadline: one DPD exchange per SA
		synctest.Wait()
		if sent, _ := p.net.Stats(); sent-sent0 != 2*n {
			t.Errorf("%d packets for the DPD of %d idle SAs, want a request and a response each", sent-sent0, n)
		}
		if got := ourGoroutines() - before; got != 0 {
			t.Errorf("%d goroutines of ours after DPD, want none", got)
		}
		if got := len(p.resp.SAs()); got != n {
			t.Errorf("responder holds %d SAs after DPD, want %d", got, n)
		}
	})
}

// TestIdleSAForgetsFragments: after an IKE_AUTH fragmented both ways
// (RFC 7383; certificates and a small MTU), the idle responder SA keeps
// no reassembler (the last one holds the whole reassembled request), only
// the cached response RFC 7296 section 2.1 asks for and the timer that
// drops it; minutes later, when no peer retransmits any more, not even
// those.
func TestIdleSAForgetsFragments(t *testing.T) {
	pki, err := testpki.New(testpki.ECDSAP256, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER, pki.CA.DER}, Key: pki.Server.Key}
		respCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		initCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER, pki.CA.DER}, Key: pki.Client.Key}
		initCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		initCfg.LocalID = ipsec.Email("client@example.com")
		respCfg.FragmentMTU, initCfg.FragmentMTU = 576, 576
		p := newPair(t, respCfg)
		log := recordExchanges(p)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial: %v", err)
		}
		synctest.Wait()
		frags := 0
		for _, l := range log.list() {
			if contains(l, "IKE_AUTH request 1 [ EF(") {
				frags++
			}
		}
		if frags < 2 {
			t.Fatalf("IKE_AUTH request not fragmented: %v", log.list())
		}
		for _, held := range p.resp.IdleFootprint() {
			if !strings.HasSuffix(held, "[timer cached response]") {
				t.Errorf("idle responder SA holds %s", held)
			}
		}
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		for _, held := range p.resp.IdleFootprint() {
			t.Errorf("responder SA idle for 6 minutes holds %s", held)
		}
	})
}
