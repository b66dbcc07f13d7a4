package esp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/proposal"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

var (
	innerA4 = netip.MustParseAddr("192.0.2.1")
	innerB4 = netip.MustParseAddr("192.0.2.2")
	innerA6 = netip.MustParseAddr("2001:db8:1::1")
	innerB6 = netip.MustParseAddr("2001:db8:1::2")
)

// testSuite is one algorithm set the engine tests run with.
type testSuite struct {
	name        string
	encr        proposal.EncrID
	bits        int
	integ       proposal.IntegID
	encKeyLen   int
	integKeyLen int
}

var testSuites = []testSuite{
	{"aes128gcm16", proposal.EncrAESGCM16, 128, proposal.IntegNone, 20, 0},
	{"aes256-sha256", proposal.EncrAESCBC, 256, proposal.IntegHMACSHA2256128, 32, 32},
	{"chacha20poly1305", proposal.EncrChaCha20Poly1305, 256, proposal.IntegNone, 36, 0},
}

func keyBytes(n int, seed byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// sideA and sideB are the two ends of a test tunnel: engine, TUN channels,
// UDP socket.
type side struct {
	u    *Userspace
	tun  *tuntest.ChannelTUN
	conn *net.UDPConn
	addr netip.AddrPort
}

func listenLoopback(t *testing.T) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func newSide(t *testing.T, opts ...Option) *side {
	t.Helper()
	c, ap := listenLoopback(t)
	ct := tuntest.NewChannelTUN()
	u, err := NewUserspace(ct.TUN(), append([]Option{WithUDPConn(c), WithWorkers(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return &side{u: u, tun: ct, conn: c, addr: ap}
}

type pairConf struct {
	suite          testSuite
	mode           Mode
	esn            bool
	spiAB, spiBA   uint32
	reqid          uint32
	lifetime       Lifetime
	aDst           netip.AddrPort // where A sends; defaults to B's socket
	innerA, innerB netip.Addr
	skipInPolicyB  bool
	skipPolicies   bool
}

// install sets up SAs A->B and B->A with policies for innerA<->innerB.
func install(t *testing.T, a, b *side, pc pairConf) {
	t.Helper()
	ctx := context.Background()
	if pc.spiAB == 0 {
		pc.spiAB, pc.spiBA = 0x1001, 0x2002
	}
	if pc.reqid == 0 {
		pc.reqid = 1
	}
	if !pc.innerA.IsValid() {
		pc.innerA, pc.innerB = innerA4, innerB4
	}
	aDst := b.addr
	if pc.aDst.IsValid() {
		aDst = pc.aDst
	}
	mk := func(spi uint32, dir Direction, src, dst netip.AddrPort, seed byte) *SA {
		return &SA{
			SPI: spi, Dir: dir, Mode: pc.mode, Src: src, Dst: dst,
			Encr: pc.suite.encr, EncrKeyBits: pc.suite.bits, Integ: pc.suite.integ,
			EncrKey: keyBytes(pc.suite.encKeyLen, seed), IntegKey: keyBytes(pc.suite.integKeyLen, seed+100),
			ESN: pc.esn, ReqID: pc.reqid, Lifetime: pc.lifetime,
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.u.AddSA(ctx, mk(pc.spiAB, DirOut, a.addr, aDst, byte(pc.spiAB))))
	must(b.u.AddSA(ctx, mk(pc.spiAB, DirIn, a.addr, b.addr, byte(pc.spiAB))))
	must(b.u.AddSA(ctx, mk(pc.spiBA, DirOut, b.addr, a.addr, byte(pc.spiBA))))
	must(a.u.AddSA(ctx, mk(pc.spiBA, DirIn, b.addr, a.addr, byte(pc.spiBA))))
	if pc.skipPolicies {
		return
	}
	ia, ib := pc.innerA, pc.innerB
	if pc.mode == ModeTransport {
		ia, ib = a.addr.Addr(), b.addr.Addr()
	}
	sa, sb := PrefixSelector(netip.PrefixFrom(ia, ia.BitLen())), PrefixSelector(netip.PrefixFrom(ib, ib.BitLen()))
	must(a.u.AddPolicy(ctx, Policy{Dir: DirOut, Src: sa, Dst: sb, ReqID: pc.reqid}))
	must(a.u.AddPolicy(ctx, Policy{Dir: DirIn, Src: sb, Dst: sa, ReqID: pc.reqid}))
	must(b.u.AddPolicy(ctx, Policy{Dir: DirOut, Src: sb, Dst: sa, ReqID: pc.reqid}))
	if !pc.skipInPolicyB {
		must(b.u.AddPolicy(ctx, Policy{Dir: DirIn, Src: sa, Dst: sb, ReqID: pc.reqid}))
	}
}

// udpPacket builds an IPv4 or IPv6 UDP packet (checksums left zero/unset
// for IPv6 where the test does not care) with payload.
func udpPacket(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	l4 := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(l4, sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	copy(l4[8:], payload)
	var p []byte
	if src.Is4() {
		p = make([]byte, 20+len(l4))
		buildTransportHeader(p, src, dst, protoUDP)
	} else {
		p = make([]byte, 40+len(l4))
		buildTransportHeader(p, src, dst, protoUDP)
	}
	copy(p[len(p)-len(l4):], l4)
	// buildTransportHeader computed the UDP checksum over the zeroed payload;
	// redo it now that the payload is in place.
	if src.Is4() {
		fixL4Checksum(p[20:], p[12:20], protoUDP)
	} else {
		fixL4Checksum(p[40:], p[8:40], protoUDP)
	}
	return p
}

func sendRecv(t *testing.T, from, to *side, pkt []byte) []byte {
	t.Helper()
	select {
	case from.tun.Outbound <- pkt:
	case <-time.After(5 * time.Second):
		t.Fatal("engine did not read from TUN")
	}
	select {
	case got := <-to.tun.Inbound:
		return got
	case <-time.After(5 * time.Second):
		t.Fatalf("no packet arrived; sender stats %+v receiver stats %+v", from.u.Stats(), to.u.Stats())
	}
	return nil
}

func expectNothing(t *testing.T, to *side) {
	t.Helper()
	select {
	case got := <-to.tun.Inbound:
		t.Fatalf("unexpected packet delivered: %x", got)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestTunnelLoopback(t *testing.T) {
	for _, ts := range testSuites {
		for _, esn := range []bool{false, true} {
			name := ts.name
			if esn {
				name += "/esn"
			}
			t.Run(name, func(t *testing.T) {
				a, b := newSide(t), newSide(t)
				install(t, a, b, pairConf{suite: ts, esn: esn})
				for i := range 20 {
					p := udpPacket(innerA4, innerB4, 1000, 2000, bytes.Repeat([]byte{byte(i)}, i*70))
					if got := sendRecv(t, a, b, p); !bytes.Equal(got, p) {
						t.Fatalf("A->B packet %d:\n%x\nwant\n%x", i, got, p)
					}
					r := udpPacket(innerB4, innerA4, 2000, 1000, []byte("reply"))
					if got := sendRecv(t, b, a, r); !bytes.Equal(got, r) {
						t.Fatalf("B->A packet %d differs", i)
					}
				}
				st, err := a.u.SAStats(SAID{SPI: 0x1001, Dir: DirOut, Dst: b.addr.Addr()})
				if err != nil {
					t.Fatal(err)
				}
				if st.Packets != 20 || st.Seq != 20 || st.LastUse.IsZero() {
					t.Fatalf("outbound SA stats %+v, want 20 packets", st)
				}
				in, _ := b.u.SAStats(SAID{SPI: 0x1001, Dir: DirIn})
				if in.Packets != 20 || in.Bytes != st.Bytes {
					t.Fatalf("inbound SA stats %+v vs outbound %+v", in, st)
				}
				if s := b.u.Stats(); s.InPackets != 20 || s.InAuth+s.InReplay+s.InUnknownSPI != 0 {
					t.Fatalf("receiver stats %+v", s)
				}
			})
		}
	}
}

func TestTunnelLoopbackIPv6Inner(t *testing.T) {
	a, b := newSide(t), newSide(t)
	install(t, a, b, pairConf{suite: testSuites[0], innerA: innerA6, innerB: innerB6})
	p := udpPacket(innerA6, innerB6, 1, 2, []byte("hello over v6"))
	if got := sendRecv(t, a, b, p); !bytes.Equal(got, p) {
		t.Fatalf("got %x want %x", got, p)
	}
}

func TestTransportModeLoopback(t *testing.T) {
	a, b := newSide(t), newSide(t)
	install(t, a, b, pairConf{suite: testSuites[1], mode: ModeTransport})
	p := udpPacket(a.addr.Addr(), b.addr.Addr(), 1701, 1701, []byte("l2tp-ish"))
	got := sendRecv(t, a, b, p)
	f, ok := parseFlow(got)
	if !ok || f.src != a.addr.Addr() || f.dst != b.addr.Addr() || f.proto != protoUDP {
		t.Fatalf("transport packet header wrong: %x", got)
	}
	if !bytes.Equal(got[20:], p[20:]) {
		t.Fatalf("payload differs:\n%x\n%x", got[20:], p[20:])
	}
	if foldChecksum(checksum(got[:20], 0)) != 0 {
		t.Fatal("rebuilt IPv4 header checksum is wrong")
	}
}

// TestAcquire checks that traffic for a protect policy without SA raises
// one acquire event (rate limited) and is counted.
func TestAcquire(t *testing.T) {
	a := newSide(t)
	ctx := context.Background()
	pol := Policy{Dir: DirOut, Src: AnySelector(true), Dst: PrefixSelector(netip.MustParsePrefix("198.51.100.0/24")), ReqID: 7}
	if err := a.u.AddPolicy(ctx, pol); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddPolicy(ctx, pol); !errors.Is(err, ErrPolicyExists) {
		t.Fatalf("duplicate policy: %v", err)
	}
	for range 3 {
		a.tun.Outbound <- udpPacket(innerA4, netip.MustParseAddr("198.51.100.9"), 5, 53, nil)
	}
	select {
	case e := <-a.u.Events():
		if e.Kind != EventAcquire || e.ReqID != 7 || e.Dst.Start != netip.MustParseAddr("198.51.100.9") || e.Dst.Proto != protoUDP || e.Dst.StartPort != 53 ||
			e.Src.Start != innerA4 || e.Src.StartPort != 5 {
			t.Fatalf("event %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no acquire event")
	}
	a.tun.Outbound <- udpPacket(innerA4, netip.MustParseAddr("203.0.113.1"), 5, 53, nil)
	deadline := time.Now().Add(5 * time.Second)
	for a.u.Stats().OutNoPolicy != 1 || a.u.Stats().OutNoSA != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", a.u.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case e := <-a.u.Events():
		t.Fatalf("second acquire within a second: %v", e)
	default:
	}
	if err := a.u.DeletePolicy(ctx, pol); err != nil {
		t.Fatal(err)
	}
	if err := a.u.DeletePolicy(ctx, pol); !errors.Is(err, ErrPolicyNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestPacketLifetimes(t *testing.T) {
	a, b := newSide(t), newSide(t)
	install(t, a, b, pairConf{suite: testSuites[0], lifetime: Lifetime{Soft: Limits{Packets: 3}, Hard: Limits{Packets: 5}}})
	for range 5 {
		p := udpPacket(innerA4, innerB4, 1, 2, []byte("x"))
		sendRecv(t, a, b, p)
	}
	a.tun.Outbound <- udpPacket(innerA4, innerB4, 1, 2, []byte("6th"))
	expectNothing(t, b)
	var kinds []EventKind
	timeout := time.After(5 * time.Second)
	for len(kinds) < 2 {
		select {
		case e := <-a.u.Events():
			if e.SA.SPI != 0x1001 {
				t.Fatalf("event for wrong SA: %v", e)
			}
			kinds = append(kinds, e.Kind)
		case <-timeout:
			t.Fatalf("events so far %v", kinds)
		}
	}
	if kinds[0] != EventSoftExpire || kinds[1] != EventHardExpire {
		t.Fatalf("events %v, want soft then hard", kinds)
	}
	// The receiver saw 5 packets: its inbound SA hit soft (3) but not hard.
	select {
	case e := <-b.u.Events():
		if e.Kind != EventSoftExpire || e.SA.Dir != DirIn {
			t.Fatalf("receiver event %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("receiver: no soft expire")
	}
}

func TestTimeLifetimes(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := make(chan time.Time, 1)
	clock <- now
	read := func() time.Time { c := <-clock; clock <- c; return c }
	a := newSide(t, WithClock(read), WithHousekeepingInterval(5*time.Millisecond))
	b := newSide(t)
	install(t, a, b, pairConf{suite: testSuites[0], lifetime: Lifetime{Soft: Limits{Time: time.Hour}, Hard: Limits{Time: 2 * time.Hour}}})
	step := func(d time.Duration) { c := <-clock; clock <- c.Add(d) }
	step(61 * time.Minute)
	want := map[EventKind]int{}
	timeout := time.After(5 * time.Second)
	for want[EventSoftExpire] < 2 {
		select {
		case e := <-a.u.Events():
			want[e.Kind]++
		case <-timeout:
			t.Fatalf("events %v", want)
		}
	}
	step(time.Hour)
	for want[EventHardExpire] < 2 {
		select {
		case e := <-a.u.Events():
			want[e.Kind]++
		case <-timeout:
			t.Fatalf("events %v", want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.u.SAStats(SAID{SPI: 0x1001, Dir: DirOut, Dst: b.addr.Addr()})
		if errors.Is(err, ErrSANotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hard-expired SA still installed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relay sits between A and B and lets a test replay, corrupt or truncate
// what A sends.
type relay struct {
	conn *net.UDPConn
	addr netip.AddrPort
	last chan []byte
}

func newRelay(t *testing.T, to netip.AddrPort) *relay {
	c, ap := listenLoopback(t)
	r := &relay{conn: c, addr: ap, last: make(chan []byte, 100)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p := bytes.Clone(buf[:n])
			r.last <- p
			c.WriteToUDPAddrPort(p, to)
		}
	}()
	return r
}

func (r *relay) inject(t *testing.T, to netip.AddrPort, p []byte) {
	t.Helper()
	if _, err := r.conn.WriteToUDPAddrPort(p, to); err != nil {
		t.Fatal(err)
	}
}

func waitStat(t *testing.T, u *Userspace, what string, get func(Stats) uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get(u.Stats()) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d; stats %+v", what, get(u.Stats()), want, u.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestHostilePackets replays, forges, truncates and mis-addresses ESP
// packets and checks each is dropped and counted under its reason.
func TestHostilePackets(t *testing.T) {
	a, b := newSide(t), newSide(t)
	r := newRelay(t, b.addr)
	install(t, a, b, pairConf{suite: testSuites[0], aDst: r.addr})
	p := udpPacket(innerA4, innerB4, 1, 2, []byte("original"))
	sendRecv(t, a, b, p)
	orig := <-r.last

	r.inject(t, b.addr, orig) // duplicate
	waitStat(t, b.u, "InReplay", func(s Stats) uint64 { return s.InReplay }, 1)

	forged := bytes.Clone(orig)
	binary.BigEndian.PutUint32(forged[4:], 2) // new sequence number, old ICV
	r.inject(t, b.addr, forged)
	waitStat(t, b.u, "InAuth", func(s Stats) uint64 { return s.InAuth }, 1)

	flipped := bytes.Clone(orig)
	binary.BigEndian.PutUint32(flipped[4:], 3)
	flipped[20] ^= 0x80
	r.inject(t, b.addr, flipped)
	waitStat(t, b.u, "InAuth", func(s Stats) uint64 { return s.InAuth }, 2)

	wrongSPI := bytes.Clone(orig)
	binary.BigEndian.PutUint32(wrongSPI, 0xdead)
	r.inject(t, b.addr, wrongSPI)
	waitStat(t, b.u, "InUnknownSPI", func(s Stats) uint64 { return s.InUnknownSPI }, 1)

	r.inject(t, b.addr, orig[:7])
	r.inject(t, b.addr, orig[:20])
	waitStat(t, b.u, "InTruncated", func(s Stats) uint64 { return s.InTruncated }, 2)

	r.inject(t, b.addr, []byte{0xff})
	waitStat(t, b.u, "KeepalivesRecv", func(s Stats) uint64 { return s.KeepalivesRecv }, 1)
	expectNothing(t, b)

	// Reordered packets inside the window are accepted once each.
	var held [][]byte
	for i := range 4 {
		a.tun.Outbound <- udpPacket(innerA4, innerB4, 1, 2, []byte{byte(i)})
		held = append(held, <-r.last)
		<-b.tun.Inbound
	}
	in, _ := b.u.SAStats(SAID{SPI: 0x1001, Dir: DirIn})
	if in.Packets != 5 || in.ReplayDrops != 1 || in.AuthFailures != 2 {
		t.Fatalf("inbound SA stats %+v", in)
	}
	for _, h := range held {
		r.inject(t, b.addr, h)
	}
	waitStat(t, b.u, "InReplay", func(s Stats) uint64 { return s.InReplay }, 5)
	if got := b.u.Stats().InPackets; got != 5 {
		t.Fatalf("InPackets %d", got)
	}
}

// TestSelectorCheck: B's inbound policy covers only 192.0.2.1; A sends a
// packet from another inner address through the SA, which B must drop
// (RFC 4301 section 5.2).
func TestSelectorCheck(t *testing.T) {
	a, b := newSide(t), newSide(t)
	install(t, a, b, pairConf{suite: testSuites[0]})
	ctx := context.Background()
	wide := Policy{Dir: DirOut, Src: AnySelector(true), Dst: PrefixSelector(netip.MustParsePrefix("192.0.2.2/32")), ReqID: 1, Priority: 10}
	if err := a.u.AddPolicy(ctx, wide); err != nil {
		t.Fatal(err)
	}
	a.tun.Outbound <- udpPacket(netip.MustParseAddr("192.0.2.99"), innerB4, 1, 2, []byte("spoof"))
	waitStat(t, b.u, "InSelector", func(s Stats) uint64 { return s.InSelector }, 1)
	expectNothing(t, b)
}

// TestRekeyMakeBeforeBreak installs a second SA pair with the same ReqID
// while traffic flows: both inbound SAs work, the newest outbound SA is
// used, and deleting the old pair loses nothing.
func TestRekeyMakeBeforeBreak(t *testing.T) {
	a, b := newSide(t), newSide(t)
	install(t, a, b, pairConf{suite: testSuites[2]})
	p := udpPacket(innerA4, innerB4, 1, 2, []byte("before"))
	sendRecv(t, a, b, p)
	install(t, a, b, pairConf{suite: testSuites[2], spiAB: 0x3003, spiBA: 0x4004, skipPolicies: true})
	sendRecv(t, a, b, p)
	sendRecv(t, b, a, udpPacket(innerB4, innerA4, 2, 1, []byte("reply")))
	newOut, err := a.u.SAStats(SAID{SPI: 0x3003, Dir: DirOut, Dst: b.addr.Addr()})
	if err != nil || newOut.Packets != 1 {
		t.Fatalf("new outbound SA stats %+v %v", newOut, err)
	}
	ctx := context.Background()
	for _, id := range []SAID{{SPI: 0x1001, Dir: DirOut, Dst: b.addr.Addr()}, {SPI: 0x2002, Dir: DirIn}} {
		if err := a.u.DeleteSA(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := a.u.DeleteSA(ctx, id); !errors.Is(err, ErrSANotFound) {
			t.Fatalf("second delete: %v", err)
		}
	}
	sendRecv(t, a, b, p)
	sendRecv(t, b, a, udpPacket(innerB4, innerA4, 2, 1, []byte("reply")))
}

func TestUpdateSA(t *testing.T) {
	a, b := newSide(t), newSide(t)
	r := newRelay(t, b.addr)
	install(t, a, b, pairConf{suite: testSuites[0], aDst: r.addr})
	sendRecv(t, a, b, udpPacket(innerA4, innerB4, 1, 2, nil))
	<-r.last
	ctx := context.Background()
	id := SAID{SPI: 0x1001, Dir: DirOut, Dst: r.addr.Addr()}
	upd := &SA{SPI: 0x1001, Dir: DirOut, Src: a.addr, Dst: b.addr, Encr: testSuites[0].encr, EncrKeyBits: 128, ReqID: 1}
	if err := a.u.UpdateSA(ctx, id, upd); err != nil {
		t.Fatal(err)
	}
	sendRecv(t, a, b, udpPacket(innerA4, innerB4, 1, 2, nil))
	select {
	case <-r.last:
		t.Fatal("packet still went through the old address")
	default:
	}
	upd.Encr = proposal.EncrAESCBC
	if err := a.u.UpdateSA(ctx, id, upd); err == nil {
		t.Fatal("algorithm change accepted")
	}
}

// TestHandleUDP drives the inbound path through HandleUDP, as an IKE
// transport that reads the shared socket itself would.
func TestHandleUDP(t *testing.T) {
	a := newSide(t)
	c, ap := listenLoopback(t)
	ct := tuntest.NewChannelTUN()
	u, err := NewUserspace(ct.TUN(), WithUDPSendConn(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	b := &side{u: u, tun: ct, conn: c, addr: ap}
	install(t, a, b, pairConf{suite: testSuites[1]})
	p := udpPacket(innerA4, innerB4, 1, 2, []byte("via HandleUDP"))
	a.tun.Outbound <- p
	buf := make([]byte, 2048)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- u.HandleUDP(buf[:n], from) }()
	select {
	case got := <-ct.Inbound:
		if !bytes.Equal(got, p) {
			t.Fatalf("got %x", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := u.HandleUDP(buf[:n], from); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed packet: %v", err)
	}
	if err := u.HandleUDP(buf[:5], from); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short packet: %v", err)
	}
}

func TestNonESPAndKeepalive(t *testing.T) {
	got := make(chan []byte, 1)
	a := newSide(t, WithNATKeepalive(20*time.Millisecond), WithHousekeepingInterval(5*time.Millisecond))
	b := newSide(t, WithNonESPHandler(func(p []byte, from netip.AddrPort) { got <- bytes.Clone(p) }))
	pc := pairConf{suite: testSuites[0]}
	install(t, a, b, pc)
	// Turn keepalives on for A's outbound SA.
	sa := &SA{SPI: 0x1001, Dir: DirOut, Src: a.addr, Dst: b.addr, Encr: testSuites[0].encr, EncrKeyBits: 128, ReqID: 1, NATKeepalive: true}
	if err := a.u.UpdateSA(context.Background(), sa.ID(), sa); err != nil {
		t.Fatal(err)
	}
	waitStat(t, b.u, "KeepalivesRecv", func(s Stats) uint64 { return min(s.KeepalivesRecv, 2) }, 2)
	ike := []byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	if _, err := a.conn.WriteToUDPAddrPort(ike, b.addr); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if !bytes.Equal(p, ike) {
			t.Fatalf("non-ESP handler got %x", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IKE packet not handed over")
	}
}

func TestConfigErrors(t *testing.T) {
	ct := tuntest.NewChannelTUN()
	if _, err := NewUserspace(ct.TUN(), WithWorkers(0)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("WithWorkers")) {
		t.Fatalf("err = %v, want one naming WithWorkers", err)
	}
	u, err := NewUserspace(ct.TUN())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx := context.Background()
	good := SA{SPI: 0x1000, Dir: DirOut, Src: netip.MustParseAddrPort("192.0.2.1:4500"), Dst: netip.MustParseAddrPort("192.0.2.2:4500"),
		Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: make([]byte, 20)}
	bad := []func(*SA){
		func(s *SA) { s.SPI = 5 },
		func(s *SA) { s.Dir = 0 },
		func(s *SA) { s.Dst = netip.MustParseAddrPort("[2001:db8::1]:4500") },
		func(s *SA) { s.Dst = netip.AddrPortFrom(s.Dst.Addr(), 0) },
		func(s *SA) { s.EncrKey = s.EncrKey[:5] },
		func(s *SA) { s.Integ = proposal.IntegHMACSHA2256128 },
		func(s *SA) {}, // no UDP socket configured
	}
	for i, f := range bad {
		s := good
		f(&s)
		if err := u.AddSA(ctx, &s); err == nil {
			t.Errorf("case %d: AddSA accepted %s", i, &s)
		}
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	s := good
	s.Dir = DirIn
	if err := u.AddSA(ctx, &s); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddSA after Close: %v", err)
	}
}

func TestSAStringRedactsKeys(t *testing.T) {
	key := []byte("supersecretkey!!salt")
	sa := &SA{SPI: 0x1234, Dir: DirOut, Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: key}
	for _, s := range []string{sa.String(), sa.GoString()} {
		if bytes.Contains([]byte(s), key[:6]) || bytes.Contains([]byte(s), []byte("7375706572")) {
			t.Fatalf("key material in %q", s)
		}
	}
}

// TestPickUDP: with one socket per local address (multi-homed gateway),
// an SA sends from the socket bound to its source address.
func TestPickUDP(t *testing.T) {
	var socks []*udpSock
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		socks = append(socks, newUDPSock(c, 8))
	}
	dst := netip.MustParseAddrPort("127.0.0.9:4500")
	for _, s := range socks {
		if got := pickUDP(socks, s.local, dst); got != s {
			t.Fatalf("SA from %s picked socket %s", s.local, got.local)
		}
	}
	if got := pickUDP(socks, netip.MustParseAddrPort("127.0.0.3:4500"), dst); got == nil || !got.v4 {
		t.Fatal("no fallback socket for an unknown source")
	}
	if got := pickUDP(socks, netip.MustParseAddrPort("[2001:db8::1]:4500"), netip.MustParseAddrPort("[2001:db8::2]:4500")); got != nil {
		t.Fatalf("IPv4 socket %s picked for an IPv6 peer", got.local)
	}
}

// TestOrderPreserved pushes a burst through engines with several crypto
// workers and checks that packets leave and arrive in the order sent.
func TestOrderPreserved(t *testing.T) {
	a, b := newSide(t, WithWorkers(4)), newSide(t, WithWorkers(4))
	install(t, a, b, pairConf{suite: testSuites[1]})
	// Bursts of 32 stay within the loopback socket buffer, so no packet
	// is lost before the receiving engine and any gap is a bug.
	const n, burst = 320, 32
	for start := 0; start < n; start += burst {
		go func() {
			for i := start; i < start+burst; i++ {
				a.tun.Outbound <- udpPacket(innerA4, innerB4, 1, 2, []byte{byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
			}
		}()
		for i := start; i < start+burst; i++ {
			select {
			case p := <-b.tun.Inbound:
				if got := int(p[28])<<8 | int(p[29]); got != i {
					t.Fatalf("packet %d arrived as number %d", got, i)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("only %d of %d packets arrived; stats %+v", i, n, b.u.Stats())
			}
		}
	}
}
