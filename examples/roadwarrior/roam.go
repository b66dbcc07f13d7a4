package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/goipsec/ipsec/ike"
)

// roamSettle is how long the host's addresses and routes must be quiet
// before roadwarrior looks at the path to the gateway again: a network
// change (Wi-Fi to cable, DHCP renewal) comes as a burst of netlink
// messages, and moving in the middle of it would pick a half-configured
// uplink.
const roamSettle = 300 * time.Millisecond

// roam watches the host's addresses and routes while sa is up and moves
// the SA when the path to the gateway now starts from another local
// address: the address in use went away, or the route to the gateway
// changed to another uplink. With MOBIKE (RFC 4555), which strongSwan and
// the responder example offer, the IKE and CHILD SAs move without new
// keys; without it the SA is reauthenticated from the new address. After
// any reauthentication it applies what the new IKE SA brings (refresh).
// It returns when ctx is done or the SA ends.
func (c *client) roam(ctx context.Context, sa *ike.SA) {
	done := make(chan struct{})
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	defer func() {
		close(done)
		// The subscriptions' readers close the channels once they see
		// done; drain them so none blocks on a send meanwhile.
		go func() {
			for range addrs {
			}
		}()
		go func() {
			for range routes {
			}
		}()
	}()
	onErr := func(err error) { c.log.Debug("netlink subscription", "err", err) }
	// Without a subscription (nil channel) the loop still handles
	// reauthentications.
	addrC, routeC := (<-chan netlink.AddrUpdate)(addrs), (<-chan netlink.RouteUpdate)(routes)
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		c.log.Warn("cannot watch the host's addresses: no roaming", "err", err)
		addrC = nil
	}
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{ErrorCallback: onErr}); err != nil {
		c.log.Warn("cannot watch the host's routes: no roaming", "err", err)
		routeC = nil
	}
	tunIdx := c.net.link.Attrs().Index
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sa.Done():
			return
		case u, ok := <-addrC:
			if !ok {
				c.log.Warn("address subscription ended: no roaming")
				addrC = nil
				continue
			}
			if u.LinkIndex != tunIdx {
				settle.Reset(roamSettle)
			}
		case u, ok := <-routeC:
			if !ok {
				c.log.Warn("route subscription ended: no roaming")
				routeC = nil
				continue
			}
			// Our own routes into the TUN device change nothing about
			// the path to the gateway.
			if u.LinkIndex != tunIdx {
				settle.Reset(roamSettle)
			}
		case <-settle.C:
			c.checkPath(ctx, sa)
		case up := <-c.ikeUp:
			c.refresh(ctx, sa, up)
		}
	}
}

// checkPath moves sa when the path to the gateway starts from another
// local address than the SA uses. In full-tunnel mode the gateway's host
// route (which keeps IKE and ESP out of the tunnel) first follows the
// best route of the uplinks, so the kernel's choice of source address is
// the new uplink's.
func (c *client) checkPath(ctx context.Context, sa *ike.SA) {
	info := sa.Info()
	gw, cur := info.Remote.Addr(), info.Local.Addr()
	if !gw.IsValid() {
		return
	}
	if err := c.net.repinGateway(gw); err != nil {
		c.log.Warn("no path to the gateway outside the tunnel: waiting for the network", "gateway", gw, "err", err)
		return
	}
	src, err := sourceFor(gw)
	if err != nil {
		c.log.Warn("no path to the gateway: waiting for the network", "gateway", gw, "err", err)
		return
	}
	if src == cur {
		return
	}
	c.log.Info("path to the gateway changed: moving the SA", "gateway", gw, "from", cur, "to", src)
	mctx, cancel := context.WithTimeout(ctx, c.s.dialTO)
	defer cancel()
	if err := sa.Migrate(mctx, src); err != nil {
		// Dead peer detection ends the SA if the new path does not work
		// either; the next network change tries again.
		c.log.Warn("moving the SA failed", "to", src, "err", err)
		return
	}
	fmt.Fprintf(c.out, "tunnel moved: local %v (was %v)\n", src, cur)
}

// sourceFor is the local address the kernel uses towards dst.
func sourceFor(dst netip.Addr) (netip.Addr, error) {
	rs, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return netip.Addr{}, err
	}
	if len(rs) == 0 {
		return netip.Addr{}, errors.New("no route")
	}
	src, ok := netip.AddrFromSlice(rs[0].Src)
	if !ok || src.IsUnspecified() {
		return netip.Addr{}, errors.New("no source address")
	}
	return src.Unmap(), nil
}
