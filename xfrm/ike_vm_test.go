//go:build linux

package xfrm_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/xfrm"
)

// vmOnly is the external test package's copy of the kernel-test gate:
// outside the test VM (GOIPSEC_VMTEST=1 under scripts/vmtest/run-in-vm)
// the test skips with a message on how to run it; inside, a missing
// prerequisite fails.
func vmOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("GOIPSEC_VMTEST") != "1" {
		t.Skip("kernel test: needs a kernel with ESP; run inside the VM: " +
			"CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST go test -exec \"$PWD/scripts/vmtest/run-in-vm\" -run '^TestKernel' ./xfrm")
	}
	if os.Geteuid() != 0 {
		t.Fatal("GOIPSEC_VMTEST=1 but not running as root")
	}
}

// Addresses of the IKE test: the server's (responder's) WAN address, the
// client's, and for the NAT case the relay's two sides. The responder
// also holds inner4 on lo, the target reached through the tunnel.
var (
	ikeServer    = netip.MustParseAddr("192.0.2.1")
	ikeClient    = netip.MustParseAddr("192.0.2.2")
	natOutside   = netip.MustParseAddr("192.0.2.3")
	natInside    = netip.MustParseAddr("203.0.113.1")
	clientBehind = netip.MustParseAddr("203.0.113.2")
	inner4       = netip.MustParseAddr("198.51.100.1")
	inner6       = netip.MustParseAddr("2001:db8:100::1")
	pool4        = netip.MustParsePrefix("198.51.100.64/26")
	pool6        = netip.MustParsePrefix("2001:db8:100:1::/120")
	ikePSK       = ipsec.Secret("goipsec-kernel-plane-psk-0123456789")
)

// TestKernelIKEv2 runs the IKEv2 engine on the kernel data plane: our
// responder on xfrm.DataPlane in one namespace, our initiator on the
// userspace data plane (TUN) in another, PSK. It pings through the tunnel
// both ways, lets the initiator rekey the CHILD SA and checks that the
// kernel switched to the new SAs and removed the old ones, pings again,
// and after the initiator's Delete finds no state or policy left in the
// kernel. With NAT, a userspace UDP relay between the namespaces rewrites
// addresses and ports (the VM has no netfilter NAT), so both sides use
// ESP in UDP on the responder's port 4500 socket, which the kernel
// decapsulates; there the NAT keepalives of the data plane arrive, and a
// NAT rebinding moves the kernel states to the client's new port.
func TestKernelIKEv2(t *testing.T) {
	vmOnly(t)
	testnet.Require(t, "ip", "ping")
	for _, c := range []struct {
		nat bool
		// kernelRekey: instead of the initiator's RekeyTime, the
		// responder's RekeyPackets becomes the kernel states' soft
		// packet limit, whose XFRM expire event makes our responder
		// rekey.
		kernelRekey bool
	}{{false, false}, {true, true}} {
		rekey := "initiator-time"
		if c.kernelRekey {
			rekey = "kernel-soft-expire"
		}
		t.Run(fmt.Sprintf("nat=%t/rekey=%s", c.nat, rekey), func(t *testing.T) { runKernelIKEv2(t, c.nat, c.kernelRekey) })
	}
}

// rekeyPackets is the responder's soft packet limit with kernelRekey:
// above one round of pings (3 requests and 3 replies per direction and
// family: 12 packets per SA), so a second round over IPv4 only (6 per
// SA) crosses it on both SAs of the pair, and the round after the rekey
// stays below it.
const rekeyPackets = 16

func runKernelIKEv2(t *testing.T, nat, kernelRekey bool) {
	srv := testnet.NewNS(t, "s")
	cli := testnet.NewNS(t, "c")
	srv.AddAddr("lo", inner4.String()+"/32")
	srv.AddAddr("lo", inner6.String()+"/128")
	dial := netip.AddrPortFrom(ikeServer, ike.PortIKE)
	clientAddr := ikeClient
	var relayNAT *udpRelay
	if nat {
		relay := testnet.NewNS(t, "n")
		testnet.Link(t, cli, "eth0", relay, "eth0")
		testnet.Link(t, relay, "eth1", srv, "eth0")
		cli.AddAddr("eth0", clientBehind.String()+"/24")
		relay.AddAddr("eth0", natInside.String()+"/24")
		relay.AddAddr("eth1", natOutside.String()+"/24")
		relayNAT = startUDPRelay(t, relay, natInside, natOutside, ikeServer, ike.PortIKE, ike.PortNATT)
		dial = netip.AddrPortFrom(natInside, ike.PortIKE)
		clientAddr = clientBehind
	} else {
		testnet.Link(t, cli, "eth0", srv, "eth0")
		cli.AddAddr("eth0", ikeClient.String()+"/24")
	}
	srv.AddAddr("eth0", ikeServer.String()+"/24")
	// The pool is reached through the tunnel: a route makes the kernel
	// look the destination up, and the XFRM output policy takes over.
	srv.Run("ip", "route", "add", pool4.String(), "dev", "eth0")
	srv.Run("ip", "-6", "route", "add", pool6.String(), "dev", "eth0")

	var gwChild ike.ChildConfig
	child := ike.ChildConfig{Name: "kernel", RekeyTime: 5 * time.Second}
	var dpd time.Duration
	if nat {
		// Liveness checks carry the NAT rebinding to the responder.
		dpd = time.Second
	}
	if kernelRekey {
		gwChild = ike.ChildConfig{Name: "kernel", RekeyPackets: rekeyPackets}
		child.RekeyTime = 0
	}
	gw := startKernelGateway(t, srv, gwChild)
	rw := startUserspaceClient(t, cli, clientAddr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	psk := ikePSK
	sa, err := rw.init.Dial(ctx, dial, &ike.PeerConfig{
		Name: "kernel", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
		// One side rekeys the CHILD SA; the kernel side installs the
		// new pair and removes the old one when it is deleted.
		Children: []ike.ChildConfig{child},
		// Without MOBIKE the responder follows a NAT rebinding by the
		// address of authenticated requests (with it, it waits for
		// UPDATE_SA_ADDRESSES).
		DisableMOBIKE: true, DPDDelay: dpd,
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	info := sa.Info()
	if len(info.VirtualIPs) != 2 || !pool4.Contains(info.VirtualIPs[0]) || !pool6.Contains(info.VirtualIPs[1]) {
		t.Fatalf("virtual IPs %v, want one from %v and one from %v", info.VirtualIPs, pool4, pool6)
	}
	if info.NATLocal != nat && info.NATRemote != nat {
		t.Errorf("initiator NAT detection local=%t remote=%t, want %t", info.NATLocal, info.NATRemote, nat)
	}
	vips := info.VirtualIPs
	cli.AddAddr(rw.dev, vips[0].String()+"/32")
	cli.AddAddr(rw.dev, vips[1].String()+"/128")
	cli.Run("ip", "route", "add", inner4.String()+"/32", "dev", rw.dev, "src", vips[0].String())
	cli.Run("ip", "-6", "route", "add", inner6.String()+"/128", "dev", rw.dev, "src", vips[1].String())

	first := gw.child(t)
	if first.UDPEncap != nat {
		t.Errorf("responder CHILD SA UDPEncap=%t, want %t", first.UDPEncap, nat)
	}
	gw.wantKernel(t, first, nat)
	pingBothWays(t, cli, srv, vips)
	// The engine's snapshot carries the kernel's counters (SAStats). 12
	// packets each way, unless a slow run let the rekey split them.
	c := gw.child(t)
	want := uint64(12)
	if c.SPIIn != first.SPIIn {
		want = 1
	}
	if c.PacketsIn < want || c.PacketsOut < want || c.BytesIn == 0 || c.BytesOut == 0 || c.LastIn.IsZero() {
		t.Errorf("responder CHILD SA counters from the kernel after the pings: %+v, want at least %d packets each way", c, want)
	}

	if kernelRekey {
		// Both SAs of the pair cross the soft packet limit at about the
		// same time, and the kernel reports each: the engine must rekey
		// the CHILD SA once (two rekeys would leave two successors).
		pingBothWays(t, cli, srv, vips[:1])
		// One-way traffic is delivered too (nothing in the tunnel
		// depends on replies).
		sendOneWay(t, cli, srv, vips[0], 2)
	}
	// CHILD SA rekey on the kernel plane: new SPIs in the kernel, the old
	// pair gone (the rekey's initiator deletes it), traffic still flowing.
	rekeyed := waitFor(t, 15*time.Second, "CHILD SA rekey", func() (ipsec.ChildSAInfo, bool) {
		c, ok := gw.childNow()
		return c, ok && c.SPIIn != first.SPIIn && c.SPIOut != first.SPIOut
	})
	waitFor(t, 10*time.Second, "old SAs removed from the kernel", func() (struct{}, bool) {
		spis := gw.kernelSPIs(t)
		return struct{}{}, !slices.Contains(spis, first.SPIIn) && !slices.Contains(spis, first.SPIOut)
	})
	if nat {
		// Our responder believes itself behind a NAT (the relay rewrote
		// the address the client sent to), so its outbound SA asks for
		// NAT keepalives; the kernel sends none, the data plane does
		// (UseTransport) once the SA is idle for 1 s.
		waitFor(t, 5*time.Second, "a NAT keepalive from the responder", func() (ike.TransportStats, bool) {
			st := rw.tr.Stats()
			return st, st.Keepalives > 0
		})
	}
	pingBothWays(t, cli, srv, vips)
	t.Logf("CHILD %08x/%08x -> %08x/%08x (%s), pings both ways before and after the rekey",
		first.SPIIn, first.SPIOut, rekeyed.SPIIn, rekeyed.SPIOut, rekeyed.Proposal)

	if nat {
		// NAT rebinding: the relay forgets its mappings, so the client's
		// packets arrive from new ports and replies to the old ones are
		// lost. The initiator's DPD (nothing received for DPDDelay) is an
		// authenticated request from the new port; the responder follows
		// it (RFC 7296 section 2.23) and moves the kernel states with
		// UpdateSA (a port change, done in place).
		before := gw.resp.SAs()[0].Remote
		relayNAT.rebind()
		moved := waitFor(t, 15*time.Second, "the responder following the NAT rebinding", func() (netip.AddrPort, bool) {
			sas := gw.resp.SAs()
			if len(sas) != 1 {
				return netip.AddrPort{}, false
			}
			return sas[0].Remote, sas[0].Remote != before
		})
		c := gw.child(t)
		st, _ := gw.kernel(t)
		for _, x := range st {
			port := -1
			if x.Encap != nil {
				port = x.Encap.DstPort
				if uint32(x.Spi) == c.SPIIn {
					port = x.Encap.SrcPort
				}
			}
			if port != int(moved.Port()) {
				t.Errorf("state %08x after the rebinding: encapsulation %+v, want the peer's new port %d", x.Spi, x.Encap, moved.Port())
			}
		}
		pingBothWays(t, cli, srv, vips[:1])
		t.Logf("NAT rebinding %v -> %v followed in the kernel, pings both ways", before, moved)
	}

	// Delete: the initiator closes, the responder removes everything it
	// installed in the kernel.
	if err := sa.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitFor(t, 10*time.Second, "kernel empty after Delete", func() (struct{}, bool) {
		st, pol := gw.kernel(t)
		return struct{}{}, len(st) == 0 && len(pol) == 0
	})
	if sas := gw.resp.SAs(); len(sas) != 0 {
		t.Errorf("responder still has SAs after Delete: %+v", sas)
	}
	// What an operator would see: ip xfrm agrees with the netlink dump
	// (only the IKE socket's bypass policies, which have no template).
	if out := strings.TrimSpace(srv.Run("ip", "xfrm", "state")); out != "" {
		t.Errorf("ip xfrm state after Delete:\n%s", out)
	}
	if out := srv.Run("ip", "xfrm", "policy"); strings.Contains(out, "tmpl") {
		t.Errorf("ip xfrm policy after Delete:\n%s", out)
	}
}

// kernelGateway is our responder on the kernel data plane.
type kernelGateway struct {
	resp *ike.Responder
	dp   *xfrm.DataPlane
	h    *netlink.Handle
	log  *testnet.Buffer
}

func startKernelGateway(t *testing.T, ns *testnet.NS, child ike.ChildConfig) *kernelGateway {
	t.Helper()
	return startKernelGatewayWith(t, ns, child, nil)
}

// startKernelGatewayWith is startKernelGateway with mod applied to the
// gateway's peer configuration.
func startKernelGatewayWith(t *testing.T, ns *testnet.NS, child ike.ChildConfig, mod func(*ike.PeerConfig)) *kernelGateway {
	t.Helper()
	g := &kernelGateway{log: &testnet.Buffer{}}
	nsh, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	if g.h, err = netlink.NewHandleAt(nsh, unix.NETLINK_XFRM); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.h.Close)
	var tr *ike.Transport
	err = ns.Do(func() error {
		var err error
		tr, err = ike.ListenUDP(context.Background(), ike.WithListenAddrs(ikeServer))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	logger := slog.New(slog.NewTextHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// What an embedder does: the data plane, the transport's sockets
	// handed to it (ESP-in-UDP decapsulation on 4500, bypass policies,
	// keepalives), then the engine on both.
	if g.dp, err = xfrm.New(xfrm.WithNetNS(nsh), xfrm.WithNATKeepalive(nil, time.Second), xfrm.WithLogger(logger)); err != nil {
		t.Fatal(err)
	}
	if err := g.dp.UseTransport(tr); err != nil {
		t.Fatal(err)
	}
	var pools []ipsec.AddressPool
	for _, p := range []netip.Prefix{pool4, pool6} {
		pool, err := ipsec.NewPool(p)
		if err != nil {
			t.Fatal(err)
		}
		pools = append(pools, pool)
	}
	cfg := &ike.PeerConfig{
		Name: "kernel", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPSK, PSK: ikePSK},
		Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: ikePSK},
		Pools:  pools,
	}
	if child.Name != "" {
		cfg.Children = []ike.ChildConfig{child}
	}
	if mod != nil {
		mod(cfg)
	}
	g.resp, err = ike.NewResponder(tr, ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(g.dp), ike.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.resp.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := g.dp.Close(); err != nil {
			t.Errorf("xfrm Close: %v", err)
		}
		if t.Failed() {
			t.Logf("responder (kernel data plane) log:\n%s", g.log.String())
		}
	})
	return g
}

// childNow returns the responder's only CHILD SA.
func (g *kernelGateway) childNow() (ipsec.ChildSAInfo, bool) {
	sas := g.resp.SAs()
	if len(sas) != 1 || sas[0].State != "ESTABLISHED" || len(sas[0].Children) != 1 {
		return ipsec.ChildSAInfo{}, false
	}
	return sas[0].Children[0], true
}

func (g *kernelGateway) child(t *testing.T) ipsec.ChildSAInfo {
	t.Helper()
	c, ok := g.childNow()
	if !ok {
		t.Fatalf("responder SAs: %+v, want one established IKE SA with one CHILD SA", g.resp.SAs())
	}
	return c
}

// kernel dumps the kernel's states and policies in the responder's
// namespace, without the per-socket bypass policies.
func (g *kernelGateway) kernel(t *testing.T) ([]netlink.XfrmState, []netlink.XfrmPolicy) {
	t.Helper()
	st, err := g.h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("XfrmStateList: %v", err)
	}
	all, err := g.h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("XfrmPolicyList: %v", err)
	}
	var pol []netlink.XfrmPolicy
	for _, p := range all {
		// The bypass policies EnableUDPEncap attached to the IKE socket
		// show up in the dump as "socket" directions; they live and die
		// with the socket.
		if p.Dir != netlink.XFRM_SOCKET_IN && p.Dir != netlink.XFRM_SOCKET_OUT {
			pol = append(pol, p)
		}
	}
	return st, pol
}

func (g *kernelGateway) kernelSPIs(t *testing.T) []uint32 {
	t.Helper()
	st, _ := g.kernel(t)
	var spis []uint32
	for _, s := range st {
		spis = append(spis, uint32(s.Spi))
	}
	return spis
}

// wantKernel checks that the kernel holds exactly the CHILD SA c: its two
// states (UDP-encapsulated when nat) and the out, in and fwd policies
// between everything and the client's virtual addresses, all with the
// states' ReqID.
func (g *kernelGateway) wantKernel(t *testing.T, c ipsec.ChildSAInfo, nat bool) {
	t.Helper()
	st, pol := g.kernel(t)
	if len(st) != 2 {
		t.Fatalf("kernel has %d states, want 2: %+v", len(st), st)
	}
	spis := []uint32{uint32(st[0].Spi), uint32(st[1].Spi)}
	if !slices.Contains(spis, c.SPIIn) || !slices.Contains(spis, c.SPIOut) {
		t.Errorf("kernel SPIs %08x, want %08x and %08x", spis, c.SPIIn, c.SPIOut)
	}
	reqid := st[0].Reqid
	for _, s := range st {
		if s.Mode != netlink.XFRM_MODE_TUNNEL || s.Reqid != reqid || s.Proto != netlink.XFRM_PROTO_ESP {
			t.Errorf("state %08x: mode %v reqid %d proto %v, want tunnel ESP with one ReqID", s.Spi, s.Mode, s.Reqid, s.Proto)
		}
		if (s.Encap != nil) != nat {
			t.Errorf("state %08x: encapsulation %+v, want UDP encapsulation %t", s.Spi, s.Encap, nat)
		}
		if nat && s.Encap != nil && s.Encap.Type != netlink.XFRM_ENCAP_ESPINUDP {
			t.Errorf("state %08x: encapsulation type %v, want ESPINUDP", s.Spi, s.Encap.Type)
		}
	}
	dirs := map[netlink.Dir]int{}
	for _, p := range pol {
		dirs[p.Dir]++
		if len(p.Tmpls) != 1 || p.Tmpls[0].Reqid != reqid {
			t.Errorf("policy %v %v -> %v: templates %+v, want one with ReqID %d", p.Dir, p.Src, p.Dst, p.Tmpls, reqid)
		}
	}
	// Out, in and fwd for each inner family; one CHILD SA pair carries
	// both (IPv6 inside the IPv4 tunnel).
	want := map[netlink.Dir]int{netlink.XFRM_DIR_OUT: 2, netlink.XFRM_DIR_IN: 2, netlink.XFRM_DIR_FWD: 2}
	if fmt.Sprint(dirs) != fmt.Sprint(want) {
		t.Errorf("kernel policies by direction %v, want %v: %+v", dirs, want, pol)
	}
}

// userspaceClient is our initiator on the userspace data plane on a TUN.
type userspaceClient struct {
	init *ike.Initiator
	tr   *ike.Transport
	dev  string
	log  *testnet.Buffer
}

func startUserspaceClient(t *testing.T, ns *testnet.NS, addr netip.Addr) *userspaceClient {
	t.Helper()
	rw := &userspaceClient{dev: "gx-tun0", log: &testnet.Buffer{}}
	var tr *ike.Transport
	var dp *esp.Userspace
	err := ns.Do(func() error {
		var err error
		if tr, err = ike.ListenUDP(context.Background(), ike.WithListenAddrs(addr)); err != nil {
			return err
		}
		d, err := tun.CreateTUN(rw.dev, 1400)
		if err != nil {
			tr.Close()
			return err
		}
		// Raw ESP (protocol 50) when there is no NAT.
		opts := []esp.Option{esp.WithRawESP()}
		for _, c := range tr.NATTConns() {
			opts = append(opts, esp.WithUDPSendConn(c))
		}
		if dp, err = esp.NewUserspace(d, opts...); err != nil {
			tr.Close()
			d.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "link", "set", rw.dev, "up")
	rw.tr = tr
	tr.SetESPHandler(func(pkt []byte, _, remote netip.AddrPort) { dp.HandleUDP(pkt, remote) })
	logger := slog.New(slog.NewTextHandler(rw.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if rw.init, err = ike.NewInitiator(tr, ike.WithDataPlane(dp), ike.WithLogger(logger)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rw.init.Close(ctx)
		dp.Close()
		tr.Close()
		if t.Failed() {
			t.Logf("initiator (userspace data plane) log:\n%s", rw.log.String())
		}
	})
	return rw
}

// pingBothWays pings the responder's inner address of each virtual
// address's family (IPv4 and IPv6, both inside the IPv4 tunnel) from the
// client's virtual addresses, and back.
func pingBothWays(t *testing.T, cli, srv *testnet.NS, vips []netip.Addr) {
	t.Helper()
	type ping struct {
		ns       *testnet.NS
		from, to netip.Addr
	}
	var pings []ping
	for _, vip := range vips {
		inner := inner4
		if vip.Is6() {
			inner = inner6
		}
		pings = append(pings, ping{cli, vip, inner}, ping{srv, inner, vip})
	}
	for _, p := range pings {
		if out, err := p.ns.Try("ping", "-c", "3", "-i", "0.2", "-W", "3", "-I", p.from.String(), p.to.String()); err != nil {
			t.Errorf("ping %v -> %v through the tunnel: %v\n%s", p.from, p.to, err, out)
		}
	}
}

// sendOneWay sends n UDP datagrams from the client's virtual address to
// the responder's inner address and checks that all arrive.
func sendOneWay(t *testing.T, cli, srv *testnet.NS, vip netip.Addr, n int) {
	t.Helper()
	var rx, tx *net.UDPConn
	err := srv.Do(func() error {
		var err error
		rx, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(inner4, 9)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	err = cli.Do(func() error {
		var err error
		tx, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(vip, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(inner4, 9)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	buf := make([]byte, 128)
	for i := range n {
		msg := fmt.Appendf(nil, "datagram %d through the kernel's inbound SA", i)
		if _, err := tx.Write(msg); err != nil {
			t.Fatal(err)
		}
		rx.SetReadDeadline(time.Now().Add(3 * time.Second))
		k, err := rx.Read(buf)
		if err != nil || string(buf[:k]) != string(msg) {
			t.Fatalf("datagram %d: got %q, %v", i, buf[:k], err)
		}
	}
}

// waitFor polls cond every 100 ms until it holds or d has passed.
func waitFor[T any](t *testing.T, d time.Duration, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v, ok := cond()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %+v)", d, what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// udpRelay is a userspace NAT for the test VM, which has no netfilter
// NAT: it listens on inside:port for each port and forwards every client
// flow to server:port from its own socket on outside with a random port
// (a port-restricted NAT that also rewrites the destination, so both
// sides detect a NAT), relaying the replies back.
type udpRelay struct {
	ns      *testnet.NS
	outside netip.Addr
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	fronts []*net.UDPConn
	flows  map[flowKey]*net.UDPConn
}

type flowKey struct {
	port uint16
	from netip.AddrPort
}

func startUDPRelay(t *testing.T, ns *testnet.NS, inside, outside, server netip.Addr, ports ...uint16) *udpRelay {
	t.Helper()
	r := &udpRelay{ns: ns, outside: outside, flows: map[flowKey]*net.UDPConn{}}
	t.Cleanup(r.close)
	for _, port := range ports {
		front, err := r.listen(netip.AddrPortFrom(inside, port))
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		r.fronts = append(r.fronts, front)
		r.mu.Unlock()
		r.wg.Add(1)
		go r.forward(front, netip.AddrPortFrom(server, port))
	}
	return r
}

func (r *udpRelay) listen(a netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := r.ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(a))
		return err
	})
	return c, err
}

// forward relays what clients send to front towards to, each client
// flow from its own outside socket.
func (r *udpRelay) forward(front *net.UDPConn, to netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := front.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		back, err := r.flow(front, from, to)
		if err != nil {
			return // closed
		}
		back.WriteToUDPAddrPort(buf[:n], to)
	}
}

// flow returns the outside socket of a client flow, opening it (and the
// goroutine relaying its replies) on the flow's first packet.
func (r *udpRelay) flow(front *net.UDPConn, from, to netip.AddrPort) (*net.UDPConn, error) {
	k := flowKey{to.Port(), from}
	r.mu.Lock()
	back := r.flows[k]
	r.mu.Unlock()
	if back != nil {
		return back, nil
	}
	back, err := r.listen(netip.AddrPortFrom(r.outside, 0))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		back.Close()
		return nil, net.ErrClosed
	}
	r.flows[k] = back
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		b := make([]byte, 65535)
		for {
			n, src, err := back.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			if src == to {
				front.WriteToUDPAddrPort(b[:n], from)
			}
		}
	}()
	return back, nil
}

// rebind forgets every mapping, as a NAT whose state timed out: the next
// packet of each client flow leaves from a new outside port, and replies
// to the old ports are lost.
func (r *udpRelay) rebind() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.flows {
		c.Close()
		delete(r.flows, k)
	}
}

func (r *udpRelay) close() {
	r.mu.Lock()
	r.closed = true
	for _, c := range r.fronts {
		c.Close()
	}
	for _, c := range r.flows {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
