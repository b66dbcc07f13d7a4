package ike_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

// exchangeLog records the summary of every message on the network.
type exchangeLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *exchangeLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func recordExchanges(p *pair) *exchangeLog {
	l := &exchangeLog{}
	p.net.SetFilter(func(pkt *ike.Packet) bool {
		if m, err := wire.Parse(pkt.Data); err == nil {
			l.mu.Lock()
			l.msgs = append(l.msgs, m.Summary())
			l.mu.Unlock()
		}
		return true
	})
	return l
}

func TestCookieRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		// Threshold 0: every request must bring a cookie (RFC 7296 2.6).
		p := newPair(t, respCfg, ike.WithHalfOpenLimits(30*time.Second, 0, 100))
		log := recordExchanges(p)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial with cookies: %v", err)
		}
		if len(log.list()) < 4 {
			t.Fatalf("exchanges: %v", log.list())
		}
		want := []string{"IKE_SA_INIT request 0 [ SA KE No", "IKE_SA_INIT response 0 [ N(COOKIE) ]", "IKE_SA_INIT request 0 [ N(COOKIE) SA KE No"}
		for i, w := range want {
			if got := log.list()[i]; len(got) < len(w) || got[:len(w)] != w {
				t.Errorf("message %d = %q, want prefix %q", i, got, w)
			}
		}
		if st := p.resp.Stats(); st.CookiesSent != 1 {
			t.Errorf("cookies sent %d", st.CookiesSent)
		}
	})
}

func TestInvalidKERetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		ikeProps, _ := proposal.Parse("aes256-sha256-modp2048", proposal.ProtoIKE)
		initProps, _ := proposal.Parse("aes256-sha256-curve25519-modp2048", proposal.ProtoIKE)
		initCfg.Proposals = initProps
		p := newPair(t, respCfg, ike.WithProposals(ikeProps))
		log := recordExchanges(p)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if len(log.list()) < 2 || log.list()[1] != "IKE_SA_INIT response 0 [ N(INVAL_KE) ]" {
			t.Errorf("exchanges %q, want INVALID_KE_PAYLOAD second", log.list())
		}
		if info := sa.Info(); info.Proposal == "" || !contains(info.Proposal, "modp2048") {
			t.Errorf("negotiated %q", info.Proposal)
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestNoProposalChosen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		strict, _ := proposal.Parse("aes256gcm16-prfsha384-ecp384", proposal.ProtoIKE)
		weak, _ := proposal.Parse("3des-sha1-modp1024", proposal.ProtoIKE)
		initCfg.Proposals = weak
		var alerts []ike.Alert
		p := newPair(t, respCfg, ike.WithProposals(strict), ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { alerts = append(alerts, a) }}))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		var ne *ike.NotifyError
		if !asNotify(err, &ne) || ne.Type != wire.NO_PROPOSAL_CHOSEN || !ne.Remote {
			t.Fatalf("err %v, want NO_PROPOSAL_CHOSEN from the responder", err)
		}
		if len(alerts) != 1 || alerts[0].Kind != ike.AlertProposalMismatch || alerts[0].Detail == "" {
			t.Fatalf("alerts %+v", alerts)
		}
		if st := p.resp.Stats(); st.HalfOpen != 0 {
			t.Errorf("half-open %d after a refused request: no state may be kept", st.HalfOpen)
		}
	})
}

func asNotify(err error, ne **ike.NotifyError) bool {
	for err != nil {
		if n, ok := err.(*ike.NotifyError); ok {
			*ne = n
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestFragmentedIKEAuth(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER, pki.CA.DER}, Key: pki.Server.Key}
		initCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		initCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER, pki.CA.DER}, Key: pki.Client.Key}
		initCfg.LocalID = ipsec.Email("client@example.com")
		respCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		// A tiny MTU on both sides forces RFC 7383 fragments both ways.
		respCfg.FragmentMTU, initCfg.FragmentMTU = 576, 576
		respCfg.DNSDomains = []string{"a-long-search-domain-to-make-the-response-bigger.corp.example.com", "another-long-domain.corp.example.com"}
		p := newPair(t, respCfg)
		log := recordExchanges(p)
		p.net.Duplicate, p.net.Reorder, p.net.Delay = 0.3, 0.3, 5*time.Millisecond
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial: %v", err)
		}
		reqFrags, respFrags := 0, 0
		for _, l := range log.list() {
			if contains(l, "IKE_AUTH request 1 [ EF(") {
				reqFrags++
			}
			if contains(l, "IKE_AUTH response 1 [ EF(") {
				respFrags++
			}
		}
		if reqFrags < 2 || respFrags < 2 {
			t.Errorf("no fragmented IKE_AUTH seen: %v", log.list())
		}
	})
}

func TestGarbageDoesNotHurtEstablishedSA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		info := sa.Info()
		attacker := p.net.Endpoint(netip.MustParseAddr("203.0.113.66"))
		// Messages for the real SPIs that are not authentic, truncated,
		// replayed message IDs, and random bytes.
		hdr := wire.Header{SPIi: info.SPIi, SPIr: info.SPIr, Exchange: wire.INFORMATIONAL, Flags: wire.FlagInitiator, MessageID: 2}
		fake := &wire.Message{Header: hdr, Payloads: []wire.Payload{&wire.Unknown{Type: wire.PayloadSK, Body: make([]byte, 64)}}}
		b, err := fake.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range [][]byte{b, b[:40], {1, 2, 3}, make([]byte, 28)} {
			attacker.Send(ike.Packet{Data: pkt, Local: netip.AddrPortFrom(attacker.Addr(), 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
		}
		synctest.Wait()
		if got := p.resp.SAs(); len(got) != 1 || got[0].State != "ESTABLISHED" {
			t.Fatalf("responder SA after garbage: %+v", got)
		}
		// The SA still works: a clean Delete exchange completes.
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d SAs left", n)
		}
	})
}

func TestResponderRetransmitsCachedResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		// Drop the first IKE_AUTH response: the initiator retransmits, the
		// responder must answer from its cache, not process again (the
		// pool would hand out a second address otherwise).
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		p2 := newPair(t, respCfg)
		dropped := false
		responses := 0
		p2.net.SetFilter(func(pkt *ike.Packet) bool {
			m, err := wire.Parse(pkt.Data)
			if err == nil && m.Header.Exchange == wire.IKE_AUTH && m.Header.IsResponse() {
				responses++
				if !dropped {
					dropped = true
					return false
				}
			}
			return true
		})
		sa, err := p2.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		if responses != 2 {
			t.Errorf("IKE_AUTH responses sent: %d, want 2 (original + cached copy)", responses)
		}
		if v := sa.Info().VirtualIPs; len(v) != 1 || v[0].String() != "198.51.100.65" {
			t.Errorf("virtual IP %v", v)
		}
	})
}

// TestCachedResponseExpires: a retransmission of the peer's last request
// gets the cached response while a peer could still be retransmitting;
// minutes later the cache is gone and such a copy is dropped, not
// processed again, and the SA is unharmed.
func TestCachedResponseExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		replayer := p.net.Endpoint(netip.MustParseAddr("192.0.2.99"))
		var authReq []byte
		var responses atomic.Int32
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			m, err := wire.Parse(pkt.Data)
			if err == nil && m.Header.Exchange == wire.IKE_AUTH {
				if m.Header.IsResponse() {
					responses.Add(1)
				} else if authReq == nil {
					authReq = append([]byte(nil), pkt.Data...)
				}
			}
			return pkt.Local.Addr() != replayer.Addr() // counted, not queued: nobody reads there
		})
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		if authReq == nil || responses.Load() != 1 {
			t.Fatalf("IKE_AUTH request captured: %v, responses %d", authReq != nil, responses.Load())
		}
		replay := func() {
			replayer.Send(ike.Packet{Data: authReq,
				Local: netip.AddrPortFrom(replayer.Addr(), 4500), Remote: netip.AddrPortFrom(gwAddr, 4500)})
			synctest.Wait()
		}
		time.Sleep(time.Minute)
		replay()
		if n := responses.Load(); n != 2 {
			t.Errorf("a retransmission after 1 minute got %d responses in all, want 2 (the cached one resent)", n)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		replay()
		if n := responses.Load(); n != 2 {
			t.Errorf("a retransmission after 6 minutes got a response (%d in all): the cache should be gone", n)
		}
		if got := p.resp.SAs(); len(got) != 1 || got[0].State != "ESTABLISHED" {
			t.Fatalf("responder SAs after the late copy: %+v", got)
		}
	})
}

func TestDeadPeerDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.DPDDelay = 30 * time.Second
		pool := mustPool(t, "198.51.100.64/26")
		respCfg.Pools = []ipsec.AddressPool{pool}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		var down []error
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{IKEDown: func(_ ipsec.IKESAInfo, err error) { down = append(down, err) }}))
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		var probes atomic.Int32
		// An answering peer survives the checks.
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			if m, err := wire.Parse(pkt.Data); err == nil && m.Header.Exchange == wire.INFORMATIONAL && !m.Header.IsResponse() {
				probes.Add(1)
			}
			return true
		})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if probes.Load() < 2 || len(p.resp.SAs()) != 1 {
			t.Fatalf("after 2 idle minutes: %d probes, %d SAs", probes.Load(), len(p.resp.SAs()))
		}
		// The client vanishes without a Delete: nothing of it arrives.
		p.net.SetFilter(func(pkt *ike.Packet) bool { return pkt.Remote.Addr() != clientAddr })
		time.Sleep(30*time.Second + 4*time.Minute)
		synctest.Wait()
		if n := len(p.resp.SAs()); n != 0 {
			t.Fatalf("dead peer's SA still there after DPD and retransmissions: %d", n)
		}
		if len(down) != 1 || !errors.Is(down[0], ike.ErrTimeout) {
			t.Errorf("IKEDown errors %v, want one ErrTimeout", down)
		}
		if n := len(pool.Leases()); n != 0 {
			t.Errorf("%d leases still held", n)
		}
		if n := len(p.respDP.SAs()) + len(p.respDP.Policies()); n != 0 {
			t.Errorf("%d data plane entries left", n)
		}
	})
}

// TestRekeysOverTime lets the initiator rekey its CHILD SA every minute
// and its IKE SA every three minutes for a quarter of an hour of virtual
// time: afterwards both sides hold exactly one SA pair with matching keys,
// the handle follows the rekeyed IKE SA, and a Delete cleans up.
func TestRekeysOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		initCfg.RekeyTime = 3 * time.Minute
		initCfg.Children = []ike.ChildConfig{{Name: "net", RekeyTime: time.Minute}}
		var childUps, ikeDowns atomic.Int32
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{
			ChildUp: func(ipsec.IKESAInfo, ipsec.ChildSAInfo) { childUps.Add(1) },
			IKEDown: func(ipsec.IKESAInfo, error) { ikeDowns.Add(1) },
		}))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := sa.Info()
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		now := sa.Info()
		if now.State != "ESTABLISHED" || now.SPIi == first.SPIi {
			t.Fatalf("after 15 min: %+v (first SPIi %016x)", now, first.SPIi)
		}
		if len(now.Children) != 1 || now.Children[0].SPIIn == first.Children[0].SPIIn {
			t.Fatalf("children after rekeys: %+v", now.Children)
		}
		if n := childUps.Load(); n < 12 {
			t.Errorf("responder saw %d CHILD SAs come up in 15 minutes with 1-minute rekeys", n)
		}
		if n := ikeDowns.Load(); n != 0 {
			t.Errorf("%d IKEDown hooks for rekeys", n)
		}
		checkCrossKeys(t, p.respDP, p.initDP)
		if got := p.resp.SAs(); len(got) != 1 || got[0].SPIi != now.SPIi {
			t.Fatalf("responder SAs %+v", got)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()) + len(p.respDP.Policies()) + len(p.initDP.Policies()); n != 0 {
			t.Errorf("%d data plane entries after Delete", n)
		}
		if len(p.resp.SAs()) != 0 {
			t.Errorf("responder SAs after Delete: %+v", p.resp.SAs())
		}
	})
}

// TestNoLeaksOverManyCycles connects, rekeys and disconnects 1,000 times
// in process and then counts what is left: goroutines, SAs, data plane
// entries and address leases must be back where they started.
// ourGoroutines counts the goroutines running code of this module, other
// than test functions: runtime.NumGoroutine also counts the runtime's and
// the race detector's, which come and go on their own (a flake under
// -race: one more goroutine, none of ours in the dump).
func ourGoroutines() int {
	buf := make([]byte, 1<<22)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "github.com/goipsec/ipsec/") && !strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "ourGoroutines") {
			n++
		}
	}
	return n
}

func TestNoLeaksOverManyCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("long in -short mode")
	}
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		pool := mustPool(t, "198.51.100.0/24")
		respCfg.Pools = []ipsec.AddressPool{pool}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		initCfg.Children = []ike.ChildConfig{{Name: "net", RekeyTime: 30 * time.Second}}
		p := newPair(t, respCfg)
		synctest.Wait()
		base := ourGoroutines()
		for i := range 1000 {
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			if i%10 == 0 {
				time.Sleep(40 * time.Second) // one CHILD rekey now and then
			}
			if err := sa.Close(context.Background()); err != nil {
				t.Fatalf("cycle %d close: %v", i, err)
			}
		}
		synctest.Wait()
		// Goroutines that are just finishing (blocked on a mutex, which
		// synctest.Wait does not wait out) get a moment of virtual time.
		for i := 0; i < 20 && ourGoroutines() > base; i++ {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if n := ourGoroutines(); n > base {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines of this module after 1,000 cycles, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d responder SAs left", n)
		}
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()) + len(p.respDP.Policies()) + len(p.initDP.Policies()); n != 0 {
			t.Errorf("%d data plane entries left", n)
		}
		if n := len(pool.Leases()); n != 0 {
			t.Errorf("%d leases left", n)
		}
		if st := p.resp.Stats(); st.HalfOpen != 0 {
			t.Errorf("half-open count %d", st.HalfOpen)
		}
	})
}

func TestUniquenessPolicies(t *testing.T) {
	for _, c := range []struct {
		policy    ike.UniquePolicy
		second    bool // the second SA gets up
		firstLive bool // the first survives
	}{
		{ike.UniqueNo, true, true},
		{ike.UniqueReplace, true, false},
		{ike.UniqueKeep, false, true},
	} {
		t.Run(fmt.Sprint(c.policy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				respCfg.Unique = c.policy
				p := newPair(t, respCfg)
				first, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if (err == nil) != c.second {
					t.Fatalf("second Dial: %v", err)
				}
				synctest.Wait()
				live := false
				for _, sa := range p.resp.SAs() {
					live = live || sa.SPIi == first.Info().SPIi
				}
				if live != c.firstLive {
					t.Errorf("first SA alive on the responder: %v, want %v (%d SAs)", live, c.firstLive, len(p.resp.SAs()))
				}
			})
		})
	}
}

// secondResponder starts another gateway at addr on the pair's network;
// it stops when the test ends.
func (p *pair) secondResponder(t *testing.T, addr netip.Addr, cfg *ike.PeerConfig) *ike.Responder {
	t.Helper()
	b, err := ike.NewResponder(p.net.Endpoint(addr), ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	synctest.Wait()
	return b
}

func TestRedirectAtInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		gwB := netip.MustParseAddr("192.0.2.5")
		var asked []ike.RedirectQuery
		p := newPair(t, respCfg, ike.WithRedirect(func(_ context.Context, q ike.RedirectQuery) (netip.Addr, bool) {
			asked = append(asked, q)
			return gwB, true
		}))
		b := p.secondResponder(t, gwB, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if got := sa.Info().Remote.Addr(); got != gwB {
			t.Errorf("connected to %v, want the redirect target %v", got, gwB)
		}
		if len(asked) != 1 || asked[0].RedirectedFrom.IsValid() {
			t.Errorf("redirect queries %+v", asked)
		}
		if len(p.resp.SAs()) != 0 || p.resp.Stats().HalfOpen != 0 || len(b.SAs()) != 1 {
			t.Errorf("gateway A: %d SAs, %d half-open; gateway B: %d SAs", len(p.resp.SAs()), p.resp.Stats().HalfOpen, len(b.SAs()))
		}
		sa.Close(context.Background())
	})
}

func TestRedirectLoopBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		// A gateway that always redirects to itself.
		p := newPair(t, respCfg, ike.WithRedirect(func(context.Context, ike.RedirectQuery) (netip.Addr, bool) { return gwAddr, true }))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err == nil || !errors.Is(err, ike.ErrProtocol) {
			t.Fatalf("endless redirects: %v", err)
		}
	})
}

// TestChildRekeyCollisions has both sides rekey the same CHILD SA every
// minute over a slow network, so their CREATE_CHILD_SA requests cross
// (RFC 7296 section 2.8.1). The redundant SAs must be deleted: the SA
// count stays bounded and every SA one side sends with is one the other
// side receives with.
func TestChildRekeyCollisions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Children = []ike.ChildConfig{{Name: "net", RekeyTime: time.Minute}}
		initCfg.Children = []ike.ChildConfig{{Name: "net", RekeyTime: time.Minute}}
		var logs testnet.Buffer
		p := newPair(t, respCfg, ike.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		p.net.Delay = 8 * time.Second
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		maxSAs := 0
		for range 40 {
			time.Sleep(15 * time.Second)
			maxSAs = max(maxSAs, len(p.respDP.SAs()), len(p.initDP.SAs()))
		}
		if maxSAs > 6 {
			t.Errorf("up to %d SAs installed on one side: redundant SAs are not deleted", maxSAs)
		}
		// Let in-flight exchanges finish, then compare both sides.
		time.Sleep(30 * time.Second)
		synctest.Wait()
		for _, s := range p.initDP.SAs() {
			want := esp.DirIn
			if s.Dir == esp.DirIn {
				want = esp.DirOut
			}
			if _, ok := p.respDP.SA(s.SPI, want); !ok && s.Dir == esp.DirOut {
				t.Errorf("initiator sends with SPI %08x, which the responder does not have", s.SPI)
			}
		}
		if !strings.Contains(logs.String(), "collision") {
			t.Error("no rekey collision happened: the test did not exercise RFC 7296 2.8.1")
		}
		t.Logf("max SAs on one side: %d; collisions logged: %d", maxSAs, strings.Count(logs.String(), "collision"))
	})
}

// TestReauthentication has the initiator reauthenticate every 5 minutes
// (make before break): the handle moves to the new IKE SA, the virtual
// address stays, and the old SAs are gone.
func TestReauthentication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		pool := mustPool(t, "198.51.100.64/26")
		respCfg.Pools = []ipsec.AddressPool{pool}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		initCfg.ReauthTime = 5 * time.Minute
		var downs, failures atomic.Int32
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{IKEDown: func(_ ipsec.IKESAInfo, err error) {
			downs.Add(1)
			if err != nil {
				failures.Add(1)
			}
		}}))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := sa.Info()
		time.Sleep(12 * time.Minute)
		synctest.Wait()
		now := sa.Info()
		if now.SPIi == first.SPIi || now.State != "ESTABLISHED" {
			t.Fatalf("handle after 12 min: %+v", now)
		}
		if len(now.VirtualIPs) != 1 || now.VirtualIPs[0] != first.VirtualIPs[0] {
			t.Errorf("virtual IP changed from %v to %v", first.VirtualIPs, now.VirtualIPs)
		}
		if got := p.resp.SAs(); len(got) != 1 || got[0].SPIi != now.SPIi {
			t.Errorf("responder SAs %+v", got)
		}
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()); n != 4 {
			t.Errorf("%d SAs installed, want one pair per side", n)
		}
		if n := len(pool.Leases()); n != 1 {
			t.Errorf("%d leases", n)
		}
		// The responder sees the old SAs deleted in order (2 reauths).
		if n, f := downs.Load(), failures.Load(); n != 2 || f != 0 {
			t.Errorf("responder: %d IKEDown hooks, %d with an error; want 2 orderly deletes", n, f)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(pool.Leases()) + len(p.resp.SAs()); n != 0 {
			t.Errorf("%d leases/SAs after Close", n)
		}
	})
}

// TestDataPlaneExpiry drives rekeying and deletion from data plane events:
// a soft expiry (say, the byte limit) makes the owner rekey the CHILD SA,
// a hard expiry makes it delete the CHILD SA with the peer.
func TestDataPlaneExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := sa.Info().Children[0]
		p.initDP.Emit(esp.Event{Kind: esp.EventSoftExpire, SA: esp.SAID{SPI: first.SPIIn, Dir: esp.DirIn}})
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		now := sa.Info().Children
		if len(now) != 1 || now[0].SPIIn == first.SPIIn {
			t.Fatalf("after soft expiry: %+v", now)
		}
		checkCrossKeys(t, p.respDP, p.initDP)
		srv := p.resp.SAs()[0].Children[0]
		p.respDP.Emit(esp.Event{Kind: esp.EventHardExpire, SA: esp.SAID{SPI: srv.SPIIn, Dir: esp.DirIn}})
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(sa.Info().Children) + len(p.resp.SAs()[0].Children); n != 0 {
			t.Errorf("%d CHILD SAs left after hard expiry", n)
		}
		if n := len(p.respDP.SAs()) + len(p.initDP.SAs()); n != 0 {
			t.Errorf("%d data plane SAs left after hard expiry", n)
		}
	})
}

func TestRedirectEstablished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		gwB := netip.MustParseAddr("192.0.2.5")
		p := newPair(t, respCfg)
		b := p.secondResponder(t, gwB, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := p.resp.Redirect(context.Background(), gwB, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
			t.Fatalf("Redirect asked %d SAs", n)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := sa.Info().Remote.Addr(); got != gwB {
			t.Errorf("handle points at %v after the redirect, want %v", got, gwB)
		}
		if len(p.resp.SAs()) != 0 || len(b.SAs()) != 1 {
			t.Errorf("gateway A has %d SAs, B has %d", len(p.resp.SAs()), len(b.SAs()))
		}
		sa.Close(context.Background())
	})
}

// TestRedirectOnAuth has gateway A send authenticated users elsewhere by
// identity (RFC 5685 section 6): with PSK and with EAP (the REDIRECT then
// comes in the last IKE_AUTH response). The client must verify A's AUTH,
// follow to B with REDIRECTED_FROM, get its CHILD SA there, and delete
// the IKE SA with A; A must keep nothing (no SA, lease, data plane entry).
func TestRedirectOnAuth(t *testing.T) {
	for _, method := range []string{"psk", "eap"} {
		t.Run(method, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			if method == "eap" {
				// The test PKI is made outside the bubble: real time.
				respCfg, initCfg = eapConfigs(t)
			}
			synctest.Test(t, func(t *testing.T) {
				pool := mustPool(t, "198.51.100.0/26")
				respCfg.Pools = []ipsec.AddressPool{pool}
				initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
				gwB := netip.MustParseAddr("192.0.2.5")
				var asked []ipsec.IKESAInfo
				var ups atomic.Int32
				p := newPair(t, respCfg, ike.WithRedirectOnAuth(func(_ context.Context, info ipsec.IKESAInfo) (netip.Addr, bool) {
					asked = append(asked, info)
					return gwB, true
				}), ike.WithHooks(&ike.Hooks{IKEUp: func(ipsec.IKESAInfo) { ups.Add(1) }}))
				bCfg := *respCfg
				bCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
				b := p.secondResponder(t, gwB, &bCfg)
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				synctest.Wait()
				info := sa.Info()
				if info.Remote.Addr() != gwB || len(info.Children) != 1 || len(info.VirtualIPs) != 1 {
					t.Errorf("connected to %v with %d CHILD SAs and addresses %v, want gateway %v", info.Remote, len(info.Children), info.VirtualIPs, gwB)
				}
				if len(asked) != 1 || asked[0].RemoteID.IsZero() {
					t.Errorf("redirect decisions asked: %+v", asked)
				}
				if len(p.resp.SAs()) != 0 || p.resp.Stats().HalfOpen != 0 || len(p.respDP.SAs()) != 0 || len(pool.Leases()) != 0 {
					t.Errorf("gateway A keeps %d SAs, %d half-open, %d ESP SAs, leases %v", len(p.resp.SAs()), p.resp.Stats().HalfOpen, len(p.respDP.SAs()), pool.Leases())
				}
				if n := ups.Load(); n != 0 {
					t.Errorf("gateway A reported %d IKE SAs up for a redirected client", n)
				}
				if got := b.SAs(); len(got) != 1 || len(got[0].Children) != 1 {
					t.Errorf("gateway B SAs: %+v", got)
				}
				if err := sa.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if len(b.SAs()) != 0 {
					t.Errorf("gateway B keeps SAs after Delete")
				}
			})
		})
	}
}

// TestAuthLifetime gives the gateway a 10-minute authentication lifetime:
// it tells the client with AUTH_LIFETIME (RFC 4478) and never starts a
// reauthentication itself. Our client reauthenticates in time (make before
// break, same virtual address); a client whose reauthentication cannot get
// through is deleted by the gateway after the lifetime plus a grace
// period, not before.
func TestAuthLifetime(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocked=%v", blocked), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				respCfg.ReauthTime = 10 * time.Minute
				respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.0/26")}
				initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
				var logs testnet.Buffer
				p := newPair(t, respCfg, ike.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatal(err)
				}
				first := sa.Info()
				if blocked {
					p.net.SetFilter(func(pkt *ike.Packet) bool {
						m, err := wire.Parse(pkt.Data)
						return err != nil || m.Header.Exchange != wire.IKE_SA_INIT
					})
				}
				time.Sleep(10 * time.Minute)
				synctest.Wait()
				if blocked {
					if got := p.resp.SAs(); len(got) != 1 || got[0].SPIi != first.SPIi {
						t.Fatalf("gateway deleted the SA before the lifetime plus grace: %+v", got)
					}
					time.Sleep(time.Minute + time.Second)
					synctest.Wait()
					if n := len(p.resp.SAs()); n != 0 {
						t.Errorf("gateway keeps %d SAs of a client that did not reauthenticate", n)
					}
					if !strings.Contains(logs.String(), "did not reauthenticate") {
						t.Error("no log line about the overdue reauthentication")
					}
					select {
					case <-sa.Done():
					case <-time.After(time.Minute):
						t.Error("the client's handle is still up")
					}
					return
				}
				now := sa.Info()
				if now.SPIi == first.SPIi || now.State != "ESTABLISHED" {
					t.Fatalf("client did not reauthenticate within the lifetime: %+v", now)
				}
				if len(now.VirtualIPs) != 1 || now.VirtualIPs[0] != first.VirtualIPs[0] {
					t.Errorf("virtual IP changed with the reauthentication: %v -> %v", first.VirtualIPs, now.VirtualIPs)
				}
				time.Sleep(25 * time.Minute)
				synctest.Wait()
				if got := p.resp.SAs(); len(got) != 1 || got[0].State != "ESTABLISHED" {
					t.Errorf("after 35 minutes the gateway has %+v", got)
				}
				if strings.Contains(logs.String(), "did not reauthenticate") {
					t.Error("the gateway deleted a client that reauthenticated")
				}
			})
		})
	}
}

// TestAddChildAndLimit negotiates additional CHILD SAs with their own
// traffic selectors and PFS, then keeps asking until the gateway refuses
// with NO_ADDITIONAL_SAS: an authenticated peer cannot fill the data
// plane. Closing removes everything.
func TestAddChildAndLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		sub := esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))
		info, err := sa.AddChild(context.Background(), ike.ChildConfig{Name: "second", RemoteTS: []esp.Selector{sub},
			Proposals: mustProposals(t, "aes128gcm16-curve25519")})
		if err != nil {
			t.Fatalf("AddChild: %v", err)
		}
		if info.Name != "second" || len(info.RemoteTS) != 1 || info.RemoteTS[0] != "203.0.113.0/24" || !strings.Contains(info.Proposal, "curve25519") {
			t.Errorf("additional CHILD SA: %+v", info)
		}
		if got := sa.Info(); len(got.Children) != 2 {
			t.Fatalf("initiator has %d CHILD SAs", len(got.Children))
		}
		if n := len(p.respDP.SAs()); n != 4 {
			t.Errorf("gateway data plane has %d SAs, want 4", n)
		}
		var refused error
		for i := range 40 {
			host := esp.PrefixSelector(netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 32))
			if _, err := sa.AddChild(context.Background(), ike.ChildConfig{Name: fmt.Sprint("more", i), RemoteTS: []esp.Selector{host}}); err != nil {
				refused = err
				break
			}
		}
		var ne *ike.NotifyError
		if !errors.As(refused, &ne) || ne.Type != wire.NO_ADDITIONAL_SAS {
			t.Fatalf("after many CHILD SAs: %v, want NO_ADDITIONAL_SAS", refused)
		}
		n := len(sa.Info().Children)
		if n > 40 || len(p.respDP.SAs()) != 2*n {
			t.Errorf("%d CHILD SAs at the client, %d ESP SAs at the gateway", n, len(p.respDP.SAs()))
		}
		t.Logf("gateway refused CHILD SA %d with %v", n+1, ne.Type)
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if k := len(p.respDP.SAs()) + len(p.respDP.Policies()) + len(p.initDP.SAs()) + len(p.initDP.Policies()); k != 0 {
			t.Errorf("%d data plane entries after Close", k)
		}
	})
}

// TestSplitTunnelSubnets pushes subnets to the client (INTERNAL_IP4_SUBNET
// and INTERNAL_IP6_SUBNET): the client reads them back through
// SA.Subnets, and the CHILD SA's local selectors at the gateway are
// narrowed to them.
func TestSplitTunnelSubnets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		want := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:5::/48")}
		respCfg.Subnets = want
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.0/26"), mustPool(t, "2001:db8:100:1::/120")}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := sa.Subnets(); !slices.Equal(got, want) {
			t.Errorf("client got subnets %v, want %v", got, want)
		}
		gw := p.resp.SAs()
		if len(gw) != 1 || len(gw[0].Children) != 1 {
			t.Fatalf("gateway SAs %+v", gw)
		}
		if ts := gw[0].Children[0].LocalTS; !slices.Equal(ts, []string{"203.0.113.0/24", "2001:db8:5::/48"}) {
			t.Errorf("gateway's local selectors %v", ts)
		}
	})
}

// TestChildIfID carries each side's ChildConfig.IfID into every SA and
// policy it installs (per-peer XFRM interfaces on the kernel data plane).
func TestChildIfID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Children = []ike.ChildConfig{{Name: "site", IfID: 42}}
		initCfg.Children = []ike.ChildConfig{{Name: "site", IfID: 7}}
		p := newPair(t, respCfg)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			dp   *iketest.DataPlane
			want uint32
		}{{p.respDP, 42}, {p.initDP, 7}} {
			if len(c.dp.SAs()) == 0 || len(c.dp.Policies()) == 0 {
				t.Fatalf("nothing installed")
			}
			for _, s := range c.dp.SAs() {
				if s.IfID != c.want {
					t.Errorf("SA %08x has if_id %d, want %d", s.SPI, s.IfID, c.want)
				}
			}
			for _, pol := range c.dp.Policies() {
				if pol.IfID != c.want {
					t.Errorf("policy %v has if_id %d, want %d", pol, pol.IfID, c.want)
				}
			}
		}
	})
}
