package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/testnet"
)

// ruleIndex is the position of the first rule line containing s, -1 if
// none.
func ruleIndex(rules, s string) int {
	for i, l := range strings.Split(rules, "\n") {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// TestNftForwardFilterRules checks the forward filter the table
// carries: the pools' traffic accepted, client-to-client traffic dropped
// before that with isolate, every other packet of a confined family
// dropped last, nothing dropped otherwise; nftables accepts every
// variant.
func TestNftForwardFilterRules(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nftf")
	const (
		iso4    = "ip saddr 198.51.100.64/26 ip daddr 198.51.100.64/26 counter drop"
		iso6    = "ip6 saddr 2001:db8:100:1::/120 ip6 daddr 2001:db8:100:1::/120 counter drop"
		from4   = "ip saddr 198.51.100.64/26 accept"
		to4     = "ip daddr 198.51.100.64/26 accept"
		from6   = "ip6 saddr 2001:db8:100:1::/120 accept"
		to6     = "ip6 daddr 2001:db8:100:1::/120 accept"
		drop4   = "meta nfproto ipv4 counter drop"
		drop6   = "meta nfproto ipv6 counter drop"
		masq    = "masquerade"
		tunMSS  = `iifname "goipsec0" tcp flags syn`
		poolMSS = "ip saddr 198.51.100.64/26 tcp flags syn"
	)
	for _, c := range []struct {
		name      string
		f         forwardRules
		want, not []string
	}{
		{"userspace-no-masquerade", forwardRules{device: "goipsec0", pools: testPools},
			[]string{from4, to4, from6, to6, tunMSS}, []string{iso4, drop4, drop6, masq, "postrouting"}},
		{"isolate", forwardRules{device: "goipsec0", pools: testPools, isolate: true},
			[]string{iso4, iso6, from4, from6}, []string{drop4, drop6, masq}},
		{"masquerade-confine-v4", forwardRules{uplink: "eth0", device: "goipsec0", pools: testPools, confine4: true},
			[]string{masq, from4, to4, drop4}, []string{drop6, iso4}},
		{"kernel-confine-both-isolate", forwardRules{pools: testPools, isolate: true, confine4: true, confine6: true},
			[]string{poolMSS, iso4, iso6, from4, to6, drop4, drop6}, []string{`iifname`, masq}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := appliedRuleset(t, ns, c.f)
			for _, w := range c.want {
				if ruleIndex(rules, w) < 0 {
					t.Errorf("ruleset lacks %q:\n%s", w, rules)
				}
			}
			for _, n := range c.not {
				if ruleIndex(rules, n) >= 0 {
					t.Errorf("ruleset has %q:\n%s", n, rules)
				}
			}
			// Order: a client-to-client packet is also from a pool, so the
			// isolation drop comes before the pool's accept; the family's
			// drop comes after every accept.
			if c.f.isolate && ruleIndex(rules, iso4) > ruleIndex(rules, from4) {
				t.Errorf("isolation after the pool's accept:\n%s", rules)
			}
			for _, d := range []string{drop4, drop6} {
				if i := ruleIndex(rules, d); i >= 0 && (i < ruleIndex(rules, to4) || i < ruleIndex(rules, to6)) {
					t.Errorf("%q before an accept:\n%s", d, rules)
				}
			}
			if !strings.Contains(rules, "policy accept") || strings.Contains(rules, "policy drop") {
				t.Errorf("the base chains must not drop what the table does not name:\n%s", rules)
			}
		})
	}
}

// TestNftForwardFilterTraffic applies the table on a router namespace
// that forwards between two client hosts (each holding one pool
// address) and an outside host, and pings through it: the pools'
// traffic passes, other traffic only while the family is not confined,
// client to client only without isolate.
func TestNftForwardFilterTraffic(t *testing.T) {
	testnet.Require(t, "ip", "nft", "ping")
	r := testnet.NewNS(t, "fr")
	hosts := map[string]*testnet.NS{"c1": testnet.NewNS(t, "fc1"), "c2": testnet.NewNS(t, "fc2"), "out": testnet.NewNS(t, "fo")}
	// c1 and c2 stand for two clients: the pool address on lo, a
	// transfer network to the router.
	for i, h := range []struct{ name, net, pool string }{{"c1", "203.0.113.%d/30", "198.51.100.66"}, {"c2", "203.0.113.%d/30", "198.51.100.67"}, {"out", "203.0.113.%d/30", ""}} {
		ns := hosts[h.name]
		dev := "eth" + string(rune('1'+i))
		testnet.Link(t, r, dev, ns, "eth0")
		rAddr, hAddr := 4*i+1, 4*i+2
		r.AddAddr(dev, strings.Replace(h.net, "%d", strconv.Itoa(rAddr), 1))
		ns.AddAddr("eth0", strings.Replace(h.net, "%d", strconv.Itoa(hAddr), 1))
		ns.Run("ip", "route", "add", "default", "via", "203.0.113."+strconv.Itoa(rAddr))
		if h.pool != "" {
			ns.AddAddr("lo", h.pool+"/32")
			r.Run("ip", "route", "add", h.pool+"/32", "via", "203.0.113."+strconv.Itoa(hAddr))
		}
	}
	r.Run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	const outside = "203.0.113.10"
	ping := func(from *testnet.NS, src, dst string) bool {
		_, err := from.Try("ping", "-c", "1", "-W", "1", "-I", src, dst)
		return err == nil
	}
	for _, c := range []struct {
		name                          string
		f                             forwardRules
		poolOut, otherOut, clientToCl bool
	}{
		{"open", forwardRules{pools: testPools[:1]}, true, true, true},
		{"confined", forwardRules{pools: testPools[:1], confine4: true}, true, false, true},
		{"confined-isolated", forwardRules{pools: testPools[:1], confine4: true, isolate: true}, true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			appliedRuleset(t, r, c.f)
			if got := ping(hosts["c1"], "198.51.100.66", outside); got != c.poolOut {
				t.Errorf("client to the outside host: passed %v, want %v", got, c.poolOut)
			}
			if got := ping(hosts["c1"], "203.0.113.2", outside); got != c.otherOut {
				t.Errorf("a non-pool address to the outside host: passed %v, want %v", got, c.otherOut)
			}
			if got := ping(hosts["c1"], "198.51.100.66", "198.51.100.67"); got != c.clientToCl {
				t.Errorf("client to client: passed %v, want %v", got, c.clientToCl)
			}
		})
	}
	r.Run("nft", "delete", "table", "inet", nftTable)
}
