//go:build linux

package sockio

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

func loopbackPair(t *testing.T) (rd *net.UDPConn, wr *net.UDPConn) {
	t.Helper()
	rd, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	wr, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, rd.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wr.Close() })
	if err := rd.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return rd, wr
}

// TestReader reads a batch: payloads, sizes, source addresses, the
// destination address from IP_PKTINFO, and a datagram cut to its buffer.
func TestReader(t *testing.T) {
	rd, wr := loopbackPair(t)
	if err := ipv4.NewPacketConn(rd).SetControlMessage(ipv4.FlagDst, true); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(rd, 8, PacketInfoSpace)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("one"), []byte("second datagram"), bytes.Repeat([]byte{7}, 300)}
	for _, p := range want {
		if _, err := wr.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 100)
	}
	sizes, from := make([]int, 8), make([]netip.AddrPort, 8)
	got := 0
	src := wr.LocalAddr().(*net.UDPAddr).AddrPort()
	for got < len(want) {
		n, err := r.Read(bufs[got:], sizes[got:], from[got:])
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			j := got + i
			w := want[j]
			if j == 2 {
				if !r.Truncated(i) || sizes[j] != 100 || !bytes.Equal(bufs[j][:100], w[:100]) {
					t.Fatalf("long datagram: truncated=%v size %d", r.Truncated(i), sizes[j])
				}
			} else if r.Truncated(i) || !bytes.Equal(bufs[j][:sizes[j]], w) {
				t.Fatalf("datagram %d: %q (truncated=%v), want %q", j, bufs[j][:sizes[j]], r.Truncated(i), w)
			}
			if from[j] != src {
				t.Fatalf("datagram %d from %s, want %s", j, from[j], src)
			}
			if d, ok := PacketDst(r.Control(i)); !ok || d != netip.MustParseAddr("127.0.0.1") {
				t.Fatalf("datagram %d: destination %s %v", j, d, ok)
			}
		}
		got += n
	}
	if r.Control(-1) != nil || r.Control(99) != nil || r.Truncated(99) {
		t.Fatal("out-of-range index answered")
	}
	if _, err := NewReader(rd, 0, 0); err == nil {
		t.Fatal("batch size 0 accepted")
	}
}

// TestReaderZeroAllocs: reading a batch allocates nothing.
func TestReaderZeroAllocs(t *testing.T) {
	rd, wr := loopbackPair(t)
	r, err := NewReader(rd, 4, PacketInfoSpace)
	if err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048), make([]byte, 2048), make([]byte, 2048)}
	sizes, from := make([]int, 4), make([]netip.AddrPort, 4)
	pkt := make([]byte, 1400)
	run := func() {
		if _, err := wr.Write(pkt); err != nil {
			t.Fatal(err)
		}
		if n, err := r.Read(bufs, sizes, from); err != nil || n != 1 || sizes[0] != len(pkt) {
			t.Fatalf("read %d (%v)", n, err)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("write + batch read: %.1f allocations, want 0", n)
	}
}

// TestPacketDst parses IPv4 and IPv6 packet info and never panics on
// hostile control buffers.
func TestPacketDst(t *testing.T) {
	mk := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafePointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	v4 := make([]byte, unix.SizeofInet4Pktinfo)
	copy(v4[8:], []byte{192, 0, 2, 7})
	v6 := make([]byte, unix.SizeofInet6Pktinfo)
	copy(v6, netip.MustParseAddr("2001:db8::9").AsSlice())
	other := mk(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16))
	cases := []struct {
		name string
		oob  []byte
		want netip.Addr
	}{
		{"v4", mk(unix.IPPROTO_IP, unix.IP_PKTINFO, v4), netip.MustParseAddr("192.0.2.7")},
		{"v6", mk(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, v6), netip.MustParseAddr("2001:db8::9")},
		{"after another message", append(append([]byte(nil), other...), mk(unix.IPPROTO_IP, unix.IP_PKTINFO, v4)...), netip.MustParseAddr("192.0.2.7")},
		{"none", other, netip.Addr{}},
		{"short v4", mk(unix.IPPROTO_IP, unix.IP_PKTINFO, v4[:8]), netip.Addr{}},
		{"empty", nil, netip.Addr{}},
	}
	for _, c := range cases {
		got, ok := PacketDst(c.oob)
		if got != c.want || ok != c.want.IsValid() {
			t.Errorf("%s: %s %v, want %s", c.name, got, ok, c.want)
		}
	}
	// Every prefix and a lying length field: no panic, nothing found.
	full := mk(unix.IPPROTO_IP, unix.IP_PKTINFO, v4)
	for i := range len(full) - 1 {
		if _, ok := PacketDst(full[:i]); ok && i < unix.CmsgLen(unix.SizeofInet4Pktinfo) {
			t.Errorf("prefix %d parsed", i)
		}
	}
	bad := append([]byte(nil), full...)
	(*unix.Cmsghdr)(unsafePointer(&bad[0])).SetLen(1000)
	if _, ok := PacketDst(bad); ok {
		t.Error("length beyond the buffer parsed")
	}
	(*unix.Cmsghdr)(unsafePointer(&bad[0])).SetLen(3)
	if _, ok := PacketDst(bad); ok {
		t.Error("length below the header parsed")
	}
}

// TestDropsAndBuffers: the kernel's drop count of an overflowing socket,
// and SetBuffers raising the receive buffer.
func TestDropsAndBuffers(t *testing.T) {
	rd, wr := loopbackPair(t)
	if d, ok := Drops(rd); !ok || d != 0 {
		t.Fatalf("fresh socket: drops %d %v", d, ok)
	}
	if err := rd.SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 1000)
	for range 200 {
		if _, err := wr.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	d, ok := Drops(rd)
	if !ok || d == 0 || d > 200 {
		t.Fatalf("after 200 datagrams into a tiny queue: drops %d %v", d, ok)
	}
	// Whatever was not dropped is readable.
	r, _ := NewReader(rd, 64, 0)
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, from := make([]int, 64), make([]netip.AddrPort, 64)
	read := 0
	for read+int(d) < 200 {
		n, err := r.Read(bufs, sizes, from)
		if err != nil {
			t.Fatalf("read %d of %d undropped: %v", read, 200-d, err)
		}
		read += n
	}
	if read+int(d) != 200 {
		t.Fatalf("read %d + dropped %d != 200", read, d)
	}

	before := rcvbuf(t, rd)
	if err := SetBuffers(rd, 1<<20); err != nil {
		t.Fatal(err)
	}
	if after := rcvbuf(t, rd); after <= before {
		t.Fatalf("receive buffer %d -> %d", before, after)
	}
}

func rcvbuf(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
