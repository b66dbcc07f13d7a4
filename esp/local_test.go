package esp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// localSink collects LocalDatagrams (copied) from a WithLocalUDP handler.
type localSink chan LocalDatagram

func (c localSink) handle(d LocalDatagram) {
	d.Payload = bytes.Clone(d.Payload)
	c <- d
}

func (c localSink) next(t *testing.T) LocalDatagram {
	t.Helper()
	select {
	case d := <-c:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram delivered locally")
	}
	return LocalDatagram{}
}

func newSide6(t *testing.T, opts ...Option) *side {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ct := tuntest.NewChannelTUN()
	u, err := NewUserspace(ct.TUN(), append([]Option{WithUDPConn(c), WithWorkers(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return &side{u: u, tun: ct, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// TestLocalUDP sends transport-mode UDP to port 1701 of an engine with
// WithLocalUDP(1701): the datagram reaches the handler with the SA's
// ReqID and the outer addresses and never the TUN device; other ports
// still go to the TUN device. IPv4 and IPv6.
func TestLocalUDP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := "ipv4"
		mk := newSide
		if v6 {
			name, mk = "ipv6", newSide6
		}
		t.Run(name, func(t *testing.T) {
			sink := make(localSink, 10)
			a, b := mk(t), mk(t, WithLocalUDP(1701, sink.handle))
			install(t, a, b, pairConf{suite: testSuites[1], mode: ModeTransport, reqid: 77})
			msg := []byte("\xc8\x02 l2tp control")
			p := udpPacket(a.addr.Addr(), b.addr.Addr(), 50123, 1701, msg)
			a.tun.Outbound <- p
			d := sink.next(t)
			if d.ReqID != 77 || d.Src != netip.AddrPortFrom(a.addr.Addr(), 50123) || d.Dst != netip.AddrPortFrom(b.addr.Addr(), 1701) || !bytes.Equal(d.Payload, msg) {
				t.Fatalf("delivered %+v", d)
			}
			expectNothing(t, b)
			if st := b.u.Stats(); st.InLocal != 1 || st.InPackets != 1 {
				t.Fatalf("stats %+v", st)
			}
			// Another port is no local traffic.
			q := udpPacket(a.addr.Addr(), b.addr.Addr(), 50123, 1702, msg)
			if got := sendRecv(t, a, b, q); !bytes.Equal(got, q) {
				t.Fatalf("port 1702 packet: %x", got)
			}
			select {
			case d := <-sink:
				t.Fatalf("port 1702 delivered locally: %+v", d)
			default:
			}
		})
	}
}

// sealTransport builds the ESP packet a transport-mode SA would carry for
// the UDP datagram l4, as the peer's engine would (spi and key as install
// derives them for the A->B direction).
func sealTransport(t *testing.T, ts testSuite, spi uint32, seq uint64, l4 []byte) []byte {
	t.Helper()
	c, err := newCrypter(&SA{SPI: spi, Encr: ts.encr, EncrKeyBits: ts.bits, Integ: ts.integ,
		EncrKey: keyBytes(ts.encKeyLen, byte(spi)), IntegKey: keyBytes(ts.integKeyLen, byte(spi)+100)})
	if err != nil {
		t.Fatal(err)
	}
	s := newSuite(c)
	buf := make([]byte, Headroom+len(l4)+Tailroom)
	copy(buf[Headroom:], l4)
	pkt, err := s.seal(newScratch(), buf, Headroom, len(l4), protoUDP, spi, seq, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(pkt)
}

// udpDatagram is a UDP header and payload with the checksum computed for
// the pseudo header of src and dst.
func udpDatagram(src, dst netip.AddrPort, payload []byte) []byte {
	l4 := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(l4, src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	copy(l4[8:], payload)
	udpChecksum(l4, src.Addr(), dst.Addr())
	return l4
}

// TestLocalUDPHostile: a local datagram whose UDP length lies, or that
// falls outside the SA's inbound policy, is dropped and counted; one with
// a checksum for the client's private address (behind a NAT) and one with
// trailing padding are delivered, trimmed to the UDP length.
func TestLocalUDPHostile(t *testing.T) {
	sink := make(localSink, 10)
	a, b := newSide(t), newSide(t, WithLocalUDP(1701, sink.handle))
	ts := testSuites[0]
	install(t, a, b, pairConf{suite: ts, mode: ModeTransport, reqid: 5})
	peer := a.addr
	private := netip.MustParseAddrPort("10.0.0.2:1701")
	seq := uint64(0)
	send := func(l4 []byte) {
		seq++
		if err := b.u.HandleUDP(sealTransport(t, ts, 0x1001, seq, l4), peer); err != nil && !errors.Is(err, ErrInnerPacket) && !errors.Is(err, ErrSelector) {
			t.Fatal(err)
		}
	}
	// NAT-OA case: checksum over the client's private address.
	natted := udpDatagram(private, netip.AddrPortFrom(b.addr.Addr(), 1701), []byte("behind nat"))
	send(natted)
	if d := sink.next(t); string(d.Payload) != "behind nat" || d.Src != netip.AddrPortFrom(peer.Addr(), 1701) {
		t.Fatalf("NAT case delivered %+v", d)
	}
	// TFC-style padding after the datagram is cut off.
	send(append(udpDatagram(peer, netip.AddrPortFrom(b.addr.Addr(), 1701), []byte("pad")), 0, 0, 0, 0))
	if d := sink.next(t); string(d.Payload) != "pad" {
		t.Fatalf("padded datagram delivered %q", d.Payload)
	}
	before := b.u.Stats().InMalformed
	for _, ul := range []uint16{0, 7, 100} {
		l4 := udpDatagram(peer, netip.AddrPortFrom(b.addr.Addr(), 1701), []byte("lie"))
		binary.BigEndian.PutUint16(l4[4:], ul)
		send(l4)
	}
	if st := b.u.Stats(); st.InMalformed != before+3 || st.InLocal != 2 {
		t.Fatalf("bad UDP lengths: stats %+v", st)
	}
	select {
	case d := <-sink:
		t.Fatalf("hostile datagram delivered: %+v", d)
	default:
	}
	// Outside the policy: only the SA's policies decide, the port alone
	// does not (replace B's inbound policy with one for another port).
	ctx := context.Background()
	sel := func(a netip.Addr) Selector { return PrefixSelector(netip.PrefixFrom(a, 32)) }
	if err := b.u.DeletePolicy(ctx, Policy{Dir: DirIn, Src: sel(peer.Addr()), Dst: sel(b.addr.Addr()), ReqID: 5}); err != nil {
		t.Fatal(err)
	}
	dst := sel(b.addr.Addr())
	dst.Proto, dst.StartPort, dst.EndPort = protoUDP, 500, 500
	if err := b.u.AddPolicy(ctx, Policy{Dir: DirIn, Src: sel(peer.Addr()), Dst: dst, ReqID: 5}); err != nil {
		t.Fatal(err)
	}
	sel0 := b.u.Stats().InSelector
	send(udpDatagram(peer, netip.AddrPortFrom(b.addr.Addr(), 1701), []byte("x")))
	if st := b.u.Stats(); st.InSelector != sel0+1 {
		t.Fatalf("selector drop not counted: %+v", st)
	}
}

// TestSendUDP sends datagrams with SendUDP through the newest transport
// SA of a ReqID: on the wire (seen by a relay) the ESP payload is the UDP
// datagram with a checksum for the given addresses, and it reaches the
// peer's TUN device; errors for a missing SA, tunnel mode and size.
func TestSendUDP(t *testing.T) {
	ts := testSuites[0]
	a, b := newSide(t), newSide(t)
	r := newRelay(t, b.addr)
	install(t, a, b, pairConf{suite: ts, mode: ModeTransport, reqid: 9, aDst: r.addr})
	src, dst := netip.AddrPortFrom(a.addr.Addr(), 1701), netip.AddrPortFrom(netip.MustParseAddr("203.0.113.9"), 50123)
	msg := bytes.Repeat([]byte("ppp"), 400)
	if err := a.u.SendUDP(9, src, dst, msg); err != nil {
		t.Fatal(err)
	}
	var wire []byte
	select {
	case wire = <-r.last:
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing sent; stats %+v", a.u.Stats())
	}
	c, err := newCrypter(&SA{SPI: 0x1001, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 0x01)})
	if err != nil {
		t.Fatal(err)
	}
	s := newSuite(c)
	l4, nh, err := s.open(newScratch(), bytes.Clone(wire), 1, false)
	if err != nil || nh != protoUDP || binary.BigEndian.Uint32(wire) != 0x1001 {
		t.Fatalf("open: nh %d err %v", nh, err)
	}
	ps := append(append(dst.Addr().AsSlice()[:0:0], src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
	if c := foldChecksum(checksum(l4, checksum(ps, uint64(protoUDP)+uint64(len(l4))))); c != 0 || binary.BigEndian.Uint16(l4[6:]) == 0 {
		t.Fatalf("UDP checksum does not verify: %#x", c)
	}
	if binary.BigEndian.Uint16(l4) != 1701 || binary.BigEndian.Uint16(l4[2:]) != 50123 || int(binary.BigEndian.Uint16(l4[4:])) != len(l4) || !bytes.Equal(l4[8:], msg) {
		t.Fatalf("datagram %x", l4[:16])
	}
	select {
	case got := <-b.tun.Inbound:
		if f, ok := parseFlow(got); !ok || f.dport != 50123 || !bytes.Equal(got[28:], msg) {
			t.Fatalf("peer got %x", got[:28])
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("peer got nothing: %+v", b.u.Stats())
	}
	st, _ := a.u.SAStats(SAID{SPI: 0x1001, Dir: DirOut, Dst: r.addr.Addr()})
	if st.Packets != 1 || st.Seq != 1 || a.u.Stats().OutPackets != 1 {
		t.Fatalf("SA stats %+v", st)
	}

	if err := a.u.SendUDP(10, src, dst, msg); !errors.Is(err, ErrNoOutboundSA) {
		t.Fatalf("unknown ReqID: %v", err)
	}
	if err := a.u.SendUDP(9, src, dst, make([]byte, 65500)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("65500 bytes: %v", err)
	}
	e, f := newSide(t), newSide(t)
	install(t, e, f, pairConf{suite: ts, mode: ModeTunnel, reqid: 3})
	if err := e.u.SendUDP(3, src, dst, msg); !errors.Is(err, ErrNotTransport) {
		t.Fatalf("tunnel SA: %v", err)
	}
	a.u.Close()
	if err := a.u.SendUDP(9, src, dst, msg); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed engine: %v", err)
	}
}

// TestTwoClientsOneAddress: a gateway with two transport SA pairs whose
// policies have identical selectors (two L2TP clients behind one NAT,
// here two engines on the same loopback address) tells the clients apart
// by ReqID only: SendUDP(reqID) reaches the right client, and each
// client's datagrams come out of WithLocalUDP with its own ReqID.
func TestTwoClientsOneAddress(t *testing.T) {
	gw := make(localSink, 10)
	c1, c2 := make(localSink, 10), make(localSink, 10)
	g := newSide(t, WithLocalUDP(1701, gw.handle))
	a1 := newSide(t, WithLocalUDP(1701, c1.handle))
	a2 := newSide(t, WithLocalUDP(1701, c2.handle))
	install(t, a1, g, pairConf{suite: testSuites[0], mode: ModeTransport, reqid: 1, spiAB: 0x100, spiBA: 0x200})
	install(t, a2, g, pairConf{suite: testSuites[0], mode: ModeTransport, reqid: 2, spiAB: 0x300, spiBA: 0x400})
	src := netip.AddrPortFrom(g.addr.Addr(), 1701)
	for _, k := range []struct {
		req  uint32
		sink localSink
		peer *side
	}{{1, c1, a1}, {2, c2, a2}, {1, c1, a1}} {
		msg := []byte{byte(k.req), 'x'}
		if err := g.u.SendUDP(k.req, src, netip.AddrPortFrom(k.peer.addr.Addr(), 1701), msg); err != nil {
			t.Fatal(err)
		}
		if d := k.sink.next(t); d.ReqID != k.req || !bytes.Equal(d.Payload, msg) {
			t.Fatalf("ReqID %d: client got %+v", k.req, d)
		}
		// And back: the client's datagram carries its ReqID at the gateway.
		k.peer.tun.Outbound <- udpPacket(k.peer.addr.Addr(), g.addr.Addr(), 1701, 1701, msg)
		if d := gw.next(t); d.ReqID != k.req || !bytes.Equal(d.Payload, msg) || d.Src != netip.AddrPortFrom(k.peer.addr.Addr(), 1701) {
			t.Fatalf("ReqID %d: gateway got %+v", k.req, d)
		}
	}
	if n1, n2 := a1.u.Stats().InLocal, a2.u.Stats().InLocal; n1 != 2 || n2 != 1 {
		t.Fatalf("client deliveries %d, %d; want 2, 1", n1, n2)
	}
}

// TestWithLocalUDPErrors: port 0, a nil handler and a port given twice
// are configuration errors naming the option.
func TestWithLocalUDPErrors(t *testing.T) {
	h := func(LocalDatagram) {}
	for _, opts := range [][]Option{
		{WithLocalUDP(0, h)},
		{WithLocalUDP(1701, nil)},
		{WithLocalUDP(1701, h), WithLocalUDP(1701, h)},
	} {
		if _, err := NewUserspace(newNullTUN(), opts...); err == nil || !strings.Contains(err.Error(), "WithLocalUDP") {
			t.Errorf("got %v, want a WithLocalUDP error", err)
		}
	}
}

// TestTransportNATChecksum: a transport-mode datagram or segment whose
// checksum covers the client's private address (NAT-OA, RFC 3948 section
// 3.1.2) leaves the TUN path with a checksum that verifies against the
// rebuilt IP header, so the kernel behind the TUN accepts it. IPv4 UDP
// and TCP, and UDP with TFC padding, which the rebuilt packet must leave
// out.
func TestTransportNATChecksum(t *testing.T) {
	a, b := newSide(t), newSide(t)
	ts := testSuites[0]
	install(t, a, b, pairConf{suite: ts, mode: ModeTransport})
	private := netip.MustParseAddrPort("10.0.0.2:1701")
	to := netip.AddrPortFrom(b.addr.Addr(), 1701)
	tcp := make([]byte, 20+5)
	binary.BigEndian.PutUint16(tcp, 40000)
	binary.BigEndian.PutUint16(tcp[2:], 22)
	tcp[12] = 5 << 4
	copy(tcp[20:], "hello")
	// TCP checksum over the private address.
	ps := append(append([]byte{}, private.Addr().AsSlice()...), to.Addr().AsSlice()...)
	binary.BigEndian.PutUint16(tcp[16:], foldChecksum(checksum(tcp, checksum(ps, uint64(protoTCP)+uint64(len(tcp))))))
	for i, c := range []struct {
		nh  byte
		l4  []byte
		pad int // TFC padding after the datagram
	}{{protoUDP, udpDatagram(private, to, []byte("l2tp behind nat")), 0}, {protoTCP, tcp, 0}, {protoUDP, udpDatagram(private, to, []byte("padded")), 6}} {
		l4 := append(bytes.Clone(c.l4), make([]byte, c.pad)...)
		ck, err := newCrypter(&SA{SPI: 0x1001, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 0x01)})
		if err != nil {
			t.Fatal(err)
		}
		s := newSuite(ck)
		buf := make([]byte, Headroom+len(l4)+Tailroom)
		copy(buf[Headroom:], l4)
		pkt, err := s.seal(newScratch(), buf, Headroom, len(l4), c.nh, 0x1001, uint64(i+1), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- b.u.HandleUDP(pkt, a.addr) }() // the channel TUN blocks until read
		var got []byte
		select {
		case got = <-b.tun.Inbound:
		case <-time.After(5 * time.Second):
			t.Fatal("nothing on the TUN")
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		at := 6 // the checksum field
		if c.nh == protoTCP {
			at = 16
		}
		l4 = l4[:len(l4)-c.pad]
		if got[9] != c.nh || len(got) != 20+len(l4) || !bytes.Equal(got[20:20+at], l4[:at]) || !bytes.Equal(got[20+at+2:], l4[at+2:]) {
			t.Fatalf("packet %x", got)
		}
		if sum := foldChecksum(checksum(got[20:], checksum(got[12:20], uint64(c.nh)+uint64(len(got)-20)))); sum != 0 {
			t.Fatalf("proto %d: checksum does not verify for the rebuilt header (%#x): %x", c.nh, sum, got)
		}
	}
}
