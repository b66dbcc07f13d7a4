//go:build linux

package xfrm

import (
	"fmt"
	"net"

	"github.com/goipsec/ipsec/esp"

	"golang.org/x/sys/unix"
)

// EnableUDPEncap switches the IKE socket on port 4500 to
// UDP_ENCAP_ESPINUDP (RFC 3948), so that the kernel takes ESP-in-UDP
// packets out of it and decrypts them with the XFRM states, and exempts
// the socket from IPsec policies (BypassSocket).
//
// Afterwards the socket still receives IKE packets, WITH their four-byte
// non-ESP marker (the kernel does not strip it); NAT keepalives (a single
// 0xFF) and ESP packets no longer reach userspace. Sending is unchanged:
// IKE messages must still carry the marker.
func EnableUDPEncap(c *net.UDPConn) error {
	if c == nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: nil connection")
	}
	err := control(c, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
	})
	if err != nil {
		return fmt.Errorf("xfrm: EnableUDPEncap: setsockopt UDP_ENCAP: %w", err)
	}
	return BypassSocket(c)
}

// BypassSocket installs per-socket XFRM policies that let the socket's
// traffic pass in the clear in both directions, whatever the system's
// policies say. IKE sockets (ports 500 and 4500) need them: a
// transport-mode policy between two hosts covers their IKE packets too,
// and the kernel would otherwise encrypt outgoing IKE messages or drop
// incoming ones (including ESP in UDP, whose policy check happens on the
// socket before decapsulation). strongSwan does the same.
func BypassSocket(c *net.UDPConn) error {
	if c == nil {
		return fmt.Errorf("xfrm: BypassSocket: nil connection")
	}
	err := control(c, func(fd int) error {
		dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			return err
		}
		level, opt, fam := unix.IPPROTO_IP, unix.IP_XFRM_POLICY, uint16(afInet)
		if dom == unix.AF_INET6 {
			level, opt, fam = unix.IPPROTO_IPV6, unix.IPV6_XFRM_POLICY, afInet6
		}
		for _, dir := range []uint8{0, 1} { // XFRM_POLICY_IN, XFRM_POLICY_OUT
			if err := unix.SetsockoptString(fd, level, opt, string(bypassPolicy(dir, fam))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("xfrm: BypassSocket: setsockopt XFRM_POLICY: %w", err)
	}
	return nil
}

// control runs f on the connection's file descriptor.
func control(c *net.UDPConn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// UseTransport readies the sockets of an IKE transport (an
// *ike.Transport) for this data plane; call it before the engines serve,
// in either order with New's caller opening the transport:
//
//   - every NAT-T socket (NATTConns) gets EnableUDPEncap, so the kernel
//     decapsulates the ESP in UDP that arrives on it and the socket's IKE
//     packets bypass IPsec policies;
//   - if the transport also lists its port 500 sockets (a method
//     IKEConns() []*net.UDPConn), they get BypassSocket, which
//     transport-mode policies between the two hosts (L2TP/IPsec) need;
//   - the data plane sends NAT keepalives on the NAT-T sockets (the
//     kernel sends none) for outbound SAs with esp.SA.NATKeepalive, at
//     the interval of WithNATKeepalive (esp.DefaultNATKeepalive without
//     it; WithNATKeepalive(nil, d) sets only the interval).
//
// The transport keeps reading its sockets; afterwards it sees IKE packets
// only (with their non-ESP marker, which it strips). The socket settings
// are not undone: they end with the sockets.
func (d *DataPlane) UseTransport(t Transport) error {
	if t == nil {
		return fmt.Errorf("xfrm: UseTransport: nil transport")
	}
	natt := t.NATTConns()
	if len(natt) == 0 {
		return fmt.Errorf("xfrm: UseTransport: the transport has no NAT-T socket")
	}
	for _, c := range natt {
		if err := EnableUDPEncap(c); err != nil {
			return fmt.Errorf("xfrm: UseTransport: %s: %w", c.LocalAddr(), err)
		}
	}
	if ic, ok := t.(interface{ IKEConns() []*net.UDPConn }); ok {
		for _, c := range ic.IKEConns() {
			if err := BypassSocket(c); err != nil {
				return fmt.Errorf("xfrm: UseTransport: %s: %w", c.LocalAddr(), err)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	d.kaConns = append(d.kaConns, natt...)
	d.startKeepalivesLocked()
	return nil
}
