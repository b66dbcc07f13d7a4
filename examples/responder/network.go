package main

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// configureTUN brings the data plane's TUN device up with the server's
// inside addresses: the first address of each pool, with the pool's
// prefix length, so the kernel routes the whole pool into the tunnel.
// The routes and addresses go away with the device when it is closed.
func configureTUN(name string, inside []netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("TUN %s: %w", name, err)
	}
	for _, p := range inside {
		a := &netlink.Addr{IPNet: netlink.NewIPNet(p.Addr().AsSlice())}
		a.IPNet.Mask = netmask(p)
		if p.Addr().Is6() {
			// No duplicate address detection: nobody else is on a TUN,
			// and DAD would hold the address back for a second or two.
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, a); err != nil {
			return fmt.Errorf("TUN %s: address %s: %w", name, p, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("TUN %s: up: %w", name, err)
	}
	return nil
}

func netmask(p netip.Prefix) []byte {
	m := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// addRoutes routes prefixes to the device (the IKEv1 clients' inside
// networks); the routes go away with the device.
func addRoutes(name string, prefixes []netip.Prefix) error {
	if len(prefixes) == 0 {
		return nil
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("route to %s: %w", name, err)
	}
	for _, p := range prefixes {
		dst := netlink.NewIPNet(p.Addr().AsSlice())
		dst.Mask = netmask(p)
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst}); err != nil {
			return fmt.Errorf("route %s to %s: %w", p, name, err)
		}
	}
	return nil
}
