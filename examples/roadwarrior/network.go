package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fullTunnel4 and fullTunnel6 cover everything with two halves each: more
// specific than the default routes, so they win without replacing them,
// and the default routes come back by themselves when ours go.
var (
	fullTunnel4 = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}
	fullTunnel6 = []netip.Prefix{netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}
)

// tunnelNet puts the virtual addresses on the TUN device and routes
// through it; remove undoes exactly what apply did.
type tunnelNet struct {
	link netlink.Link
	log  *slog.Logger

	mu     sync.Mutex
	addrs  []*netlink.Addr
	routes []*netlink.Route
	gwPin  *netlink.Route // the gateway's host route outside the tunnel (full tunnel only), also in routes
}

func newTunnelNet(name string, log *slog.Logger) (*tunnelNet, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("TUN %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("TUN %s: up: %w", name, err)
	}
	return &tunnelNet{link: link, log: log}, nil
}

// apply adds the virtual addresses and routes dsts through the device. A
// /0 becomes its two halves (more specific than the default route, which
// stays untouched). When a tunnel route covers the gateway (a /0, or a
// split subnet holding it), the gateway first gets a host route over its
// current path so IKE and ESP do not loop into the tunnel.
func (n *tunnelNet) apply(vips []netip.Addr, gateway netip.Addr, dsts []netip.Prefix) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	src := map[bool]netip.Addr{}
	for _, v := range vips {
		bits := 32
		a := &netlink.Addr{IPNet: netlink.NewIPNet(v.AsSlice())}
		if v.Is6() {
			bits = 128
			// Nobody else is on a TUN: no duplicate address detection,
			// which would hold the address back for a second or two.
			a.Flags = unix.IFA_F_NODAD
		}
		a.IPNet.Mask = net.CIDRMask(bits, bits)
		if err := netlink.AddrReplace(n.link, a); err != nil {
			return fmt.Errorf("TUN %s: address %v: %w", n.link.Attrs().Name, v, err)
		}
		n.addrs = append(n.addrs, a)
		if _, ok := src[v.Is6()]; !ok {
			src[v.Is6()] = v
		}
	}
	var routes []netip.Prefix
	pin := false
	for _, d := range dsts {
		// A tunnel route covering the gateway (everything, or a split
		// subnet that happens to hold it) needs the gateway's host route.
		if _, ok := src[gateway.Is6()]; ok && d.Contains(gateway) {
			pin = true
		}
		if d.Bits() != 0 {
			routes = append(routes, d)
			continue
		}
		if d.Addr().Is4() {
			routes = append(routes, fullTunnel4...)
		} else {
			routes = append(routes, fullTunnel6...)
		}
	}
	if pin {
		if err := n.excludeGateway(gateway); err != nil {
			return err
		}
	}
	for _, d := range routes {
		s, ok := src[d.Addr().Is6()]
		if !ok {
			n.log.Warn("no virtual address of this family: not routed", "prefix", d)
			continue
		}
		r := &netlink.Route{LinkIndex: n.link.Attrs().Index, Dst: prefixNet(d), Src: s.AsSlice(), Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("route %v via %s: %w", d, n.link.Attrs().Name, err)
		}
		n.routes = append(n.routes, r)
	}
	return nil
}

// tsPrefixes turns the gateway's traffic selectors (strongSwan notation:
// "10.0.0.0/8", "10.0.0.1/32[udp/53]", "10.0.0.1..10.0.0.9") into
// prefixes to route; a protocol or port restriction still routes the
// whole prefix, and ranges that are not a prefix are skipped.
func tsPrefixes(ts []string, log *slog.Logger) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ts {
		if i := strings.IndexByte(s, '['); i >= 0 {
			s = s[:i]
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			log.Warn("traffic selector is not a prefix: not routed (use -split)", "ts", s)
			continue
		}
		if !slices.Contains(out, p.Masked()) {
			out = append(out, p.Masked())
		}
	}
	return out
}

// gatewayRoutes is what goes through the tunnel without -split. A gateway
// that pushes subnets (INTERNAL_IP4/6_SUBNET) offers a split tunnel: those
// subnets, plus what narrower traffic selectors add, and no /0 even if its
// selectors still cover everything (the subnets say what it wants routed).
// Without pushed subnets, what the selectors cover: everything
// (0.0.0.0/0, ::/0) for a full tunnel, or the subnets a split-tunnel
// gateway narrowed them to; no usable selector at all means everything.
func gatewayRoutes(subnets, ts []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	add := func(p netip.Prefix) {
		p = p.Masked()
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(subnets) > 0 {
		for _, p := range subnets {
			add(p)
		}
		for _, p := range ts {
			if p.Bits() > 0 && !covered(out, p) {
				add(p)
			}
		}
		return out
	}
	for _, p := range ts {
		add(p)
	}
	if len(out) == 0 {
		out = []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0), netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
	}
	return out
}

// covered reports whether one of ps contains all of p.
func covered(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q.Addr().Is4() == p.Addr().Is4() && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// excludeGateway pins the gateway's address to the path it has now.
func (n *tunnelNet) excludeGateway(gw netip.Addr) error {
	rs, err := netlink.RouteGet(gw.AsSlice())
	if err != nil || len(rs) == 0 {
		return fmt.Errorf("no route to the gateway %v: %v", gw, err)
	}
	if rs[0].LinkIndex == n.link.Attrs().Index {
		return fmt.Errorf("the gateway %v is routed through %s itself", gw, n.link.Attrs().Name)
	}
	r := &netlink.Route{LinkIndex: rs[0].LinkIndex, Dst: prefixNet(netip.PrefixFrom(gw, gw.BitLen())), Gw: rs[0].Gw}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("route to the gateway %v: %w", gw, err)
	}
	n.routes = append(n.routes, r)
	n.gwPin = r
	return nil
}

// repinGateway points the gateway's host route (full tunnel) at the best
// route the uplinks now have towards it, after a network change: the old
// uplink may be gone, and without the host route IKE and ESP would loop
// into the tunnel. It does nothing in split mode, and nothing when the
// host route is still in place and still the best.
func (n *tunnelNet) repinGateway(gw netip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gwPin == nil {
		return nil
	}
	best, err := bestUplinkRoute(gw, n.link.Attrs().Index)
	if err != nil {
		return err
	}
	if best.LinkIndex == n.gwPin.LinkIndex && best.Gw.Equal(n.gwPin.Gw) && routePresent(n.gwPin) {
		return nil
	}
	r := &netlink.Route{LinkIndex: best.LinkIndex, Dst: n.gwPin.Dst, Gw: best.Gw}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("route to the gateway %v: %w", gw, err)
	}
	n.log.Info("gateway host route follows the uplink", "gateway", gw, "link_index", best.LinkIndex, "via", best.Gw)
	for i, old := range n.routes {
		if old == n.gwPin {
			n.routes[i] = r
		}
	}
	n.gwPin = r
	return nil
}

// routePresent reports whether the kernel still has r (a link going down
// takes its routes along).
func routePresent(r *netlink.Route) bool {
	family := netlink.FAMILY_V4
	if r.Dst.IP.To4() == nil {
		family = netlink.FAMILY_V6
	}
	rs, err := netlink.RouteListFiltered(family, &netlink.Route{Dst: r.Dst, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false
	}
	for _, k := range rs {
		if k.LinkIndex == r.LinkIndex && k.Gw.Equal(r.Gw) {
			return true
		}
	}
	return false
}

// bestUplinkRoute is the main table's route towards gw that the kernel
// would take if neither the TUN device's routes nor our host route to gw
// existed: the longest matching prefix, then the lowest metric, among
// unicast routes on working links.
func bestUplinkRoute(gw netip.Addr, tunIdx int) (*netlink.Route, error) {
	family := netlink.FAMILY_V4
	if gw.Is6() {
		family = netlink.FAMILY_V6
	}
	rs, err := netlink.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	var best *netlink.Route
	bestBits := -1
	for i := range rs {
		r := &rs[i]
		link, via := r.LinkIndex, r.Gw
		if len(r.MultiPath) > 0 {
			link, via = r.MultiPath[0].LinkIndex, r.MultiPath[0].Gw
		}
		if link == 0 || link == tunIdx || (r.Type != 0 && r.Type != unix.RTN_UNICAST) ||
			r.Flags&(unix.RTNH_F_LINKDOWN|unix.RTNH_F_DEAD) != 0 {
			continue
		}
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if gw.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			dst = netip.PrefixFrom(a.Unmap(), ones)
		}
		if !dst.Contains(gw) || dst.Bits() == gw.BitLen() {
			continue // not towards gw, or our own host route
		}
		if dst.Bits() > bestBits || (dst.Bits() == bestBits && r.Priority < best.Priority) {
			best = &netlink.Route{LinkIndex: link, Gw: via, Priority: r.Priority}
			bestBits = dst.Bits()
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no route to %v outside the tunnel", gw)
	}
	return best, nil
}

// remove deletes the routes and addresses apply added; those already
// gone (with the device) are no error.
func (n *tunnelNet) remove() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := len(n.routes) - 1; i >= 0; i-- {
		if err := netlink.RouteDel(n.routes[i]); err != nil && !gone(err) {
			n.log.Warn("route not removed", "dst", n.routes[i].Dst, "err", err)
		}
	}
	for _, a := range n.addrs {
		if err := netlink.AddrDel(n.link, a); err != nil && !gone(err) {
			n.log.Warn("address not removed", "addr", a.IPNet, "err", err)
		}
	}
	n.routes, n.addrs, n.gwPin = nil, nil, nil
}

func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// removeLink deletes the TUN device if closing it left it behind.
func removeLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		_ = netlink.LinkDel(l)
	}
}

// resolvFile writes the gateway's DNS servers into a resolv.conf and puts
// the previous content back when the tunnel goes.
type resolvFile struct {
	path  string
	saved []byte
	had   bool // saved holds the previous content (the file existed)
	wrote bool
}

func (r *resolvFile) write(servers []netip.Addr, domains []string) error {
	if r.path == "" || len(servers) == 0 {
		return nil
	}
	if !r.wrote {
		b, err := os.ReadFile(r.path)
		r.saved, r.had = b, err == nil
	}
	var sb strings.Builder
	sb.WriteString("# written by roadwarrior: DNS servers of the VPN gateway\n")
	if len(domains) > 0 {
		fmt.Fprintf(&sb, "search %s\n", strings.Join(domains, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&sb, "nameserver %s\n", s)
	}
	if err := os.WriteFile(r.path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("-resolv: %w", err)
	}
	r.wrote = true
	return nil
}

func (r *resolvFile) restore() {
	if !r.wrote {
		return
	}
	r.wrote = false
	if r.had {
		_ = os.WriteFile(r.path, r.saved, 0o644)
	} else {
		_ = os.Remove(r.path)
	}
}
