package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
)

var anySelectors = []esp.Selector{esp.AnySelector(true), esp.AnySelector(false)}

// alertLog collects the Alert hook's calls.
type alertLog struct {
	mu sync.Mutex
	l  []ike.Alert
}

func (a *alertLog) hook(x ike.Alert) { a.mu.Lock(); a.l = append(a.l, x); a.mu.Unlock() }

func (a *alertLog) kinds() []ike.AlertKind {
	a.mu.Lock()
	defer a.mu.Unlock()
	var k []ike.AlertKind
	for _, x := range a.l {
		k = append(k, x.Kind)
	}
	return k
}

// gatewayRemoteSelectors lists the remote-side selectors of the gateway's
// outbound policies: what it would encrypt to the peer.
func gatewayRemoteSelectors(p *pair) []esp.Selector {
	var l []esp.Selector
	for _, pol := range p.respDP.Policies() {
		if pol.Dir == esp.DirOut {
			l = append(l, pol.Dst)
		}
	}
	slices.SortFunc(l, func(a, b esp.Selector) int { return a.Start.Compare(b.Start) })
	return l
}

// TestNoLeaseNoWildcard: an authenticated client that requests no
// virtual IP and proposes TSi 0.0.0.0/0 and ::/0 must never get CHILD SAs
// for "any" on the gateway. With pools configured it gets
// FAILED_CP_REQUIRED (and an Alert); with AllowNoVirtualIP its TSi is
// narrowed to its outer address; a configured RemoteTS overlapping the
// pools loses the pools' addresses.
func TestNoLeaseNoWildcard(t *testing.T) {
	pool4 := "198.51.100.64/26"
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, resp *ike.PeerConfig)
		wantErr  wire.NotifyType
		wantTSi  []esp.Selector // the gateway's remote selectors
		wantKind ike.AlertKind
	}{
		{
			name: "pools require CP",
			setup: func(t *testing.T, resp *ike.PeerConfig) {
				resp.Pools = []ipsec.AddressPool{mustPool(t, pool4), mustPool(t, "2001:db8:1::/64")}
			},
			wantErr: wire.FAILED_CP_REQUIRED, wantKind: ike.AlertChildFailed,
		},
		{
			name: "no virtual IP allowed: own address only",
			setup: func(t *testing.T, resp *ike.PeerConfig) {
				resp.Pools = []ipsec.AddressPool{mustPool(t, pool4)}
				resp.AllowNoVirtualIP = true
			},
			wantTSi: []esp.Selector{{Start: clientAddr, End: clientAddr, EndPort: 65535}},
		},
		{
			name:    "no pools: own address only",
			setup:   func(t *testing.T, resp *ike.PeerConfig) {},
			wantTSi: []esp.Selector{{Start: clientAddr, End: clientAddr, EndPort: 65535}},
		},
		{
			name: "configured RemoteTS minus the pools",
			setup: func(t *testing.T, resp *ike.PeerConfig) {
				resp.Pools = []ipsec.AddressPool{mustPool(t, pool4)}
				resp.AllowNoVirtualIP = true
				resp.Children = []ike.ChildConfig{{Name: "s2s", RemoteTS: []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("198.51.100.0/24"))}}}
			},
			wantTSi: []esp.Selector{
				{Start: netip.MustParseAddr("198.51.100.0"), End: netip.MustParseAddr("198.51.100.63"), EndPort: 65535},
				{Start: netip.MustParseAddr("198.51.100.128"), End: netip.MustParseAddr("198.51.100.255"), EndPort: 65535},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				tc.setup(t, respCfg)
				initCfg.Children = []ike.ChildConfig{{Name: "all", LocalTS: anySelectors}}
				var alerts alertLog
				p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Alert: alerts.hook}))
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				got := gatewayRemoteSelectors(p)
				for _, s := range got {
					if s.Start.IsUnspecified() {
						t.Errorf("gateway encrypts to a wildcard for a client without a lease: %v", s)
					}
				}
				if tc.wantErr != 0 {
					// RFC 7296 section 1.2: the IKE SA stands, the CHILD
					// SA fails with the notify.
					if err != nil {
						t.Fatalf("Dial: %v", err)
					}
					defer sa.Close(context.Background())
					if n := len(sa.Info().Children); n != 0 {
						t.Errorf("client has %d CHILD SAs", n)
					}
					if len(p.respDP.SAs()) != 0 || len(got) != 0 {
						t.Errorf("gateway installed %d SAs and policies %v", len(p.respDP.SAs()), got)
					}
					found := false
					alerts.mu.Lock()
					for _, a := range alerts.l {
						if a.Kind == tc.wantKind && errors.Is(a.Err, &ike.NotifyError{Type: tc.wantErr}) {
							found = true
						}
					}
					alerts.mu.Unlock()
					if !found {
						t.Errorf("alerts %v, want %v with %s", alerts.kinds(), tc.wantKind, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer sa.Close(context.Background())
				if !slices.Equal(got, tc.wantTSi) {
					t.Errorf("gateway's remote selectors %v, want %v", got, tc.wantTSi)
				}
			})
		})
	}
}

// TestLeaseNarrowsWildcard: a client with a lease proposing 0/0 gets
// exactly its virtual address.
func TestLeaseNarrowsWildcard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		initCfg.Children = []ike.ChildConfig{{Name: "all", LocalTS: anySelectors}}
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer sa.Close(context.Background())
		got := gatewayRemoteSelectors(p)
		if len(got) != 1 || got[0].Start != got[0].End || !netip.MustParsePrefix("198.51.100.64/26").Contains(got[0].Start) {
			t.Fatalf("gateway's remote selectors %v, want the lease only", got)
		}
	})
}
