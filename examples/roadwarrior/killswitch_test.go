package main

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func TestKillSwitchTable(t *testing.T) {
	for in, want := range map[string]string{"goipsec-rw0": "goipsec_rw_goipsec_rw0", "wg.0": "goipsec_rw_wg_0", "tun0": "goipsec_rw_tun0"} {
		if got := killSwitchTable(in); got != want {
			t.Errorf("killSwitchTable(%q) = %q, want %q", in, got, want)
		}
	}
}

// nsConn is a netlink nftables connection into ns.
func nsConn(t *testing.T, ns *testnet.NS) *nftables.Conn {
	t.Helper()
	fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKillSwitchRules installs the table through netlink in a namespace
// of the test's own, as roadwarrior does, and reads it back with nft:
// the rules, the gateways added at start and later, a second install
// replacing the first (a crashed run's table), and the removal.
func TestKillSwitchRules(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "ks")
	log := slog.New(slog.DiscardHandler)
	list := func(table string) string {
		return ns.Run("nft", "-s", "list", "table", "inet", table)
	}
	gw4, gw6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	k, err := installKillSwitch(nsConn(t, ns), "rw0", 4501, false, []netip.Addr{gw4}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.allowGateway(gw6); err != nil {
		t.Fatal(err)
	}
	if err := k.allowGateway(netip.MustParseAddr("::ffff:192.0.2.1")); err != nil { // already there, as IPv4
		t.Fatal(err)
	}
	r := list(k.table)
	for _, want := range []string{
		"table inet goipsec_rw_rw0 {",
		"type filter hook output priority filter; policy drop;",
		"type filter hook forward priority filter; policy drop;",
		`oifname "lo" accept`,
		`oifname "rw0" accept`,
		`iifname "rw0" accept`,
		"ip daddr @gateways4 udp dport { 500, 4500, 4501 } accept",
		"ip6 daddr @gateways6 udp dport { 500, 4500, 4501 } accept",
		"ip daddr @gateways4 ip protocol esp accept",
		"ip6 daddr @gateways6 meta l4proto esp accept",
		"udp sport 68 udp dport 67 accept",
		"udp sport 546 udp dport 547 accept",
		"icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept",
		`counter comment "kill switch: outside the tunnel"`,
		"elements = { 192.0.2.1 }",
		"elements = { 2001:db8::1 }",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("rules lack %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "192.168.0.0/16") {
		t.Errorf("LAN let out without -allow-lan:\n%s", r)
	}
	// A second run (the first one crashed) replaces the table: the
	// standard port only, -allow-lan, no gateway yet.
	k2, err := installKillSwitch(nsConn(t, ns), "rw0", 500, true, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	lan := list(k2.table)
	if !strings.Contains(lan, "udp dport { 500, 4500 } accept") || strings.Contains(lan, "4501") || strings.Contains(lan, "192.0.2.1") {
		t.Errorf("the stale table was not replaced:\n%s", lan)
	}
	for _, p := range lanPrefixes {
		fam := "ip"
		if strings.Contains(p, ":") {
			fam = "ip6"
		}
		// nft shows a /32 as the address.
		if want := fam + " daddr " + strings.TrimSuffix(p, "/32") + " accept"; strings.Count(lan, want) != 2 { // output and forward
			t.Errorf("-allow-lan rules lack %q twice:\n%s", want, lan)
		}
	}
	k2.remove()
	if out := ns.Run("nft", "list", "tables"); strings.Contains(out, k2.table) {
		t.Errorf("table left after remove:\n%s", out)
	}
	if err := k2.deleteTable(); err != nil {
		t.Errorf("deleting a missing table: %v", err)
	}
}
