//go:build linux

package xfrm_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestKernelNoLeaseClient: a client without a virtual IP that proposes
// TSi 0.0.0.0/0 and ::/0 connects to our gateway on the kernel data plane
// (its configuration allows clients without a virtual IP). The gateway's
// policies name only the client's own address, and the gateway's own
// traffic to a third host leaves in the clear instead of being encrypted
// to that client (with a 0/0 out policy the kernel would send every packet
// of the gateway into the client's SA).
func TestKernelNoLeaseClient(t *testing.T) {
	vmOnly(t)
	testnet.Require(t, "ip", "ping")
	srv := testnet.NewNS(t, "s")
	cli := testnet.NewNS(t, "c")
	other := testnet.NewNS(t, "o")
	testnet.Link(t, cli, "eth0", srv, "eth0")
	testnet.Link(t, other, "eth0", srv, "eth1")
	cli.AddAddr("eth0", ikeClient.String()+"/24")
	srv.AddAddr("eth0", ikeServer.String()+"/24")
	srv.AddAddr("eth1", "203.0.113.1/24")
	other.AddAddr("eth0", "203.0.113.9/24")
	// Before the client connects the gateway reaches the third host.
	srv.Run("ping", "-c", "1", "-W", "2", "203.0.113.9")

	gw := startKernelGatewayWith(t, srv, ike.ChildConfig{}, func(c *ike.PeerConfig) { c.AllowNoVirtualIP = true })
	rw := startUserspaceClient(t, cli, ikeClient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := rw.init.Dial(ctx, netip.AddrPortFrom(ikeServer, ike.PortIKE), &ike.PeerConfig{
		Name: "kernel", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: ikePSK}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: ikePSK},
		Children: []ike.ChildConfig{{Name: "all", LocalTS: []esp.Selector{esp.AnySelector(true), esp.AnySelector(false)}}},
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sa.Close(context.Background())
	c := gw.child(t)
	if len(c.RemoteTS) == 0 {
		t.Errorf("gateway CHILD SA without remote selectors: %+v", c)
	}
	for _, ts := range c.RemoteTS {
		if ts != ikeClient.String()+"/32" {
			t.Errorf("gateway's remote selector %s, want only %s/32", ts, ikeClient)
		}
	}
	// Every out policy with a template (the SA's, not the IKE sockets'
	// bypass policies) must name the client's own address.
	pol := srv.Run("ip", "xfrm", "policy")
	outs := 0
	for _, block := range strings.Split(pol, "src ")[1:] {
		if !strings.Contains(block, "dir out") || !strings.Contains(block, "tmpl") {
			continue
		}
		outs++
		if first, _, _ := strings.Cut(block, "\n"); !strings.Contains(first, "dst "+ikeClient.String()+"/32") {
			t.Errorf("out policy src %s: the gateway would encrypt more than the client's address", first)
		}
	}
	if outs == 0 {
		t.Errorf("no out policy for the client:\n%s", pol)
	}
	before := gw.child(t)
	if out, err := srv.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "203.0.113.9"); err != nil {
		t.Errorf("the gateway's own traffic to a third host no longer passes with the client connected: %v\n%s", err, out)
	}
	if after := gw.child(t); after.PacketsOut != before.PacketsOut {
		t.Errorf("the gateway's own traffic went into the client's SA: %d -> %d packets out", before.PacketsOut, after.PacketsOut)
	}
}
