package l2tp

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestUDPConnServe runs a server on a loopback socket: an SCCRQ gets its
// SCCRP from the server's address, and Serve returns nil when the context
// ends.
func TestUDPConnServe(t *testing.T) {
	sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	uc := NewUDPConn(sc)
	srv, err := NewServer(uc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.ClosePeer(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- uc.Serve(ctx, srv) }()

	cc, err := net.DialUDP("udp4", nil, sc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.Write(unhex(t, appleSCCRQ)); err != nil {
		t.Fatal(err)
	}
	if err := cc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := cc.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(buf[:n], nil)
	if err != nil || m.Type != MsgSCCRP || m.Header.TunnelID != 0x1234 {
		t.Fatalf("reply %+v, %v", m, err)
	}
	tun := srv.Tunnels()
	if len(tun) != 1 || tun[0].Peer.Addr.String() != cc.LocalAddr().String() || tun[0].Peer.Local != uc.local {
		t.Fatalf("tunnel %+v (local %v)", tun, uc.local)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
