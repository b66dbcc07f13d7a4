//go:build linux

package xfrm

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// EnableUDPEncap switches the IKE socket on port 4500 to
// UDP_ENCAP_ESPINUDP (RFC 3948), so that the kernel takes ESP-in-UDP
// packets out of it and decrypts them with the XFRM states. The socket
// keeps receiving IKE packets, still prefixed with the four-byte non-ESP
// marker (the kernel does not strip it); NAT keepalives (a single 0xFF)
// and ESP packets no longer reach userspace. Sending is unchanged: IKE
// messages must still carry the marker.
func EnableUDPEncap(c *net.UDPConn) error {
	if c == nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: nil connection")
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
	}); err != nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: setsockopt UDP_ENCAP: %w", serr)
	}
	return nil
}
