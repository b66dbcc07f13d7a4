package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ikev1"
)

const (
	// tunMTU leaves room for ESP in UDP over a 1500-byte path: 20 (IPv4)
	// or 40 (IPv6) + 8 (UDP) + 8 (ESP header) + 16 (IV) + up to 17
	// (padding, trailer) + 16 (ICV) bytes.
	tunMTU = 1400
	// firstBackoff is the wait before the first reconnection attempt; it
	// doubles up to -max-backoff.
	firstBackoff = time.Second
	// closeTimeout bounds the Delete exchange at shutdown, when the
	// gateway may be gone.
	closeTimeout = 10 * time.Second
)

// client is the running road warrior: one transport, TUN device, data
// plane and initiator for the program's life, and one IKE SA at a time.
type client struct {
	s   *settings
	out io.Writer
	log *slog.Logger

	tr   *ike.Transport
	dp   *esp.Userspace
	in   *ike.Initiator   // -ike v2
	in1  *ikev1.Initiator // -ike v1
	net  *tunnelNet
	dns  *resolvFile
	kill *killSwitch // nil without -kill-switch
	tunn string
	// lastGW is the gateway's address of the last attempt, used when a
	// name lookup fails (the kill switch may block the resolver).
	lastGW netip.AddrPort
	// ikeUp carries the latest IKE SA established, also by a
	// reauthentication, after which the addresses, routes and DNS may
	// differ.
	ikeUp chan ipsec.IKESAInfo
	// applied is what up applied for the current SA.
	applied tunnelState
}

// tunnelState is what an SA makes roadwarrior configure.
type tunnelState struct {
	vips, routes, dns string
}

// run sets up the device and connects, reconnecting with backoff, until
// ctx is cancelled (SIGINT/SIGTERM); then it deletes the SA and removes
// what it set up. It returns an error only when the set-up fails.
func (c *client) run(ctx context.Context) (err error) {
	if err := c.start(ctx); err != nil {
		c.stop()
		return err
	}
	defer c.stop()
	wait := &backoff{max: c.s.backoff}
	for ctx.Err() == nil {
		sa, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if ae := (*authError)(nil); errors.As(err, &ae) {
				return err
			}
			d := wait.next()
			c.log.Warn("connection failed", "server", c.s.server, "err", err, "retry_in", d)
			sleep(ctx, d)
			continue
		}
		if err := c.up(sa); err != nil {
			c.closeSA(sa)
			return err
		}
		upSince := time.Now()
		// While the SA is up, follow the host's network changes (roam.go)
		// and reauthentications. The signal of this SA's own IKE_AUTH is
		// no news.
		select {
		case <-c.ikeUp:
		default:
		}
		roamCtx, stopRoam := context.WithCancel(ctx)
		roamDone := make(chan struct{})
		if v2, ok := sa.(*ike.SA); ok {
			go func() { defer close(roamDone); c.roam(roamCtx, v2) }()
		} else {
			// IKEv1 has no MOBIKE: a move ends in dead peer detection
			// and a reconnection.
			close(roamDone)
		}
		select {
		case <-sa.Done():
		case <-ctx.Done():
		}
		// Roaming touches the gateway's host route: it must be over
		// before the routes go.
		stopRoam()
		<-roamDone
		select {
		case <-sa.Done():
			c.net.remove()
			c.dns.restore()
			cause := "deleted by the gateway"
			if e := sa.Err(); e != nil {
				cause = e.Error()
			}
			fmt.Fprintf(c.out, "tunnel down: %s\n", cause)
			// An SA that lived longer than the longest wait starts the
			// backoff afresh; one the gateway deletes at once keeps
			// doubling it, so such a gateway is not hammered.
			if time.Since(upSince) > c.s.backoff {
				wait.reset()
			}
			d := wait.next()
			c.log.Warn("tunnel down", "cause", cause, "retry_in", d)
			sleep(ctx, d)
		default: // ctx done: SIGINT or SIGTERM
			c.closeSA(sa)
		}
	}
	c.log.Info("roadwarrior stopped")
	return nil
}

// start opens the IKE sockets, the TUN device and the data plane.
func (c *client) start(ctx context.Context) error {
	var err error
	if c.s.kill {
		// First of all, so nothing leaves outside the tunnel from now
		// on; a server name is resolved before, while the resolver is
		// still reachable.
		var gws []netip.Addr
		rctx, cancel := context.WithTimeout(ctx, c.s.dialTO)
		if addr, err := c.resolve(rctx); err == nil {
			gws = append(gws, addr.Addr())
			c.lastGW = addr
		} else {
			c.log.Warn("cannot resolve the gateway before the kill switch goes on", "server", c.s.host, "err", err)
		}
		cancel()
		if c.kill, err = newKillSwitch(c.s.tun, c.s.port, c.s.lan, gws, c.log); err != nil {
			return err
		}
	}
	c.tr, err = ike.ListenUDP(ctx, ike.WithTransportLogger(c.log))
	if err != nil {
		return fmt.Errorf("IKE sockets: %w", err)
	}
	dev, err := tun.CreateTUN(c.s.tun, tunMTU)
	if err != nil {
		return fmt.Errorf("TUN %s: %w", c.s.tun, err)
	}
	c.tunn = c.s.tun
	if name, err := dev.Name(); err == nil {
		c.tunn = name
	}
	var opts []esp.Option
	for _, conn := range c.tr.NATTConns() {
		opts = append(opts, esp.WithUDPSendConn(conn))
	}
	opts = append(opts, esp.WithLogger(c.log))
	// Raw ESP for gateways we reach without a NAT; without it the IKE
	// engine asks every gateway for ESP in UDP (as strongSwan's encap =
	// yes).
	if err := esp.ProbeRawESP(); err != nil {
		c.log.Warn("raw ESP is not available: asking the gateway to encapsulate ESP in UDP", "err", err)
	} else {
		opts = append(opts, esp.WithRawESP())
	}
	c.dp, err = esp.NewUserspace(dev, opts...)
	if err != nil {
		dev.Close()
		return fmt.Errorf("data plane: %w", err)
	}
	c.tr.SetESPBatchHandler(func(pkts [][]byte, remotes []netip.AddrPort) { _ = c.dp.HandleUDPBatch(pkts, remotes) })
	c.ikeUp = make(chan ipsec.IKESAInfo, 1)
	if c.s.v1 != nil {
		c.in1, err = ikev1.NewInitiator(c.tr, ikev1.WithDataPlane(c.dp), ikev1.WithLogger(c.log),
			ikev1.WithRetransmissions(v1Retransmissions(c.s.rtTO, c.s.rtTries)...))
		if err != nil {
			return fmt.Errorf("initiator: %w", err)
		}
	} else if err := c.startV2(); err != nil {
		return err
	}
	c.net, err = newTunnelNet(c.tunn, c.log)
	if err != nil {
		return err
	}
	c.dns = &resolvFile{path: c.s.resolv}
	c.log.Info("roadwarrior started", "server", c.s.server, "tun", c.tunn, "split", c.s.split, "ike", c.s.version())
	return nil
}

// startV2 creates the IKEv2 initiator.
func (c *client) startV2() (err error) {
	hooks := &ike.Hooks{IKEUp: func(info ipsec.IKESAInfo) {
		// Keep only the newest: drop an unread older one.
		select {
		case <-c.ikeUp:
		default:
		}
		select {
		case c.ikeUp <- info:
		default:
		}
	}}
	c.in, err = ike.NewInitiator(c.tr, ike.WithDataPlane(c.dp), ike.WithLogger(c.log), ike.WithHooks(hooks),
		ike.WithRetransmission(c.s.rtTO, ike.DefaultRetransmitBase, c.s.rtTries))
	if err != nil {
		return fmt.Errorf("initiator: %w", err)
	}
	return nil
}

// connect resolves the gateway (again on each attempt: its address may
// change) and dials it.
func (c *client) connect(ctx context.Context) (tunnelSA, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.dialTO)
	defer cancel()
	addr, err := c.resolve(ctx)
	switch {
	case err == nil:
		c.lastGW = addr
	case c.lastGW.IsValid():
		c.log.Warn("gateway name lookup failed: trying its last address", "server", c.s.host, "addr", c.lastGW, "err", err)
		addr = c.lastGW
	default:
		return nil, err
	}
	if c.kill != nil {
		if err := c.kill.allowGateway(addr.Addr()); err != nil {
			return nil, err
		}
	}
	if c.s.v1 != nil {
		c.log.Info("connecting", "gateway", addr, "ike", "v1")
		return c.dialV1(ctx, addr)
	}
	peer := c.s.peer
	if peer.Local.Method == ike.AuthPSK && peer.LocalID.IsZero() {
		// Our address as the identity, fixed for the SA's life: after a
		// move the gateway still sees the same peer (and, strongSwan,
		// hands it the same virtual addresses again).
		if src, err := sourceFor(addr.Addr()); err == nil {
			p := *peer
			p.LocalID = ipsec.AddrID(src)
			peer = &p
		}
	}
	c.log.Info("connecting", "gateway", addr)
	sa, err := c.in.Dial(ctx, addr, peer)
	if err != nil {
		// Not a nil *ike.SA in a non-nil interface.
		return nil, err
	}
	return sa, nil
}

func (c *client) resolve(ctx context.Context) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(c.s.host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), c.s.port), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", c.s.host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s: no address", c.s.host)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), c.s.port), nil
}

// up applies the SA's virtual addresses, routes and DNS and reports the
// tunnel.
func (c *client) up(sa tunnelSA) error {
	info := sa.Info()
	if len(info.VirtualIPs) == 0 {
		return errors.New("the gateway assigned no virtual IP address")
	}
	dsts := c.routesFor(sa, info)
	c.applied = stateOf(info, dsts, sa)
	if err := c.net.apply(info.VirtualIPs, info.Remote.Addr(), dsts); err != nil {
		return err
	}
	servers, domains := sa.DNS()
	if err := c.dns.write(servers, domains); err != nil {
		return err
	}
	var esps []string
	for _, ch := range info.Children {
		esps = append(esps, ch.Proposal)
	}
	routes := fmt.Sprint(dsts)
	if everything(dsts) {
		routes = "everything"
	}
	search := ""
	if len(domains) > 0 {
		search = ", search " + strings.Join(domains, " ")
	}
	fmt.Fprintf(c.out, "tunnel up: gateway %v, IKE %s, ESP %s, virtual IPs %v, routes %s via %s, DNS %v%s\n",
		info.Remote, info.Proposal, strings.Join(esps, ","), info.VirtualIPs, routes, c.tunn, servers, search)
	c.log.Info("tunnel up", "gateway", info.Remote, "ike", info.Proposal, "esp", esps, "vips", info.VirtualIPs, "dns", servers, "domains", domains)
	return nil
}

// routesFor is what goes through the tunnel: -split, or what the gateway
// pushed and its selectors cover.
func (c *client) routesFor(sa tunnelSA, info ipsec.IKESAInfo) []netip.Prefix {
	if c.s.split != nil {
		return c.s.split
	}
	var ts []netip.Prefix
	for _, ch := range info.Children {
		ts = append(ts, tsPrefixes(ch.RemoteTS, c.log)...)
	}
	return gatewayRoutes(sa.Subnets(), ts)
}

func stateOf(info ipsec.IKESAInfo, routes []netip.Prefix, sa tunnelSA) tunnelState {
	servers, domains := sa.DNS()
	return tunnelState{vips: fmt.Sprint(info.VirtualIPs), routes: fmt.Sprint(routes), dns: fmt.Sprint(servers, domains)}
}

// refresh runs after a reauthentication (the gateway's, or ours after a
// move without MOBIKE): the new IKE SA may come with other virtual
// addresses, routes or DNS servers, which then replace the old ones. If
// they cannot be applied the SA is closed, and the main loop reconnects.
func (c *client) refresh(ctx context.Context, sa *ike.SA, up ipsec.IKESAInfo) {
	// The hook runs before the SA handle moves to the new IKE SA: wait
	// for that, so Info, DNS and Subnets describe the new one.
	deadline := time.Now().Add(closeTimeout)
	info := sa.Info()
	for info.SPIi != up.SPIi || info.SPIr != up.SPIr {
		if time.Now().After(deadline) {
			c.log.Debug("established IKE SA is not ours", "spi_i", up.SPIi)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-sa.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		info = sa.Info()
	}
	if len(info.VirtualIPs) == 0 {
		return // not established (any more); Done tells the main loop
	}
	if stateOf(info, c.routesFor(sa, info), sa) == c.applied {
		c.log.Debug("IKE SA reauthenticated: addresses, routes and DNS unchanged")
		return
	}
	c.log.Info("IKE SA reauthenticated with other addresses, routes or DNS: applying them")
	c.net.remove()
	if err := c.up(sa); err != nil {
		c.log.Error("cannot apply the reauthenticated SA's configuration: reconnecting", "err", err)
		c.net.remove()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = sa.Close(ctx)
	}
}

// closeSA sends the Delete and removes the routes and DNS of the SA.
func (c *client) closeSA(sa tunnelSA) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := sa.Close(ctx); err != nil {
		c.log.Warn("delete not confirmed by the gateway", "err", err)
	}
	c.net.remove()
	c.dns.restore()
}

// stop releases everything start created, in reverse order.
func (c *client) stop() {
	if c.in != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		c.in.Close(ctx)
		cancel()
	}
	if c.in1 != nil {
		c.in1.Close()
	}
	if c.net != nil {
		c.net.remove()
	}
	if c.dns != nil {
		c.dns.restore()
	}
	if c.dp != nil {
		c.dp.Close() // closes the TUN device, which takes its addresses and routes along
	}
	if c.tr != nil {
		c.tr.Close()
	}
	if c.tunn != "" {
		removeLink(c.tunn)
	}
	// Last: until everything is down nothing may leak.
	if c.kill != nil {
		c.kill.remove()
	}
}

// backoff is the wait before the next connection attempt: firstBackoff,
// doubling up to max.
type backoff struct {
	cur, max time.Duration
}

// next returns the wait before this attempt and doubles the next one.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = firstBackoff
	}
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d
}

// reset starts again at firstBackoff.
func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// everything reports whether dsts are only default routes (0.0.0.0/0,
// ::/0): a full tunnel, for IPv4 and IPv6 (IKEv2) or IPv4 alone (a Cisco
// IPSec gateway hands out an IPv4 address only).
func everything(dsts []netip.Prefix) bool {
	for _, d := range dsts {
		if d.Bits() != 0 {
			return false
		}
	}
	return len(dsts) > 0
}

// version is the -ike flag's value.
func (s *settings) version() string {
	if s.v1 != nil {
		return "v1"
	}
	return "v2"
}
