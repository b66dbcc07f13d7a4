//go:build linux

package esp

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (Linux 4.18+): one sendmsg carries up
// to udpGSOMaxSegments equal-sized ESP packets to one peer and the kernel
// (or the NIC) splits them, which is how wireguard-go reaches its speed.
const (
	udpGSOMaxSegments = 64    // UDP_MAX_SEGMENTS in Linux 6.1
	udpGSOMaxBytes    = 65000 // payload bytes per send, below the 64 KiB IP limit
)

var segmentCmsgSpace = unix.CmsgSpace(2)

// udpGSOSupported reports whether the kernel accepts UDP_SEGMENT on c.
func udpGSOSupported(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// segmentCmsg writes a UDP_SEGMENT control message for segments of size
// bytes into b (at least segmentCmsgSpace long) and returns it.
func segmentCmsg(b []byte, size int) []byte {
	b = b[:segmentCmsgSpace]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = uint16(size)
	return b
}
