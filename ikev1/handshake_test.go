package ikev1_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

var (
	gwAddr     = netip.MustParseAddr("192.0.2.1")
	clientAddr = netip.MustParseAddr("198.51.100.2")
)

// events records hook calls.
type events struct {
	mu        sync.Mutex
	up, down  []ipsec.IKESAInfo
	downErr   []error
	childUp   []ipsec.ChildSAInfo
	childDown []ipsec.ChildSAInfo
	alerts    []ikev1.Alert
	upCh      chan struct{}
	childUpCh chan struct{}
	ikeDownCh chan struct{}
}

func newEvents() *events {
	return &events{upCh: make(chan struct{}, 16), childUpCh: make(chan struct{}, 16), ikeDownCh: make(chan struct{}, 16)}
}

func (ev *events) hooks() ikev1.Hooks {
	return ikev1.Hooks{
		IKEUp: func(i ipsec.IKESAInfo) { ev.mu.Lock(); ev.up = append(ev.up, i); ev.mu.Unlock(); signal(ev.upCh) },
		IKEDown: func(i ipsec.IKESAInfo, err error) {
			ev.mu.Lock()
			ev.down, ev.downErr = append(ev.down, i), append(ev.downErr, err)
			ev.mu.Unlock()
			signal(ev.ikeDownCh)
		},
		ChildUp: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			ev.mu.Lock()
			ev.childUp = append(ev.childUp, c)
			ev.mu.Unlock()
			signal(ev.childUpCh)
		},
		ChildDown: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			ev.mu.Lock()
			ev.childDown = append(ev.childDown, c)
			ev.mu.Unlock()
		},
		Alert: func(a ikev1.Alert) { ev.mu.Lock(); ev.alerts = append(ev.alerts, a); ev.mu.Unlock() },
	}
}

// testLogger logs to the test's output when IKEV1_DEBUG is set.
func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("IKEV1_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("side", name)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// signal notes an event without blocking the SA's goroutine.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func wait(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// pair is a responder and an initiator on an in-memory network.
type pair struct {
	net        *iketest.Network
	gw, cl     *iketest.Endpoint
	resp       *ikev1.Responder
	init       *ikev1.Initiator
	gwDP, clDP *iketest.DataPlane
	gwEv, clEv *events
}

func newPair(t *testing.T, lookup ikev1.PeerLookup, nat bool, respOpts ...ikev1.Option) *pair {
	t.Helper()
	p := &pair{net: iketest.NewNetwork(1), gwDP: iketest.NewDataPlane(), clDP: iketest.NewDataPlane(), gwEv: newEvents(), clEv: newEvents()}
	p.gw = p.net.Endpoint(gwAddr)
	if nat {
		private := netip.MustParseAddr("10.0.0.2")
		p.cl = p.net.Endpoint(private)
		p.net.NAT(private, clientAddr)
	} else {
		p.cl = p.net.Endpoint(clientAddr)
	}
	var err error
	logGW, logCL := testLogger(t, "gw"), testLogger(t, "client")
	opts := []ikev1.Option{ikev1.WithPeers(lookup), ikev1.WithLogger(logGW), ikev1.WithDataPlane(p.gwDP), ikev1.WithHooks(p.gwEv.hooks()),
		ikev1.WithRand(iketest.NewRand(1))}
	p.resp, err = ikev1.NewResponder(p.gw, append(opts, respOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.init, err = ikev1.NewInitiator(p.cl, ikev1.WithLogger(logCL), ikev1.WithDataPlane(p.clDP), ikev1.WithHooks(p.clEv.hooks()), ikev1.WithRand(iketest.NewRand(2)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.init.Close(); p.resp.Close() })
	return p
}

func (p *pair) dial(t *testing.T, cfg *ikev1.PeerConfig) (*ikev1.SA, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), cfg)
}

func pskLookup(psk string, aggressive bool, children ...ikev1.ChildConfig) ikev1.PeerLookup {
	return func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
		return &ikev1.PeerConfig{Name: "gw", Auth: ikev1.AuthPSK, PSK: ipsec.Secret(psk), AllowAggressive: aggressive, Children: children}, nil
	}
}

func sel(p string) esp.Selector { return esp.PrefixSelector(netip.MustParsePrefix(p)) }

func TestMainModePSKTunnel(t *testing.T) {
	for _, nat := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "nat"}[nat], func(t *testing.T) {
			gwChild := ikev1.ChildConfig{Name: "net", LocalTS: []esp.Selector{sel("10.1.0.0/16")}, RemoteTS: []esp.Selector{sel("0.0.0.0/0")}}
			p := newPair(t, pskLookup("secret-1", false, gwChild), nat)
			cfg := &ikev1.PeerConfig{Name: "cl", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("secret-1"),
				Children: []ikev1.ChildConfig{{Name: "net", LocalTS: []esp.Selector{sel("10.9.0.5/32")}, RemoteTS: []esp.Selector{sel("10.1.0.0/16")}}}}
			sa, err := p.dial(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			wait(t, p.gwEv.childUpCh, "responder's ChildUp")
			info := sa.Info()
			if info.Version != 1 || info.State != "ESTABLISHED" || len(info.Children) != 1 {
				t.Fatalf("initiator info = %+v", info)
			}
			if info.NATLocal != nat || info.Children[0].UDPEncap != nat {
				t.Errorf("NAT: local %v, udp encap %v, want %v", info.NATLocal, info.Children[0].UDPEncap, nat)
			}
			gwSAs := p.resp.SAs()
			if len(gwSAs) != 1 || len(gwSAs[0].Children) != 1 || gwSAs[0].NATRemote != nat {
				t.Fatalf("responder SAs = %+v", gwSAs)
			}
			c := gwSAs[0].Children[0]
			if c.SPIIn != info.Children[0].SPIOut || c.SPIOut != info.Children[0].SPIIn {
				t.Errorf("SPIs do not pair: gw %x/%x client %x/%x", c.SPIIn, c.SPIOut, info.Children[0].SPIIn, info.Children[0].SPIOut)
			}
			if got := c.RemoteTS; len(got) != 1 || got[0] != "10.9.0.5/32" {
				t.Errorf("responder remote TS = %v", got)
			}
			// Keys agree both ways: the fake data plane checks them.
			for i := 0; i < 3; i++ {
				if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
					t.Fatalf("client to gateway: %v", err)
				}
				if err := p.gwDP.Transmit(p.clDP, 0, 50); err != nil {
					t.Fatalf("gateway to client: %v", err)
				}
			}
			if gi := p.resp.SAs()[0]; gi.BytesIn != 300 || gi.BytesOut != 150 {
				t.Errorf("responder counters = %d in / %d out, want 300/150", gi.BytesIn, gi.BytesOut)
			}
			// A Delete from the initiator ends the responder's SA.
			sa.Close()
			wait(t, p.gwEv.ikeDownCh, "responder's IKEDown")
			p.gwEv.mu.Lock()
			defer p.gwEv.mu.Unlock()
			if !errors.Is(p.gwEv.downErr[0], ikev1.ErrPeerDeleted) {
				t.Errorf("responder's IKEDown err = %v, want ErrPeerDeleted", p.gwEv.downErr[0])
			}
			if len(p.gwEv.childDown) != 1 || p.gwEv.childDown[0].BytesIn != 300 {
				t.Errorf("responder ChildDown = %+v", p.gwEv.childDown)
			}
		})
	}
}

func TestWrongPSK(t *testing.T) {
	p := newPair(t, pskLookup("right", false), false)
	_, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("wrong")})
	if !errors.Is(err, ikev1.ErrAuthFailed) {
		t.Fatalf("Dial with a wrong PSK: err = %v, want ErrAuthFailed", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "right") {
		t.Errorf("error shows a key: %v", err)
	}
	p.gwEv.mu.Lock()
	defer p.gwEv.mu.Unlock()
	found := false
	for _, a := range p.gwEv.alerts {
		found = found || a.Kind == ikev1.AlertAuthFailed
	}
	if !found {
		t.Errorf("no AlertAuthFailed on the responder: %+v", p.gwEv.alerts)
	}
	if len(p.resp.SAs()) != 0 {
		t.Errorf("responder kept an SA: %+v", p.resp.SAs())
	}
}

func TestNoProposalChosenExplained(t *testing.T) {
	lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
		l, _ := proposal.Parse("aes256-sha256-modp2048", proposal.ProtoIKE)
		return &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Proposals: l}, nil
	}
	p := newPair(t, lookup, false)
	l, _ := proposal.Parse("aes128-sha1-modp1024", proposal.ProtoIKE)
	_, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Proposals: l})
	if !errors.Is(err, ikev1.ErrNoProposalChosen) {
		t.Fatalf("Dial err = %v, want ErrNoProposalChosen", err)
	}
	p.gwEv.mu.Lock()
	defer p.gwEv.mu.Unlock()
	if len(p.gwEv.alerts) == 0 || p.gwEv.alerts[0].Kind != ikev1.AlertNoProposal || p.gwEv.alerts[0].Explanation == "" {
		t.Fatalf("alerts = %+v", p.gwEv.alerts)
	}
}

func TestAggressiveModePSK(t *testing.T) {
	t.Run("refused by default", func(t *testing.T) {
		p := newPair(t, pskLookup("k", false), false)
		_, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Mode: ikev1.AggressiveMode, LocalID: ipsec.KeyID([]byte("group"))})
		if err == nil {
			t.Fatal("Aggressive Mode accepted without AllowAggressive")
		}
	})
	t.Run("allowed", func(t *testing.T) {
		var gotID ipsec.Identity
		lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
			gotID = q.RemoteID
			return &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), AllowAggressive: true}, nil
		}
		p := newPair(t, lookup, true)
		sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Mode: ikev1.AggressiveMode, LocalID: ipsec.KeyID([]byte("group"))})
		if err != nil {
			t.Fatal(err)
		}
		if !gotID.Equal(ipsec.KeyID([]byte("group"))) {
			t.Errorf("lookup saw RemoteID %v", gotID)
		}
		wait(t, p.gwEv.childUpCh, "responder's ChildUp")
		if err := p.clDP.Transmit(p.gwDP, 0, 10); err != nil {
			t.Fatal(err)
		}
		p.gwEv.mu.Lock()
		weak := false
		for _, a := range p.gwEv.alerts {
			weak = weak || a.Kind == ikev1.AlertWeakMode
		}
		p.gwEv.mu.Unlock()
		if !weak {
			t.Error("no AlertWeakMode for Aggressive Mode with a PSK")
		}
		_ = sa
	})
}

// TestQuickModeLifetimes: the responder takes the shorter of the peer's
// and its own lifetimes, in seconds and kilobytes, and the data plane
// gets the volume limit.
func TestQuickModeLifetimes(t *testing.T) {
	gw := ikev1.ChildConfig{Name: "h", Lifetime: 20 * time.Minute, LifeBytes: 8 << 20}
	p := newPair(t, pskLookup("k", false, gw), false)
	_, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"),
		Children: []ikev1.ChildConfig{{Name: "h", Lifetime: time.Hour, LifeBytes: 4 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p.gwEv.childUpCh, "responder's ChildUp")
	for _, dp := range []*iketest.DataPlane{p.gwDP, p.clDP} {
		for _, s := range dp.SAs() {
			if s.Lifetime.Hard.Bytes != 4<<20 {
				t.Errorf("SA %08x: volume limit %d, want %d", s.SPI, s.Lifetime.Hard.Bytes, 4<<20)
			}
			if s.Lifetime.Hard.Time > 21*time.Minute || s.Lifetime.Hard.Time < 20*time.Minute {
				t.Errorf("SA %08x: hard time %v, want the responder's 20 minutes (plus a margin)", s.SPI, s.Lifetime.Hard.Time)
			}
		}
	}
}

// TestAuthorizeHooks: Hooks.Authorize refuses a peer after phase 1
// authentication (no IKEUp, Dial fails), Hooks.AuthorizeChild refuses a
// Quick Mode before anything reaches the data plane.
func TestAuthorizeHooks(t *testing.T) {
	t.Run("phase 1", func(t *testing.T) {
		var seen ipsec.IKESAInfo
		net := iketest.NewNetwork(1)
		gw, cl := net.Endpoint(gwAddr), net.Endpoint(clientAddr)
		dp := iketest.NewDataPlane()
		resp, err := ikev1.NewResponder(gw, ikev1.WithPeers(pskLookup("k", false)), ikev1.WithDataPlane(dp), ikev1.WithHooks(ikev1.Hooks{
			Authorize: func(_ context.Context, info ipsec.IKESAInfo) error {
				seen = info
				return errors.New("account disabled")
			},
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		init, _ := ikev1.NewInitiator(cl)
		defer init.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k")}); err == nil {
			t.Fatal("Dial succeeded although Authorize refused")
		}
		if !seen.RemoteID.Equal(ipsec.AddrID(clientAddr)) {
			t.Errorf("Authorize saw RemoteID %v", seen.RemoteID)
		}
		if len(resp.SAs()) != 0 || len(dp.SAs()) != 0 {
			t.Errorf("refused peer left state: %d SAs, %d data plane SAs", len(resp.SAs()), len(dp.SAs()))
		}
	})
	t.Run("quick mode", func(t *testing.T) {
		net := iketest.NewNetwork(1)
		gw, cl := net.Endpoint(gwAddr), net.Endpoint(clientAddr)
		dp := iketest.NewDataPlane()
		var asked []string
		resp, err := ikev1.NewResponder(gw, ikev1.WithPeers(pskLookup("k", false)), ikev1.WithDataPlane(dp), ikev1.WithHooks(ikev1.Hooks{
			AuthorizeChild: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) error {
				asked = append(asked, c.RemoteTS...)
				return errors.New("address taken")
			},
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		init, _ := ikev1.NewInitiator(cl)
		defer init.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k")}); err == nil {
			t.Fatal("Dial succeeded although AuthorizeChild refused")
		}
		if len(asked) == 0 || asked[0] != clientAddr.String()+"/32" {
			t.Errorf("AuthorizeChild saw %v", asked)
		}
		if len(dp.SAs()) != 0 || len(dp.Policies()) != 0 {
			t.Errorf("refused Quick Mode reached the data plane: %d SAs, %d policies", len(dp.SAs()), len(dp.Policies()))
		}
	})
}

// TestXAuthModeConfig: our initiator as a Cisco IPSec client against our
// gateway: XAuth with the user's password, Mode Config pull, an IPsec SA
// for the virtual address; a wrong password fails Dial with
// ErrAuthFailed and leaves no lease.
func TestXAuthModeConfig(t *testing.T) {
	for _, good := range []bool{true, false} {
		t.Run(map[bool]string{true: "good password", false: "wrong password"}[good], func(t *testing.T) {
			users := ipsec.NewUsers(ipsec.User{Name: "bob", Password: ipsec.Secret("pw-1")})
			pool, _ := ipsec.NewPool(netip.MustParsePrefix("10.77.0.0/24"))
			lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
				if !q.XAuth {
					return nil, errors.New("this gateway serves Cisco IPSec clients only")
				}
				return &ikev1.PeerConfig{Name: "cisco", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("group-secret"),
					XAuth: &ikev1.XAuthConfig{Users: users, Pools: []ipsec.AddressPool{pool}, DNS: []netip.Addr{netip.MustParseAddr("10.77.0.53")},
						SplitInclude: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}}, nil
			}
			p := newPair(t, lookup, true)
			pw := "pw-1"
			if !good {
				pw = "wrong"
			}
			sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("group-secret"),
				XAuth: &ikev1.XAuthConfig{User: "bob", Password: ipsec.Secret(pw)}})
			if !good {
				if !errors.Is(err, ikev1.ErrAuthFailed) {
					t.Fatalf("Dial with a wrong password: %v, want ErrAuthFailed", err)
				}
				if strings.Contains(err.Error(), "wrong") {
					t.Errorf("the error shows the password: %v", err)
				}
				if l := pool.Leases(); len(l) != 0 {
					t.Errorf("leases after a refused client: %v", l)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wait(t, p.gwEv.childUpCh, "gateway's ChildUp")
			info := sa.Info()
			if len(info.VirtualIPs) != 1 || !pool.Prefix().Contains(info.VirtualIPs[0]) || info.EAPIdentity != "bob" {
				t.Fatalf("client info: %+v", info)
			}
			if dns, _ := sa.DNS(); len(dns) != 1 || dns[0] != netip.MustParseAddr("10.77.0.53") {
				t.Errorf("client's DNS from Mode Config: %v", dns)
			}
			c := info.Children[0]
			if len(c.LocalTS) != 1 || c.LocalTS[0] != info.VirtualIPs[0].String()+"/32" || len(c.RemoteTS) != 1 || c.RemoteTS[0] != "10.1.0.0/16" {
				t.Errorf("client selectors %v === %v", c.LocalTS, c.RemoteTS)
			}
			gw := p.resp.SAs()
			if len(gw) != 1 || gw[0].EAPIdentity != "bob" || len(gw[0].VirtualIPs) != 1 || gw[0].VirtualIPs[0] != info.VirtualIPs[0] {
				t.Fatalf("gateway SAs: %+v", gw)
			}
			if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
				t.Fatal(err)
			}
			sa.Close()
			wait(t, p.gwEv.ikeDownCh, "gateway's IKEDown")
			if l := pool.Leases(); len(l) != 0 {
				t.Errorf("the lease outlives the session: %v", l)
			}
		})
	}
}

// TestModeConfigPush: a client that waits for its configuration gets it
// pushed (SET) after XAuth, acknowledges it and sets up its IPsec SA for
// the pushed address.
func TestModeConfigPush(t *testing.T) {
	users := ipsec.NewUsers(ipsec.User{Name: "bob", Password: ipsec.Secret("pw-1")})
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("10.77.0.0/24"))
	lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
		return &ikev1.PeerConfig{Name: "cisco", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("g"),
			XAuth: &ikev1.XAuthConfig{Users: users, Pools: []ipsec.AddressPool{pool}}}, nil
	}
	p := newPair(t, lookup, false)
	sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("g"),
		XAuth: &ikev1.XAuthConfig{User: "bob", Password: ipsec.Secret("pw-1"), WaitForPush: true}})
	if err != nil {
		t.Fatal(err)
	}
	info := sa.Info()
	if len(info.VirtualIPs) != 1 || !pool.Prefix().Contains(info.VirtualIPs[0]) {
		t.Fatalf("pushed address: %+v", info.VirtualIPs)
	}
	if dns, _ := sa.DNS(); len(dns) != 0 {
		t.Errorf("DNS %v although the gateway has none configured", dns)
	}
	wait(t, p.gwEv.childUpCh, "gateway's ChildUp")
	if err := p.clDP.Transmit(p.gwDP, 0, 10); err != nil {
		t.Fatal(err)
	}
}

// TestHybridAuth: hybrid authentication (HybridInitRSA): the gateway
// signs with its certificate, the client has none and proves itself with
// HASH_I, then XAuth; a client that does not trust the gateway's CA
// fails.
func TestHybridAuth(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	users := ipsec.NewUsers(ipsec.User{Name: "bob", Password: ipsec.Secret("pw-1")})
	pool, _ := ipsec.NewPool(netip.MustParsePrefix("10.77.0.0/24"))
	lookup := func(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
		return &ikev1.PeerConfig{Name: "hybrid", Auth: ikev1.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key,
			LocalID: ipsec.FQDN("vpn.example.com"), XAuth: &ikev1.XAuthConfig{Hybrid: true, Users: users, Pools: []ipsec.AddressPool{pool}}}, nil
	}
	for _, trust := range []bool{true, false} {
		t.Run(map[bool]string{true: "trusted gateway", false: "unknown CA"}[trust], func(t *testing.T) {
			p := newPair(t, lookup, false)
			cas := roots
			if !trust {
				other, _ := testpki.New(testpki.RSA2048, "x@example.com", "vpn.example.com")
				cas = x509.NewCertPool()
				cas.AddCert(other.CA.Cert)
			}
			sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPubkey, CAs: cas, RemoteID: ipsec.FQDN("vpn.example.com"),
				XAuth: &ikev1.XAuthConfig{Hybrid: true, User: "bob", Password: ipsec.Secret("pw-1")}})
			if !trust {
				if !errors.Is(err, ikev1.ErrAuthFailed) {
					t.Fatalf("Dial to a gateway of an unknown CA: %v, want ErrAuthFailed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info := sa.Info()
			if info.Proposal == "" || len(info.VirtualIPs) != 1 || info.EAPIdentity != "bob" {
				t.Fatalf("client info %+v", info)
			}
			wait(t, p.gwEv.upCh, "gateway's IKEUp")
			p.gwEv.mu.Lock()
			defer p.gwEv.mu.Unlock()
			if len(p.gwEv.up) == 0 {
				t.Fatal("no IKEUp on the gateway")
			}
		})
	}
}
