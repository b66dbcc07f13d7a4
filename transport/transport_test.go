package transport

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// ikeHeader returns a minimal 28-byte IKE header with the given major
// version, enough for the transport's demultiplexing.
func ikeHeader(major byte, tag byte) []byte {
	h := make([]byte, ikeHeaderLen)
	h[0] = tag // SPIi byte, to tell packets apart
	h[17] = major << 4
	h[27] = ikeHeaderLen
	return h
}

type received struct {
	v2, v1 chan Packet
	esp    chan []byte
}

func newTestTransport(t *testing.T, addrs ...netip.Addr) (*Transport, *received) {
	t.Helper()
	tr, err := ListenUDP(context.Background(), WithListenAddrs(addrs...), WithPorts(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	r := &received{v2: make(chan Packet, 8), v1: make(chan Packet, 8), esp: make(chan []byte, 8)}
	for _, h := range []PacketHandler{chanHandler{2, true, r.v2}, chanHandler{1, true, r.v1}} {
		if _, err := tr.Register(h); err != nil {
			t.Fatal(err)
		}
	}
	tr.SetESPHandler(func(b []byte, _, _ netip.AddrPort) { r.esp <- append([]byte(nil), b...) })
	return tr, r
}

func recv[T any](t *testing.T, c chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5s")
	}
	var zero T
	return zero
}

func TestTransportDemux(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.1")
	tr, r := newTestTransport(t, lo4)
	ikePort, nattPort := tr.Ports()
	if ikePort == 0 || nattPort == 0 || ikePort == nattPort {
		t.Fatalf("ports %d/%d", ikePort, nattPort)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := func(port uint16) *net.UDPAddr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)} }
	send := func(b []byte, port uint16) {
		if _, err := peer.WriteToUDP(b, to(port)); err != nil {
			t.Fatal(err)
		}
	}

	send(ikeHeader(2, 1), ikePort)
	p := recv(t, r.v2)
	if p.Data[0] != 1 || p.Local != netip.AddrPortFrom(lo4, ikePort) || p.Remote != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("IKEv2 on 500: %+v", p)
	}
	if p.Encapsulated(tr) {
		t.Error("port 500 packet reported as encapsulated")
	}

	send(append([]byte{0, 0, 0, 0}, ikeHeader(2, 2)...), nattPort)
	p = recv(t, r.v2)
	if p.Data[0] != 2 || len(p.Data) != ikeHeaderLen || !p.Encapsulated(tr) {
		t.Errorf("IKEv2 on 4500 with marker: %+v", p)
	}

	send(ikeHeader(1, 3), ikePort)
	if p := recv(t, r.v1); p.Data[0] != 3 {
		t.Errorf("IKEv1: %+v", p)
	}

	esp := []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb}
	send(esp, nattPort)
	if got := recv(t, r.esp); !bytes.Equal(got, esp) {
		t.Errorf("ESP got %x", got)
	}

	send([]byte{0xff}, nattPort)          // keepalive
	send([]byte{1, 2, 3}, ikePort)        // too short for IKE
	send(ikeHeader(0, 4), ikePort)        // version 0
	send([]byte{0, 0, 0, 0, 1}, nattPort) // marker + truncated IKE
	send(ikeHeader(3, 5), ikePort)        // future version: the IKEv2 engine answers it
	if p := recv(t, r.v2); p.Data[0] != 5 {
		t.Errorf("major version 3 not given to the IKEv2 engine: %+v", p)
	}
	// Each socket is read in order: one more packet through the NAT-T
	// socket proves the keepalive and the truncated packet were handled.
	send(append([]byte{0, 0, 0, 0}, ikeHeader(2, 6)...), nattPort)
	recv(t, r.v2)
	st := tr.Stats()
	if st.Keepalives != 1 || st.Malformed != 3 || st.IKEv2 != 4 || st.IKEv1 != 1 || st.ESP != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTransportSendAddsMarker(t *testing.T) {
	lo6 := netip.MustParseAddr("::1")
	tr, _ := newTestTransport(t, lo6)
	ikePort, nattPort := tr.Ports()
	peer, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer peer.Close()
	remote := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	msg := ikeHeader(2, 9)
	buf := make([]byte, 2048)
	for _, c := range []struct {
		port   uint16
		marker bool
	}{{ikePort, false}, {nattPort, true}} {
		if err := tr.Send(Packet{Data: msg, Local: netip.AddrPortFrom(lo6, c.port), Remote: remote}); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := peer.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		want := msg
		if c.marker {
			want = append([]byte{0, 0, 0, 0}, msg...)
		}
		if !bytes.Equal(buf[:n], want) || from.AddrPort().Port() != c.port {
			t.Errorf("port %d: got %x from %v", c.port, buf[:n], from)
		}
	}
	if err := tr.SendKeepalive(netip.AddrPortFrom(lo6, ikePort), remote); err != nil {
		t.Fatal(err)
	}
	n, from, err := peer.ReadFromUDP(buf)
	if err != nil || n != 1 || buf[0] != 0xff || from.AddrPort().Port() != nattPort {
		t.Errorf("keepalive: %x from %v, %v", buf[:n], from, err)
	}
	if err := tr.Send(Packet{Data: msg, Local: netip.MustParseAddrPort("192.0.2.1:500"), Remote: remote}); err == nil {
		t.Error("send from an address we do not listen on succeeded")
	}
}

func TestListenUDPValidates(t *testing.T) {
	ctx := context.Background()
	for _, opts := range [][]Option{
		{WithListenAddrs()},
		{WithPorts(500, 500)},
		{WithPorts(-1, 4500)},
		{WithPorts(500, 70000)},
	} {
		if tr, err := ListenUDP(ctx, opts...); err == nil {
			tr.Close()
			t.Errorf("ListenUDP accepted %d options that are invalid", len(opts))
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if tr, err := ListenUDP(canceled, WithListenAddrs(netip.MustParseAddr("127.0.0.1")), WithPorts(0, 0)); err == nil {
		tr.Close()
		t.Error("ListenUDP ignored a canceled context")
	}
}

func TestTransportCloseStopsHandlers(t *testing.T) {
	tr, r := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	ikePort, _ := tr.Ports()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr.Close() // idempotent
	c, err := net.Dial("udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ikePort).String())
	if err == nil {
		c.Write(ikeHeader(2, 1))
		c.Close()
	}
	select {
	case p := <-r.v2:
		t.Fatalf("handler called after Close: %+v", p)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestTransportWildcardReportsDestination(t *testing.T) {
	tr, r := newTestTransport(t, netip.IPv4Unspecified())
	ikePort, _ := tr.Ports()
	// 127.0.0.2 is on lo without configuration; the wildcard socket must
	// report it (from IP_PKTINFO) rather than 0.0.0.0, and answer from it.
	dst := netip.MustParseAddr("127.0.0.2")
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteToUDP(ikeHeader(2, 7), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, ikePort))); err != nil {
		t.Fatal(err)
	}
	p := recv(t, r.v2)
	if p.Local.Addr() != dst {
		t.Fatalf("local address %v, want %v", p.Local, dst)
	}
	if err := tr.Send(Packet{Data: ikeHeader(2, 8), Local: p.Local, Remote: p.Remote}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, from, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from.AddrPort().Addr() != dst {
		t.Errorf("reply came from %v, want %v", from, dst)
	}
}
