package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
)

// listPool is an embedder's own AddressPool (not an ipsec.Pool): it hands
// out the addresses of a fixed list and says which prefix they come from.
type listPool struct {
	prefix netip.Prefix
	mu     sync.Mutex
	free   []netip.Addr
	leased map[netip.Addr]string
}

func (p *listPool) Acquire(_ context.Context, owner string, _ netip.Addr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return netip.Addr{}, ipsec.ErrPoolExhausted
	}
	a := p.free[0]
	p.free = p.free[1:]
	p.leased[a] = owner
	return a, nil
}

func (p *listPool) Release(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.leased[a]; ok {
		delete(p.leased, a)
		p.free = append(p.free, a)
	}
}

func (p *listPool) Prefix() netip.Prefix { return p.prefix }

// TestCustomAddressPool: a pool of the embedder's own type is used like
// ipsec.Pool (its address in the CP reply, the client's selector narrowed
// to it), and one whose Prefix is invalid is refused at configuration with
// an error naming the field instead of being skipped without a word.
func TestCustomAddressPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		pool := &listPool{
			prefix: netip.MustParsePrefix("198.51.100.0/28"),
			free:   []netip.Addr{netip.MustParseAddr("198.51.100.9")},
			leased: map[netip.Addr]string{},
		}
		respCfg.Pools = []ipsec.AddressPool{pool}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if v := sa.Info().VirtualIPs; len(v) != 1 || v[0] != netip.MustParseAddr("198.51.100.9") {
			t.Errorf("virtual IPs %v, want the custom pool's 198.51.100.9", v)
		}
		up := p.resp.SAs()
		if len(up) != 1 || len(up[0].Children) != 1 || len(up[0].Children[0].RemoteTS) != 1 || up[0].Children[0].RemoteTS[0] != "198.51.100.9/32" {
			t.Fatalf("responder SAs %+v", up)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(pool.leased) != 0 {
			t.Errorf("lease not returned: %v", pool.leased)
		}
	})
}

func TestAddressPoolWithoutPrefixRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26"), &listPool{leased: map[netip.Addr]string{}}}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		var mu sync.Mutex
		var alerts []ike.Alert
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { mu.Lock(); alerts = append(alerts, a); mu.Unlock() }}))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if !errors.Is(err, &ike.NotifyError{Type: wire.AUTHENTICATION_FAILED, Remote: true}) {
			t.Fatalf("Dial with a gateway pool lacking a prefix: %v, want AUTHENTICATION_FAILED", err)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(alerts) != 1 || alerts[0].Kind != ike.AlertPeerConfigMissing || alerts[0].Err == nil || !strings.Contains(alerts[0].Err.Error(), "Pools[1]: Prefix()") {
			t.Errorf("alerts %+v, want one naming Pools[1]", alerts)
		}
		// The initiator's own configuration is checked the same way.
		bad := *initCfg
		bad.Pools = []ipsec.AddressPool{nil}
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &bad); err == nil || !strings.Contains(err.Error(), "Pools[0]: nil address pool") {
			t.Errorf("Dial with a nil pool: %v", err)
		}
	})
}
