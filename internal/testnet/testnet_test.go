package testnet

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestTopologyPing(t *testing.T) {
	for _, mode := range []NATMode{NoNAT, NATRandomPort} {
		topo := New(t, mode)
		out := topo.Client.Run("ping", "-c1", "-W2", ServerAddr4.String())
		if !strings.Contains(out, "1 received") {
			t.Errorf("mode %d: ping v4: %s", mode, out)
		}
		out = topo.Client.Run("ping", "-6", "-c1", "-W2", ServerAddr6.String())
		if !strings.Contains(out, "1 received") {
			t.Errorf("mode %d: ping v6: %s", mode, out)
		}
	}
}

func TestDoOpensSocketInNamespace(t *testing.T) {
	topo := New(t, NoNAT)
	var ln net.PacketConn
	err := topo.Server.Do(func() error {
		var err error
		ln, err = net.ListenPacket("udp4", ServerAddr4.String()+":0")
		return err
	})
	if err != nil {
		t.Fatalf("listen inside the server namespace: %v", err)
	}
	defer ln.Close()
	// The server address does not exist in the test's own namespace, so
	// a successful bind proves the socket lives in the server namespace.
	if _, err := net.ListenPacket("udp4", ServerAddr4.String()+":0"); err == nil {
		t.Fatal("server address bindable outside its namespace")
	}
	var c net.PacketConn
	if err := topo.Client.Do(func() error {
		var err error
		c, err = net.ListenPacket("udp4", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo([]byte("hello"), ln.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := ln.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q from %v: %v", buf[:n], from, err)
	}
	if got := from.(*net.UDPAddr).IP.String(); got != ClientAddr4.String() {
		t.Errorf("packet came from %s, want %s", got, ClientAddr4)
	}
}
