//go:build linux

package sockio

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reader reads a batch of datagrams with one recvmmsg(2) into the
// caller's buffers. Unlike x/net's ReadBatch it returns source addresses
// as netip.AddrPort values and reuses its headers and control buffers, so
// a read allocates nothing. A Reader is used by one goroutine at a time.
type Reader struct {
	rc     syscall.RawConn
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // large enough for IPv4 and IPv6
	oob    []byte
	oobLen int
	want   int
	got    int
	errno  syscall.Errno
	noWait bool                  // ReadMore: return 0 instead of waiting
	fn     func(fd uintptr) bool // built once: a closure per call would allocate
}

// NewReader returns a Reader for c that reads up to size datagrams per
// call, each with up to oobLen bytes of control messages (0 for none; see
// PacketInfoSpace).
func NewReader(c syscall.Conn, size, oobLen int) (*Reader, error) {
	if size < 1 || size > 1024 {
		return nil, errBatchSize(size)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &Reader{
		rc:     rc,
		hdrs:   make([]unix.Mmsghdr, size),
		iovs:   make([]unix.Iovec, size),
		names:  make([]unix.RawSockaddrInet6, size),
		oob:    make([]byte, size*oobLen),
		oobLen: oobLen,
	}
	r.fn = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.want), 0, 0, 0)
		if e == unix.EAGAIN && r.noWait {
			r.got, r.errno = 0, 0
			return true
		}
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // not ready: the runtime poller waits for readability
		}
		r.got, r.errno = int(n), e
		return true
	}
	return r, nil
}

// Read reads up to min(len(bufs), size) datagrams, blocking until at
// least one arrives, and sets sizes[i] and from[i] for each. A datagram
// larger than its buffer is cut to it (see Truncated).
func (r *Reader) Read(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	r.noWait = false
	return r.read(bufs, sizes, from)
}

// ReadMore is Read without waiting: it returns 0 and no error when no
// datagram is queued. A reader that got a short batch tops it up with
// ReadMore before it hands the batch on: a peer sending a burst packet by
// packet (raw ESP has no segmentation offload) then costs one wake-up per
// batch instead of one per few packets. Control and Truncated refer to
// the datagrams of the last call, Read or ReadMore.
func (r *Reader) ReadMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	r.noWait = true
	return r.read(bufs, sizes, from)
}

func (r *Reader) read(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	r.want = min(len(bufs), len(r.hdrs))
	r.got = 0
	for i := range r.want {
		r.iovs[i].Base = &bufs[i][0]
		r.iovs[i].SetLen(len(bufs[i]))
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		if r.oobLen > 0 {
			h.Control = &r.oob[i*r.oobLen]
			h.SetControllen(r.oobLen)
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		h.Flags = 0
	}
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	for i := range r.got {
		sizes[i] = int(r.hdrs[i].Len)
		from[i] = sockaddrAddrPort(&r.names[i])
	}
	return r.got, nil
}

// Control returns the control messages of datagram i of the last Read;
// valid until the next Read.
func (r *Reader) Control(i int) []byte {
	if i < 0 || i >= r.got || r.oobLen == 0 {
		return nil
	}
	n := int(r.hdrs[i].Hdr.Controllen)
	return r.oob[i*r.oobLen : i*r.oobLen+min(n, r.oobLen)]
}

// Truncated reports whether datagram i of the last Read was larger than
// its buffer.
func (r *Reader) Truncated(i int) bool {
	return i >= 0 && i < r.got && r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0
}

// sockaddrAddrPort decodes a kernel sockaddr_in or sockaddr_in6.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// PacketInfoSpace is the control buffer size for one IP_PKTINFO or
// IPV6_PKTINFO message (the larger of the two).
var PacketInfoSpace = max(unix.CmsgSpace(unix.SizeofInet4Pktinfo), unix.CmsgSpace(unix.SizeofInet6Pktinfo))

// PacketDst returns the destination address the kernel reported in an
// IP_PKTINFO or IPV6_PKTINFO control message of oob (the caller enabled
// them on the socket), unmapped; false if there is none.
func PacketDst(oob []byte) (netip.Addr, bool) {
	var a netip.Addr
	ok := walkCmsgs(oob, func(level, typ int32, data []byte) bool {
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			a = netip.AddrFrom4([4]byte(data[8:12]))
			return true
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; int ifindex; }
			a = netip.AddrFrom16([16]byte(data[:16])).Unmap()
			return true
		}
		return false
	})
	return a, ok
}

// GROSegment returns the segment size of a datagram the kernel coalesced
// from several (UDP GRO, see EnableUDPGRO): every segment but the last has
// this size. false when oob has no UDP_GRO message (a single datagram).
func GROSegment(oob []byte) (int, bool) {
	var n int
	ok := walkCmsgs(oob, func(level, typ int32, data []byte) bool {
		if level == unix.SOL_UDP && typ == unix.UDP_GRO && len(data) >= 4 {
			n = int(*(*int32)(unsafe.Pointer(&data[0])))
			return n > 0
		}
		return false
	})
	return n, ok
}

// walkCmsgs calls f for each well-formed control message of oob until f
// returns true, and reports whether it did.
func walkCmsgs(oob []byte, f func(level, typ int32, data []byte) bool) bool {
	hl := unix.CmsgLen(0)
	for len(oob) >= hl {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			return false
		}
		if f(h.Level, h.Type, oob[hl:l]) {
			return true
		}
		s := unix.CmsgSpace(l - hl)
		if s > len(oob) {
			return false
		}
		oob = oob[s:]
	}
	return false
}

// GROSpace is the control buffer size for a UDP_GRO message.
var GROSpace = unix.CmsgSpace(4)

// EnableUDPGRO asks the kernel to hand c's datagrams over coalesced where
// it can (UDP_GRO, Linux 5.0+): one receive then carries a run of
// equal-sized datagrams of one peer, such as a UDP GSO burst, with the
// segment size in a control message (GROSegment). Callers must split
// what they read. It reports whether the kernel accepted it.
func EnableUDPGRO(c syscall.Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		ok = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1) == nil
	})
	return ok
}

// SetBuffers raises the socket's receive and send buffers to size bytes:
// with SO_RCVBUFFORCE and SO_SNDBUFFORCE when the process may
// (CAP_NET_ADMIN), else within net.core.rmem_max and wmem_max.
func SetBuffers(c syscall.Conn, size int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], size) == nil {
				continue
			}
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], size); e != nil && serr == nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// Drops returns how many datagrams the kernel dropped on c since it was
// opened because its receive queue was full (or, for UDP, other receive
// errors; SO_MEMINFO's SK_MEMINFO_DROPS). false when the kernel does not
// say.
func Drops(c syscall.Conn) (uint64, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var mi [unix.SK_MEMINFO_VARS]uint32
	var ok bool
	_ = rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mi))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&l)), 0)
		ok = e == 0 && l > unix.SK_MEMINFO_DROPS*4
	})
	if !ok {
		return 0, false
	}
	return uint64(mi[unix.SK_MEMINFO_DROPS]), true
}
