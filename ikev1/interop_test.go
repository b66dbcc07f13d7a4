package ikev1_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/transport"
)

// The interop suite: our IKEv1 engine against strongSwan 5.9.8 in network
// namespaces, on the userspace data plane (strongSwan's side uses
// kernel-libipsec, which always encapsulates ESP in UDP). Each case runs
// with our responder and with our initiator, direct and behind a NAT.

// listenWithTUN opens the IKE sockets on addrs and a TUN device named dev
// inside ns, with the userspace data plane on it.
func listenWithTUN(t *testing.T, ns *testnet.NS, addrs []netip.Addr, dev string) (*transport.Transport, *esp.Userspace) {
	t.Helper()
	var tr *transport.Transport
	var dp *esp.Userspace
	err := ns.Do(func() error {
		var err error
		tr, err = transport.ListenUDP(context.Background(), transport.WithListenAddrs(addrs...))
		if err != nil {
			return err
		}
		d, err := tun.CreateTUN(dev, 1400)
		if err != nil {
			return err
		}
		var opts []esp.Option
		for _, c := range tr.NATTConns() {
			opts = append(opts, esp.WithUDPSendConn(c))
		}
		dp, err = esp.NewUserspace(d, opts...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "link", "set", dev, "up")
	tr.SetESPBatchHandler(func(pkts [][]byte, remotes []netip.AddrPort) { _ = dp.HandleUDPBatch(pkts, remotes) })
	t.Cleanup(func() { dp.Close(); tr.Close() })
	return tr, dp
}

// ourConfig is the PeerConfig matching a strongSwan IKEv1 profile, from
// the server's (server true) or the client's point of view.
func ourConfig(t *testing.T, env *strongswan.V1Env, server bool) *ikev1.PeerConfig {
	clientTS := esp.PrefixSelector(netip.PrefixFrom(strongswan.V1ClientInner4, 32))
	serverTS := esp.PrefixSelector(netip.MustParsePrefix("198.51.100.0/24"))
	cfg := &ikev1.PeerConfig{Name: env.Case.Profile, Auth: ikev1.AuthPSK, PSK: ipsec.Secret(env.Vars["PSK"]), DPDDelay: 5 * time.Second}
	cc := ikev1.ChildConfig{Name: env.Case.Profile, LocalTS: []esp.Selector{serverTS}, RemoteTS: []esp.Selector{clientTS}}
	if !server {
		cc.LocalTS, cc.RemoteTS = cc.RemoteTS, cc.LocalTS
	}
	cfg.Children = []ikev1.ChildConfig{cc}
	switch env.Case.Profile {
	case "ikev1-aggr-keyid":
		cfg.AllowAggressive = true
		if !server {
			cfg.Mode = ikev1.AggressiveMode
			cfg.LocalID = ipsec.KeyID([]byte(env.Vars["GROUP_ID"]))
		} else {
			cfg.RemoteID = ipsec.KeyID([]byte(env.Vars["GROUP_ID"]))
		}
	case "ikev1-main-rsa":
		pool := x509.NewCertPool()
		pool.AddCert(env.PKI.CA.Cert)
		cfg.Auth, cfg.CAs = ikev1.AuthPubkey, pool
		if server {
			cfg.Certificates, cfg.Key = [][]byte{env.PKI.Server.DER}, env.PKI.Server.Key
			cfg.LocalID = ipsec.FQDN(env.Vars["SERVER_ID"])
		} else {
			cfg.Certificates, cfg.Key = [][]byte{env.PKI.Client.DER}, env.PKI.Client.Key
			cfg.RemoteID = ipsec.FQDN(env.Vars["SERVER_ID"])
		}
	}
	return cfg
}

// ourServer starts our responder in the server namespace.
func ourServer(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	return ourServerWith(nil, nil)(t, env)
}

// ourServerWith is ourServer that hands the responder to *out and lets
// edit change the configuration first.
func ourServerWith(out **ikev1.Responder, edit func(*ikev1.PeerConfig)) strongswan.V1Start {
	return func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		t.Helper()
		p := startOurServer(t, env, edit)
		if out != nil {
			*out = v1Responders.get(t.Name())
		}
		return p
	}
}

func startOurServer(t *testing.T, env *strongswan.V1Env, edit func(*ikev1.PeerConfig)) *strongswan.V1Peer {
	t.Helper()
	s := env.Topo.Server
	tr, dp := listenWithTUN(t, s, []netip.Addr{testnet.ServerAddr4}, "gv1-tun0")
	s.Run("ip", "route", "add", strongswan.V1ClientInner4.String()+"/32", "dev", "gv1-tun0")
	log := &testnet.Buffer{}
	cfg := ourConfig(t, env, true)
	if edit != nil {
		edit(cfg)
	}
	resp, err := ikev1.NewResponder(tr, ikev1.WithPeers(func(context.Context, ikev1.PeerQuery) (*ikev1.PeerConfig, error) { return cfg, nil }),
		ikev1.WithDataPlane(dp), ikev1.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		resp.Close()
		if t.Failed() {
			t.Logf("our responder's log:\n%s", log.String())
		}
	})
	v1Responders.put(t.Name(), resp)
	return &strongswan.V1Peer{Name: "goipsec responder", Status: func() string { return describe(resp.SAs()) }}
}

// v1Responders lets a test reach the responder RunV1 started.
var v1Responders = &responderTable{m: map[string]*ikev1.Responder{}}

type responderTable struct {
	mu sync.Mutex
	m  map[string]*ikev1.Responder
}

func (r *responderTable) put(k string, v *ikev1.Responder) { r.mu.Lock(); r.m[k] = v; r.mu.Unlock() }
func (r *responderTable) get(k string) *ikev1.Responder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[k]
}

func describe(sas []ipsec.IKESAInfo) string {
	var b strings.Builder
	for _, s := range sas {
		b.WriteString(s.State + " " + s.Proposal + " " + s.RemoteID.String() + "\n")
		for _, c := range s.Children {
			b.WriteString("  " + c.Name + " " + c.Proposal + " " + strings.Join(c.LocalTS, ",") + " === " + strings.Join(c.RemoteTS, ",") + "\n")
		}
	}
	return b.String()
}

// ourClient starts our initiator in the client namespace and dials.
func ourClient(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	return ourClientWith(nil, nil)(t, env)
}

// ourClientWith is ourClient that hands the SA to *out and lets edit
// change the configuration first.
func ourClientWith(out **ikev1.SA, edit func(*ikev1.PeerConfig)) strongswan.V1Start {
	return func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		t.Helper()
		cfg := ourConfig(t, env, false)
		if edit != nil {
			edit(cfg)
		}
		p, sa := startOurClient(t, env, cfg)
		if out != nil {
			*out = sa
		}
		return p
	}
}

func startOurClient(t *testing.T, env *strongswan.V1Env, cfg *ikev1.PeerConfig) (*strongswan.V1Peer, *ikev1.SA) {
	t.Helper()
	c := env.Topo.Client
	tr, dp := listenWithTUN(t, c, []netip.Addr{env.Topo.ClientAddr4}, "gv1-tun1")
	c.Run("ip", "route", "add", "198.51.100.0/24", "dev", "gv1-tun1", "src", strongswan.V1ClientInner4.String())
	log := &testnet.Buffer{}
	init, err := ikev1.NewInitiator(tr, ikev1.WithDataPlane(dp), ikev1.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		init.Close()
		if t.Failed() {
			t.Logf("our initiator's log:\n%s", log.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := init.Dial(ctx, netip.AddrPortFrom(testnet.ServerAddr4, 500), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return &strongswan.V1Peer{Name: "goipsec initiator", Status: func() string { return describe([]ipsec.IKESAInfo{sa.Info()}) }}, sa
}

func TestInteropV1(t *testing.T) {
	strongswan.Require(t)
	for _, profile := range []string{"ikev1-main-psk", "ikev1-aggr-keyid", "ikev1-main-rsa"} {
		for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
			natName := map[testnet.NATMode]string{testnet.NoNAT: "direct", testnet.NATRandomPort: "nat"}[nat]
			t.Run(profile+"/"+natName+"/our-responder", func(t *testing.T) {
				run := strongswan.RunV1(t, strongswan.V1Case{Profile: profile, NAT: nat}, ourServer, strongswan.V1StrongSwanClient)
				resp := v1Responders.get(t.Name())
				sas := resp.SAs()
				if len(sas) != 1 || len(sas[0].Children) != 1 || sas[0].Children[0].BytesIn == 0 || sas[0].Children[0].BytesOut == 0 {
					t.Fatalf("responder SAs after the ping: %+v", sas)
				}
				// kernel-libipsec always encapsulates: strongSwan fakes its
				// NAT-D so that both sides use ESP in UDP.
				if !sas[0].NATRemote || !sas[0].Children[0].UDPEncap {
					t.Errorf("NATRemote %v, UDPEncap %v: want both (strongSwan announces a NAT)", sas[0].NATRemote, sas[0].Children[0].UDPEncap)
				}
				_ = run
			})
			t.Run(profile+"/"+natName+"/our-initiator", func(t *testing.T) {
				strongswan.RunV1(t, strongswan.V1Case{Profile: profile, NAT: nat}, strongswan.V1StrongSwanServer, ourClient)
			})
		}
	}
}

// TestInteropV1Rekeys: phase 1 and phase 2 renewed every 20 s for two
// minutes under a continuous ping (5 per second), with strongSwan
// re-authenticating or rekeying against our responder and our initiator
// doing both against strongSwan: no ping may be lost.
func TestInteropV1Rekeys(t *testing.T) {
	strongswan.Require(t)
	vars := map[string]string{"REKEY_TIME": "20s", "REAUTH_TIME": "0s", "CHILD_REKEY_TIME": "20s", "CHILD_LIFE_TIME": "40s"}
	check := func(t *testing.T, run *strongswan.V1Run) {
		// Six back-to-back runs of 100 (one command may take a minute).
		for i := 0; i < 6; i++ {
			sent, recv, out := run.Env.Ping(100, 200*time.Millisecond)
			if sent != 100 || recv != sent {
				t.Fatalf("run %d: %d of %d pings answered during the rekeys\n%s", i, recv, sent, out)
			}
		}
	}
	// strongSwan 5.9.8 as the client moves its IPsec SAs to each
	// re-authenticated ISAKMP SA but then never rekeys them (they expire
	// at their hard lifetime, on its side too): with both renewals every
	// 20 s its tunnel breaks by itself. Against our responder it
	// re-authenticates every 20 s (with kernel-libipsec its phase 2 rekey
	// jobs are not reliable either); our initiator does both at once.
	for _, tc := range []struct {
		name string
		vars map[string]string
		mm   int // at least this many Main Modes
		qm   int // and IPsec SAs
	}{
		{"our-responder/phase1", map[string]string{"REKEY_TIME": "20s", "REAUTH_TIME": "0s", "CHILD_REKEY_TIME": "10m", "CHILD_LIFE_TIME": "20m"}, 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var resp *ikev1.Responder
			run := strongswan.RunV1(t, strongswan.V1Case{Profile: "ikev1-main-psk", NAT: testnet.NATRandomPort, Vars: tc.vars},
				ourServerWith(&resp, nil), strongswan.V1StrongSwanClient)
			check(t, run)
			log := run.Client.Charon.Log()
			if n := strings.Count(log, "initiating Main Mode"); n < tc.mm {
				t.Errorf("strongSwan ran %d Main Modes in two minutes, want at least %d", n, tc.mm)
			}
			if n := strings.Count(log, "CHILD_SA ikev1-main-psk{"); n < tc.qm {
				t.Errorf("strongSwan established %d IPsec SAs, want at least %d", n, tc.qm)
			}
			if sas := resp.SAs(); len(sas) > 2 {
				t.Errorf("our responder holds %d ISAKMP SAs after the rekeys: old ones linger\n%s", len(sas), describe(sas))
			}
		})
	}
	t.Run("our-initiator", func(t *testing.T) {
		t.Parallel()
		var sa *ikev1.SA
		run := strongswan.RunV1(t, strongswan.V1Case{Profile: "ikev1-main-psk", NAT: testnet.NATRandomPort, Vars: vars}, strongswan.V1StrongSwanServer,
			ourClientWith(&sa, func(c *ikev1.PeerConfig) {
				c.Lifetime, c.RekeyMargin = 30*time.Second, 10*time.Second
				c.Children[0].Lifetime, c.Children[0].RekeyMargin = 30*time.Second, 10*time.Second
			}))
		session := sa.Info().SessionID
		check(t, run)
		log := run.Server.Charon.Log()
		if n := strings.Count(log, "IKE_SA ikev1-main-psk["); n < 5 {
			t.Errorf("strongSwan saw %d ISAKMP SAs in two minutes, want at least 5", n)
		}
		if got := sa.Info(); got.SessionID != session || got.State != "ESTABLISHED" {
			t.Errorf("after the rekeys: session %d (was %d), state %s", got.SessionID, session, got.State)
		}
	})
}

// TestInteropV1DPD: a strongSwan peer killed without a Delete is found
// dead by DPD and removed with its IPsec SAs, on our responder and on our
// initiator.
func TestInteropV1DPD(t *testing.T) {
	strongswan.Require(t)
	dpd := func(c *ikev1.PeerConfig) { c.DPDDelay, c.DPDTimeout = 3*time.Second, 10*time.Second }
	t.Run("our-responder", func(t *testing.T) {
		var resp *ikev1.Responder
		run := strongswan.RunV1(t, strongswan.V1Case{Profile: "ikev1-main-psk"}, ourServerWith(&resp, dpd), strongswan.V1StrongSwanClient)
		run.Client.Kill()
		deadline := time.Now().Add(30 * time.Second)
		for len(resp.SAs()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("dead client not removed in 30 s:\n%s", describe(resp.SAs()))
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	t.Run("our-initiator", func(t *testing.T) {
		var sa *ikev1.SA
		run := strongswan.RunV1(t, strongswan.V1Case{Profile: "ikev1-main-psk"}, strongswan.V1StrongSwanServer, ourClientWith(&sa, dpd))
		run.Server.Kill()
		select {
		case <-sa.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("dead server not detected in 30 s")
		}
		if !errors.Is(sa.Err(), ikev1.ErrDeadPeer) {
			t.Errorf("SA ended with %v, want ErrDeadPeer", sa.Err())
		}
	})
}

// TestInteropV1XAuth: strongSwan 5.9.8 as a "Cisco IPSec" client
// (Aggressive Mode PSK with the group name as KEY_ID, XAuth, Mode Config
// pulled like racoon) against our responder: it gets an address of our
// pool and pings through the tunnel; with a wrong password it is refused
// and gets no address.
func TestInteropV1XAuth(t *testing.T) {
	strongswan.Require(t)
	for _, tc := range []struct {
		name     string
		password string
		ok       bool
	}{{"good password", "xauth-pass-1", true}, {"wrong password", "not-the-password", false}} {
		t.Run(tc.name, func(t *testing.T) {
			users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("xauth-pass-1")})
			pool, err := ipsec.NewPool(testnet.Pool4)
			if err != nil {
				t.Fatal(err)
			}
			var resp *ikev1.Responder
			edit := func(c *ikev1.PeerConfig) {
				c.AllowAggressive = true
				c.Children = nil
				c.XAuth = &ikev1.XAuthConfig{Users: users, Pools: []ipsec.AddressPool{pool}, DNS: []netip.Addr{testnet.DNS4}}
			}
			var vip netip.Addr
			check := func(t *testing.T, env *strongswan.V1Env) {}
			c := strongswan.V1Case{Profile: "ikev1-xauth-psk", NAT: testnet.NATRandomPort,
				Vars:  map[string]string{"EAP_USER": "alice", "EAP_PASS": tc.password, "POOL4": testnet.Pool4.String(), "DNS4": testnet.DNS4.String()},
				Check: check}
			server := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
				p := ourServerWith(&resp, edit)(t, env)
				env.Topo.Server.Run("ip", "route", "add", testnet.Pool4.String(), "dev", "gv1-tun0")
				return p
			}
			client := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
				p, err := strongswan.Render("client", env.Case.Profile, env.Vars)
				if err != nil {
					t.Fatal(err)
				}
				ch := strongswan.StartWith(t, env.Topo.Client, p, "", env.ClientFiles(), strongswan.Options{})
				out, err := ch.Initiate(env.Case.Profile, 30*time.Second)
				st := strongswan.ParseSAs(ch.ListSAs(), env.Case.Profile)
				if !tc.ok {
					if err == nil && st.ChildUp {
						t.Fatalf("a wrong XAuth password got a tunnel:\n%s", ch.ListSAs())
					}
					return &strongswan.V1Peer{Name: "strongSwan client", Charon: ch, Status: ch.ListSAs}
				}
				if err != nil || !st.ChildUp {
					t.Fatalf("initiate: %v\n%s\n%s", err, out, ch.Log())
				}
				vip, _ = st.VIP(false)
				return &strongswan.V1Peer{Name: "strongSwan client", Charon: ch, Status: ch.ListSAs}
			}
			run := strongswan.RunV1(t, c, server, client)
			sas := resp.SAs()
			if !tc.ok {
				if len(sas) != 0 {
					t.Errorf("the refused client keeps an SA: %s", describe(sas))
				}
				if l := pool.Leases(); len(l) != 0 {
					t.Errorf("the refused client holds a lease: %v", l)
				}
				return
			}
			if !testnet.Pool4.Contains(vip) {
				t.Fatalf("client's virtual address %v is not from the pool %v", vip, testnet.Pool4)
			}
			if len(sas) != 1 || sas[0].EAPIdentity != "alice" || len(sas[0].VirtualIPs) != 1 || sas[0].VirtualIPs[0] != vip {
				t.Fatalf("responder SAs: %+v", sas)
			}
			out, err := run.Env.Topo.Client.Try("ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", vip.String(), testnet.Inner4.String())
			if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
				t.Fatalf("ping from the virtual address: %v\n%s", err, out)
			}
		})
	}
}

// TestInteropV1XAuthInitiator: our initiator as a Cisco IPSec client of
// strongSwan's ikev1-xauth-psk gateway (Aggressive Mode with the group
// name, XAuth, Mode Config pull): it gets an address of strongSwan's pool
// and pings from it through the tunnel.
func TestInteropV1XAuthInitiator(t *testing.T) {
	strongswan.Require(t)
	vars := map[string]string{"POOL4": testnet.Pool4.String(), "DNS4": testnet.DNS4.String()}
	server := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		p, err := strongswan.Render("server", env.Case.Profile, env.Vars)
		if err != nil {
			t.Fatal(err)
		}
		ch := strongswan.StartWith(t, env.Topo.Server, p, strongswan.Users(map[string]string{"carol": "xauth-pass-2"}), env.ServerFiles(), strongswan.Options{})
		return &strongswan.V1Peer{Name: "strongSwan gateway", Charon: ch, Status: ch.ListSAs}
	}
	var sa *ikev1.SA
	client := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		c := env.Topo.Client
		tr, dp := listenWithTUN(t, c, []netip.Addr{env.Topo.ClientAddr4}, "gv1-tun1")
		log := &testnet.Buffer{}
		init, err := ikev1.NewInitiator(tr, ikev1.WithDataPlane(dp), ikev1.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			init.Close()
			if t.Failed() {
				t.Logf("our initiator's log:\n%s", log.String())
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sa, err = init.Dial(ctx, netip.AddrPortFrom(testnet.ServerAddr4, 500), &ikev1.PeerConfig{Name: "cisco", Mode: ikev1.AggressiveMode,
			Auth: ikev1.AuthPSK, PSK: ipsec.Secret(env.Vars["PSK"]), LocalID: ipsec.KeyID([]byte(env.Vars["GROUP_ID"])),
			Proposals: mustIKE(t, "aes256-sha1-modp1024"),
			XAuth:     &ikev1.XAuthConfig{User: "carol", Password: ipsec.Secret("xauth-pass-2")}})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		return &strongswan.V1Peer{Name: "goipsec Cisco IPSec client", Status: func() string { return describe([]ipsec.IKESAInfo{sa.Info()}) }}
	}
	c := strongswan.V1Case{Profile: "ikev1-xauth-psk", NAT: testnet.NATRandomPort, Vars: vars, Check: func(*testing.T, *strongswan.V1Env) {}}
	run := strongswan.RunV1(t, c, server, client)
	info := sa.Info()
	if len(info.VirtualIPs) != 1 || !testnet.Pool4.Contains(info.VirtualIPs[0]) {
		t.Fatalf("virtual address %v, want one of %v", info.VirtualIPs, testnet.Pool4)
	}
	vip := info.VirtualIPs[0]
	cl := run.Env.Topo.Client
	cl.Run("ip", "addr", "add", vip.String()+"/32", "dev", "gv1-tun1")
	cl.Run("ip", "route", "add", testnet.Inner4.String()+"/32", "dev", "gv1-tun1", "src", vip.String())
	out, err := cl.Try("ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", vip.String(), testnet.Inner4.String())
	if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
		t.Fatalf("ping from the virtual address: %v\n%s\ngateway:\n%s", err, out, run.Server.Charon.ListSAs())
	}
}

func mustIKE(t *testing.T, s string) proposal.List {
	t.Helper()
	l, err := proposal.Parse(s, proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestInteropV1Hybrid: strongSwan as a hybrid-authentication client
// (HybridInitRSA: no client certificate, XAuth only) against our gateway,
// which signs with its certificate: the client gets a pool address and
// pings.
func TestInteropV1Hybrid(t *testing.T) {
	strongswan.Require(t)
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("hybrid-pass-1")})
	pool, err := ipsec.NewPool(testnet.Pool4)
	if err != nil {
		t.Fatal(err)
	}
	var resp *ikev1.Responder
	var vip netip.Addr
	server := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		p := ourServerWith(&resp, func(c *ikev1.PeerConfig) {
			// ourConfig sets up certificates for the RSA profile only.
			c.Auth, c.Certificates, c.Key, c.LocalID = ikev1.AuthPubkey, [][]byte{env.PKI.Server.DER}, env.PKI.Server.Key, ipsec.FQDN(env.Vars["SERVER_ID"])
			c.Children, c.CAs = nil, nil
			c.XAuth = &ikev1.XAuthConfig{Hybrid: true, Users: users, Pools: []ipsec.AddressPool{pool}}
		})(t, env)
		env.Topo.Server.Run("ip", "route", "add", testnet.Pool4.String(), "dev", "gv1-tun0")
		return p
	}
	client := func(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
		p, err := strongswan.Render("client", env.Case.Profile, env.Vars)
		if err != nil {
			t.Fatal(err)
		}
		ch := strongswan.StartWith(t, env.Topo.Client, p, "", env.ClientFiles(), strongswan.Options{})
		out, err := ch.Initiate(env.Case.Profile, 30*time.Second)
		st := strongswan.ParseSAs(ch.ListSAs(), env.Case.Profile)
		if err != nil || !st.ChildUp {
			t.Fatalf("initiate: %v\n%s\n%s", err, out, ch.Log())
		}
		vip, _ = st.VIP(false)
		return &strongswan.V1Peer{Name: "strongSwan hybrid client", Charon: ch, Status: ch.ListSAs}
	}
	c := strongswan.V1Case{Profile: "ios-ikev1-hybrid", NAT: testnet.NATRandomPort,
		Vars: map[string]string{"EAP_USER": "alice", "EAP_PASS": "hybrid-pass-1"}, Check: func(*testing.T, *strongswan.V1Env) {}}
	run := strongswan.RunV1(t, c, server, client)
	sas := resp.SAs()
	if len(sas) != 1 || sas[0].EAPIdentity != "alice" || len(sas[0].VirtualIPs) != 1 || sas[0].VirtualIPs[0] != vip {
		t.Fatalf("responder SAs: %+v", sas)
	}
	out, err := run.Env.Topo.Client.Try("ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", vip.String(), testnet.Inner4.String())
	if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
		t.Fatalf("ping from the virtual address %v: %v\n%s", vip, err, out)
	}
}
