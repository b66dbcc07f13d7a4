//go:build linux

package esp

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goipsec/ipsec/internal/sockio"
)

// TestInSocketDrops overflows the receive queue of a socket the engine
// sends on (the transport reads it) and checks that Stats reports the
// kernel's drop count: a drop before any of our code runs is still ours.
func TestInSocketDrops(t *testing.T) {
	c, ap := listenLoopback(t)
	u, err := NewUserspace(newNullTUN(), WithUDPSendConn(c), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := c.SetReadBuffer(1); err != nil { // the kernel's minimum: a few datagrams
		t.Fatal(err)
	}
	s, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pkt := make([]byte, 1000)
	for range 200 {
		if _, err := s.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for u.Stats().InSocketDrops == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := u.Stats().InSocketDrops
	k, ok := sockio.Drops(c)
	if !ok {
		t.Fatal("kernel does not report socket drops (SO_MEMINFO)")
	}
	if got == 0 || got != k || got > 200 {
		t.Fatalf("InSocketDrops = %d, kernel says %d (200 sent into a tiny queue)", got, k)
	}
}

// TestSocketBuffers: sockets handed to the engine get receive buffers
// above the kernel's default (212992 bytes), which overflowed under ESP
// bursts of a fast peer.
func TestSocketBuffers(t *testing.T) {
	c, _ := listenLoopback(t)
	u, err := NewUserspace(newNullTUN(), WithUDPConn(c), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if gerr != nil || v <= 212992 {
		t.Fatalf("SO_RCVBUF %d (%v)", v, gerr)
	}
}
