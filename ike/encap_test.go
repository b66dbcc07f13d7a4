package ike_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// noRawESP is a data plane that, like an esp.Userspace without
// WithRawESP, can only send ESP in UDP.
type noRawESP struct{ *iketest.DataPlane }

func (noRawESP) RawESP() bool { return false }

// encapOf reports, for each SA of dp, whether it is UDP-encapsulated.
func encapOf(t *testing.T, name string, dp *iketest.DataPlane, want bool) {
	t.Helper()
	sas := dp.SAs()
	if len(sas) == 0 {
		t.Fatalf("%s: no SAs installed", name)
	}
	for _, s := range sas {
		if s.UDPEncap() != want {
			t.Errorf("%s: SA %s %v -> %v UDP encapsulation %v, want %v", name, s.Dir, s.Src, s.Dst, s.UDPEncap(), want)
		}
	}
}

// TestEncapFollowsNAT: ESP is encapsulated in UDP exactly when a NAT is
// detected (RFC 7296 section 2.23) or forced, on both sides: raw ESP for
// a client that is not behind a NAT, ESP in UDP behind one, and ESP in
// UDP without a NAT when the gateway forces it (WithForceUDPEncap, or by
// itself because its data plane cannot send raw ESP), which the client
// follows because the gateway's NAT-D cannot match.
func TestEncapFollowsNAT(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nat       bool
		respOpts  func(dp *iketest.DataPlane) []ike.Option
		wantEncap bool
	}{
		{name: "direct", wantEncap: false},
		{name: "behind NAT", nat: true, wantEncap: true},
		{name: "forced by option", respOpts: func(*iketest.DataPlane) []ike.Option { return []ike.Option{ike.WithForceUDPEncap()} }, wantEncap: true},
		{name: "forced by a data plane without raw ESP", respOpts: func(dp *iketest.DataPlane) []ike.Option {
			return []ike.Option{ike.WithDataPlane(noRawESP{dp})}
		}, wantEncap: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
				initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
				dp := iketest.NewDataPlane()
				var opts []ike.Option
				if tc.respOpts != nil {
					opts = tc.respOpts(dp)
				}
				p := newPairDP(t, respCfg, dp, opts...)
				if tc.nat {
					p.net.NAT(clientAddr, netip.MustParseAddr("203.0.113.5"))
				}
				p.net.Delay = 10 * time.Millisecond
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer sa.Close(context.Background())
				encapOf(t, "gateway", p.respDP, tc.wantEncap)
				encapOf(t, "client", p.initDP, tc.wantEncap)
				if info := p.resp.SAs(); len(info) != 1 || len(info[0].Children) != 1 || info[0].Children[0].UDPEncap != tc.wantEncap {
					t.Errorf("gateway's SA snapshot: %+v", info)
				}
				if tc.wantEncap && sa.Info().Local.Port() != ike.PortNATT {
					t.Errorf("client did not float to port %d: %v", ike.PortNATT, sa.Info().Local)
				}
			})
		})
	}
}

var _ esp.DataPlane = noRawESP{}
