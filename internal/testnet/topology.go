package testnet

import (
	"net/netip"
	"testing"
)

// The addresses of the standard topology. They follow the interop
// harness the project was seeded with, so logs and configurations carry
// over: the server's WAN side, the client (or the NAT's outside), the
// client's LAN behind the NAT, and the inside addresses a client reaches
// through the tunnel.
var (
	ServerAddr4 = netip.MustParseAddr("192.0.2.1")
	ServerAddr6 = netip.MustParseAddr("2001:db8:0:1::1")
	ClientAddr4 = netip.MustParseAddr("192.0.2.2")
	ClientAddr6 = netip.MustParseAddr("2001:db8:0:1::2")
	LANAddr4    = netip.MustParseAddr("192.0.2.130")
	LANAddr6    = netip.MustParseAddr("2001:db8:0:2::2")
	NATInside4  = netip.MustParseAddr("192.0.2.129")
	NATInside6  = netip.MustParseAddr("2001:db8:0:2::1")
	Inner4      = netip.MustParseAddr("198.51.100.1")
	Inner6      = netip.MustParseAddr("2001:db8:100::1")
	Pool4       = netip.MustParsePrefix("198.51.100.64/26")
	Pool6       = netip.MustParsePrefix("2001:db8:100:1::/120")
	DNS4        = netip.MustParseAddr("198.51.100.53")
	DNS6        = netip.MustParseAddr("2001:db8:100::53")
)

// Topology is a client and a server namespace, optionally with a NAT
// router between them.
type Topology struct {
	// Client and Server are the two ends.
	Client, Server *NS
	NAT            *NS // nil for a direct link
	// ClientAddr4/6 are the client's own addresses (behind the NAT when
	// there is one).
	ClientAddr4, ClientAddr6 netip.Addr
}

// NATMode selects how the NAT router translates.
type NATMode int

// NAT modes.
const (
	NoNAT         NATMode = iota
	NATRandomPort         // masquerade with random source ports: the server sees neither 500 nor 4500
	NATKeepPort           // masquerade keeping ports where possible
)

// New builds the standard topology:
//
//	direct: client eth0 192.0.2.2/25 2001:db8:0:1::2 ---- server eth0 192.0.2.1/25 2001:db8:0:1::1
//	NAT:    client eth0 192.0.2.130/25 -- .129 nat 192.0.2.2 -- server 192.0.2.1
//
// The server also holds 198.51.100.1/32 and 2001:db8:100::1/128 on lo as
// targets reached through a tunnel.
func New(t testing.TB, mode NATMode) *Topology {
	t.Helper()
	Require(t, "ip")
	topo := &Topology{Client: NewNS(t, "c"), Server: NewNS(t, "s")}
	s := topo.Server
	s.AddAddr("lo", Inner4.String()+"/32")
	s.AddAddr("lo", Inner6.String()+"/128")
	if mode == NoNAT {
		Link(t, topo.Client, "eth0", s, "eth0")
		topo.Client.AddAddr("eth0", ClientAddr4.String()+"/25")
		topo.Client.AddAddr("eth0", ClientAddr6.String()+"/64")
		topo.ClientAddr4, topo.ClientAddr6 = ClientAddr4, ClientAddr6
	} else {
		Require(t, "nft")
		n := NewNS(t, "n")
		topo.NAT = n
		c := topo.Client
		Link(t, c, "eth0", n, "eth0")
		Link(t, n, "eth1", s, "eth0")
		c.AddAddr("eth0", LANAddr4.String()+"/25")
		c.AddAddr("eth0", LANAddr6.String()+"/64")
		c.Run("ip", "route", "add", "default", "via", NATInside4.String())
		c.Run("ip", "-6", "route", "add", "default", "via", NATInside6.String())
		n.AddAddr("eth0", NATInside4.String()+"/25")
		n.AddAddr("eth0", NATInside6.String()+"/64")
		n.AddAddr("eth1", ClientAddr4.String()+"/25")
		n.AddAddr("eth1", ClientAddr6.String()+"/64")
		n.Run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
		masq := "masquerade random"
		if mode == NATKeepPort {
			masq = "masquerade"
		}
		n.Run("nft", "add table inet gi-nat")
		n.Run("nft", "add chain inet gi-nat post { type nat hook postrouting priority srcnat; policy accept; }")
		n.Run("nft", "add rule inet gi-nat post oifname eth1 "+masq)
		topo.ClientAddr4, topo.ClientAddr6 = LANAddr4, LANAddr6
	}
	s.AddAddr("eth0", ServerAddr4.String()+"/25")
	s.AddAddr("eth0", ServerAddr6.String()+"/64")
	return topo
}
