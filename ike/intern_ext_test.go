package ike_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/proposal"
)

// TestEstablishedSAsShareState: the responder's established SAs hold one
// copy of their (equal) peer configuration and of each negotiated
// proposal, not one per SA; every SA still works (a rekey of each).
func TestEstablishedSAsShareState(t *testing.T) {
	respCfg, initCfg := pskConfigs()
	props, err := proposal.Parse("aes128gcm16-prfsha256-curve25519", proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	initCfg.Proposals = props
	net := iketest.NewNetwork(1)
	resp, err := ike.NewResponder(net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)),
		ike.WithDataPlane(nullDataPlane{make(chan esp.Event)}), ike.WithProposals(props),
		ike.WithIdentityLimits(ike.IdentityLimits{IKESAs: -1, Leases: -1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	served := make(chan struct{})
	go func() { resp.Serve(ctx); close(served) }()
	defer func() { cancel(); <-served }()
	init, err := ike.NewInitiator(net.Endpoint(clientAddr), ike.WithDataPlane(nullDataPlane{make(chan esp.Event)}))
	if err != nil {
		t.Fatal(err)
	}
	defer init.Close(context.Background())
	const n = 4
	var sas []*ike.SA
	for i := range n {
		sa, err := init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("SA %d: %v", i, err)
		}
		sas = append(sas, sa)
	}
	if got := len(resp.SAs()); got != n {
		t.Errorf("responder holds %d SAs, want %d", got, n)
	}
	if c, ip, cp := resp.SharedState(); c != 1 || ip != 1 || cp != 1 {
		t.Errorf("%d established SAs hold %d configurations, %d IKE and %d ESP proposals; want one of each", n, c, ip, cp)
	}
	for i, sa := range sas {
		if err := sa.Rekey(ctx, ike.RekeyIKE); err != nil {
			t.Fatalf("SA %d: IKE rekey: %v", i, err)
		}
	}
	if c, ip, cp := resp.SharedState(); c != 1 || ip != 1 || cp != 1 {
		t.Errorf("after IKE rekeys: %d configurations, %d IKE and %d ESP proposals; want one of each", c, ip, cp)
	}
}
