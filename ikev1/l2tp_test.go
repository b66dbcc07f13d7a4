package ikev1_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// udp1701 is the host selector addr udp/1701.
func udp1701(a netip.Addr) esp.Selector {
	return esp.Selector{Start: a, End: a, Proto: 17, StartPort: 1701, EndPort: 1701}
}

// l2tpGateway is the responder's L2TP/IPsec child: transport mode for
// udp/1701 of our address, any client.
func l2tpGateway() ikev1.ChildConfig {
	return ikev1.ChildConfig{Name: "l2tp", Transport: true, LocalTS: []esp.Selector{udp1701(gwAddr)}}
}

// l2tpClient is one L2TP/IPsec client behind the NAT of clientAddr.
type l2tpClient struct {
	private netip.Addr
	ep      *iketest.Endpoint
	init    *ikev1.Initiator
	dp      *iketest.DataPlane
	sa      *ikev1.SA
}

// l2tpSetup is a gateway with two L2TP/IPsec clients behind one NAT.
type l2tpSetup struct {
	resp    *ikev1.Responder
	gwDP    *iketest.DataPlane
	clients []*l2tpClient
	req     [2]uint32 // the gateway's ReqID of each client
	ev      *events   // the gateway's hooks
	mu      sync.Mutex
	reqDown []uint32 // ReqIDDown calls
}

func (s *l2tpSetup) downs() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqDown)
}

// newL2TPSetup connects two clients behind one NAT (the NAT's address
// udp/1701 === our udp/1701 for both) and checks that the gateway gave
// them different ReqIDs, visible in ChildSAInfo, and that the traffic of
// one ReqID reaches that client only. life and childLife are the
// clients' phase 1 and phase 2 lifetimes (0: default).
func newL2TPSetup(t *testing.T, life, childLife time.Duration) *l2tpSetup {
	t.Helper()
	n := iketest.NewNetwork(1)
	s := &l2tpSetup{gwDP: iketest.NewDataPlane(), ev: newEvents()}
	ev := s.ev
	hooks := ev.hooks()
	hooks.ReqIDDown = func(r uint32) { s.mu.Lock(); s.reqDown = append(s.reqDown, r); s.mu.Unlock() }
	var err error
	s.resp, err = ikev1.NewResponder(n.Endpoint(gwAddr), ikev1.WithPeers(pskLookup("l2tp-psk", false, l2tpGateway())), ikev1.WithDataPlane(s.gwDP),
		ikev1.WithHooks(hooks), ikev1.WithRand(iketest.NewRand(1)), ikev1.WithLogger(testLogger(t, "gw")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.resp.Close() })
	for i := range 2 {
		c := &l2tpClient{private: netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i)}), dp: iketest.NewDataPlane()}
		c.ep = n.Endpoint(c.private)
		n.NAT(c.private, clientAddr)
		if c.init, err = ikev1.NewInitiator(c.ep, ikev1.WithDataPlane(c.dp), ikev1.WithRand(iketest.NewRand(byte(10+i)))); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.init.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		// Both name the same private address (two home networks behind
		// one carrier-grade NAT): identity and public address alike.
		c.sa, err = c.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), &ikev1.PeerConfig{Name: "cl", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("l2tp-psk"),
			LocalID:  ipsec.AddrID(netip.MustParseAddr("192.168.1.10")),
			Lifetime: life, RekeyMargin: life / 4, DPDDelay: -1,
			Children: []ikev1.ChildConfig{{Name: "l2tp", Transport: true, Lifetime: childLife, RekeyMargin: childLife / 4,
				LocalTS: []esp.Selector{udp1701(c.private)}, RemoteTS: []esp.Selector{udp1701(gwAddr)}}}})
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		wait(t, ev.childUpCh, "the gateway's ChildUp")
		s.clients = append(s.clients, c)
	}
	// The gateway's view: two ISAKMP SAs from one address, two ReqIDs.
	reqOf := map[uint32]uint32{} // client's inbound SPI -> the gateway's ReqID for it
	for _, x := range s.resp.SAs() {
		if len(x.Children) != 1 || !x.NATRemote || !x.Children[0].Transport || x.Children[0].ReqID == 0 {
			t.Fatalf("gateway SA %+v", x)
		}
		if got := x.Children[0].RemoteTS; len(got) != 1 || got[0] != clientAddr.String()+"/32[17/1701]" {
			t.Fatalf("gateway remote TS %v", got)
		}
		reqOf[x.Children[0].SPIOut] = x.Children[0].ReqID
	}
	for i, c := range s.clients {
		s.req[i] = reqOf[c.sa.Info().Children[0].SPIIn]
	}
	if len(reqOf) != 2 || s.req[0] == 0 || s.req[1] == 0 || s.req[0] == s.req[1] {
		t.Fatalf("ReqIDs of the two clients: %v (by SPI %v)", s.req, reqOf)
	}
	s.checkTraffic(t)
	return s
}

// checkTraffic: the gateway's traffic for one ReqID reaches that client
// only, and each client's reaches the gateway.
func (s *l2tpSetup) checkTraffic(t *testing.T) {
	t.Helper()
	for i, c := range s.clients {
		if err := s.gwDP.Transmit(c.dp, s.req[i], 100); err != nil {
			t.Fatalf("gateway to client %d with ReqID %d: %v", i, s.req[i], err)
		}
		if err := s.gwDP.Transmit(s.clients[1-i].dp, s.req[i], 100); !errors.Is(err, iketest.ErrLost) {
			t.Fatalf("client %d decrypted client %d's traffic: %v", 1-i, i, err)
		}
		if err := c.dp.Transmit(s.gwDP, 0, 100); err != nil {
			t.Fatalf("client %d to gateway: %v", i, err)
		}
	}
}

// TestL2TPTwoClientsBehindOneNAT: two L2TP/IPsec clients behind one NAT
// get their own ReqIDs; with the negotiated keys and ReqIDs in userspace
// data planes on loopback, each client's datagrams come out of
// WithLocalUDP with its own ReqID, and SendUDP(reqID) reaches the right
// client. When a client leaves, ReqIDDown reports its ReqID only.
func TestL2TPTwoClientsBehindOneNAT(t *testing.T) {
	s := newL2TPSetup(t, 0, 0)
	userspaceL2TP(t, s.gwDP, s.clients, s.req)
	if d := s.downs(); len(d) != 0 {
		t.Fatalf("ReqIDDown %v while both clients are up", d)
	}
	s.clients[1].sa.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := s.downs()
		if len(d) == 1 && d[0] == s.req[1] {
			break
		}
		if len(d) > 1 || time.Now().After(deadline) {
			t.Fatalf("ReqIDDown reported %v, want [%d]", d, s.req[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestL2TPReqIDSurvivesRenewals: for 10 virtual minutes both clients
// re-authenticate (phase 1 every ~80 s) and rekey (phase 2 every ~30 s)
// from the same outer address and port; every second the gateway's
// traffic for each ReqID reaches that client, no other ReqID appears and
// no ReqIDDown is reported.
func TestL2TPReqIDSurvivesRenewals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newL2TPSetup(t, 100*time.Second, 40*time.Second)
		for i := 0; i < 600; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			s.checkTraffic(t)
		}
		for _, x := range s.resp.SAs() {
			for _, c := range x.Children {
				if c.ReqID != s.req[0] && c.ReqID != s.req[1] {
					t.Fatalf("a renewal got a new ReqID: %+v (want %v)", c, s.req)
				}
			}
		}
		if d := s.downs(); len(d) != 0 {
			t.Fatalf("ReqIDDown %v during renewals", d)
		}
		s.ev.mu.Lock()
		ups, childUps := len(s.ev.up), len(s.ev.childUp)
		s.ev.mu.Unlock()
		// Two clients, 600 s, phase 1 renewed every ~80 s and phase 2 every ~30 s.
		if ups < 12 || childUps < 36 {
			t.Fatalf("%d phase 1 and %d phase 2 SAs at the gateway; want at least 12 and 36", ups, childUps)
		}
		for _, c := range s.clients {
			c.sa.Close()
		}
		synctest.Wait()
	})
}

// loopEngine is an esp.Userspace engine on a loopback UDP socket whose
// WithLocalUDP(1701) handler records what arrives.
type loopEngine struct {
	u    *esp.Userspace
	tun  *tuntest.ChannelTUN
	addr netip.AddrPort
	got  chan esp.LocalDatagram
}

func newLoopEngine(t *testing.T) *loopEngine {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := &loopEngine{tun: tuntest.NewChannelTUN(), addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), got: make(chan esp.LocalDatagram, 10)}
	e.u, err = esp.NewUserspace(e.tun.TUN(), esp.WithUDPConn(c), esp.WithWorkers(1), esp.WithLocalUDP(1701, func(d esp.LocalDatagram) {
		d.Payload = bytes.Clone(d.Payload)
		e.got <- d
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.u.Close() })
	return e
}

// install copies the SAs and policies of an engine's fake data plane to
// e, with the outer addresses mapped to loopback ones by m and every
// single-address selector moved to 127.0.0.1 (the addresses the
// loopback packets carry).
func (e *loopEngine) install(t *testing.T, dp *iketest.DataPlane, m map[netip.AddrPort]netip.AddrPort) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	for _, sa := range dp.SAs() {
		src, ok1 := m[sa.Src]
		dst, ok2 := m[sa.Dst]
		if !ok1 || !ok2 {
			t.Fatalf("no loopback address for %s -> %s", sa.Src, sa.Dst)
		}
		sa.Src, sa.Dst = src, dst
		if err := e.u.AddSA(context.Background(), &sa); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range dp.Policies() {
		for _, s := range []*esp.Selector{&p.Src, &p.Dst} {
			if s.Start != s.End {
				t.Fatalf("policy selector %s is no single address", s)
			}
			s.Start, s.End = lo, lo
		}
		if err := e.u.AddPolicy(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// userspaceL2TP moves the negotiated SAs into userspace data planes on
// loopback and checks the L2TP data path per ReqID both ways.
func userspaceL2TP(t *testing.T, gwDP *iketest.DataPlane, clients []*l2tpClient, req [2]uint32) {
	g := newLoopEngine(t)
	gwOuter := netip.AddrPortFrom(gwAddr, 4500)
	gm := map[netip.AddrPort]netip.AddrPort{gwOuter: g.addr}
	ces := make([]*loopEngine, len(clients))
	for i, c := range clients {
		ces[i] = newLoopEngine(t)
		// The gateway's inbound SA from client i has the NAT's mapping
		// of the client's port 4500 as its source.
		in, ok := gwDP.SA(c.sa.Info().Children[0].SPIOut, esp.DirIn)
		if !ok || !in.UDPEncap() || in.ReqID != req[i] {
			t.Fatalf("gateway inbound SA for client %d: %+v", i, in)
		}
		gm[in.Src] = ces[i].addr
		ces[i].install(t, c.dp, map[netip.AddrPort]netip.AddrPort{netip.AddrPortFrom(c.private, 4500): ces[i].addr, gwOuter: g.addr})
	}
	g.install(t, gwDP, gm)
	lo := netip.MustParseAddr("127.0.0.1")
	for i, c := range ces {
		msg := []byte{0xc8, 0x02, byte(i)}
		c.tun.Outbound <- udpPacket4(lo, lo, 1701, 1701, msg)
		select {
		case d := <-g.got:
			if d.ReqID != req[i] || !bytes.Equal(d.Payload, msg) || d.Src != netip.AddrPortFrom(lo, 1701) {
				t.Fatalf("client %d's datagram arrived as %+v, want ReqID %d", i, d, req[i])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("client %d's datagram did not arrive: %+v", i, g.u.Stats())
		}
	}
	for _, i := range []int{1, 0, 1} {
		msg := []byte{0xc8, 0x02, 0xff, byte(i)}
		if err := g.u.SendUDP(req[i], netip.AddrPortFrom(lo, 1701), netip.AddrPortFrom(lo, 1701), msg); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-ces[i].got:
			if !bytes.Equal(d.Payload, msg) {
				t.Fatalf("client %d got %x", i, d.Payload)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("SendUDP(%d) did not reach client %d: %+v", req[i], i, ces[i].u.Stats())
		}
	}
	for i, c := range ces {
		if st := c.u.Stats(); st.InLocal != uint64(1+i) || st.InAuth+st.InUnknownSPI+st.InSelector != 0 {
			t.Fatalf("client %d stats %+v", i, st)
		}
	}
}

// udpPacket4 is an IPv4 UDP packet with a valid checksum.
func udpPacket4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], ipChecksum(p[:20], 0))
	l4 := p[20:]
	binary.BigEndian.PutUint16(l4, sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	copy(l4[8:], payload)
	var ps [12]byte
	copy(ps[:], p[12:20])
	ps[9] = 17
	binary.BigEndian.PutUint16(ps[10:], uint16(len(l4)))
	binary.BigEndian.PutUint16(l4[6:], ipChecksum(l4, sum(ps[:])))
	return p
}

func sum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func ipChecksum(b []byte, initial uint32) uint16 {
	s := initial + sum(b)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// TestL2TPQuickModeShapes runs the Quick Mode shapes of the native L2TP/IPsec
// clients (CLIENTS.md 8.1-8.5) against a gateway configured as an LNS is:
// transport mode, udp/1701 of our address, any client. Each must install
// a transport SA pair (UDP-encapsulated behind the NAT) whose keys agree.
func TestL2TPQuickModeShapes(t *testing.T) {
	private := netip.MustParseAddr("10.0.0.2")
	anyUDP := func(a netip.Addr) esp.Selector { return esp.Selector{Start: a, End: a, Proto: 17, EndPort: 65535} }
	for _, c := range []struct {
		name     string
		nat      bool
		draft    bool // the client speaks only the NAT-T drafts: mode 61444, NAT-OA 131
		local    esp.Selector
		remote   esp.Selector
		remoteTS string // the gateway's view of the client's selector
	}{
		// Windows: 1701 at both ends, NAT-OA, mode 4.
		{"windows-nat", true, false, udp1701(private), udp1701(gwAddr), clientAddr.String() + "/32[17/1701]"},
		// Apple and Android: an ephemeral client port (IDci udp/0).
		{"apple-nat", true, false, anyUDP(private), udp1701(gwAddr), clientAddr.String() + "/32[17/0-65535]"},
		// A client that leaves the server port open too (IDcr udp/0).
		{"server-any-port", true, false, udp1701(private), anyUDP(gwAddr), clientAddr.String() + "/32[17/1701]"},
		// racoon-era clients with draft NAT-T only.
		{"draft-natt", true, true, anyUDP(private), udp1701(gwAddr), clientAddr.String() + "/32[17/0-65535]"},
		// No NAT: plain transport mode (2), raw ESP.
		{"direct", false, false, udp1701(clientAddr), udp1701(gwAddr), clientAddr.String() + "/32[17/1701]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs logLines
			p := newPair(t, pskLookup("l2tp-psk", false, l2tpGateway()), c.nat, ikev1.WithLogger(slog.New(&logs)))
			if c.draft {
				// Blank the RFC 3947 Vendor ID in the client's messages:
				// the gateway then chooses the draft dialect.
				p.net.SetFilter(func(pk *ike.Packet) bool {
					if pk.Local.Addr() == gwAddr { // the packet as the receiver sees it
						if i := bytes.Index(pk.Data, rfc3947VID); i >= 0 {
							clear(pk.Data[i : i+len(rfc3947VID)])
						}
					}
					return true
				})
			}
			sa, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("l2tp-psk"),
				Children: []ikev1.ChildConfig{{Name: "l2tp", Transport: true, LocalTS: []esp.Selector{c.local}, RemoteTS: []esp.Selector{c.remote}}}})
			if err != nil {
				t.Fatal(err)
			}
			wait(t, p.gwEv.childUpCh, "the gateway's ChildUp")
			gws := p.resp.SAs()
			if len(gws) != 1 || len(gws[0].Children) != 1 {
				t.Fatalf("gateway SAs %+v", gws)
			}
			ch := gws[0].Children[0]
			if !ch.Transport || ch.UDPEncap != c.nat || len(ch.RemoteTS) != 1 || ch.RemoteTS[0] != c.remoteTS || ch.LocalTS[0] != gwAddr.String()+"/32[17/1701]" {
				t.Fatalf("gateway child %+v", ch)
			}
			in, ok := p.gwDP.SA(ch.SPIIn, esp.DirIn)
			if !ok || in.Mode != esp.ModeTransport || in.UDPEncap() != c.nat || in.ReqID != ch.ReqID {
				t.Fatalf("gateway inbound SA %+v", in)
			}
			// The gateway's policies are for udp/1701 of ours only, even
			// when the client left the server port open.
			for _, pol := range p.gwDP.Policies() {
				our := pol.Src
				if pol.Dir == esp.DirIn {
					our = pol.Dst
				}
				if our.Proto != 17 || our.StartPort != 1701 || our.EndPort != 1701 {
					t.Fatalf("gateway policy %+v", pol)
				}
			}
			if d := sa.Info().Children; len(d) != 1 || !d[0].Transport || d[0].UDPEncap != c.nat {
				t.Fatalf("client child %+v", d)
			}
			if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
				t.Fatal(err)
			}
			if err := p.gwDP.Transmit(p.clDP, ch.ReqID, 100); err != nil {
				t.Fatal(err)
			}
			// RFC 3947 section 5.2: UDP-encapsulated transport mode makes
			// the responder send NAT-OA as well.
			want := "[ HASH SA No ID ID ]"
			if c.nat {
				want = "[ HASH SA No ID ID NAT-OA NAT-OA ]"
			}
			if !logs.has("sending QUICK_MODE request", want) {
				t.Fatalf("the gateway's Quick Mode answer is not %s:\n%s", want, logs.String())
			}
		})
	}
	// A tunnel-mode request for the same selectors is refused.
	t.Run("tunnel-refused", func(t *testing.T) {
		p := newPair(t, pskLookup("l2tp-psk", false, l2tpGateway()), true)
		_, err := p.dial(t, &ikev1.PeerConfig{Auth: ikev1.AuthPSK, PSK: ipsec.Secret("l2tp-psk"),
			Children: []ikev1.ChildConfig{{Name: "l2tp", LocalTS: []esp.Selector{udp1701(private)}, RemoteTS: []esp.Selector{udp1701(gwAddr)}}}})
		if err == nil {
			t.Fatal("a tunnel-mode Quick Mode was accepted by a transport-mode configuration")
		}
		if n := len(p.gwDP.SAs()); n != 0 {
			t.Fatalf("%d SAs installed", n)
		}
	})
}

// logLines is a slog.Handler that keeps the messages.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// has reports whether a message starts with prefix and ends with suffix.
func (l *logLines) has(prefix, suffix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if strings.HasPrefix(m, prefix) && strings.HasSuffix(m, suffix) {
			return true
		}
	}
	return false
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// rfc3947VID is the RFC 3947 NAT-T Vendor ID (MD5 of "RFC 3947").
var rfc3947VID = []byte{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}
