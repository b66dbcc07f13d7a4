package main

import (
	"net/netip"
	"testing"
)

// FuzzConfig feeds arbitrary YAML to the configuration parser and the
// validation: an operator's typo must give an error, never a panic.
func FuzzConfig(f *testing.F) {
	f.Add(defaultConfig)
	f.Add([]byte("pools: [198.51.100.0/24, \"2001:db8::/120\"]\nusers: [{name: a, password: longenough}]\n"))
	f.Add([]byte("server: {name: vpn.example.com, listen: [192.0.2.1]}\nproposals: {ike: aes256-sha256-modp2048}\n"))
	f.Add([]byte("tun: {mtu: -1}\nlog: {level: debug}\n"))
	f.Add([]byte("pools: &a [*a]\n"))
	uplink := []netip.Prefix{netip.MustParsePrefix("203.0.113.10/24")}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err != nil {
			return
		}
		s, err := c.validate(uplink)
		if err != nil {
			return
		}
		if !s.pool4.IsValid() && !s.pool6.IsValid() {
			t.Errorf("validated configuration without a pool: %q", data)
		}
		if s.tunMTU < 1280 || s.tunName == "" {
			t.Errorf("validated TUN %q MTU %d", s.tunName, s.tunMTU)
		}
	})
}
