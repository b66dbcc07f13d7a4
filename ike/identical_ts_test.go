package ike_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// TestIdenticalSelectorsTwoPeers: two site-to-site peers negotiate the
// same subnets with one gateway. Both CHILD SAs are installed (before,
// the second failed with "policy already installed"); when the first
// peer deletes its SA, the second's SAs and policies stay.
func TestIdenticalSelectorsTwoPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		local, remote := esp.PrefixSelector(netip.MustParsePrefix("198.51.100.0/24")), esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))
		respCfg, initCfg := pskConfigs()
		respCfg.Children = []ike.ChildConfig{{Name: "s2s", LocalTS: []esp.Selector{local}, RemoteTS: []esp.Selector{remote}}}
		initCfg.Children = []ike.ChildConfig{{Name: "s2s", LocalTS: []esp.Selector{remote}, RemoteTS: []esp.Selector{local}}}
		p := newPair(t, respCfg)
		first, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("first peer: %v", err)
		}
		// The second peer: another address, its own initiator.
		second := netip.MustParseAddr("192.0.2.3")
		p.net.AddAddr(p.net.Endpoint(clientAddr), second)
		init2, err := ike.NewInitiator(p.net.Endpoint(second), ike.WithDataPlane(iketest.NewDataPlane()), ike.WithRand(iketest.NewRand(3)))
		if err != nil {
			t.Fatal(err)
		}
		defer init2.Close(context.Background())
		cfg2 := *initCfg
		cfg2.LocalID = ipsec.Email("branch2@example.com") // another peer, not a replacement of the first
		sa2, err := init2.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &cfg2)
		if err != nil {
			t.Fatalf("second peer: %v", err)
		}
		if n := len(sa2.Info().Children); n != 1 {
			t.Fatalf("second peer has %d CHILD SAs, want 1 (identical selectors refused?)", n)
		}
		reqids := func() map[uint32]int {
			m := map[uint32]int{}
			for _, pol := range p.respDP.Policies() {
				m[pol.ReqID]++
			}
			return m
		}
		if r := reqids(); len(r) != 2 {
			t.Fatalf("gateway policies by ReqID %v, want two peers' policies", r)
		}
		if err := first.Close(context.Background()); err != nil {
			t.Fatalf("first peer's Delete: %v", err)
		}
		synctest.Wait()
		r := reqids()
		want := sa2.Info().Children[0]
		if len(r) != 1 {
			t.Fatalf("after the first peer's Delete: policies by ReqID %v, want only the second's", r)
		}
		gw := p.resp.SAs()
		if len(gw) != 1 || len(gw[0].Children) != 1 || gw[0].Children[0].SPIOut != want.SPIIn {
			t.Errorf("gateway SAs after the first peer left: %+v (second peer's inbound SPI %x)", gw, want.SPIIn)
		}
	})
}
