package ike_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testnet"
)

// outboundDst returns where a data plane's outbound ESP SAs send to.
func outboundDst(dp *iketest.DataPlane) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range dp.SAs() {
		if s.Dir == esp.DirOut {
			out = append(out, s.Dst)
		}
	}
	return out
}

// TestMOBIKEInitiatorMoves has our initiator move to a new address
// (RFC 4555): directly, and from behind one NAT to behind another. The
// gateway must follow after its return routability check, both data
// planes must point at the new path with the right encapsulation and
// keepalives, traffic must flow, and later exchanges (a rekey, a Delete)
// must use the new path.
func TestMOBIKEInitiatorMoves(t *testing.T) {
	for _, c := range []struct {
		name             string
		nat              bool
		oldAddr, newAddr netip.Addr
		newPublic        netip.Addr
	}{
		{name: "direct", oldAddr: clientAddr, newAddr: netip.MustParseAddr("192.0.2.3")},
		{name: "nat-to-nat", nat: true, oldAddr: clientAddr, newAddr: netip.MustParseAddr("198.51.100.20"), newPublic: netip.MustParseAddr("203.0.113.6")},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs testnet.Buffer
				respCfg, initCfg := pskConfigs()
				initCfg.Children = []ike.ChildConfig{{Name: "net"}}
				// A site-to-site peer behind a NAT proposes its inner
				// address; without a configured RemoteTS a gateway would
				// allow only the NAT's public address.
				respCfg.Children = []ike.ChildConfig{{Name: "net", RemoteTS: []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("192.0.2.0/24"))}}}
				p := newPair(t, respCfg, ike.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
				p.net.Delay = 50 * time.Millisecond
				if c.nat {
					p.net.NAT(c.oldAddr, netip.MustParseAddr("203.0.113.5"))
					p.net.NAT(c.newAddr, c.newPublic)
				}
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatal(err)
				}
				before := p.resp.SAs()[0]
				if before.NATRemote != c.nat {
					t.Fatalf("NAT before the move: %v", before.NATRemote)
				}
				p.net.AddAddr(p.net.Endpoint(clientAddr), c.newAddr)
				p.net.RemoveAddr(c.oldAddr) // the old network is gone
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := sa.Migrate(ctx, c.newAddr); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
				time.Sleep(time.Second) // the gateway's return routability check
				synctest.Wait()
				info := sa.Info()
				if info.Local.Addr() != c.newAddr || info.Local.Port() != ike.PortNATT {
					t.Errorf("initiator's IKE SA is at %v", info.Local)
				}
				gw := p.resp.SAs()
				if len(gw) != 1 {
					t.Fatalf("gateway SAs: %+v", gw)
				}
				wantRemote := c.newAddr
				if c.nat {
					wantRemote = c.newPublic
				}
				if gw[0].Remote.Addr() != wantRemote || gw[0].NATRemote != c.nat {
					t.Errorf("gateway sees the client at %v (NAT %v), want %v (NAT %v)", gw[0].Remote, gw[0].NATRemote, wantRemote, c.nat)
				}
				// Without a NAT, ESP is not encapsulated (port 0) although
				// IKE floated to 4500 (RFC 4555 section 3.1).
				wantESP := gw[0].Remote
				if !c.nat {
					wantESP = netip.AddrPortFrom(wantESP.Addr(), 0)
				}
				for _, d := range outboundDst(p.respDP) {
					if d != wantESP {
						t.Errorf("gateway's ESP goes to %v, the client is at %v", d, gw[0].Remote)
					}
				}
				for _, s := range p.initDP.SAs() {
					if s.Dir == esp.DirOut && (s.Src.Addr() != c.newAddr || s.NATKeepalive != c.nat) {
						t.Errorf("client's outbound SA from %v, keepalives %v", s.Src, s.NATKeepalive)
					}
				}
				if !strings.Contains(logs.String(), "new path verified") {
					t.Error("the gateway did not check the new path")
				}
				if err := p.initDP.Transmit(p.respDP, 0, 100); err != nil {
					t.Error(err)
				}
				if err := p.respDP.Transmit(p.initDP, 0, 100); err != nil {
					t.Error(err)
				}
				// Exchanges after the move use the new path.
				if err := sa.Rekey(context.Background(), ike.RekeyIKE|ike.RekeyChildren); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if len(p.respDP.SAs()) != 2 {
					t.Log(logs.String())
				}
				after := checkOneSA(t, p, sa)
				if after.SPIi == info.SPIi {
					t.Error("rekey after the move did not happen")
				}
				if err := sa.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				if n := len(p.resp.SAs()); n != 0 {
					t.Errorf("%d gateway SAs after Delete over the new path", n)
				}
			})
		})
	}
}

// TestMOBIKEReturnRoutability rewrites the source of a client's
// UPDATE_SA_ADDRESSES to a third party's address (an on-path attacker, or
// a client trying to aim the tunnel at a victim): the gateway answers
// there, but its ESP traffic must not go to the victim, because the return
// routability check cannot succeed.
func TestMOBIKEReturnRoutability(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		initCfg.Children = []ike.ChildConfig{{Name: "net"}}
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		victim := netip.MustParseAddr("192.0.2.66")
		newAddr := netip.MustParseAddr("192.0.2.3")
		p.net.AddAddr(p.net.Endpoint(clientAddr), newAddr)
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			m, err := wire.Parse(pkt.Data)
			if err == nil && m.Header.Exchange == wire.INFORMATIONAL && !m.Header.IsResponse() && pkt.Remote.Addr() == newAddr {
				pkt.Remote = netip.AddrPortFrom(victim, pkt.Remote.Port())
			}
			return true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sa.Migrate(ctx, newAddr); err == nil {
			t.Error("Migrate succeeded although the gateway's answers went to the victim")
		}
		for _, d := range outboundDst(p.respDP) {
			if d.Addr() == victim {
				t.Errorf("the gateway sends ESP to the victim %v", d)
			}
		}
		if len(outboundDst(p.respDP)) == 0 {
			t.Error("no outbound SA at the gateway")
		}
	})
}
