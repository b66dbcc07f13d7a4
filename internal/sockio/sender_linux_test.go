//go:build linux

package sockio

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireRoot skips (fails under CI=true) where raw sockets cannot be
// opened.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("missing prerequisite: root (raw sockets)")
	}
	t.Skip("missing prerequisite: root (raw sockets); run ./scripts/test as root")
}

// testProto is IP protocol 253, reserved for experimentation (RFC 3692):
// no real traffic of it reaches the test's raw sockets.
const testProto = 253

// TestReadMore: ReadMore returns what is queued without waiting, and 0
// without an error when nothing is.
func TestReadMore(t *testing.T) {
	rd, wr := loopbackPair(t)
	r, err := NewReader(rd, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 64)
	}
	sizes, from := make([]int, 8), make([]netip.AddrPort, 8)
	start := time.Now()
	if n, err := r.ReadMore(bufs, sizes, from); n != 0 || err != nil {
		t.Fatalf("empty queue: %d, %v", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ReadMore waited %v on an empty queue", d)
	}
	for i := range 3 {
		if _, err := wr.Write([]byte{byte(i), 1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < 3 && time.Now().Before(deadline); {
		n, err := r.ReadMore(bufs[got:], sizes[got:], from[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if got != 3 {
		t.Fatalf("read %d of 3 queued datagrams", got)
	}
	for i := range 3 {
		if sizes[i] != 3 || bufs[i][0] != byte(i) || from[i] != wr.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Errorf("datagram %d: size %d first byte %d from %v", i, sizes[i], bufs[i][0], from[i])
		}
	}
	// Read still waits for the next datagram.
	go func() { time.Sleep(50 * time.Millisecond); wr.Write([]byte{9}) }()
	if n, err := r.Read(bufs, sizes, from); n != 1 || err != nil || bufs[0][0] != 9 {
		t.Fatalf("Read after ReadMore: %d, %v", n, err)
	}
}

// TestRawSender sends a batch of raw datagrams over loopback, checks what
// a raw socket of the protocol receives, that the sender itself stays out
// of the runtime's poller (no wake-up per sent packet) and allocates
// nothing, and that Send fails after Close.
func TestRawSender(t *testing.T) {
	requireRoot(t)
	for _, v4 := range []bool{true, false} {
		name, network, dst := "ipv6", "ip6:"+strconv.Itoa(testProto), netip.IPv6Loopback()
		if v4 {
			name, network, dst = "ipv4", "ip4:"+strconv.Itoa(testProto), netip.MustParseAddr("127.0.0.1")
		}
		t.Run(name, func(t *testing.T) {
			rc, err := net.ListenIP(network, nil)
			if err != nil {
				t.Skipf("no %s raw socket: %v", name, err)
			}
			defer rc.Close()
			s, err := NewRawSender(v4, testProto, 4, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var rfd int
			if sc, err := rc.SyscallConn(); err == nil {
				sc.Control(func(fd uintptr) { rfd = int(fd) })
			}
			if !watchedByPoller(t, rfd) {
				t.Fatal("the check does not see the reading socket in the poller: it would prove nothing")
			}
			if watchedByPoller(t, s.fd) {
				t.Fatal("the sender's socket is in an epoll set: every sent packet would wake the poller")
			}
			const k = 10 // more than a batch: Send loops
			bufs, to := make([][]byte, k), make([]netip.Addr, k)
			for i := range k {
				bufs[i] = bytes.Repeat([]byte{byte(i + 1)}, 100+i)
				to[i] = dst
			}
			if n, err := s.Send(bufs, to); n != k || err != nil {
				t.Fatalf("Send: %d, %v", n, err)
			}
			r, err := NewReader(rc, 16, 0)
			if err != nil {
				t.Fatal(err)
			}
			rb := make([][]byte, 16)
			for i := range rb {
				rb[i] = make([]byte, 512)
			}
			sizes, from := make([]int, 16), make([]netip.AddrPort, 16)
			rc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := 0
			for got < k {
				n, err := r.Read(rb[got:], sizes[got:], from[got:])
				if err != nil {
					t.Fatalf("received %d of %d: %v", got, k, err)
				}
				got += n
			}
			for i := range k {
				p := rb[i][:sizes[i]]
				if v4 { // IPv4 raw sockets deliver the IP header
					h := p[:20]
					if h[0] != 0x45 || h[8] != defaultTTL || h[9] != testProto || h[6]&0x40 != 0 ||
						netip.AddrFrom4([4]byte(h[12:16])) != dst || ipChecksum(h) != 0 || int(h[2])<<8|int(h[3]) != len(p) {
						t.Errorf("datagram %d: IPv4 header % x (want version 4, TTL 64, protocol %d, no DF, the kernel's source, length and checksum)", i, h, testProto)
					}
					p = p[int(p[0]&0x0f)*4:]
				}
				if !bytes.Equal(p, bufs[i]) || from[i].Addr() != dst {
					t.Errorf("datagram %d: %d bytes from %v, want %d bytes from %v", i, len(p), from[i], len(bufs[i]), dst)
				}
			}
			// Larger than the device's MTU (loopback: 65536): refused, not
			// fragmented, and the caller learns which one.
			big := [][]byte{bufs[0], make([]byte, 65600), bufs[1]}
			if n, err := s.Send(big, to[:3]); n != 1 || !errors.Is(err, unix.EMSGSIZE) {
				t.Errorf("Send of a datagram above the MTU: %d, %v; want 1, EMSGSIZE", n, err)
			}
			if a := testing.AllocsPerRun(20, func() { s.Send(bufs[:4], to[:4]) }); a != 0 {
				t.Errorf("Send: %.1f allocations, want 0", a)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Send(bufs, to); n != 0 || err != ErrClosed {
				t.Fatalf("Send after Close: %d, %v", n, err)
			}
		})
	}
}

// watchedByPoller reports whether fd is registered in an epoll instance
// of this process (the Go runtime's poller), from /proc/self/fdinfo.
func watchedByPoller(t *testing.T, fd int) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	epolls := 0
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || l != "anon_inode:[eventpoll]" {
			continue
		}
		epolls++
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(info)) {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "tfd:" && f[1] == strconv.Itoa(fd) {
				return true
			}
		}
	}
	if epolls == 0 {
		t.Fatal("no epoll instance found: the check would prove nothing")
	}
	return false
}

// ipChecksum is the Internet checksum of b (0 over a header with a valid
// checksum field).
func ipChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
