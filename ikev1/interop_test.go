package ikev1_test

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
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
	tr.SetESPHandler(func(pkt []byte, _, remote netip.AddrPort) { dp.HandleUDP(pkt, remote) })
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
	s := env.Topo.Server
	tr, dp := listenWithTUN(t, s, []netip.Addr{testnet.ServerAddr4}, "gv1-tun0")
	s.Run("ip", "route", "add", strongswan.V1ClientInner4.String()+"/32", "dev", "gv1-tun0")
	log := &testnet.Buffer{}
	cfg := ourConfig(t, env, true)
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
	v1Responders[t.Name()] = resp
	return &strongswan.V1Peer{Name: "goipsec responder", Status: func() string { return describe(resp.SAs()) }}
}

// v1Responders lets a test reach the responder RunV1 started.
var v1Responders = map[string]*ikev1.Responder{}

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
	sa, err := init.Dial(ctx, netip.AddrPortFrom(env.Topo.ClientAddr4, 500), netip.AddrPortFrom(testnet.ServerAddr4, 500), ourConfig(t, env, false))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return &strongswan.V1Peer{Name: "goipsec initiator", Status: func() string { return describe([]ipsec.IKESAInfo{sa.Info()}) }}
}

func TestInteropV1(t *testing.T) {
	strongswan.Require(t)
	for _, profile := range []string{"ikev1-main-psk", "ikev1-aggr-keyid", "ikev1-main-rsa"} {
		for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
			natName := map[testnet.NATMode]string{testnet.NoNAT: "direct", testnet.NATRandomPort: "nat"}[nat]
			t.Run(profile+"/"+natName+"/our-responder", func(t *testing.T) {
				run := strongswan.RunV1(t, strongswan.V1Case{Profile: profile, NAT: nat}, ourServer, strongswan.V1StrongSwanClient)
				resp := v1Responders[t.Name()]
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
