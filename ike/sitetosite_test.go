package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// site is one site-to-site gateway process: one transport shared by its
// Responder and its Initiator, one data plane for both.
type site struct {
	name string
	id   ipsec.Identity
	lan  netip.Prefix
	conn ike.Conn
	addr netip.AddrPort // where the peer dials it
	dp   *iketest.DataPlane
	resp *ike.Responder
	init *ike.Initiator
}

var s2sPSK = ipsec.Secret("goipsec site-to-site psk 0123456789")

// s2sConfig is self's configuration towards peer, for its responder and
// its initiator alike: PSK both ways, one CHILD SA between the two LANs.
func s2sConfig(self, peer *site) *ike.PeerConfig {
	return &ike.PeerConfig{
		Name: self.name + "-" + peer.name, LocalID: self.id, RemoteID: peer.id,
		Local:  ike.LocalAuth{Method: ike.AuthPSK, PSK: s2sPSK},
		Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: s2sPSK},
		Children: []ike.ChildConfig{{Name: "lan",
			LocalTS:  []esp.Selector{esp.PrefixSelector(self.lan)},
			RemoteTS: []esp.Selector{esp.PrefixSelector(peer.lan)}}},
	}
}

// start runs s's responder for peer and makes its initiator, both on
// s.conn; they stop when the test ends. Under synctest the caller waits
// (synctest.Wait) for Serve to register; otherwise start waits itself.
func (s *site) start(t *testing.T, peer *site, seed byte, opts ...ike.Option) {
	t.Helper()
	s.dp = iketest.NewDataPlane()
	var err error
	s.resp, err = ike.NewResponder(s.conn, append([]ike.Option{ike.WithPeers(ike.StaticPeers(s2sConfig(s, peer))),
		ike.WithDataPlane(s.dp), ike.WithRand(iketest.NewRand(seed))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.resp.Serve(ctx) }()
	s.init, err = ike.NewInitiator(s.conn, append([]ike.Option{ike.WithDataPlane(s.dp), ike.WithRand(iketest.NewRand(seed + 1))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.init.Close(context.Background())
		cancel()
		if err := <-served; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Serve: %v", s.name, err)
		}
	})
}

// waitServing returns once a responder is registered on conn: a second
// one is refused.
func waitServing(t *testing.T, conn ike.Conn) {
	t.Helper()
	for range 5000 {
		reg, err := conn.Register(probeResponder{})
		if err != nil {
			return
		}
		reg.Close()
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the responder did not register within 5 s")
}

type probeResponder struct{}

func (probeResponder) IKEVersion() int         { return 2 }
func (probeResponder) Responder() bool         { return true }
func (probeResponder) HandlePacket(ike.Packet) {}

// checkS2S checks that a and b have two IKE SAs between them, one dialed
// by each, with a CHILD SA between the LANs, and that each CHILD SA
// carries traffic both ways on its own SPIs.
func checkS2S(t *testing.T, a, b *site, aSA, bSA *ike.SA) {
	t.Helper()
	for _, c := range []struct {
		self, peer *site
		dialed     *ike.SA
	}{{a, b, aSA}, {b, a, bSA}} {
		answered := c.peer.resp.SAs()
		if len(answered) != 1 {
			t.Fatalf("%s answered %d IKE SAs, want the one %s dialed", c.peer.name, len(answered), c.self.name)
		}
		in, out := c.dialed.Info(), answered[0]
		if in.State != "ESTABLISHED" || out.State != "ESTABLISHED" || in.SPIi != out.SPIi || in.SPIr != out.SPIr {
			t.Errorf("%s's IKE SA %s %x/%x, %s's %s %x/%x", c.self.name, in.State, in.SPIi, in.SPIr, c.peer.name, out.State, out.SPIi, out.SPIr)
		}
		if !out.RemoteID.Equal(c.self.id) {
			t.Errorf("%s's responder authenticated %q, want %q", c.peer.name, out.RemoteID, c.self.id)
		}
		if len(in.Children) != 1 || len(out.Children) != 1 {
			t.Fatalf("CHILD SAs: %d at %s, %d at %s", len(in.Children), c.self.name, len(out.Children), c.peer.name)
		}
		ci, co := in.Children[0], out.Children[0]
		if !slices.Equal(ci.LocalTS, []string{c.self.lan.String()}) || !slices.Equal(ci.RemoteTS, []string{c.peer.lan.String()}) ||
			!slices.Equal(co.LocalTS, ci.RemoteTS) || !slices.Equal(co.RemoteTS, ci.LocalTS) {
			t.Errorf("selectors: %s %v === %v, %s %v === %v", c.self.name, ci.LocalTS, ci.RemoteTS, c.peer.name, co.LocalTS, co.RemoteTS)
		}
		transmitOn(t, c.self, c.peer, ci.SPIOut, 1000)
		transmitOn(t, c.peer, c.self, co.SPIOut, 700)
	}
}

// transmitOn transmits one packet of size bytes from one site to the other
// through the outbound SA spi and checks that it arrived on that SA, not
// on another tunnel's.
func transmitOn(t *testing.T, from, to *site, spi uint32, size int) {
	t.Helper()
	out, ok := from.dp.SA(spi, esp.DirOut)
	if !ok {
		t.Fatalf("%s has no outbound SA %08x", from.name, spi)
	}
	if err := from.dp.Transmit(to.dp, out.ReqID, size); err != nil {
		t.Fatalf("%s -> %s on SA %08x: %v", from.name, to.name, spi, err)
	}
	in, ok := to.dp.SA(spi, esp.DirIn)
	if !ok {
		t.Fatalf("%s has no inbound SA %08x", to.name, spi)
	}
	st, err := to.dp.SAStats(in.ID())
	if err != nil || st.Bytes != uint64(size) {
		t.Errorf("%s -> %s: inbound SA %08x counted %d bytes (%v), want %d: the packet went through another tunnel",
			from.name, to.name, spi, st.Bytes, err, size)
	}
}

func newSites(a, b ike.Conn, aAddr, bAddr netip.AddrPort) (*site, *site) {
	return &site{name: "site-a", id: ipsec.FQDN("a.example.net"), lan: netip.MustParsePrefix("198.51.100.0/24"), conn: a, addr: aAddr},
		&site{name: "site-b", id: ipsec.FQDN("b.example.net"), lan: netip.MustParsePrefix("192.0.2.0/24"), conn: b, addr: bAddr}
}

// TestSiteToSiteSharedTransport: two gateways, each with one transport
// shared by a Responder and an Initiator, dial each other. Both IKE SAs
// come up, each on the right engine at each end, and each CHILD SA
// carries its own traffic between the two LANs (each gateway also shares
// one data plane between its engines).
func TestSiteToSiteSharedTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := iketest.NewNetwork(1)
		aIP, bIP := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
		a, b := newSites(n.Endpoint(aIP), n.Endpoint(bIP), netip.AddrPortFrom(aIP, 500), netip.AddrPortFrom(bIP, 500))
		a.start(t, b, 10)
		b.start(t, a, 20)
		synctest.Wait() // both Serve registered
		ctx := context.Background()
		aSA, err := a.init.Dial(ctx, b.addr, s2sConfig(a, b))
		if err != nil {
			t.Fatalf("site-a dials site-b: %v", err)
		}
		bSA, err := b.init.Dial(ctx, a.addr, s2sConfig(b, a))
		if err != nil {
			t.Fatalf("site-b dials site-a: %v", err)
		}
		checkS2S(t, a, b, aSA, bSA)
		// Liveness checks go both ways on both SAs after an idle while.
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if aSA.Err() != nil || bSA.Err() != nil || len(a.resp.SAs()) != 1 || len(b.resp.SAs()) != 1 {
			t.Errorf("after 10 minutes: %v, %v, %d and %d answered SAs", aSA.Err(), bSA.Err(), len(a.resp.SAs()), len(b.resp.SAs()))
		}
		if err := aSA.Close(ctx); err != nil {
			t.Errorf("site-a closes its SA: %v", err)
		}
		synctest.Wait()
		if len(b.resp.SAs()) != 0 || bSA.Err() != nil || len(a.resp.SAs()) != 1 {
			t.Errorf("after site-a's Delete: site-b answers %d SAs, site-b's own SA: %v", len(b.resp.SAs()), bSA.Err())
		}
	})
}

// TestInitiatorOnResponderTransport: an Initiator made on the transport
// a Responder serves must not take the packets of the responder's peers
// (before, the last engine to register received every IKEv2 message, so
// a road warrior's IKE_SA_INIT reached the gateway's initiator and was
// dropped, and Dial timed out). Both work: the road warrior connects and
// the gateway's initiator dials another gateway.
func TestInitiatorOnResponderTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg) // Serve has registered
		gwInit, err := ike.NewInitiator(p.net.Endpoint(gwAddr), ike.WithRand(iketest.NewRand(7)), ike.WithDataPlane(iketest.NewDataPlane()))
		if err != nil {
			t.Fatal(err)
		}
		defer gwInit.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("road warrior to the gateway that also has an initiator: %v", err)
		}
		if n := len(p.resp.SAs()); n != 1 {
			t.Errorf("the gateway's responder has %d SAs, want 1", n)
		}

		// The gateway's initiator dials a third host's responder.
		otherIP := netip.MustParseAddr("192.0.2.9")
		other, err := ike.NewResponder(p.net.Endpoint(otherIP), ike.WithPeers(ike.StaticPeers(respCfg)),
			ike.WithDataPlane(iketest.NewDataPlane()), ike.WithRand(iketest.NewRand(8)))
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(context.Background())
		defer stop()
		go other.Serve(sctx)
		synctest.Wait()
		sa, err := gwInit.Dial(ctx, netip.AddrPortFrom(otherIP, 500), initCfg)
		if err != nil {
			t.Fatalf("the gateway's initiator: %v", err)
		}
		if sa.Info().State != "ESTABLISHED" || len(other.SAs()) != 1 || len(p.resp.SAs()) != 1 {
			t.Errorf("dialed SA %s; other gateway %d SAs; gateway's responder %d SAs", sa.Info().State, len(other.SAs()), len(p.resp.SAs()))
		}
	})
}

// TestSecondResponderRefused: a second Responder on a transport would
// take the first one's new peers; NewResponder (which registers, so that
// nothing arriving before Serve is lost) fails at once instead, and once
// the first stops serving another may take over.
func TestSecondResponderRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		newSecond := func() (*ike.Responder, error) {
			return ike.NewResponder(p.net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithDataPlane(iketest.NewDataPlane()))
		}
		if _, err := newSecond(); err == nil || !strings.Contains(err.Error(), "responder is already registered") {
			t.Fatalf("second responder on one transport: %v", err)
		}
		p.cancel()
		<-p.serveStopped
		second, err := newSecond()
		if err != nil {
			t.Fatalf("a responder after the first stopped: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { second.Serve(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial to the responder that took over: %v", err)
		}
		if len(second.SAs()) != 1 {
			t.Errorf("the second responder has %d SAs", len(second.SAs()))
		}
	})
}

// TestSiteToSiteUDP is TestSiteToSiteSharedTransport over real sockets:
// two transports on loopback (distinct ports), each shared by a
// Responder and an Initiator.
func TestSiteToSiteUDP(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	listen := func() *ike.Transport {
		tr, err := ike.ListenUDP(context.Background(), ike.WithListenAddrs(lo), ike.WithPorts(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	ta, tb := listen(), listen()
	pa, _ := ta.Ports()
	pb, _ := tb.Ports()
	a, b := newSites(ta, tb, netip.AddrPortFrom(lo, pa), netip.AddrPortFrom(lo, pb))
	a.start(t, b, 30)
	b.start(t, a, 40)
	waitServing(t, ta)
	waitServing(t, tb)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		sa  *ike.SA
		err error
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	go func() { sa, err := a.init.Dial(ctx, b.addr, s2sConfig(a, b)); ra <- result{sa, err} }()
	go func() { sa, err := b.init.Dial(ctx, a.addr, s2sConfig(b, a)); rb <- result{sa, err} }()
	aRes, bRes := <-ra, <-rb
	if aRes.err != nil || bRes.err != nil {
		t.Fatalf("dials at once: site-a %v, site-b %v", aRes.err, bRes.err)
	}
	checkS2S(t, a, b, aRes.sa, bRes.sa)
	for _, tr := range []*ike.Transport{ta, tb} {
		if st := tr.Stats(); st.Unclaimed != 0 || st.IKEv2 < 4 {
			t.Errorf("transport stats %+v", st)
		}
	}
}

// TestSPIsUniqueAcrossEngines: two initiators on one transport draw the
// same random numbers (the same WithRand seed), so both pick the same
// first SPI; the second one's claim fails and it takes another, and both
// IKE SAs come up with their own SPIs.
func TestSPIsUniqueAcrossEngines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		twin, err := ike.NewInitiator(p.net.Endpoint(clientAddr), ike.WithDataPlane(iketest.NewDataPlane()), ike.WithRand(iketest.NewRand(2)))
		if err != nil {
			t.Fatal(err)
		}
		defer twin.Close(context.Background())
		gw := netip.AddrPortFrom(gwAddr, 500)
		first, err := p.init.Dial(context.Background(), gw, initCfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg2 := *initCfg
		cfg2.LocalID = ipsec.Email("bob@example.com") // not a replacement of the first
		second, err := twin.Dial(context.Background(), gw, &cfg2)
		if err != nil {
			t.Fatalf("second initiator with the same random source: %v", err)
		}
		a, b := first.Info(), second.Info()
		if a.SPIi == b.SPIi || a.State != "ESTABLISHED" || b.State != "ESTABLISHED" || len(p.resp.SAs()) != 2 {
			t.Errorf("SPIi %x and %x, states %s and %s, %d SAs at the gateway", a.SPIi, b.SPIi, a.State, b.State, len(p.resp.SAs()))
		}
	})
}
