//go:build linux

package esp

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgReader reads a batch of datagrams with one recvmmsg(2) into the
// caller's buffers. Unlike x/net's ReadBatch it returns source addresses
// as netip.AddrPort values, so the receive path allocates nothing.
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 and IPv6
	want  int
	got   int
	errno syscall.Errno
	fn    func(fd uintptr) bool // built once: a closure per call would allocate
}

func newBatchReader(c syscall.Conn, size int) (batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{rc: rc, hdrs: make([]unix.Mmsghdr, size), iovs: make([]unix.Iovec, size), names: make([]unix.RawSockaddrInet6, size)}
	r.fn = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.want), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // not ready: the runtime poller waits for readability
		}
		r.got, r.errno = int(n), e
		return true
	}
	return r, nil
}

func (r *mmsgReader) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	r.want = min(len(bufs), len(r.hdrs))
	for i := range r.want {
		r.iovs[i].Base = &bufs[i][0]
		r.iovs[i].SetLen(len(bufs[i]))
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
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
