//go:build linux

package esp

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkStats reads a network device's drop counters over rtnetlink: what
// the kernel dropped on the TUN device is a drop in our path too (its
// transmit ring overflows when the engine's TUN reader falls behind). The
// netlink socket is opened when the engine starts, in the network
// namespace of the device, and kept.
type linkStats struct {
	mu    sync.Mutex
	fd    int
	index int32
	buf   []byte
}

func newLinkStats(name string) *linkStats {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil // not a kernel device (tests' in-memory TUNs)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil
	}
	// A reply that never comes must not hang Stats.
	tv := unix.Timeval{Sec: 1}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &linkStats{fd: fd, index: int32(ifi.Index), buf: make([]byte, 32<<10)}
}

// drops returns the device's rx_dropped (packets we wrote that the kernel
// dropped) and tx_dropped (packets for us the kernel dropped).
func (l *linkStats) drops() (rx, tx uint64, ok bool) {
	if l == nil {
		return 0, 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return 0, 0, false
	}
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.RTM_GETLINK)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence number
	// struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }
	ne.PutUint32(req[unix.NLMSG_HDRLEN+4:], uint32(l.index))
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, false
	}
	n, _, err := unix.Recvfrom(l.fd, l.buf, 0)
	if err != nil || n < unix.NLMSG_HDRLEN {
		return 0, 0, false
	}
	msgs, err := syscall.ParseNetlinkMessage(l.buf[:n])
	if err != nil {
		return 0, 0, false
	}
	for i := range msgs {
		if msgs[i].Header.Type != unix.RTM_NEWLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&msgs[i])
		if err != nil {
			return 0, 0, false
		}
		for _, a := range attrs {
			// struct rtnl_link_stats64: rx/tx packets, bytes, errors, then
			// rx_dropped and tx_dropped, all u64.
			if a.Attr.Type == unix.IFLA_STATS64 && len(a.Value) >= 64 {
				return ne.Uint64(a.Value[48:]), ne.Uint64(a.Value[56:]), true
			}
		}
	}
	return 0, 0, false
}

func (l *linkStats) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}
