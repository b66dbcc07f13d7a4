package main

import (
	"strings"
	"testing"
)

func TestKillSwitchTable(t *testing.T) {
	for in, want := range map[string]string{"goipsec-rw0": "goipsec_rw_goipsec_rw0", "wg.0": "goipsec_rw_wg_0", "tun0": "goipsec_rw_tun0"} {
		if got := killSwitchTable(in); got != want {
			t.Errorf("killSwitchTable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKillSwitchRules(t *testing.T) {
	r := killSwitchRules("goipsec_rw_t", "rw0", 4501, false)
	for _, want := range []string{
		"table inet goipsec_rw_t {",
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
		"nd-neighbor-solicit",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("rules lack %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "192.168.0.0/16") {
		t.Errorf("LAN let out without -allow-lan:\n%s", r)
	}
	// Ports are not repeated for the standard port.
	if r := killSwitchRules("x", "rw0", 500, false); !strings.Contains(r, "udp dport { 500, 4500 } accept") {
		t.Errorf("port 500:\n%s", r)
	}
	lan := killSwitchRules("x", "rw0", 500, true)
	for _, want := range []string{"ip daddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255/32 } accept",
		"ip6 daddr { fc00::/7, fe80::/10, ff00::/8 } accept"} {
		if strings.Count(lan, want) != 2 { // output and forward
			t.Errorf("-allow-lan rules lack %q twice:\n%s", want, lan)
		}
	}
}
