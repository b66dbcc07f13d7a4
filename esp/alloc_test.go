package esp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/goipsec/ipsec/proposal"
)

func newTestSuite(t testing.TB, ts testSuite) suite {
	t.Helper()
	c, err := newCrypter(&SA{SPI: 0x1000, Encr: ts.encr, EncrKeyBits: ts.bits, Integ: ts.integ,
		EncrKey: keyBytes(ts.encKeyLen, 1), IntegKey: keyBytes(ts.integKeyLen, 2)})
	if err != nil {
		t.Fatal(err)
	}
	return newSuite(c)
}

// TestZeroAllocs asserts that steady-state seal, open and the replay
// check allocate nothing: at line rate every allocation is GC work.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items); run without -race")
	}
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1372))
	for _, ts := range append(testSuites, testSuite{"aes128ccm8", proposal.EncrAESCCM8, 128, proposal.IntegNone, 19, 0}) {
		for _, esn := range []bool{false, true} {
			s := newTestSuite(t, ts)
			sc := newScratch()
			buf := make([]byte, Headroom+len(inner)+Tailroom)
			w := newReplayWindow(1024)
			seq := uint64(0)
			run := func() {
				seq++
				copy(buf[Headroom:], inner)
				pkt, err := s.seal(sc, buf, Headroom, len(inner), protoIPv4, 0x1000, seq, esn, nil)
				if err != nil {
					t.Fatal(err)
				}
				full := w.infer(uint32(seq), esn)
				if !w.check(full) {
					t.Fatal("replay check rejected a new packet")
				}
				if _, _, err := s.open(sc, pkt, full, esn); err != nil {
					t.Fatal(err)
				}
				if !w.update(full) {
					t.Fatal("replay update rejected a new packet")
				}
			}
			run() // warm pools
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Errorf("%s esn=%v: %.1f allocations per seal+open+replay, want 0", ts.name, esn, n)
			}
		}
	}
	var f flow
	if n := testing.AllocsPerRun(100, func() { f, _ = parseFlow(inner) }); n != 0 || f.proto != protoUDP {
		t.Errorf("parseFlow: %.1f allocations", n)
	}
}

// TestEngineZeroAllocs runs the engine's per-packet steps (policy and SA
// lookup, sequence number, seal; SPI lookup, replay, open, selector check,
// TUN write) on pool batches and asserts that they allocate nothing.
func TestEngineZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; run without -race")
	}
	c, ap := listenLoopback(t)
	dev := newNullTUN()
	u, err := NewUserspace(dev, WithUDPSendConn(c))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ts := testSuites[0]
	for _, dir := range []Direction{DirOut, DirIn} {
		sa := &SA{SPI: 0x5000, Dir: dir, Src: ap, Dst: ap, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 3), ESN: true, ReqID: 1}
		if err := u.AddSA(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
		// The same packet leaves and comes back (loopback), so both
		// directions' policies cover 192.0.2.1 -> 192.0.2.2.
		l, r := PrefixSelector(netip.MustParsePrefix("192.0.2.1/32")), PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
		if err := u.AddPolicy(t.Context(), Policy{Dir: dir, Src: l, Dst: r, ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1000))
	bo, bi := <-u.outFree, <-u.inFree
	defer func() { u.outFree <- bo; u.inFree <- bi }()
	sc := newScratch()
	run := func() {
		copy(bo.pkts[0].buf[Headroom:], inner)
		bo.sizes[0], bo.n = len(inner), 1
		u.classifyOut(bo)
		sealBatch(bo, sc)
		p := &bo.pkts[0]
		if p.err != nil || p.out == nil {
			t.Fatalf("seal: %v", p.err)
		}
		q := &bi.pkts[0]
		q.off, q.n, q.from, q.err, q.sa = inReadOffset, len(p.out), ap, nil, nil
		copy(q.buf[inReadOffset:], p.out)
		bi.n = 1
		u.classifyIn(bi)
		openBatch(bi, sc)
		u.finishIn(bi)
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("engine per-packet path: %.1f allocations, want 0", n)
	}
	if st := u.Stats(); st.InPackets != 202 || st.InAuth+st.InReplay+st.InSelector != 0 {
		t.Fatalf("stats %+v", st)
	}
	if dev.written != 202 {
		t.Fatalf("TUN got %d packets", dev.written)
	}
}

// localLoop is an engine with a transport SA pair to itself (loopback)
// and WithLocalUDP(1701), for the allocation test and benchmark of the
// L2TP path: SendUDP, then the inbound steps up to the handler.
type localLoop struct {
	u       *Userspace
	bi      *batch
	sc      *scratch
	rd      *net.UDPConn
	ap      netip.AddrPort
	buf     []byte
	got     int
	payload []byte
}

func newLocalLoop(tb testing.TB) *localLoop {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	l := &localLoop{ap: ap, buf: make([]byte, 65536), rd: c, sc: newScratch(), payload: make([]byte, 1200)}
	u, err := NewUserspace(newNullTUN(), WithUDPSendConn(c), WithLocalUDP(1701, func(d LocalDatagram) {
		if d.ReqID == 4 && len(d.Payload) == len(l.payload) {
			l.got++
		}
	}))
	if err != nil {
		tb.Fatal(err)
	}
	l.u = u
	ts := testSuites[0]
	for _, dir := range []Direction{DirOut, DirIn} {
		sa := &SA{SPI: 0x6000, Dir: dir, Mode: ModeTransport, Src: ap, Dst: ap, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 3), ReqID: 4}
		if err := u.AddSA(context.Background(), sa); err != nil {
			tb.Fatal(err)
		}
	}
	sel := PrefixSelector(netip.PrefixFrom(ap.Addr(), 32))
	if err := u.AddPolicy(context.Background(), Policy{Dir: DirIn, Src: sel, Dst: sel, ReqID: 4}); err != nil {
		tb.Fatal(err)
	}
	l.bi = <-u.inFree
	return l
}

// round sends one datagram with SendUDP, reads it back from the socket
// and runs it through the inbound steps to the local handler.
func (l *localLoop) round(tb testing.TB) {
	if err := l.u.SendUDP(4, l.ap, netip.AddrPortFrom(l.ap.Addr(), 1701), l.payload); err != nil {
		tb.Fatal(err)
	}
	n, from, err := l.rd.ReadFromUDPAddrPort(l.buf)
	if err != nil {
		tb.Fatal(err)
	}
	q := &l.bi.pkts[0]
	q.off, q.n, q.from, q.err, q.sa = inReadOffset, n, from, nil, nil
	copy(q.buf[inReadOffset:], l.buf[:n])
	l.bi.n = 1
	l.u.classifyIn(l.bi)
	openBatch(l.bi, l.sc)
	l.u.finishIn(l.bi)
}

// TestLocalZeroAllocs asserts that SendUDP and local delivery allocate
// nothing per datagram in steady state.
func TestLocalZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; run without -race")
	}
	l := newLocalLoop(t)
	defer l.u.Close()
	l.round(t)
	if n := testing.AllocsPerRun(200, func() { l.round(t) }); n != 0 {
		t.Errorf("SendUDP + local delivery: %.1f allocations, want 0", n)
	}
	if l.got != 202 || l.u.Stats().InLocal != 202 {
		t.Fatalf("handler saw %d datagrams; stats %+v", l.got, l.u.Stats())
	}
}

// TestHandleUDPBatchZeroAllocs asserts that the batch entry point for a
// transport that reads port 4500 itself allocates nothing: copy into pool
// batches, SPI lookup and replay check, parallel open, in-order TUN write.
func TestHandleUDPBatchZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; run without -race")
	}
	c, ap := listenLoopback(t)
	dev := newNullTUN()
	u, err := NewUserspace(dev, WithUDPSendConn(c), WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ts := testSuites[0]
	for _, dir := range []Direction{DirOut, DirIn} {
		sa := &SA{SPI: 0x5000, Dir: dir, Src: ap, Dst: ap, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 3), ReqID: 1}
		if err := u.AddSA(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
		l, r := PrefixSelector(netip.MustParsePrefix("192.0.2.1/32")), PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
		if err := u.AddPolicy(t.Context(), Policy{Dir: dir, Src: l, Dst: r, ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	const k = 8
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1000))
	bo := <-u.outFree
	defer func() { u.outFree <- bo }()
	sc := newScratch()
	pkts, from := make([][]byte, k), make([]netip.AddrPort, k)
	want := 0
	run := func() {
		for i := range k {
			copy(bo.pkts[i].buf[Headroom:], inner)
			bo.sizes[i] = len(inner)
		}
		bo.n = k
		u.classifyOut(bo)
		sealBatch(bo, sc)
		for i := range k {
			if bo.pkts[i].err != nil || bo.pkts[i].out == nil {
				t.Fatalf("seal: %v", bo.pkts[i].err)
			}
			pkts[i], from[i] = bo.pkts[i].out, ap
		}
		if err := u.HandleUDPBatch(pkts, from); err != nil {
			t.Fatal(err)
		}
		want += k
		for deadline := time.Now().Add(5 * time.Second); ; {
			dev.mu.Lock()
			w := dev.written
			dev.mu.Unlock()
			if w == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("TUN got %d packets, want %d; stats %+v", w, want, u.Stats())
			}
			runtime.Gosched()
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("HandleUDPBatch of %d packets: %.1f allocations, want 0", k, n)
	}
	if st := u.Stats(); st.InPackets != uint64(want) || st.InReplay+st.InAuth+st.InSelector != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRawESPZeroAllocs runs raw ESP (IP protocol 50) through the engine
// over loopback: classify, seal and the batched send of an outbound batch,
// and the engine's own raw reader, open and TUN write of what comes back;
// neither side may allocate per packet. Needs root (raw sockets).
func TestRawESPZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; run without -race")
	}
	requireRawESP(t)
	dev := newNullTUN()
	u, err := NewUserspace(dev, WithRawESP(), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	lo := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
	ts := testSuites[0]
	// An SPI of our own: other raw ESP sockets on the host see the packets
	// too, and must not take them for theirs.
	spi := uint32(0x5e00_0000) | uint32(time.Now().UnixNano()&0xffff)
	for _, dir := range []Direction{DirOut, DirIn} {
		sa := &SA{SPI: spi, Dir: dir, Src: lo, Dst: lo, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 3), ReqID: 1}
		if err := u.AddSA(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
		l, r := PrefixSelector(netip.MustParsePrefix("192.0.2.1/32")), PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
		if err := u.AddPolicy(t.Context(), Policy{Dir: dir, Src: l, Dst: r, ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	const k = 8
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1000))
	bo := <-u.outFree
	defer func() { u.outFree <- bo }()
	sc := newScratch()
	want := 0
	run := func() {
		for i := range k {
			copy(bo.pkts[i].buf[Headroom:], inner)
			bo.sizes[i] = len(inner)
		}
		bo.n = k
		u.classifyOut(bo)
		sealBatch(bo, sc)
		u.sendBatch(bo)
		want += k
		for deadline := time.Now().Add(5 * time.Second); ; {
			dev.mu.Lock()
			w := dev.written
			dev.mu.Unlock()
			if w == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("TUN got %d packets, want %d; stats %+v", w, want, u.Stats())
			}
			runtime.Gosched()
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("raw ESP round trip of %d packets: %.1f allocations, want 0", k, n)
	}
	if st := u.Stats(); st.OutPackets != uint64(want) || st.InPackets != uint64(want) || st.SendErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// requireRawESP skips (fails under CI=true) where raw ESP sockets cannot
// be opened: they need root (CAP_NET_RAW).
func requireRawESP(t *testing.T) {
	t.Helper()
	if err := ProbeRawESP(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("missing prerequisite: %v (run as root)", err)
		}
		t.Skipf("missing prerequisite: %v (run as root)", err)
	}
}
