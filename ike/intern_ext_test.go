package ike_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
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

// TestResponderEchoesProposalNumber: the IKE_SA_INIT response carries the
// number the initiator gave the chosen proposal (RFC 7296 section 3.3.1),
// although the SA keeps only a shared copy without it.
func TestResponderEchoesProposalNumber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		offer, err := proposal.Parse("aes256gcm16-prfsha384-ecp384,aes128gcm16-prfsha256-curve25519", proposal.ProtoIKE)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := proposal.Parse("aes128gcm16-prfsha256-curve25519", proposal.ProtoIKE)
		if err != nil {
			t.Fatal(err)
		}
		initCfg.Proposals = offer
		p := newPair(t, respCfg, ike.WithProposals(ours))
		var nums []uint8
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			if m, err := wire.Parse(pkt.Data); err == nil && m.Header.Exchange == wire.IKE_SA_INIT && m.Header.IsResponse() {
				for _, pl := range m.Payloads {
					if sa, ok := pl.(*wire.SA); ok && len(sa.Proposals) == 1 {
						nums = append(nums, sa.Proposals[0].Number)
					}
				}
			}
			return true
		})
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		if len(nums) != 1 || nums[0] != 2 {
			t.Errorf("IKE_SA_INIT responses carried proposal numbers %v, want [2]", nums)
		}
	})
}
