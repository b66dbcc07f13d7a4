//go:build linux

package sockio

import (
	"errors"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RawSender sends IP datagrams of one protocol (ESP: 50) with
// sendmmsg(2) on a socket of its own that the Go runtime's poller does not
// watch and that receives nothing.
//
// Why not the socket that reads: every datagram the kernel frees after
// sending it signals "writable" on its socket (sock_wfree), and on a socket
// in the runtime's epoll set that wakes the poller thread, once per packet
// of a burst. Raw IP has no segmentation offload, so a 64 KiB TCP segment
// through the tunnel is 45 sends and as many needless wake-ups (cross-CPU
// interrupts, costly in virtual machines). Without a waiter nobody is
// woken.
//
// Why it receives nothing: the kernel hands every raw socket of a
// protocol its own copy of each inbound datagram. The IPv4 sender is an
// IPPROTO_RAW socket, which no datagram matches; it writes the IPv4
// header itself (IP_HDRINCL, in a second iovec: the caller's buffers need
// no headroom) with the source address, ID, length and checksum left to
// the kernel, and without DF: the kernel's own header would set DF and
// shrink later datagrams to a path MTU it learns from ICMP, which it does
// not do for datagrams with our header, so a router on a narrower path
// fragments them instead of dropping them. The kernel does not fragment
// them itself: one larger than the device's MTU fails with EMSGSIZE, and
// the caller sends it another way. The IPv6 sender (IPPROTO_RAW would need the source
// address) is a socket of the protocol with a filter that accepts
// nothing, which still costs the kernel a copy per inbound datagram.
//
// The socket blocks when its send buffer is full (back pressure, as for
// the poller's sockets), at most a second per call (SO_SNDTIMEO).
// Sends allocate nothing. A RawSender is used by one goroutine at a time;
// Close may be called from any.
type RawSender struct {
	mu    sync.RWMutex // Close against Send
	fd    int          // -1 after Close
	v4    bool
	proto byte
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec // two per datagram on IPv4: header, payload
	names []unix.RawSockaddrInet6
	ip4   [][ipv4HeaderLen]byte
}

const (
	ipv4HeaderLen = 20
	defaultTTL    = 64 // Linux's net.ipv4.ip_default_ttl
)

// NewRawSender opens a raw IPv4 (v4) or IPv6 socket that sends datagrams
// of protocol proto, up to size per call, with bufSize bytes of send
// buffer (best effort, as SetBuffers). It needs CAP_NET_RAW.
func NewRawSender(v4 bool, proto, size, bufSize int) (*RawSender, error) {
	if size < 1 || size > 1024 {
		return nil, errBatchSize(size)
	}
	if proto < 0 || proto > 254 {
		return nil, errors.New("sockio: IP protocol out of range 0..254")
	}
	fam, sp := unix.AF_INET6, proto
	if v4 {
		fam, sp = unix.AF_INET, unix.IPPROTO_RAW
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, sp)
	if err != nil {
		return nil, err
	}
	if !v4 {
		drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: 1, Filter: &drop[0]}); err != nil {
			unix.Close(fd)
			return nil, err
		}
		// The smallest receive buffer: the filter drops everything anyway.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufSize) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bufSize)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Sec: 1}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s := &RawSender{
		fd:    fd,
		v4:    v4,
		proto: byte(proto),
		hdrs:  make([]unix.Mmsghdr, size),
		iovs:  make([]unix.Iovec, 2*size),
		names: make([]unix.RawSockaddrInet6, size),
	}
	if v4 {
		s.ip4 = make([][ipv4HeaderLen]byte, size)
	}
	return s, nil
}

// ErrClosed is returned by RawSender.Send after Close.
var ErrClosed = errors.New("sockio: sender closed")

// Send sends bufs[i] to to[i] (only the address counts; IPv4-mapped
// addresses on an IPv4 sender) with as few sendmmsg calls as it can. It
// returns how many datagrams the kernel took; on an error, datagram n (the
// one refused) is not sent and the caller decides whether to go on with
// bufs[n+1:].
func (s *RawSender) Send(bufs [][]byte, to []netip.Addr) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, ErrClosed
	}
	sent := 0
	for sent < len(bufs) {
		k := min(len(bufs)-sent, len(s.hdrs))
		for i := range k {
			b := bufs[sent+i]
			iov := s.iovs[2*i : 2*i+2]
			if s.v4 {
				s.putIPv4Header(&s.ip4[i], to[sent+i])
				iov[0].Base = &s.ip4[i][0]
				iov[0].SetLen(ipv4HeaderLen)
				iov = iov[1:]
			}
			if len(b) > 0 {
				iov[0].Base = &b[0]
			} else {
				iov[0].Base = nil
			}
			iov[0].SetLen(len(b))
			h := &s.hdrs[i].Hdr
			h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
			h.Namelen = s.putAddr(&s.names[i], to[sent+i])
			h.Iov = &s.iovs[2*i]
			if s.v4 {
				h.SetIovlen(2)
			} else {
				h.SetIovlen(1)
			}
			h.Control = nil
			h.SetControllen(0)
			h.Flags = 0
		}
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(k), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return sent, e
		}
		sent += int(n)
	}
	return sent, nil
}

// putIPv4Header writes the header the kernel completes (IP_HDRINCL):
// version and length, TTL, protocol and destination; total length,
// checksum, ID and (zero) source address are the kernel's.
func (s *RawSender) putIPv4Header(h *[ipv4HeaderLen]byte, dst netip.Addr) {
	*h = [ipv4HeaderLen]byte{0: 0x45, 8: defaultTTL, 9: s.proto}
	d := dst.Unmap().As4()
	copy(h[16:], d[:])
}

// putAddr writes a into sa as the sender's family wants it and returns
// the address length.
func (s *RawSender) putAddr(sa *unix.RawSockaddrInet6, a netip.Addr) uint32 {
	if s.v4 {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	return unix.SizeofSockaddrInet6
}

// Close closes the socket; Sends after it return ErrClosed. It waits for
// a running Send (bounded by the send timeout).
func (s *RawSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
