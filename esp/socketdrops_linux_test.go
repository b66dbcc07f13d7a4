//go:build linux

package esp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

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

// TestUDPGROSplit: a socket the engine reads (WithUDPConn) gets UDP GRO;
// a GSO train arriving as one coalesced datagram is split into its
// segments, ESP to the pipeline and the IKE message at its end to the
// non-ESP handler.
func TestUDPGROSplit(t *testing.T) {
	got := make(chan []byte, 4)
	b := newSide(t, WithNonESPHandler(func(p []byte, _ netip.AddrPort) { got <- bytes.Clone(p) }))
	rc, _ := b.conn.SyscallConn()
	var v int
	rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO) })
	if v != 1 {
		t.Fatalf("UDP_GRO on the engine's socket: %d", v)
	}
	c, _ := listenLoopback(t)
	const segs, size = 12, 300
	var train []byte
	for i := range segs {
		p := make([]byte, size)
		binary.BigEndian.PutUint32(p, 0x7777) // no such SPI: counted, dropped
		binary.BigEndian.PutUint32(p[4:], uint32(i+1))
		train = append(train, p...)
	}
	ike := []byte{0, 0, 0, 0, 9, 9, 9, 9}
	train = append(train, ike...)
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = size
	if _, _, err := c.WriteMsgUDPAddrPort(train, oob, b.addr); err != nil {
		t.Skipf("no UDP GSO send here: %v", err)
	}
	select {
	case p := <-got:
		if !bytes.Equal(p, ike) {
			t.Fatalf("non-ESP handler got %x", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IKE segment not handed over")
	}
	waitStat(t, b.u, "InUnknownSPI", func(s Stats) uint64 { return s.InUnknownSPI }, segs)
	if st := b.u.Stats(); st.NonESP != 1 || st.InTruncated != 0 {
		t.Fatalf("stats %+v", st)
	}
}
