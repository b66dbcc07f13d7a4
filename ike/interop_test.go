package ike_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

// listenWithTUN opens the IKE sockets on addrs and a TUN device named dev
// inside ns, with the userspace data plane on it sending ESP from the
// NAT-T sockets and receiving the ESP the transport hands over.
func listenWithTUN(t *testing.T, ns *testnet.NS, addrs []netip.Addr, dev string) (*ike.Transport, *esp.Userspace) {
	t.Helper()
	var tr *ike.Transport
	var dp *esp.Userspace
	err := ns.Do(func() error {
		var err error
		tr, err = ike.ListenUDP(context.Background(), ike.WithListenAddrs(addrs...))
		if err != nil {
			return err
		}
		d, err := tun.CreateTUN(dev, 1400)
		if err != nil {
			return err
		}
		// The TUN's MTU is read through a socket of the current
		// namespace, so the engine is created in there too.
		var dpOpts []esp.Option
		for _, c := range tr.NATTConns() {
			dpOpts = append(dpOpts, esp.WithUDPSendConn(c))
		}
		dp, err = esp.NewUserspace(d, dpOpts...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "link", "set", dev, "up")
	tr.SetESPBatchHandler(func(pkts [][]byte, remotes []netip.AddrPort) { _ = dp.HandleUDPBatch(pkts, remotes) })
	return tr, dp
}

// gateway is our responder running in the server namespace of a test
// topology with the userspace data plane on a TUN device.
type gateway struct {
	resp   *ike.Responder
	tr     *ike.Transport
	dp     *esp.Userspace
	log    *testnet.Buffer
	keyLog *testnet.Buffer
}

func startGateway(t *testing.T, topo *testnet.Topology, cfg *ike.PeerConfig, opts ...ike.Option) *gateway {
	t.Helper()
	return startGatewayOn(t, topo, []netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6}, cfg, opts...)
}

func startGatewayOn(t *testing.T, topo *testnet.Topology, addrs []netip.Addr, cfg *ike.PeerConfig, opts ...ike.Option) *gateway {
	t.Helper()
	g := &gateway{log: &testnet.Buffer{}, keyLog: &testnet.Buffer{}}
	g.tr, g.dp = listenWithTUN(t, topo.Server, addrs, "gi-tun0")
	s := topo.Server
	s.Run("ip", "route", "add", testnet.Pool4.String(), "dev", "gi-tun0")
	s.Run("ip", "-6", "route", "add", testnet.Pool6.String(), "dev", "gi-tun0")
	var err error
	logger := slog.New(slog.NewTextHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g.resp, err = ike.NewResponder(g.tr, append([]ike.Option{
		ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(g.dp), ike.WithLogger(logger), ike.WithKeyLogWriter(g.keyLog),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.resp.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		g.dp.Close()
		g.tr.Close()
		if t.Failed() {
			t.Logf("our responder's log:\n%s", g.log.String())
		}
	})
	return g
}

func mustProposals(t *testing.T, s string) proposal.List {
	t.Helper()
	l, err := proposal.Parse(s, proposal.ProtoESP)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// interopPKI is the certificate hierarchy of the interop suite: the
// server certificate names vpn.example.com and the server's addresses.
func interopPKI(t *testing.T) (*testpki.PKI, *x509.CertPool) {
	t.Helper()
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com", testnet.ServerAddr4.String(), testnet.ServerAddr6.String())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	return pki, roots
}

func serverPools(t *testing.T) []ipsec.AddressPool {
	p4, err := ipsec.NewPool(testnet.Pool4)
	if err != nil {
		t.Fatal(err)
	}
	p6, err := ipsec.NewPool(testnet.Pool6)
	if err != nil {
		t.Fatal(err)
	}
	return []ipsec.AddressPool{p4, p6}
}

// runPersona starts a strongSwan client persona in the client namespace,
// brings its tunnel up against our gateway and pings through it.
func runPersona(t *testing.T, topo *testnet.Topology, g *gateway, profile string, vars map[string]string, files strongswan.Files) (*strongswan.Charon, strongswan.SAState) {
	t.Helper()
	return runPersonaEdited(t, topo, g, profile, vars, files, nil)
}

// runPersonaEdited is runPersona with the rendered swanctl.conf passed
// through edit first (to change one setting of a persona).
func runPersonaEdited(t *testing.T, topo *testnet.Topology, g *gateway, profile string, vars map[string]string, files strongswan.Files, edit func(string) string) (*strongswan.Charon, strongswan.SAState) {
	t.Helper()
	return runPersonaWith(t, topo, g, profile, vars, files, edit, strongswan.Options{})
}

// runPersonaWith is runPersonaEdited with charon's options (another
// strongSwan build).
func runPersonaWith(t *testing.T, topo *testnet.Topology, g *gateway, profile string, vars map[string]string, files strongswan.Files, edit func(string) string, opt strongswan.Options) (*strongswan.Charon, strongswan.SAState) {
	t.Helper()
	base := map[string]string{
		"SERVER": testnet.ServerAddr4.String(), "SERVER_ID": "vpn.example.com", "EAP_USER": "alice", "EAP_PASS": "password",
		"PSK": "goipsec-interop-psk-0123456789", "CLIENT_ID": "client@example.com", "GROUP_ID": "ExampleGroup",
	}
	for k, v := range vars {
		base[k] = v
	}
	p, err := strongswan.Render("client", profile, base)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		p.Conf = edit(p.Conf)
	}
	cli := strongswan.StartWith(t, topo.Client, p, "", files, opt)
	if out, err := cli.Initiate(profile, 20*time.Second); err != nil {
		t.Fatalf("strongSwan %s could not connect: %v\n%s\nclient log:\n%s", profile, err, out, cli.Log())
	}
	st := strongswan.ParseSAs(cli.ListSAs(), profile)
	if !st.IKEUp || !st.ChildUp {
		t.Fatalf("SAs not up: %+v\n%s", st, cli.ListSAs())
	}
	pinged := 0
	for _, v6 := range []bool{false, true} {
		vip, ok := st.VIP(v6)
		if !ok {
			t.Errorf("%s: no virtual IP (v6=%v) from our responder", profile, v6)
			continue
		}
		dst := testnet.Inner4
		if v6 {
			dst = testnet.Inner6
		}
		out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), dst.String())
		if err != nil {
			t.Errorf("%s: ping %v from %v through our tunnel: %v\n%s\nstrongSwan log:\n%s", profile, dst, vip, err, out, cli.Log())
			continue
		}
		pinged++
	}
	if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
		t.Errorf("%s: DNS server not delivered: %q", profile, r)
	}
	sas := g.resp.SAs()
	if len(sas) != 1 || sas[0].State != "ESTABLISHED" || len(sas[0].Children) != 1 {
		t.Errorf("responder SAs: %+v", sas)
	} else if c := sas[0].Children[0]; pinged > 0 && (c.PacketsIn == 0 || c.PacketsOut == 0 || c.BytesIn == 0 || c.LastIn.IsZero()) {
		t.Errorf("CHILD SA counters not filled after pings: %+v", c)
	}
	if pinged == 2 {
		t.Logf("%s: IKE %s, ESP %s, virtual IPs %v, pings v4+v6 ok", profile, st.IKEAlg, st.ESPAlg, st.VIPs)
	}
	return cli, st
}

// rekeyIKEAndPing has the strongSwan client rekey its IKE SA: our
// responder must move the CHILD SA to the new IKE SA and keep forwarding.
func rekeyIKEAndPing(t *testing.T, topo *testnet.Topology, g *gateway, cli *strongswan.Charon, profile string, st strongswan.SAState) {
	t.Helper()
	before := g.resp.SAs()
	if len(before) != 1 {
		t.Fatalf("before IKE rekey: %+v", before)
	}
	if out, err := cli.Swanctl(20*time.Second, "--rekey", "--ike", profile); err != nil {
		t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	var after []ipsec.IKESAInfo
	for time.Now().Before(deadline) {
		after = g.resp.SAs()
		if len(after) == 1 && after[0].SPIr != before[0].SPIr {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(after) != 1 || after[0].SPIr == before[0].SPIr || len(after[0].Children) != 1 || after[0].State != "ESTABLISHED" {
		t.Fatalf("after IKE rekey our responder has %+v\nclient log:\n%s", after, cli.Log())
	}
	if !strongswan.ParseSAs(cli.ListSAs(), profile).IKEUp {
		t.Errorf("client lost its IKE SA: %s", cli.ListSAs())
	}
	vip, _ := st.VIP(false)
	if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
		t.Errorf("ping after IKE rekey: %v\n%s", err, out)
	}
	t.Logf("IKE SA rekeyed: SPIr %016x -> %016x, CHILD SA kept, ping ok", before[0].SPIr, after[0].SPIr)
}

// rekeyChildAndPing has the strongSwan client rekey its CHILD SA (with the
// PFS group of its ESP proposal, if any) and checks that traffic flows
// through the new SA and the old one is gone from our side.
func rekeyChildAndPing(t *testing.T, topo *testnet.Topology, g *gateway, cli *strongswan.Charon, profile string, st strongswan.SAState) {
	t.Helper()
	before := g.resp.SAs()
	if len(before) != 1 || len(before[0].Children) != 1 {
		t.Fatalf("before rekey: %+v", before)
	}
	oldSPI := before[0].Children[0].SPIIn
	if out, err := cli.Swanctl(20*time.Second, "--rekey", "--child", profile); err != nil {
		t.Fatalf("swanctl --rekey: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	var after []ipsec.IKESAInfo
	for time.Now().Before(deadline) {
		after = g.resp.SAs()
		if len(after) == 1 && len(after[0].Children) == 1 && after[0].Children[0].SPIIn != oldSPI {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(after) != 1 || len(after[0].Children) != 1 || after[0].Children[0].SPIIn == oldSPI {
		t.Fatalf("after rekey our responder has %+v (old inbound SPI %08x)\nclient log:\n%s", after, oldSPI, cli.Log())
	}
	vip, _ := st.VIP(false)
	if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
		t.Errorf("ping after CHILD rekey: %v\n%s", err, out)
	}
	t.Logf("CHILD SA rekeyed: inbound SPI %08x -> %08x, ping ok", oldSPI, after[0].Children[0].SPIIn)
}

func TestInteropStrongSwanInitiatorPSK(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	for _, mode := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
		t.Run(fmt.Sprintf("nat=%d", mode), func(t *testing.T) {
			topo := testnet.New(t, mode)
			psk := ipsec.Secret("goipsec-interop-psk-0123456789")
			cfg := &ike.PeerConfig{
				Name: "linux-psk", LocalID: ipsec.FQDN("vpn.example.com"),
				Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
				Pools: serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
			}
			g := startGateway(t, topo, cfg)
			cli, st := runPersona(t, topo, g, "linux-ikev2-psk", nil, nil)
			rekeyChildAndPing(t, topo, g, cli, "linux-ikev2-psk", st)
			rekeyIKEAndPing(t, topo, g, cli, "linux-ikev2-psk", st)
			// The CHILD SA still rekeys under the new IKE SA.
			rekeyChildAndPing(t, topo, g, cli, "linux-ikev2-psk", st)
			if !strings.Contains(g.keyLog.String(), `"AES-GCM`) && !strings.Contains(g.keyLog.String(), `"AES-CBC`) {
				t.Errorf("key log has no ESP lines:\n%s", g.keyLog.String())
			}
		})
	}
}

// TestInteropStrongSwanInitiatorCert connects the macOS certificate
// persona: behind a NAT, sending its certificate always (as macOS does),
// and on strongSwan's default send_cert = ifasked, where it sends its
// certificate only after our CERTREQ (WithCertificateRequests; Windows
// picks its machine certificate by the CA hashes in it the same way).
func TestInteropStrongSwanInitiatorCert(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, roots := interopPKI(t)
	for _, c := range []struct {
		name    string
		nat     testnet.NATMode
		certreq bool
	}{{"always", testnet.NATRandomPort, false}, {"ifasked", testnet.NoNAT, true}} {
		t.Run("send_cert="+c.name, func(t *testing.T) {
			topo := testnet.New(t, c.nat)
			cfg := &ike.PeerConfig{
				Name: "macos-cert", LocalID: ipsec.FQDN("vpn.example.com"),
				Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
				Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
				Pools:  serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
			}
			var opts []ike.Option
			var edit func(string) string
			if c.certreq {
				opts = append(opts, ike.WithCertificateRequests(pki.CA.Cert))
				edit = func(conf string) string {
					return strings.Replace(strings.Replace(conf, "send_cert = always", "send_cert = ifasked", 1), "send_certreq = no", "send_certreq = yes", 1)
				}
			}
			g := startGateway(t, topo, cfg, opts...)
			files := strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/client.pem": pki.Client.CertPEM(), "private/client.key": pki.Client.KeyPEM()}
			cli, _ := runPersonaEdited(t, topo, g, "macos-ikev2-cert", nil, files, edit)
			// macOS sends no SIGNATURE_HASH_ALGORITHMS: we must have
			// answered with RFC 7296 RSA signatures (method 1), which is
			// all it accepts.
			if !strings.Contains(g.log.String(), "AUTH") {
				t.Error("no IKE_AUTH in the responder log")
			}
			if c.certreq && !strings.Contains(cli.Log(), "received cert request for \"C=XX, O=goipsec test, CN=goipsec test CA\"") {
				t.Errorf("strongSwan did not match our CERTREQ to its CA:\n%s", cli.Log())
			}
		})
	}
}

// roadwarrior is our initiator in the client namespace with the
// userspace data plane on a TUN device.
type roadwarrior struct {
	init *ike.Initiator
	tr   *ike.Transport
	dp   *esp.Userspace
	log  *testnet.Buffer
}

func startRoadwarrior(t *testing.T, topo *testnet.Topology) *roadwarrior {
	t.Helper()
	return startRoadwarriorOn(t, topo, []netip.Addr{topo.ClientAddr4, topo.ClientAddr6})
}

// startRoadwarriorOn is startRoadwarrior with the IKE sockets on addrs.
func startRoadwarriorOn(t *testing.T, topo *testnet.Topology, addrs []netip.Addr) *roadwarrior {
	t.Helper()
	rw := &roadwarrior{log: &testnet.Buffer{}}
	rw.tr, rw.dp = listenWithTUN(t, topo.Client, addrs, "gi-tun1")
	var err error
	logger := slog.New(slog.NewTextHandler(rw.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rw.init, err = ike.NewInitiator(rw.tr, ike.WithDataPlane(rw.dp), ike.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rw.init.Close(ctx)
		rw.dp.Close()
		rw.tr.Close()
		if t.Failed() {
			t.Logf("our initiator's log:\n%s", rw.log.String())
		}
	})
	return rw
}

// dialAndPing connects to the strongSwan responder, applies the virtual
// addresses to the TUN and pings the server's inside addresses.
func (rw *roadwarrior) dialAndPing(t *testing.T, topo *testnet.Topology, cfg *ike.PeerConfig, srv *strongswan.Charon) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := rw.init.Dial(ctx, netip.AddrPortFrom(testnet.ServerAddr4, 500), cfg)
	if err != nil {
		t.Fatalf("Dial: %v\nstrongSwan log:\n%s", err, srv.Log())
	}
	info := sa.Info()
	if len(info.VirtualIPs) != 2 {
		t.Fatalf("virtual IPs %v, want one of each family", info.VirtualIPs)
	}
	dns, _ := sa.DNS()
	if len(dns) != 2 {
		t.Errorf("DNS servers %v, want %v and %v", dns, testnet.DNS4, testnet.DNS6)
	}
	for _, vip := range info.VirtualIPs {
		dst, bits := testnet.Inner4, "/32"
		if vip.Is6() {
			dst, bits = testnet.Inner6, "/128"
		}
		topo.Client.AddAddr("gi-tun1", vip.String()+bits)
		topo.Client.Run("ip", "route", "add", dst.String()+bits, "dev", "gi-tun1", "src", vip.String())
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), dst.String()); err != nil {
			t.Errorf("ping %v from %v through our initiator's tunnel: %v\n%s", dst, vip, err, out)
		}
	}
	st := strongswan.ParseSAs(srv.ListSAs(), cfg.Name)
	if !st.IKEUp || !st.ChildUp {
		t.Errorf("strongSwan responder does not show the SAs up: %s", srv.ListSAs())
	}
	t.Logf("our initiator -> strongSwan %s: IKE %s, ESP %s, vips %v", cfg.Name, st.IKEAlg, st.ESPAlg, info.VirtualIPs)
	if len(cfg.Children) > 0 && cfg.Children[0].RekeyTime > 0 {
		// Let our side rekey the CHILD SA (and the IKE SA, if set) a few
		// times against strongSwan, then check traffic again.
		first := sa.Info()
		time.Sleep(3*cfg.Children[0].RekeyTime + time.Second)
		now := sa.Info()
		if len(now.Children) != 1 || now.Children[0].SPIIn == first.Children[0].SPIIn {
			t.Errorf("CHILD SA not rekeyed: %+v", now.Children)
		}
		if cfg.RekeyTime > 0 && now.SPIi == first.SPIi {
			t.Errorf("IKE SA not rekeyed (SPIi %016x)", now.SPIi)
		}
		vip := info.VirtualIPs[0]
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
			t.Errorf("ping after our rekeys: %v\n%s\nstrongSwan log:\n%s", err, out, srv.Log())
		}
		st := strongswan.ParseSAs(srv.ListSAs(), cfg.Name)
		if !st.IKEUp || !st.ChildUp {
			t.Errorf("strongSwan lost the SAs after our rekeys: %s", srv.ListSAs())
		}
		t.Logf("our rekeys: SPIi %016x -> %016x, CHILD %08x -> %08x, ping ok", first.SPIi, now.SPIi, first.Children[0].SPIIn, now.Children[0].SPIIn)
	}
	if err := sa.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// serverVars fills the strongSwan server profiles' placeholders.
func serverVars() map[string]string {
	return map[string]string{
		"SERVER_ID": "vpn.example.com", "PSK": "goipsec-interop-psk-0123456789", "GROUP_ID": "g",
		"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
	}
}

func TestInteropInitiatorAgainstStrongSwan(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, roots := interopPKI(t)
	vars := serverVars()
	psk := ipsec.Secret(vars["PSK"])
	cases := []struct {
		server string
		nat    testnet.NATMode
		cfg    *ike.PeerConfig
	}{
		{"ikev2-psk", testnet.NATRandomPort, &ike.PeerConfig{
			Name: "ikev2-psk", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
			Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
			// Our side rekeys: CHILD SA every 2 s (PFS offered, optional:
			// the strongSwan responder has no KE in its ESP proposals), IKE
			// SA every 5 s.
			RekeyTime: 5 * time.Second,
			Children:  []ike.ChildConfig{{Name: "ikev2-psk", RekeyTime: 2 * time.Second, Proposals: mustProposals(t, "aes256gcm16-modp2048-modpnone")}},
		}},
		{"ikev2-cert", testnet.NoNAT, &ike.PeerConfig{
			Name: "ikev2-cert", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
			Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER}, Key: pki.Client.Key},
			Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
		}},
	}
	for _, c := range cases {
		t.Run(c.server, func(t *testing.T) {
			topo := testnet.New(t, c.nat)
			sp, err := strongswan.Render("server", c.server, vars)
			if err != nil {
				t.Fatal(err)
			}
			srv := strongswan.Start(t, topo.Server, sp, strongswan.Users(map[string]string{"alice": "password"}),
				strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/server.pem": pki.Server.CertPEM(), "private/server.key": pki.Server.KeyPEM()})
			rw := startRoadwarrior(t, topo)
			c.cfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
			rw.dialAndPing(t, topo, c.cfg, srv)
		})
	}
}

func TestInteropEAPPersonas(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, _ := interopPKI(t)
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("password")})
	files := strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM()}
	for _, c := range []struct {
		profile string
		nat     testnet.NATMode
	}{
		{"ios-ikev2-eap", testnet.NoNAT},
		{"windows-ikev2-eap", testnet.NATRandomPort},
		{"android-ikev2-eap", testnet.NATRandomPort},
	} {
		t.Run(c.profile, func(t *testing.T) {
			topo := testnet.New(t, c.nat)
			cfg := &ike.PeerConfig{
				Name: "rw-eap", LocalID: ipsec.FQDN("vpn.example.com"),
				Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
				Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: users},
				Pools:  serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
			}
			g := startGateway(t, topo, cfg)
			cli, st := runPersona(t, topo, g, c.profile, nil, files)
			// iOS offers its IKE group for PFS in the rekey proposal.
			rekeyChildAndPing(t, topo, g, cli, c.profile, st)
			rekeyIKEAndPing(t, topo, g, cli, c.profile, st)
			if sas := g.resp.SAs(); len(sas) == 1 && !strings.HasSuffix(sas[0].EAPIdentity, "alice") {
				t.Errorf("EAP identity %q", sas[0].EAPIdentity)
			}
			if strings.Contains(g.log.String(), "password") && strings.Contains(g.log.String(), "=password") {
				t.Error("the password appears in our log")
			}
		})
	}
	t.Run("wrong-password", func(t *testing.T) {
		topo := testnet.New(t, testnet.NoNAT)
		cfg := &ike.PeerConfig{
			Name: "rw-eap", LocalID: ipsec.FQDN("vpn.example.com"),
			Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
			Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: users},
			Pools:  serverPools(t),
		}
		g := startGateway(t, topo, cfg)
		p, err := strongswan.Render("client", "ios-ikev2-eap", map[string]string{
			"SERVER": testnet.ServerAddr4.String(), "SERVER_ID": "vpn.example.com", "EAP_PASS": "not-the-password"})
		if err != nil {
			t.Fatal(err)
		}
		cli := strongswan.Start(t, topo.Client, p, "", files)
		if _, err := cli.Initiate("ios-ikev2-eap", 15*time.Second); err == nil {
			t.Fatal("strongSwan connected with a wrong password")
		}
		if !strings.Contains(cli.Log(), "AUTHENTICATION_FAILED") && !strings.Contains(cli.Log(), "EAP_FAILURE") {
			t.Errorf("client saw neither AUTHENTICATION_FAILED nor EAP failure:\n%s", cli.Log())
		}
		if len(g.resp.SAs()) != 0 {
			t.Errorf("responder kept SAs: %+v", g.resp.SAs())
		}
		if strings.Contains(g.log.String(), "not-the-password") {
			t.Error("the password appears in our log")
		}
	})
}

func TestInteropEAPTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, roots := interopPKI(t)
	topo := testnet.New(t, testnet.NoNAT)
	cfg := &ike.PeerConfig{
		Name: "rw-eaptls", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, EAPMethods: []eap.Type{eap.TypeTLS},
			EAPTLS:   &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{pki.Server.DER}, PrivateKey: pki.Server.Key}}},
			EAPCerts: &eap.CertVerifier{Roots: roots}},
		Pools: serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
	}
	g := startGateway(t, topo, cfg)
	files := strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/client.pem": pki.Client.CertPEM(), "private/client.key": pki.Client.KeyPEM()}
	runPersona(t, topo, g, "linux-ikev2-eaptls", nil, files)
	if sas := g.resp.SAs(); len(sas) != 1 || sas[0].EAPIdentity != "client@example.com" {
		t.Errorf("EAP-TLS identity: %+v", sas)
	}
}

func TestInteropInitiatorEAPAgainstStrongSwan(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, roots := interopPKI(t)
	topo := testnet.New(t, testnet.NATRandomPort)
	sp, err := strongswan.Render("server", "ikev2-eap", map[string]string{
		"SERVER_ID": "vpn.example.com", "POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(),
		"DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String()})
	if err != nil {
		t.Fatal(err)
	}
	srv := strongswan.Start(t, topo.Server, sp, strongswan.Users(map[string]string{"alice": "password"}),
		strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/server.pem": pki.Server.CertPEM(), "private/server.key": pki.Server.KeyPEM()})
	rw := startRoadwarrior(t, topo)
	rw.dialAndPing(t, topo, &ike.PeerConfig{
		Name: "ikev2-eap", RemoteID: ipsec.FQDN("vpn.example.com"),
		Local:      ike.LocalAuth{Method: ike.AuthEAP, EAPIdentity: "alice", EAPPassword: ipsec.Secret("password")},
		Remote:     ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
	}, srv)
}

// TestInteropDeadClientRemoved kills a connected strongSwan client without
// a Delete: dead peer detection must remove its SAs and release its
// virtual addresses.
func TestInteropDeadClientRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	topo := testnet.New(t, testnet.NoNAT)
	psk := ipsec.Secret("goipsec-interop-psk-0123456789")
	pools := serverPools(t)
	var downs []error
	var mu sync.Mutex
	cfg := &ike.PeerConfig{
		Name: "linux-psk", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		Pools: pools, DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
		DPDDelay: 2 * time.Second,
	}
	g := startGateway(t, topo, cfg, ike.WithRetransmission(500*time.Millisecond, 1.5, 3),
		ike.WithHooks(&ike.Hooks{IKEDown: func(_ ipsec.IKESAInfo, err error) { mu.Lock(); downs = append(downs, err); mu.Unlock() }}))
	cli, _ := runPersona(t, topo, g, "linux-ikev2-psk", nil, nil)
	leased := len(pools[0].(*ipsec.Pool).Leases()) + len(pools[1].(*ipsec.Pool).Leases())
	if leased != 2 {
		t.Fatalf("%d leases while connected", leased)
	}
	killed := time.Now()
	cli.Kill()
	deadline := killed.Add(20 * time.Second)
	for time.Now().Before(deadline) && len(g.resp.SAs()) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(g.resp.SAs()); n != 0 {
		t.Fatalf("dead client's SA still there after %v", time.Since(killed))
	}
	if n := len(pools[0].(*ipsec.Pool).Leases()) + len(pools[1].(*ipsec.Pool).Leases()); n != 0 {
		t.Errorf("%d leases still held", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(downs) != 1 || !errors.Is(downs[0], ike.ErrTimeout) {
		t.Errorf("IKEDown %v, want one ErrTimeout", downs)
	}
	t.Logf("dead client removed %v after the kill (DPD 2 s, 3 retransmissions)", time.Since(killed).Round(100*time.Millisecond))
}

// TestInteropMOBIKE moves a connected strongSwan client (iOS persona, which
// announces MOBIKE) to a new address: it tells us with UPDATE_SA_ADDRESSES
// and traffic goes on through the same SAs.
func TestInteropMOBIKE(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, _ := interopPKI(t)
	topo := testnet.New(t, testnet.NoNAT)
	cfg := &ike.PeerConfig{
		Name: "rw-eap", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("password")})},
		Pools:  serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
	}
	g := startGateway(t, topo, cfg)
	_, st := runPersona(t, topo, g, "ios-ikev2-eap", nil, strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM()})
	before := g.resp.SAs()
	if len(before) != 1 {
		t.Fatalf("SAs %+v", before)
	}
	moved := netip.MustParseAddr("192.0.2.3")
	// Keep the new address when the old (primary) one goes.
	topo.Client.Run("sysctl", "-qw", "net.ipv4.conf.eth0.promote_secondaries=1")
	topo.Client.AddAddr("eth0", moved.String()+"/25")
	topo.Client.Run("ip", "addr", "del", testnet.ClientAddr4.String()+"/25", "dev", "eth0")
	deadline := time.Now().Add(15 * time.Second)
	var after []ipsec.IKESAInfo
	for time.Now().Before(deadline) {
		after = g.resp.SAs()
		if len(after) == 1 && after[0].Remote.Addr() == moved {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(after) != 1 || after[0].Remote.Addr() != moved || after[0].SPIr != before[0].SPIr {
		t.Fatalf("after the move our SAs are %+v", after)
	}
	vip, _ := st.VIP(false)
	if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
		t.Errorf("ping after the move: %v\n%s", err, out)
	}
	t.Logf("client moved %v -> %v, same IKE SA, ping ok", before[0].Remote, after[0].Remote)
}

// TestInteropMOBIKEInitiator moves our initiator to a new address while
// connected to a strongSwan gateway (MOBIKE on by default there): the
// UPDATE_SA_ADDRESSES exchange moves strongSwan's SAs, and the tunnel
// keeps working from the new address with the same IKE SA.
func TestInteropMOBIKEInitiator(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	topo := testnet.New(t, testnet.NoNAT)
	vars := serverVars()
	sp, err := strongswan.Render("server", "ikev2-psk", vars)
	if err != nil {
		t.Fatal(err)
	}
	srv := strongswan.Start(t, topo.Server, sp, "", nil)
	// A wildcard socket, so that we can send from whatever address the
	// client namespace has after the move.
	rw := startRoadwarriorOn(t, topo, []netip.Addr{netip.IPv4Unspecified()})
	psk := ipsec.Secret(vars["PSK"])
	cfg := &ike.PeerConfig{
		Name: "ikev2-psk", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := rw.init.Dial(ctx, netip.AddrPortFrom(testnet.ServerAddr4, 500), cfg)
	if err != nil {
		t.Fatalf("Dial: %v\nstrongSwan log:\n%s", err, srv.Log())
	}
	vip := sa.Info().VirtualIPs[0]
	topo.Client.AddAddr("gi-tun1", vip.String()+"/32")
	topo.Client.Run("ip", "route", "add", testnet.Inner4.String()+"/32", "dev", "gi-tun1", "src", vip.String())
	ping := func(when string) {
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
			t.Fatalf("ping %s: %v\n%s\nstrongSwan log:\n%s", when, err, out, srv.Log())
		}
	}
	ping("before the move")
	before := sa.Info()
	moved := netip.MustParseAddr("192.0.2.3")
	topo.Client.Run("sysctl", "-qw", "net.ipv4.conf.eth0.promote_secondaries=1")
	topo.Client.AddAddr("eth0", moved.String()+"/25")
	topo.Client.Run("ip", "addr", "del", testnet.ClientAddr4.String()+"/25", "dev", "eth0")
	if err := sa.Migrate(ctx, moved); err != nil {
		t.Fatalf("Migrate: %v\nstrongSwan log:\n%s", err, srv.Log())
	}
	after := sa.Info()
	if after.Local.Addr() != moved || after.SPIi != before.SPIi {
		t.Fatalf("after the move: %+v", after)
	}
	if l := srv.ListSAs(); !strings.Contains(l, moved.String()) {
		t.Fatalf("strongSwan does not show the new address:\n%s", l)
	}
	ping("after the move")
	t.Logf("our initiator moved %v -> %v with MOBIKE, same IKE SA, ping ok", before.Local, after.Local)
	if err := sa.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestInteropRedirect has our gateway send the iOS persona (which follows
// redirects) from one address to another during IKE_SA_INIT.
func TestInteropRedirect(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	pki, _ := interopPKI(t)
	topo := testnet.New(t, testnet.NoNAT)
	second := netip.MustParseAddr("192.0.2.5")
	topo.Server.AddAddr("eth0", second.String()+"/25")
	cfg := &ike.PeerConfig{
		Name: "rw-eap", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthEAP, Users: ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("password")})},
		Pools:  serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
		// A split tunnel: with 0.0.0.0/0 strongSwan's kernel-libipsec
		// would route its IKE_SA_INIT to the other gateway address into
		// the tunnel it is leaving (it only excludes the current peer).
		Children: []ike.ChildConfig{{Name: "rw-eap", LocalTS: []esp.Selector{
			esp.PrefixSelector(netip.PrefixFrom(testnet.Inner4, 32)), esp.PrefixSelector(netip.PrefixFrom(testnet.Inner6, 128))}}},
	}
	g := startGatewayOn(t, topo, []netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6, second}, cfg,
		ike.WithRedirect(func(_ context.Context, q ike.RedirectQuery) (netip.Addr, bool) {
			// Clients that were sent here by a redirect stay.
			return second, q.Local.Addr() == testnet.ServerAddr4 && !q.RedirectedFrom.IsValid()
		}))
	cli, _ := runPersona(t, topo, g, "ios-ikev2-eap", nil, strongswan.Files{"x509ca/ca.pem": pki.CA.CertPEM()})
	sas := g.resp.SAs()
	if len(sas) != 1 || sas[0].Local.Addr() != second {
		t.Fatalf("after the redirect our SAs are %+v", sas)
	}
	t.Logf("client redirected from %v to %v and connected there", testnet.ServerAddr4, sas[0].Local)

	// Now ask the established client to move back (RFC 5685 section 6):
	// it sets up a new IKE SA at the first address and deletes this one.
	if n := g.resp.Redirect(context.Background(), testnet.ServerAddr4, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
		t.Fatalf("Redirect asked %d SAs", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(cli.Log(), "redirected to "+testnet.ServerAddr4.String()) {
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(cli.Log(), "redirected to "+testnet.ServerAddr4.String()) {
		t.Errorf("strongSwan did not accept the REDIRECT of its established SA:\n%s", cli.Log())
	}
	t.Logf("established client accepted the redirect to %v", testnet.ServerAddr4)
	deadline = time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		sas = g.resp.SAs()
		if len(sas) == 1 && sas[0].Local.Addr() == testnet.ServerAddr4 && len(sas[0].Children) == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(sas) != 1 || sas[0].Local.Addr() != testnet.ServerAddr4 {
		t.Fatalf("after the redirect of the established SA our SAs are %+v\nclient log:\n%s", sas, cli.Log())
	}
	vip, _ := strongswan.ParseSAs(cli.ListSAs(), "ios-ikev2-eap").VIP(false)
	if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
		t.Errorf("ping after the redirect: %v\n%s", err, out)
	}
	t.Logf("client re-established at %v, ping ok", sas[0].Local)
}

// TestInteropRedirectOnAuth has our gateway redirect a strongSwan client
// after it authenticated, by identity (RFC 5685 section 6): strongSwan
// verifies our AUTH and connects to the other address.
func TestInteropRedirectOnAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	topo := testnet.New(t, testnet.NoNAT)
	second := netip.MustParseAddr("192.0.2.5")
	topo.Server.AddAddr("eth0", second.String()+"/25")
	psk := ipsec.Secret("goipsec-interop-psk-0123456789")
	cfg := &ike.PeerConfig{
		Name: "linux-psk", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		Pools: serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
	}
	const client = "client@example.com"
	var asked []string
	var mu sync.Mutex
	g := startGatewayOn(t, topo, []netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6, second}, cfg,
		ike.WithRedirectOnAuth(func(_ context.Context, info ipsec.IKESAInfo) (netip.Addr, bool) {
			mu.Lock()
			asked = append(asked, info.RemoteID.String())
			mu.Unlock()
			return second, info.Local.Addr() == testnet.ServerAddr4 && info.RemoteID.String() == client
		}))
	p, err := strongswan.Render("client", "linux-ikev2-psk", map[string]string{
		"SERVER": testnet.ServerAddr4.String(), "SERVER_ID": "vpn.example.com", "PSK": string(psk), "CLIENT_ID": client,
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := strongswan.Start(t, topo.Client, p, "", nil)
	// strongSwan 5.9.8 verifies our AUTH and accepts the REDIRECT
	// ("redirected to"), then resets its IKE SA in place to connect to the
	// other gateway, and at that point the Debian build of charon exits
	// (no log line, no core; seen with PSK and EAP alike, while it
	// follows REDIRECT in IKE_SA_INIT and for established SAs, see
	// TestInteropRedirect). So we check what strongSwan does up to the
	// reset and what we keep: nothing but the quiet, childless IKE SA
	// that waits for the client's Delete. The complete flow is covered by
	// TestRedirectOnAuth with our initiator.
	cli.Initiate(p.Name, 10*time.Second)
	want := "redirected to " + second.String()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(cli.Log(), want); time.Sleep(200 * time.Millisecond) {
	}
	if !strings.Contains(cli.Log(), want) || !strings.Contains(cli.Log(), "authentication of 'vpn.example.com' with pre-shared key successful") {
		t.Fatalf("strongSwan did not accept our authenticated REDIRECT:\n%s", cli.Log())
	}
	sas := g.resp.SAs()
	if len(sas) != 1 || sas[0].State != "REDIRECTED" || len(sas[0].Children) != 0 || len(sas[0].VirtualIPs) != 0 {
		t.Errorf("after redirecting, our gateway holds %+v", sas)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != client {
		t.Errorf("redirect decisions for %v", asked)
	}
	t.Logf("%s authenticated at %v and accepted the redirect to %v", client, testnet.ServerAddr4, second)
}
