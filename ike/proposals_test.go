package ike_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

func mustIKE(t *testing.T, s string) proposal.List {
	t.Helper()
	l, err := proposal.Parse(s, proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The operator's proposal line of issue #14: no MODP_1024.
const restrictedIKE = "aes256-sha256-modp2048, aes256gcm16-prfsha256-curve25519"

// Windows' default IKE offer (all MODP_1024) and iOS's, which leads with
// MODP_2048.
const (
	windowsIKE = "3des-sha1-modp1024, aes128-sha256-modp1024, aes256-sha1-modp1024, aes256-sha256-modp1024, aes256-sha384-modp1024"
	iosIKE     = "aes256-sha256-modp2048, aes256-sha256-ecp256, aes256-sha256-modp1536, aes128-sha1-modp1024, 3des-sha1-modp1024"
)

// proposalAlerts collects the responder's Alerts.
type proposalAlerts struct {
	mu     sync.Mutex
	alerts []ike.Alert
}

func (l *proposalAlerts) hooks() *ike.Hooks {
	return &ike.Hooks{Alert: func(a ike.Alert) {
		l.mu.Lock()
		l.alerts = append(l.alerts, a)
		l.mu.Unlock()
	}}
}

func (l *proposalAlerts) list() []ike.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ike.Alert(nil), l.alerts...)
}

// TestResponderRefusesPeerConfigProposals is the trap of issue #14: the
// operator restricts the IKE proposals in the PeerConfig, which a
// responder cannot apply because IKE_SA_INIT is negotiated before any
// PeerConfig is chosen. The Windows offer must not get an IKE SA with
// MODP_1024; the peer gets AUTHENTICATION_FAILED and the Alert names the
// transform and the option to use.
func TestResponderRefusesPeerConfigProposals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Name = "roadwarriors"
		respCfg.Proposals = mustIKE(t, restrictedIKE)
		initCfg.Proposals = mustIKE(t, windowsIKE)
		var alerts proposalAlerts
		p := newPair(t, respCfg, ike.WithHooks(alerts.hooks()))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err == nil {
			t.Fatalf("Dial succeeded with %s, which the peer configuration does not allow", sa.Info().Proposal)
		}
		var ne *ike.NotifyError
		if !asNotify(err, &ne) || ne.Type != wire.AUTHENTICATION_FAILED || !ne.Remote {
			t.Fatalf("err %v, want AUTHENTICATION_FAILED from the responder", err)
		}
		var found bool
		for _, a := range alerts.list() {
			if a.Kind != ike.AlertProposalMismatch {
				continue
			}
			found = true
			for _, want := range []string{`MODP_1024 not in the proposals of peer configuration "roadwarriors"`, "WithProposals"} {
				if !strings.Contains(a.Detail, want) {
					t.Errorf("alert detail %q lacks %q", a.Detail, want)
				}
			}
			if !strings.Contains(a.Err.Error(), "WithProposals") || !strings.Contains(a.Err.Error(), "Proposals") {
				t.Errorf("alert error %q does not name the options", a.Err)
			}
		}
		if !found {
			t.Fatalf("no proposal alert: %+v", alerts.list())
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d IKE SAs left at the responder", n)
		}
		if n := len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d ESP SAs installed at the responder", n)
		}
	})
}

// TestResponderProposalsEveryExchange configures the responder's IKE
// proposals with WithProposals and checks that they, and the initiator's
// PeerConfig.Proposals, are what is negotiated at every exchange: the
// Windows offer is refused in IKE_SA_INIT with an Alert naming
// MODP_1024; the iOS offer gets MODP_2048; a rekey started by the
// initiator ends on the responder's list, and a rekey started by the
// responder on the initiator's.
func TestResponderProposalsEveryExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var alerts proposalAlerts
		p := newPair(t, respCfg, ike.WithProposals(mustIKE(t, restrictedIKE)), ike.WithHooks(alerts.hooks()))
		gw := netip.AddrPortFrom(gwAddr, 500)

		initCfg.Proposals = mustIKE(t, windowsIKE)
		_, err := p.init.Dial(context.Background(), gw, initCfg)
		var ne *ike.NotifyError
		if !asNotify(err, &ne) || ne.Type != wire.NO_PROPOSAL_CHOSEN || !ne.Remote {
			t.Fatalf("Windows offer: err %v, want NO_PROPOSAL_CHOSEN", err)
		}
		if a := alerts.list(); len(a) != 1 || a[0].Kind != ike.AlertProposalMismatch || !strings.Contains(a[0].Detail, "MODP_1024") {
			t.Fatalf("Windows offer: alerts %+v, want one naming MODP_1024", a)
		} else if a[0].Info.Remote.Addr() != clientAddr {
			t.Errorf("Windows offer: the alert names peer %v, want %v", a[0].Info.Remote, clientAddr)
		}

		initCfg.Proposals = mustIKE(t, iosIKE)
		sa, err := p.init.Dial(context.Background(), gw, initCfg)
		if err != nil {
			t.Fatalf("iOS offer: %v", err)
		}
		if got := sa.Info().Proposal; got != "aes256-sha256-modp2048" {
			t.Fatalf("iOS offer negotiated %q", got)
		}
		// The initiator rekeys, offering all five with MODP_2048 first;
		// the responder chooses from its own list only.
		if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := sa.Info().Proposal; got != "aes256-sha256-modp2048" {
			t.Errorf("after the initiator's rekey: %q", got)
		}
		sa.Close(context.Background())
		synctest.Wait()
	})
}

// TestInitiatorKeepsItsProposalsWhenGatewayRekeys: when the gateway
// rekeys the IKE SA, our initiator chooses from its PeerConfig.Proposals,
// not from a default list. The gateway offers AES-128-GCM first; the
// initiator allows only AES-256-GCM.
func TestInitiatorKeepsItsProposalsWhenGatewayRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg, ike.WithProposals(mustIKE(t, "aes128gcm16-prfsha256-ecp384, aes256gcm16-prfsha256-ecp384")))
		initCfg.Proposals = mustIKE(t, "aes256gcm16-prfsha256-ecp384")
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		before := sa.Info()
		if before.Proposal != "aes256gcm16-prfsha256-ecp384" {
			t.Fatalf("negotiated %q", before.Proposal)
		}
		if n := p.resp.Rekey(context.Background(), ike.RekeyIKE, all); n != 1 {
			t.Fatalf("responder started %d rekeys", n)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		after := sa.Info()
		if after.SPIi == before.SPIi {
			t.Fatal("the IKE SA was not rekeyed")
		}
		if after.Proposal != "aes256gcm16-prfsha256-ecp384" {
			t.Errorf("after the gateway's rekey the initiator accepted %q, outside its PeerConfig.Proposals", after.Proposal)
		}
	})
}

// TestAddChildRekeyKeepsItsProposals: an additional CHILD SA with its own
// ESP proposals is rekeyed with those proposals, not with the first
// ChildConfig's.
func TestAddChildRekeyKeepsItsProposals(t *testing.T) {
	for _, byGateway := range []bool{false, true} {
		t.Run(map[bool]string{false: "client rekeys", true: "gateway rekeys"}[byGateway], func(t *testing.T) {
			testAddChildRekeyKeepsItsProposals(t, byGateway)
		})
	}
}

// testAddChildRekeyKeepsItsProposals: byGateway makes the gateway start
// the rekey, so our side chooses as responder from the additional CHILD
// SA's own proposals.
func testAddChildRekeyKeepsItsProposals(t *testing.T, byGateway bool) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		const want = "aes128gcm16-curve25519"
		info, err := sa.AddChild(context.Background(), ike.ChildConfig{Name: "second", RemoteTS: []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))}, Proposals: mustProposals(t, want)})
		if err != nil {
			t.Fatalf("AddChild: %v", err)
		}
		if !strings.Contains(info.Proposal, "aes128gcm16") {
			t.Fatalf("additional CHILD SA negotiated %q", info.Proposal)
		}
		if byGateway {
			if n := p.resp.Rekey(context.Background(), ike.RekeyChildren, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
				t.Fatalf("gateway started %d rekeys", n)
			}
		} else if err := sa.Rekey(context.Background(), ike.RekeyChildren); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var rekeyed bool
		for _, c := range sa.Info().Children {
			if c.Name != "second" {
				continue
			}
			if c.SPIIn == info.SPIIn {
				t.Errorf("CHILD SA %q not rekeyed", c.Name)
				continue
			}
			rekeyed = true
			if !strings.Contains(c.Proposal, "aes128gcm16") || !strings.Contains(c.Proposal, "curve25519") {
				t.Errorf("rekeyed CHILD SA %q negotiated %q, outside its proposals %q", c.Name, c.Proposal, want)
			}
		}
		if !rekeyed {
			t.Errorf("no rekeyed CHILD SA \"second\": %+v", sa.Info().Children)
		}
	})
}

// TestInitiatorRefusesResponderOptions: WithProposals and
// WithPreferPeerProposals would have no effect on an initiator, whose IKE
// proposals are its PeerConfig's; NewInitiator says so.
func TestInitiatorRefusesResponderOptions(t *testing.T) {
	n := iketest.NewNetwork(1)
	for _, o := range []struct {
		name string
		opt  ike.Option
	}{
		{"WithProposals", ike.WithProposals(mustIKE(t, restrictedIKE))},
		{"WithPreferPeerProposals", ike.WithPreferPeerProposals()},
	} {
		_, err := ike.NewInitiator(n.Endpoint(clientAddr), o.opt)
		if err == nil || !strings.Contains(err.Error(), "ike: "+o.name+":") || !strings.Contains(err.Error(), "PeerConfig") {
			t.Errorf("NewInitiator(%s) = %v, want an error naming the option and PeerConfig", o.name, err)
		}
	}
	if _, err := ike.NewResponder(n.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers()), ike.WithProposals(mustIKE(t, restrictedIKE))); err != nil {
		t.Errorf("NewResponder with WithProposals: %v", err)
	}
	if _, err := ike.NewInitiator(n.Endpoint(clientAddr)); err != nil {
		t.Errorf("NewInitiator without options: %v", err)
	}
}
