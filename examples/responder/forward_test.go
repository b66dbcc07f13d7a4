package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/goipsec/ipsec/internal/testnet"
)

var testPools = []netip.Prefix{netip.MustParsePrefix("198.51.100.64/26"), netip.MustParsePrefix("2001:db8:100:1::/120")}

func TestCheckMasquerade(t *testing.T) {
	if err := checkMasquerade(""); err != nil {
		t.Errorf("no masquerade: %v", err)
	}
	err := checkMasquerade("gi-no-such0")
	if fe, ok := err.(*fieldError); !ok || fe.Field != "forward.masquerade" || !strings.Contains(err.Error(), "gi-no-such0") {
		t.Errorf("missing uplink: %v", err)
	}
}

// appliedRuleset installs f's table through netlink inside ns, as the
// responder does, and returns what nft lists of it there (nft only
// reads back, statelessly: no counter values).
func appliedRuleset(t *testing.T, ns *testnet.NS, f forwardRules) string {
	t.Helper()
	c := nsConn(t, ns)
	if err := applyForwardTable(c, f); err != nil {
		t.Fatalf("install the table: %v", err)
	}
	return ns.Run("nft", "-s", "list", "table", "inet", nftTable)
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

// TestNftRuleset installs the table through netlink in a namespace of
// the test's own and reads it back with nft.
func TestNftRuleset(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nft")
	f := forwardRules{uplink: "eth0", device: "goipsec0", pools: testPools}
	// Apply it twice (a restart after a crash replaces the table).
	appliedRuleset(t, ns, f)
	rules := appliedRuleset(t, ns, f)
	for _, want := range []string{`oifname "eth0" ip saddr 198.51.100.64/26 masquerade`, `oifname "eth0" ip6 saddr 2001:db8:100:1::/120 masquerade`, "maxseg size set rt mtu",
		"type nat hook postrouting priority srcnat; policy accept;", "type filter hook forward priority filter; policy accept;"} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	if out := ns.Run("nft", "list", "tables"); strings.Count(out, nftTable) != 1 {
		t.Errorf("tables after two applies:\n%s", out)
	}
	c := nsConn(t, ns)
	if err := deleteTable(c, nftTable); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run("nft", "list", "tables"); strings.Contains(out, nftTable) {
		t.Errorf("table left after delete:\n%s", out)
	}
	// Deleting what is not there is no error (the stop after a failed start).
	if err := deleteTable(c, nftTable); err != nil {
		t.Errorf("delete a missing table: %v", err)
	}
}

// TestNftRulesetKernel: with the kernel data plane there is no device
// carrying the clients' traffic, so the MSS clamping matches the pools;
// the kernel accepts the table.
func TestNftRulesetKernel(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nftk")
	rules := appliedRuleset(t, ns, forwardRules{uplink: "eth0", pools: testPools})
	for _, want := range []string{"ip saddr 198.51.100.64/26 tcp flags syn", "ip6 daddr 2001:db8:100:1::/120 tcp flags syn", `oifname "eth0" ip saddr 198.51.100.64/26 masquerade`} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	if strings.Contains(rules, `iifname`) {
		t.Errorf("ruleset matches a device name:\n%s", rules)
	}
}

// TestNftL2TPClearDropped: with the L2TP input rule, a UDP datagram to
// port 1701 that IPsec did not decrypt (meta secpath missing) is dropped
// before the socket sees it, and counted; one to another port arrives.
func TestNftL2TPClearDropped(t *testing.T) {
	testnet.Require(t, "ip", "nft")
	srv, cli := testnet.NewNS(t, "l2s"), testnet.NewNS(t, "l2c")
	testnet.Link(t, srv, "eth0", cli, "eth0")
	srv.AddAddr("eth0", "203.0.113.1/30")
	cli.AddAddr("eth0", "203.0.113.2/30")
	appliedRuleset(t, srv, forwardRules{pools: testPools, l2tpOnlyIPsec: true})
	received := func(port int) bool {
		var ln *net.UDPConn
		if err := srv.Do(func() (err error) {
			ln, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(203, 0, 113, 1), Port: port})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := cli.Do(func() error {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(203, 0, 113, 1), Port: port})
			if err != nil {
				return err
			}
			defer c.Close()
			for range 3 {
				if _, err := c.Write([]byte("l2tp?")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ln.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err := ln.ReadFromUDP(make([]byte, 64))
		return err == nil
	}
	if !received(1702) {
		t.Fatal("a datagram to port 1702 did not arrive: the test network is broken")
	}
	if received(1701) {
		t.Error("a clear-text L2TP datagram reached the socket")
	}
	if out := srv.Run("nft", "list", "chain", "inet", nftTable, "input"); !strings.Contains(out, "counter packets 3 ") {
		t.Errorf("the drop rule did not count the three datagrams:\n%s", out)
	}
}
