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
// woken. A raw socket also receives a copy of every datagram of its
// protocol; a socket filter that accepts nothing keeps this one's receive
// queue empty.
//
// The socket blocks when its send buffer is full (back pressure, as for
// the poller's sockets), at most a second per call (SO_SNDTIMEO).
// Sends allocate nothing. A RawSender is used by one goroutine at a time;
// Close may be called from any.
type RawSender struct {
	mu    sync.RWMutex // Close against Send
	fd    int          // -1 after Close
	v4    bool
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

// NewRawSender opens a raw IPv4 (v4) or IPv6 socket of protocol proto
// that sends up to size datagrams per call, with bufSize bytes of send
// buffer (best effort, as SetBuffers). It needs CAP_NET_RAW.
func NewRawSender(v4 bool, proto, size, bufSize int) (*RawSender, error) {
	if size < 1 || size > 1024 {
		return nil, errBatchSize(size)
	}
	fam := unix.AF_INET6
	if v4 {
		fam = unix.AF_INET
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: 1, Filter: &drop[0]}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufSize) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bufSize)
	}
	// The smallest receive buffer: the filter drops everything anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Sec: 1}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &RawSender{
		fd:    fd,
		v4:    v4,
		hdrs:  make([]unix.Mmsghdr, size),
		iovs:  make([]unix.Iovec, size),
		names: make([]unix.RawSockaddrInet6, size),
	}, nil
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
			iov := &s.iovs[i]
			if len(b) > 0 {
				iov.Base = &b[0]
			} else {
				iov.Base = nil
			}
			iov.SetLen(len(b))
			h := &s.hdrs[i].Hdr
			h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
			h.Namelen = s.putAddr(&s.names[i], to[sent+i])
			h.Iov = iov
			h.SetIovlen(1)
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
