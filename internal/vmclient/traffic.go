package vmclient

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// PingHosts pings the server's outer address from the client, three
// echoes, all of which must be answered: in transport mode for all
// traffic the echoes are ESP. It is a strongswan.V1Case Check.
func PingHosts(t *testing.T, env *strongswan.V1Env) {
	t.Helper()
	out, _ := env.Topo.Client.Try("ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", testnet.ServerAddr4.String())
	if sent, recv := strongswan.ParsePing(out); sent == 0 || recv != sent {
		t.Fatalf("ping %v: %d of %d answered\n%s", testnet.ServerAddr4, recv, sent, out)
	}
}

// UDP1701 sends three datagrams from the client's port 1701 to the
// server's and echoes each back, as L2TP does over a transport-mode SA
// for udp/1701 (three packets each way). It is a strongswan.V1Case
// Check.
func UDP1701(t *testing.T, env *strongswan.V1Env) {
	t.Helper()
	listen := func(ns *testnet.NS, addr netip.Addr) *net.UDPConn {
		var c *net.UDPConn
		if err := ns.Do(func() (err error) {
			c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 1701)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	srv := listen(env.Topo.Server, testnet.ServerAddr4)
	cli := listen(env.Topo.Client, env.Topo.ClientAddr4)
	buf := make([]byte, 64)
	for i := range 3 {
		msg := fmt.Sprintf("l2tp %d", i)
		if _, err := cli.WriteToUDPAddrPort([]byte(msg), netip.AddrPortFrom(testnet.ServerAddr4, 1701)); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("server read %q from %v: %v", buf[:n], from, err)
		}
		if _, err := srv.WriteToUDPAddrPort(buf[:n], from); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err = cli.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("client read %q: %v", buf[:n], err)
		}
	}
}
