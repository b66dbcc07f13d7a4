//go:build linux

package ikev1_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/vmclient"
	"github.com/goipsec/ipsec/transport"
	"github.com/goipsec/ipsec/xfrm"
)

// The kernel suite of the IKEv1 engine: our Responder and Initiator on
// the Linux kernel's data plane (xfrm.New: raw ESP without a NAT, ESP in
// UDP on the transport's port 4500 socket behind one) against libreswan
// 4.10 and strongSwan 5.9.8 with kernel ESP, inside the test VM (the host
// kernel has no ESP). scripts/test runs it in the VM stage that stages the
// clients; by hand:
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV="GOIPSEC_VMTEST CI" VMTEST_SMP=2 \
//	  go test -exec "$PWD/scripts/vmtest/run-in-vm ${files[*]}" -run '^TestKernelIKEv1' ./ikev1

// kernelCase is one traffic shape of the kernel suite.
type kernelCase struct {
	name, profile string
	vars          map[string]string
	transport     bool
	// udp1701 restricts the selectors to udp/1701 on both hosts.
	udp1701 bool
	check   func(*testing.T, *strongswan.V1Env)
}

var (
	kernelTunnel = kernelCase{name: "tunnel", profile: "ikev1-main-psk"}
	// Transport mode for all traffic between the hosts: pings.
	kernelTransport = kernelCase{name: "transport", profile: "ikev1-main-psk-transport", transport: true,
		vars: map[string]string{"CLIENT_TS": "dynamic", "SERVER_TS": "dynamic"}, check: vmclient.PingHosts}
	// Transport mode for udp/1701, L2TP's datagrams: the L2TP/IPsec shape.
	kernelUDP1701 = kernelCase{name: "transport-udp1701", profile: "ikev1-main-psk-transport", transport: true, udp1701: true,
		check: vmclient.UDP1701}
)

// TestKernelIKEv1Libreswan runs our IKEv1 engine with kernel ESP against
// libreswan 4.10, the second, independent IKEv1 implementation: our
// responder with pluto as the client, our initiator with pluto as the
// server; Main Mode PSK, then Quick Mode in tunnel mode (pings between
// the inner networks), transport mode for all traffic (pings between the
// hosts) and transport mode for udp/1701 (datagrams 1701 to 1701, both
// ways); directly (raw ESP) and with the client behind a NAT (ESP in
// UDP; pluto as the server of a transport-mode client behind the NAT
// with virtual-private and rightsubnet=vhost:%priv, its L2TP set-up).
// Each time pluto must hold Main Mode and Quick Mode states, our
// kernel the SAs in the negotiated mode and encapsulation having carried
// the traffic both ways, our snapshot and hooks the same SA, and our
// Close must leave the kernel empty.
func TestKernelIKEv1Libreswan(t *testing.T) {
	vmclient.Require(t, "pluto", "whack", "addconn", "certutil", "ping", "nft")
	for _, c := range []kernelCase{kernelTunnel, kernelTransport, kernelUDP1701} {
		for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
			t.Run("our-responder/"+c.name+"/"+natLabel(nat), func(t *testing.T) {
				k := &kernelPeer{c: c}
				run := strongswan.RunV1(t, strongswan.V1Case{Profile: c.profile, NAT: nat, Vars: c.vars, KernelESP: true, Check: c.check},
					k.server, serverInstalled(vmclient.V1LibreswanClient))
				wantPluto(t, run.Client, true)
				k.verify(t, run.Env)
			})
			t.Run("our-initiator/"+c.name+"/"+natLabel(nat), func(t *testing.T) {
				k := &kernelPeer{c: c}
				run := strongswan.RunV1(t, strongswan.V1Case{Profile: c.profile, NAT: nat, Vars: c.vars, KernelESP: true, Check: c.check},
					vmclient.V1LibreswanServer, serverInstalled(k.client))
				wantPluto(t, run.Server, false)
				k.verify(t, run.Env)
			})
		}
	}
}

// TestKernelIKEv1StrongSwan runs our IKEv1 engine with kernel ESP against
// strongSwan 5.9.8 with kernel ESP (kernel-netlink, not kernel-libipsec)
// in the L2TP/IPsec shape: Main Mode PSK, transport mode for udp/1701,
// with our responder and strongSwan's client and with strongSwan's
// server and our initiator, directly and behind a NAT (NAT-OA, the
// UDP-encapsulated transport mode).
func TestKernelIKEv1StrongSwan(t *testing.T) {
	vmclient.Require(t, "ping", "nft")
	c := kernelUDP1701
	for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
		t.Run("our-responder/"+c.name+"/"+natLabel(nat), func(t *testing.T) {
			k := &kernelPeer{c: c}
			run := strongswan.RunV1(t, strongswan.V1Case{Profile: c.profile, NAT: nat, Vars: c.vars, KernelESP: true, Check: c.check},
				k.server, serverInstalled(strongswan.V1StrongSwanClient))
			wantCharon(t, run.Client, c.profile)
			k.verify(t, run.Env)
		})
		t.Run("our-initiator/"+c.name+"/"+natLabel(nat), func(t *testing.T) {
			k := &kernelPeer{c: c}
			run := strongswan.RunV1(t, strongswan.V1Case{Profile: c.profile, NAT: nat, Vars: c.vars, KernelESP: true, Check: c.check},
				strongswan.V1StrongSwanServer, serverInstalled(k.client))
			wantCharon(t, run.Server, c.profile)
			k.verify(t, run.Env)
		})
	}
}

// serverInstalled wraps the start of a run's client side: it returns once
// the server's kernel also holds the IPsec SA's outbound policy. Quick
// Mode ends with the initiator's third message, which nothing answers
// (RFC 2409 section 5.5, without the commit bit), so the initiator
// installs its SAs and sends traffic while the responder may still be
// installing its own: a reply sent before the responder's outbound
// policy exists leaves in the clear and is dropped by the initiator's
// inbound policy (XfrmInTmplMismatch). An L2TP client retransmits; the
// checks here send each packet once.
func serverInstalled(start strongswan.V1Start) strongswan.V1Start {
	return func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		t.Helper()
		p := start(t, env)
		deadline := time.Now().Add(5 * time.Second)
		for !hasOutPolicy(env.Topo.Server.Run("ip", "xfrm", "policy")) {
			if time.Now().After(deadline) {
				t.Fatalf("the server's kernel has no outbound IPsec policy 5 s after the client's side is up:\n%s", env.Topo.Server.Run("ip", "xfrm", "policy"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		return p
	}
}

// hasOutPolicy reports whether `ip xfrm policy` output holds an outbound
// policy with a template (the IKE sockets' bypass policies have none).
func hasOutPolicy(out string) bool {
	for _, block := range strings.Split(out, "\nsrc ") {
		if strings.Contains(block, "dir out") && strings.Contains(block, "tmpl ") {
			return true
		}
	}
	return false
}

func natLabel(nat testnet.NATMode) string {
	if nat == testnet.NoNAT {
		return "direct"
	}
	return "nat"
}

// wantPluto checks that pluto completed Main Mode and Quick Mode in its
// role: as the initiator (client) STATE_MAIN_I4 and STATE_QUICK_I2, as
// the responder STATE_MAIN_R3 and STATE_QUICK_R2.
func wantPluto(t *testing.T, p *strongswan.V1Peer, initiator bool) {
	t.Helper()
	main, quick := "STATE_MAIN_R3", "STATE_QUICK_R2"
	if initiator {
		main, quick = "STATE_MAIN_I4", "STATE_QUICK_I2"
	}
	st := p.Status()
	if !strings.Contains(st, main) || !strings.Contains(st, quick) {
		t.Errorf("pluto has no %s and %s state:\n%s", main, quick, st)
	}
}

// wantCharon checks that strongSwan's SA is an established IKEv1 SA
// after Main Mode (ID_PROT) with the CHILD SA installed.
func wantCharon(t *testing.T, p *strongswan.V1Peer, profile string) {
	t.Helper()
	if err := strongswan.V1Established(p.Charon.ListSAs(), profile); err != nil {
		t.Errorf("strongSwan: %v", err)
	}
	if !strings.Contains(p.Charon.Log(), "ID_PROT request 0") {
		t.Errorf("strongSwan's log has no Main Mode (ID_PROT) exchange")
	}
}

// kernelPeer is our side of a run: the engine on the kernel data plane
// in one namespace, with its hooks recorded.
type kernelPeer struct {
	c        kernelCase
	ns       *testnet.NS
	initiate bool
	local    netip.Addr // our outer address
	remote   netip.Addr // the peer's, as we see it
	resp     *ikev1.Responder
	sa       *ikev1.SA
	log      *testnet.Buffer
	dp       *xfrm.DataPlane

	mu        sync.Mutex
	ikeUp     []ipsec.IKESAInfo
	ikeDown   []error
	childUp   []ipsec.ChildSAInfo
	childDown []ipsec.ChildSAInfo
}

func (k *kernelPeer) hooks() ikev1.Hooks {
	return ikev1.Hooks{
		IKEUp: func(i ipsec.IKESAInfo) { k.mu.Lock(); k.ikeUp = append(k.ikeUp, i); k.mu.Unlock() },
		IKEDown: func(_ ipsec.IKESAInfo, err error) {
			k.mu.Lock()
			k.ikeDown = append(k.ikeDown, err)
			k.mu.Unlock()
		},
		ChildUp: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			k.mu.Lock()
			k.childUp = append(k.childUp, c)
			k.mu.Unlock()
		},
		ChildDown: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			k.mu.Lock()
			k.childDown = append(k.childDown, c)
			k.mu.Unlock()
		},
	}
}

// listen opens the IKE sockets on addr in ns and the kernel data plane
// of ns, handing it the transport's sockets as an embedder does
// (UseTransport: ESP-in-UDP decapsulation on port 4500, IPsec bypass for
// the IKE sockets, NAT keepalives).
func (k *kernelPeer) listen(t *testing.T, ns *testnet.NS, addr netip.Addr) (*transport.Transport, *slog.Logger) {
	t.Helper()
	k.ns, k.local, k.log = ns, addr, &testnet.Buffer{}
	logger := slog.New(slog.NewTextHandler(k.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nsh, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	var tr *transport.Transport
	if err := ns.Do(func() (err error) {
		tr, err = transport.ListenUDP(context.Background(), transport.WithListenAddrs(addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if k.dp, err = xfrm.New(xfrm.WithNetNS(nsh), xfrm.WithLogger(logger)); err != nil {
		tr.Close()
		t.Fatal(err)
	}
	if err := k.dp.UseTransport(tr); err != nil {
		k.dp.Close()
		tr.Close()
		t.Fatal(err)
	}
	// Registered first, so run last: after the engine's Close.
	t.Cleanup(func() {
		if err := k.dp.Close(); err != nil {
			t.Errorf("xfrm Close: %v", err)
		}
		tr.Close()
		if t.Failed() {
			t.Logf("our %s's log:\n%s", k.role(), k.log.String())
			t.Logf("our kernel:\n%s\n%s\n%s", ns.Run("ip", "-s", "xfrm", "state"), ns.Run("ip", "xfrm", "policy"), vmclient.XfrmStat(ns))
		}
	})
	return tr, logger
}

func (k *kernelPeer) role() string {
	if k.initiate {
		return "initiator"
	}
	return "responder"
}

// config is our PeerConfig for the case, from the server's or the
// client's side: PSK, Main Mode, the case's mode and selectors.
func (k *kernelPeer) config(env *strongswan.V1Env, server bool) *ikev1.PeerConfig {
	cfg := &ikev1.PeerConfig{Name: k.c.profile, Auth: ikev1.AuthPSK, PSK: ipsec.Secret(env.Vars["PSK"])}
	cc := ikev1.ChildConfig{Name: k.c.profile, Transport: k.c.transport}
	switch {
	case !k.c.transport:
		// The inner networks of the tunnel profiles.
		cc.LocalTS = []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("198.51.100.0/24"))}
		cc.RemoteTS = []esp.Selector{esp.PrefixSelector(netip.PrefixFrom(strongswan.V1ClientInner4, 32))}
	case k.c.udp1701:
		// Host to host, udp/1701 at both ends; the client's address as
		// the server sees it (behind the NAT, the NAT's).
		cc.LocalTS = []esp.Selector{l2tpSel(testnet.ServerAddr4)}
		cc.RemoteTS = []esp.Selector{l2tpSel(testnet.ClientAddr4)}
		if !server {
			cc.RemoteTS = []esp.Selector{l2tpSel(env.Topo.ClientAddr4)}
		}
	default:
		// Transport mode for all traffic: nil selectors, our and the
		// peer's outer address.
	}
	if !server {
		cc.LocalTS, cc.RemoteTS = cc.RemoteTS, cc.LocalTS
	}
	cfg.Children = []ikev1.ChildConfig{cc}
	return cfg
}

func l2tpSel(a netip.Addr) esp.Selector {
	return esp.Selector{Start: a, End: a, Proto: 17, StartPort: 1701, EndPort: 1701}
}

// server starts our responder on the kernel data plane in the server
// namespace (a strongswan.V1Start).
func (k *kernelPeer) server(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	s := env.Topo.Server
	tr, logger := k.listen(t, s, testnet.ServerAddr4)
	k.remote = testnet.ClientAddr4 // the client, or the NAT in front of it
	if !k.c.transport {
		// The kernel looks a route up before the XFRM policy takes the
		// packet into the tunnel.
		s.Run("ip", "route", "add", strongswan.V1ClientInner4.String()+"/32", "dev", "eth0", "src", testnet.Inner4.String())
	}
	cfg := k.config(env, true)
	resp, err := ikev1.NewResponder(tr, ikev1.WithPeers(func(context.Context, ikev1.PeerQuery) (*ikev1.PeerConfig, error) { return cfg, nil }),
		ikev1.WithDataPlane(k.dp), ikev1.WithLogger(logger), ikev1.WithHooks(k.hooks()))
	if err != nil {
		t.Fatal(err)
	}
	k.resp = resp
	t.Cleanup(func() { resp.Close() })
	return &strongswan.V1Peer{Name: "goipsec responder (kernel ESP)", Status: func() string { return describe(resp.SAs()) }}
}

// client starts our initiator on the kernel data plane in the client
// namespace and dials the server (a strongswan.V1Start).
func (k *kernelPeer) client(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	k.initiate = true
	c := env.Topo.Client
	tr, logger := k.listen(t, c, env.Topo.ClientAddr4)
	k.remote = testnet.ServerAddr4
	if !k.c.transport {
		c.Run("ip", "route", "add", "198.51.100.0/24", "dev", "eth0", "src", strongswan.V1ClientInner4.String())
	}
	init, err := ikev1.NewInitiator(tr, ikev1.WithDataPlane(k.dp), ikev1.WithLogger(logger), ikev1.WithHooks(k.hooks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { init.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := init.Dial(ctx, netip.AddrPortFrom(testnet.ServerAddr4, 500), k.config(env, false))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	k.sa = sa
	return &strongswan.V1Peer{Name: "goipsec initiator (kernel ESP)", Status: func() string { return describe([]ipsec.IKESAInfo{sa.Info()}) }}
}

// sas returns our engine's snapshots.
func (k *kernelPeer) sas() []ipsec.IKESAInfo {
	if k.resp != nil {
		return k.resp.SAs()
	}
	if k.sa == nil {
		return nil
	}
	return []ipsec.IKESAInfo{k.sa.Info()}
}

// verify checks our side after the run's traffic: the kernel's SAs,
// policies and counters, our snapshot and hooks; then it closes our
// side and checks that the kernel is empty and the down hooks ran with
// the final counters.
func (k *kernelPeer) verify(t *testing.T, env *strongswan.V1Env) {
	t.Helper()
	nat := env.Topo.NAT != nil
	mode := "tunnel"
	if k.c.transport {
		mode = "transport"
	}
	// The kernel: one SA each way between the outer addresses, in the
	// case's mode, raw ESP without a NAT, ESP in UDP from our port 4500
	// behind one, each having carried the check's three packets.
	st := vmclient.States(t, k.ns)
	if err := vmclient.Check(st, k.local, k.remote, nat, 3); err != nil {
		t.Errorf("our kernel's SAs: %v\n%s", err, vmclient.XfrmStat(k.ns))
	}
	var esps int
	for _, x := range st {
		if x.Proto != "esp" {
			continue
		}
		esps++
		if x.Mode != mode {
			t.Errorf("kernel SA %v: mode %s, want %s", x, x.Mode, mode)
		}
		if nat && x.Src == k.local && x.EncapSport != 4500 {
			t.Errorf("kernel SA %v: encapsulated from port %d, want our NAT-T port 4500", x, x.EncapSport)
		}
	}
	if esps != 2 {
		t.Errorf("our kernel holds %d ESP SAs, want 2: %v", esps, st)
	}
	if k.c.udp1701 {
		// The Quick Mode IDs became the policies' selectors.
		if pol := k.ns.Run("ip", "xfrm", "policy"); !strings.Contains(pol, "proto udp sport 1701 dport 1701") {
			t.Errorf("our kernel's policies are not for udp/1701:\n%s", pol)
		}
	}

	// The snapshot: one established IKEv1 SA with one IPsec SA, the
	// kernel's SPIs and counters.
	sas := k.sas()
	if len(sas) != 1 || len(sas[0].Children) != 1 {
		t.Fatalf("our SAs: %+v, want one ISAKMP SA with one IPsec SA", sas)
	}
	s, c := sas[0], sas[0].Children[0]
	if s.Version != 1 || s.State != "ESTABLISHED" || s.Initiator != k.initiate {
		t.Errorf("our SA: version %d, state %s, initiator %t; want 1, ESTABLISHED, %t", s.Version, s.State, s.Initiator, k.initiate)
	}
	if behind := s.NATLocal || s.NATRemote; behind != nat {
		t.Errorf("our SA: NAT local %t remote %t, want a NAT %t", s.NATLocal, s.NATRemote, nat)
	}
	if nat && k.initiate && !s.NATLocal || nat && !k.initiate && !s.NATRemote {
		t.Errorf("our %s: NAT local %t remote %t: the client is the one behind the NAT", k.role(), s.NATLocal, s.NATRemote)
	}
	if c.Transport != k.c.transport || c.UDPEncap != nat {
		t.Errorf("our IPsec SA: transport %t, UDP encapsulation %t; want %t, %t", c.Transport, c.UDPEncap, k.c.transport, nat)
	}
	kernelSPIs := map[uint32]bool{}
	for _, x := range st {
		kernelSPIs[x.SPI] = true
	}
	if !kernelSPIs[c.SPIIn] || !kernelSPIs[c.SPIOut] {
		t.Errorf("our IPsec SA's SPIs %08x/%08x are not the kernel's: %v", c.SPIIn, c.SPIOut, st)
	}
	if c.PacketsIn < 3 || c.PacketsOut < 3 || c.BytesIn == 0 || c.BytesOut == 0 || c.LastIn.IsZero() {
		t.Errorf("our IPsec SA's counters (the kernel's): %+v, want at least 3 packets each way", c)
	}
	if k.c.udp1701 {
		const want = "[17/1701]"
		if len(c.LocalTS) != 1 || len(c.RemoteTS) != 1 || !strings.HasSuffix(c.LocalTS[0], want) || !strings.HasSuffix(c.RemoteTS[0], want) {
			t.Errorf("our IPsec SA's selectors %v === %v, want udp/1701 at both ends", c.LocalTS, c.RemoteTS)
		}
	}
	t.Logf("our %s: %s %s, IPsec SA %08x/%08x %s %v === %v, %d/%d packets in/out; kernel: %v",
		k.role(), s.State, s.Proposal, c.SPIIn, c.SPIOut, c.Proposal, c.LocalTS, c.RemoteTS, c.PacketsIn, c.PacketsOut, st)

	k.mu.Lock()
	ikeUp, childUp := len(k.ikeUp), append([]ipsec.ChildSAInfo(nil), k.childUp...)
	k.mu.Unlock()
	if ikeUp != 1 || len(childUp) != 1 {
		t.Errorf("hooks: IKEUp %d times, ChildUp %d times, want once each", ikeUp, len(childUp))
	} else if childUp[0].SPIIn != c.SPIIn || childUp[0].Transport != k.c.transport || childUp[0].UDPEncap != nat {
		t.Errorf("ChildUp hook %+v does not describe the IPsec SA %+v", childUp[0], c)
	}

	// Our Close deletes the SAs (telling the peer) and takes everything
	// out of the kernel; the down hooks carry the final counters.
	if k.resp != nil {
		k.resp.Close()
	} else {
		k.sa.Close()
	}
	if out := strings.TrimSpace(k.ns.Run("ip", "xfrm", "state")); out != "" {
		t.Errorf("kernel states after our Close:\n%s", out)
	}
	// Only the IKE sockets' bypass policies (no template) may remain.
	if out := k.ns.Run("ip", "xfrm", "policy"); strings.Contains(out, "tmpl") {
		t.Errorf("kernel policies after our Close:\n%s", out)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.childDown) != 1 || len(k.ikeDown) != 1 {
		t.Errorf("hooks after Close: ChildDown %d times, IKEDown %d times, want once each", len(k.childDown), len(k.ikeDown))
		return
	}
	if d := k.childDown[0]; d.PacketsIn < c.PacketsIn || d.PacketsOut < c.PacketsOut {
		t.Errorf("ChildDown counters %d/%d packets below the snapshot's %d/%d", d.PacketsIn, d.PacketsOut, c.PacketsIn, c.PacketsOut)
	}
	if k.ikeDown[0] != nil {
		t.Errorf("IKEDown after our Close: %v, want nil (an orderly delete)", k.ikeDown[0])
	}
}
