//go:build linux

package transport

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// espDatagram is a fake ESP-in-UDP packet: SPI, sequence number, tag.
func espDatagram(seq uint32, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, 0x1001)
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

// TestESPBatchHandler: the NAT-T socket is read in batches; the ESP of a
// read reaches the batch receiver in order, with the peer's address, while
// IKE, keepalives and runts of the same reads are dispatched as before.
func TestESPBatchHandler(t *testing.T) {
	tr, r := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	_, nattPort := tr.Ports()
	if tr.socks[1].batch == nil {
		t.Fatal("NAT-T socket is not read in batches")
	}
	var mu sync.Mutex
	var got [][]byte
	var calls int
	var bad []netip.AddrPort
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pa := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	tr.SetESPBatchHandler(func(pkts [][]byte, remotes []netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		for i, p := range pkts {
			got = append(got, bytes.Clone(p))
			if remotes[i] != pa {
				bad = append(bad, remotes[i])
			}
		}
	})
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), nattPort))
	send := func(b []byte) {
		if _, err := peer.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	for i := range n {
		send(espDatagram(uint32(i+1), 100+i))
		switch i {
		case 10:
			send([]byte{0xff}) // keepalive
		case 20:
			send(append([]byte{0, 0, 0, 0}, ikeHeader(2, 4)...))
		case 30:
			send([]byte{0, 0, 0x10, 1, 0, 0}) // ESP too short for SPI and sequence number
		}
	}
	if p := recv(t, r.v2); p.Data[0] != 4 {
		t.Fatalf("IKE between ESP: %+v", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d ESP packets; stats %+v", k, n, tr.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range got {
		if len(p) != 100+i || binary.BigEndian.Uint32(p[4:]) != uint32(i+1) {
			t.Fatalf("packet %d: %d bytes, seq %d", i, len(p), binary.BigEndian.Uint32(p[4:]))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("wrong sources %v", bad)
	}
	if calls >= n {
		t.Errorf("%d calls for %d packets: not batched", calls, n)
	}
	st := tr.Stats()
	if st.ESP != n || st.Keepalives != 1 || st.Malformed != 1 || st.IKEv2 != 1 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%d packets in %d calls", n, calls)
}

// TestDispatchBatchZeroAllocs: handing the ESP of a batch to the data
// plane allocates nothing per packet (IKE messages are copied, as the
// engines keep them).
func TestDispatchBatchZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	tr, _ := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	_, nattPort := tr.Ports()
	var seen atomic.Uint64
	tr.SetESPBatchHandler(func(pkts [][]byte, _ []netip.AddrPort) { seen.Add(uint64(len(pkts))) })
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), nattPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := espDatagram(1, 1400)
	const k = 8
	var want uint64
	run := func() {
		for range k {
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
		}
		want += k
		for deadline := time.Now().Add(5 * time.Second); seen.Load() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d packets", seen.Load(), want)
			}
			runtime.Gosched()
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%d ESP datagrams through the batch reader: %.1f allocations, want 0", k, n)
	}
}

// TestRecvDrops: datagrams the kernel drops because the reader is stuck
// show in Stats.RecvDrops.
func TestRecvDrops(t *testing.T) {
	tr, _ := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	_, nattPort := tr.Ports()
	release := make(chan struct{})
	var once sync.Once
	tr.SetESPBatchHandler(func([][]byte, []netip.AddrPort) { once.Do(func() { <-release }) })
	defer once.Do(func() {})
	defer close(release)
	if err := tr.NATTConns()[0].SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), nattPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := espDatagram(1, 1000)
	for range 300 {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if d := tr.Stats().RecvDrops; d == 0 || d > 300 {
		t.Fatalf("RecvDrops %d after 300 datagrams to a stuck reader", d)
	}
}

// TestSocketBuffers: the transport's sockets get receive buffers above
// the kernel's default (212992 bytes), which overflowed under ESP bursts.
func TestSocketBuffers(t *testing.T) {
	tr, _ := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	for _, c := range append(tr.NATTConns(), tr.IKEConns()...) {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
		if gerr != nil || v <= 212992 {
			t.Errorf("%s: SO_RCVBUF %d (%v)", c.LocalAddr(), v, gerr)
		}
	}
}

// TestESPBatchGRO sends a UDP GSO train (equal segments and a shorter
// last one, an IKE message) to the NAT-T port, which the kernel may hand
// over as one coalesced datagram (UDP GRO): every segment is delivered on
// its own.
func TestESPBatchGRO(t *testing.T) {
	tr, r := newTestTransport(t, netip.MustParseAddr("127.0.0.1"))
	_, nattPort := tr.Ports()
	gro := func() int {
		var v int
		rc, _ := tr.NATTConns()[0].SyscallConn()
		rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO) })
		return v
	}
	got := make(chan []byte, 64)
	tr.SetESPBatchHandler(func(pkts [][]byte, _ []netip.AddrPort) {
		for _, p := range pkts {
			got <- bytes.Clone(p)
		}
	})
	if v := gro(); v != 1 {
		t.Fatalf("UDP_GRO on the NAT-T socket: %d", v)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const segs, size = 10, 200
	var train []byte
	for i := range segs {
		train = append(train, espDatagram(uint32(i+1), size)...)
	}
	ike := append([]byte{0, 0, 0, 0}, ikeHeader(2, 9)...)
	train = append(train, ike...)
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = size
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(nattPort)}
	if _, _, err := c.WriteMsgUDP(train, oob, dst); err != nil {
		t.Skipf("no UDP GSO send here: %v", err)
	}
	for i := range segs {
		p := recv(t, got)
		if len(p) != size || binary.BigEndian.Uint32(p[4:]) != uint32(i+1) {
			t.Fatalf("segment %d: %d bytes, seq %d", i, len(p), binary.BigEndian.Uint32(p[4:]))
		}
	}
	if p := recv(t, r.v2); p.Data[0] != 9 {
		t.Fatalf("IKE at the end of the train: %+v", p)
	}
	if st := tr.Stats(); st.ESP != segs || st.IKEv2 != 1 || st.Malformed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNoGROWithoutESPReceiver: a kernel data plane decapsulates ESP on the
// NAT-T sockets itself; they are left as the kernel made them until a
// userspace receiver registers.
func TestNoGROWithoutESPReceiver(t *testing.T) {
	tr, err := ListenUDP(t.Context(), WithListenAddrs(netip.MustParseAddr("127.0.0.1")), WithPorts(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var v int
	rc, _ := tr.NATTConns()[0].SyscallConn()
	rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO) })
	if v != 0 {
		t.Fatalf("UDP_GRO %d before any ESP receiver", v)
	}
}
