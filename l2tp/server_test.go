package l2tp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// capConn records what the server sends.
type capConn struct {
	mu  sync.Mutex
	out []sent
}

func (c *capConn) WriteTo(b []byte, to Peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, sent{b: bytes.Clone(b), to: to, at: time.Now()})
	return nil
}

// take returns and forgets what was sent, parsed.
func (c *capConn) take(t testing.TB, secret []byte) []*Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var ms []*Message
	for _, s := range c.out {
		m, err := Parse(s.b, secret)
		if err != nil {
			t.Fatalf("server sent malformed %x: %v", s.b, err)
		}
		ms = append(ms, m)
	}
	c.out = nil
	return ms
}

// driver is a scripted LAC that talks to the server synchronously.
type driver struct {
	t      testing.TB
	srv    *Server
	conn   *capConn
	h      *handlers
	from   Peer
	tid    uint16
	srvTID uint16
	ns, nr uint16
}

func newDriver(t testing.TB, cfg Config) *driver {
	t.Helper()
	d := &driver{t: t, conn: &capConn{}, h: &handlers{}, from: lacPeer, tid: 0x1234}
	if cfg.NewSession == nil {
		cfg.NewSession = d.h.newSession
	}
	srv, err := NewServer(d.conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.srv = srv
	return d
}

// msg builds a control message with the driver's sequence numbers and
// advances Ns.
func (d *driver) msg(typ MessageType, session uint16, fill func(w *builder)) []byte {
	w := beginControl(nil, d.srvTID, session, d.ns, d.nr)
	w.u16(AVPMessageType, uint16(typ), false)
	if fill != nil {
		fill(&w)
	}
	d.ns++
	return w.finish()
}

// deliver hands b to the server and returns what it sent, updating Nr
// from non-ZLB messages.
func (d *driver) deliver(b []byte) []*Message {
	d.srv.HandleDatagram(b, d.from)
	ms := d.conn.take(d.t, nil)
	for _, m := range ms {
		if m.Header.Control && !m.ZLB && m.Header.Ns == d.nr {
			d.nr++
		}
	}
	return ms
}

func sccrqFill(tid uint16) func(w *builder) {
	return func(w *builder) {
		w.avp(true, AVPProtocolVersion, []byte{1, 0}, false)
		w.u32(AVPFramingCaps, 3, false)
		w.avp(true, AVPHostName, []byte("mac\x00"), false)
		w.u16(AVPAssignedTunnelID, tid, false)
		w.u16(AVPReceiveWindowSize, 4, false)
	}
}

// one asserts exactly one message of type typ (0: a ZLB) was sent.
func one(t testing.TB, ms []*Message, typ MessageType) *Message {
	t.Helper()
	if len(ms) != 1 {
		t.Fatalf("server sent %d messages, want one %v", len(ms), typ)
	}
	if typ == 0 && !ms[0].ZLB || typ != 0 && ms[0].Type != typ {
		t.Fatalf("server sent %v (ZLB %v), want %v", ms[0].Type, ms[0].ZLB, typ)
	}
	return ms[0]
}

// tunnelUp runs SCCRQ, SCCRP, SCCCN and checks the ZLB after SCCCN.
func (d *driver) tunnelUp() {
	d.t.Helper()
	sccrp := one(d.t, d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(d.tid))), MsgSCCRP)
	if sccrp.Header.TunnelID != d.tid || sccrp.Header.Ns != 0 || sccrp.Header.Nr != 1 {
		d.t.Fatalf("SCCRP header %+v", sccrp.Header)
	}
	id, _, err := u16AVP(sccrp, AVPAssignedTunnelID)
	if err != nil || id == 0 {
		d.t.Fatalf("SCCRP Assigned Tunnel ID %d %v", id, err)
	}
	d.srvTID = id
	zlb := one(d.t, d.deliver(d.msg(MsgSCCCN, 0, nil)), 0)
	if zlb.Header.Nr != 2 || zlb.Header.Ns != 1 {
		d.t.Fatalf("ZLB after SCCCN: Ns %d Nr %d", zlb.Header.Ns, zlb.Header.Nr)
	}
}

// sessionUp runs ICRQ, ICRP, ICCN and returns the server's session ID.
func (d *driver) sessionUp(peerSID uint16) uint16 {
	d.t.Helper()
	icrp := one(d.t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) {
		w.u16(AVPAssignedSessionID, peerSID, false)
		w.u32(AVPCallSerialNumber, 7, false)
	})), MsgICRP)
	sid, _, _ := u16AVP(icrp, AVPAssignedSessionID)
	if icrp.Header.SessionID != peerSID || sid == 0 {
		d.t.Fatalf("ICRP session %d assigned %d", icrp.Header.SessionID, sid)
	}
	zlb := one(d.t, d.deliver(d.msg(MsgICCN, sid, func(w *builder) {
		w.u32(AVPTxConnectSpeed, 100000000, false)
		w.u32(AVPFramingType, 3, false)
	})), 0)
	if zlb.Header.Nr != d.ns {
		d.t.Fatalf("ZLB after ICCN acks %d, want %d", zlb.Header.Nr, d.ns)
	}
	return sid
}

// TestZLBAfterSCCCNAndICCN: Android's mtpd sends ICRQ only after an ack
// of SCCCN and starts pppd only after the ack of ICCN; both must come at
// once, not after a retransmission.
func TestZLBAfterSCCCNAndICCN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.tunnelUp()
		sid := d.sessionUp(0x42)
		synctest.Wait()
		r := d.h.get(0)
		if r == nil {
			t.Fatal("NewSession not called after ICCN")
		}
		if info := r.sess.Info(); info.LocalID != sid || info.RemoteID != 0x42 || info.CallSerial != 7 || info.TxConnectSpeed != 100000000 || info.State != "established" {
			t.Fatalf("session info %+v", info)
		}
		d.srv.Close()
	})
}

func TestHelloAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.tunnelUp()
		zlb := one(t, d.deliver(d.msg(MsgHello, 0, nil)), 0)
		if zlb.Header.Nr != 3 {
			t.Fatalf("HELLO acked with Nr %d", zlb.Header.Nr)
		}
		d.srv.Close()
	})
}

func TestDuplicateSCCRQ(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		b := d.msg(MsgSCCRQ, 0, sccrqFill(d.tid))
		one(t, d.deliver(b), MsgSCCRP)
		for range 50 {
			zlb := one(t, d.deliver(b), 0) // re-acked, no second SCCRP
			if zlb.Header.Nr != 1 {
				t.Fatalf("re-ack Nr %d", zlb.Header.Nr)
			}
		}
		if st := d.srv.Stats(); st.Tunnels != 1 {
			t.Fatalf("%d tunnels from one retransmitted SCCRQ", st.Tunnels)
		}
		// The same tunnel ID from another peer, or the same address with
		// another SA (Key), is another tunnel.
		d.from = Peer{Addr: lacAddr, Key: 9}
		one(t, d.deliver(b), MsgSCCRP)
		d.from = Peer{Addr: otherAddr}
		one(t, d.deliver(b), MsgSCCRP)
		if st := d.srv.Stats(); st.Tunnels != 3 {
			t.Fatalf("%d tunnels, want 3", st.Tunnels)
		}
		d.srv.ClosePeer(0)
		d.srv.ClosePeer(9)
	})
}

func TestSCCRQFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{MaxTunnels: 16})
		var stops int
		for i := range 1000 {
			d.ns = 0
			ms := d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(uint16(i+1))))
			if len(ms) != 1 {
				t.Fatalf("SCCRQ %d: %d replies", i, len(ms))
			}
			if ms[0].Type == MsgStopCCN {
				r, _ := ms[0].ResultCode()
				if r.Code != stopGeneralError || r.Error != errCodeResources {
					t.Fatalf("refusal result %+v", r)
				}
				stops++
			}
		}
		st := d.srv.Stats()
		if st.Tunnels != 16 || stops != 1000-16 || st.Refused != uint64(stops) {
			t.Fatalf("after a flood: %+v, %d StopCCN", st, stops)
		}
		// Half-open tunnels time out and make room.
		time.Sleep(defaultHalfOpen + time.Second)
		if st := d.srv.Stats(); st.Tunnels != 0 {
			t.Fatalf("%d half-open tunnels left", st.Tunnels)
		}
	})
}

func TestRetransmitBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{MaxRetransmits: 5, HalfOpenTimeout: time.Hour})
		start := time.Now()
		d.srv.HandleDatagram(d.msg(MsgSCCRQ, 0, sccrqFill(d.tid)), d.from)
		time.Sleep(time.Minute)
		d.conn.mu.Lock()
		out := d.conn.out
		d.conn.mu.Unlock()
		var gaps []time.Duration
		for _, s := range out {
			gaps = append(gaps, s.at.Sub(start))
			start = s.at
		}
		want := []time.Duration{0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
		if len(gaps) != len(want) {
			t.Fatalf("SCCRP sent at gaps %v, want %v", gaps, want)
		}
		for i := range want {
			if gaps[i] != want[i] {
				t.Fatalf("SCCRP sent at gaps %v, want %v", gaps, want)
			}
		}
		if st := d.srv.Stats(); st.Tunnels != 0 || st.TimedOut != 1 || st.Retransmits != 5 {
			t.Fatalf("after giving up: %+v", st)
		}
	})
}

func TestReceiveWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{ReceiveWindow: 4})
		d.tunnelUp()
		// HELLOs with Ns 2..: send 4 and 3 first (inside the window),
		// then 2: all three are delivered and acked with one ZLB.
		h2, h3, h4 := d.msg(MsgHello, 0, nil), d.msg(MsgHello, 0, nil), d.msg(MsgHello, 0, nil)
		if ms := d.deliver(h4); len(ms) != 0 {
			t.Fatalf("out-of-order message answered: %d", len(ms))
		}
		d.deliver(h3)
		zlb := one(t, d.deliver(h2), 0)
		if zlb.Header.Nr != 5 {
			t.Fatalf("after reordering Nr = %d, want 5", zlb.Header.Nr)
		}
		// Ns far outside the window: dropped, nothing queued; those
		// "behind" the window count as copies and are re-acked with ZLBs.
		for i := range 1000 {
			w := beginControl(nil, d.srvTID, 0, uint16(100+i*50), d.nr)
			w.u16(AVPMessageType, uint16(MsgHello), false)
			d.srv.HandleDatagram(w.finish(), d.from)
		}
		for _, m := range d.conn.take(t, nil) {
			if !m.ZLB || m.Header.Nr != 5 {
				t.Fatalf("answered a message outside the window with %v Nr %d", m.Type, m.Header.Nr)
			}
		}
		d.srv.mu.Lock()
		q := 0
		for _, tu := range d.srv.tunnels {
			q += len(tu.rxq)
		}
		d.srv.mu.Unlock()
		if q > 4 {
			t.Fatalf("%d messages queued, window 4", q)
		}
		// The tunnel still works in order.
		one(t, d.deliver(d.msg(MsgHello, 0, nil)), 0)
		d.srv.Close()
	})
}

func TestUnknownMandatory(t *testing.T) {
	unknownM := func(w *builder) { w.raw(0x80, 200, []byte{1}) }
	unknownO := func(w *builder) { w.raw(0x00, 200, []byte{1}) }
	synctest.Test(t, func(t *testing.T) {
		// SCCRQ: StopCCN, General error / unknown M AVP.
		d := newDriver(t, Config{})
		stop := one(t, d.deliver(d.msg(MsgSCCRQ, 0, func(w *builder) { sccrqFill(1)(w); unknownM(w) })), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopGeneralError || r.Error != errCodeUnknownMAVP || stop.Header.TunnelID != 1 {
			t.Fatalf("StopCCN %+v to tunnel %d", r, stop.Header.TunnelID)
		}
		// An unknown optional AVP is ignored.
		d = newDriver(t, Config{})
		one(t, d.deliver(d.msg(MsgSCCRQ, 0, func(w *builder) { sccrqFill(1)(w); unknownO(w) })), MsgSCCRP)

		// ICRQ: CDN for the session, the tunnel stays.
		d = newDriver(t, Config{})
		d.tunnelUp()
		cdn := one(t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) {
			w.u16(AVPAssignedSessionID, 5, false)
			unknownM(w)
		})), MsgCDN)
		if r, _ := cdn.ResultCode(); r.Code != cdnGeneralError || r.Error != errCodeUnknownMAVP || cdn.Header.SessionID != 5 {
			t.Fatalf("CDN %+v to session %d", r, cdn.Header.SessionID)
		}
		if st := d.srv.Stats(); st.Tunnels != 1 || st.Sessions != 0 {
			t.Fatalf("after CDN: %+v", st)
		}
		// ICCN with one: the session is cleared.
		sid := uint16(0)
		icrp := one(t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) { w.u16(AVPAssignedSessionID, 6, false) })), MsgICRP)
		sid, _, _ = u16AVP(icrp, AVPAssignedSessionID)
		cdn = one(t, d.deliver(d.msg(MsgICCN, sid, func(w *builder) { w.u32(AVPFramingType, 3, false); unknownM(w) })), MsgCDN)
		if r, _ := cdn.ResultCode(); r.Error != errCodeUnknownMAVP {
			t.Fatalf("CDN after ICCN %+v", r)
		}
		// HELLO (tunnel-level) with one: the tunnel is cleared.
		stop = one(t, d.deliver(d.msg(MsgHello, 0, unknownM)), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopGeneralError || r.Error != errCodeUnknownMAVP {
			t.Fatalf("StopCCN after HELLO %+v", r)
		}
		d.srv.Close()

		// Unknown message type: ignored (acked) without M, clears the
		// tunnel with M.
		d = newDriver(t, Config{})
		d.tunnelUp()
		w := beginControl(nil, d.srvTID, 0, d.ns, d.nr)
		w.raw(0x00, AVPMessageType, []byte{0, 99})
		d.ns++
		one(t, d.deliver(w.finish()), 0)
		one(t, d.deliver(d.msg(99, 0, nil)), MsgStopCCN)
		d.srv.Close()
	})
}

func TestTunnelAuthentication(t *testing.T) {
	secret := []byte("s3cr3t-value")
	synctest.Test(t, func(t *testing.T) {
		// No secret configured, the LAC challenges: refused.
		d := newDriver(t, Config{})
		stop := one(t, d.deliver(d.msg(MsgSCCRQ, 0, func(w *builder) {
			sccrqFill(1)(w)
			w.avp(true, AVPChallenge, []byte("abcd"), false)
		})), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopNotAuthorized {
			t.Fatalf("StopCCN %+v", r)
		}
		// Secret configured: SCCRP carries a Challenge; a wrong
		// response in SCCCN gets StopCCN "not authorized".
		for _, resp := range [][]byte{nil, bytes.Repeat([]byte{1}, 16)} {
			d = newDriver(t, Config{Secret: secret})
			sccrp := one(t, d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(1))), MsgSCCRP)
			if _, ok := sccrp.Find(AVPChallenge); !ok {
				t.Fatal("no Challenge in SCCRP")
			}
			d.srvTID, _, _ = u16AVP(sccrp, AVPAssignedTunnelID)
			stop = one(t, d.deliver(d.msg(MsgSCCCN, 0, func(w *builder) {
				if resp != nil {
					w.avp(true, AVPChallengeResponse, resp, false)
				}
			})), MsgStopCCN)
			if r, _ := stop.ResultCode(); r.Code != stopNotAuthorized {
				t.Fatalf("StopCCN %+v", r)
			}
			if st := d.srv.Stats(); st.TunnelsOpened != 0 || st.Refused != 1 {
				t.Fatalf("stats %+v", st)
			}
		}
	})
}

func TestHiddenAVPWithoutSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		b := d.msg(MsgSCCRQ, 0, func(w *builder) {
			sccrqFill(1)(w)
			w.secret, w.hide, w.rand = []byte("x"), true, bytes.NewReader(make([]byte, 16))
			w.avp(false, AVPVendorName, []byte("hidden"), true)
		})
		if ms := d.deliver(b); len(ms) != 0 {
			t.Fatalf("answered a hidden SCCRQ without a secret: %v", ms[0].Type)
		}
		if st := d.srv.Stats(); st.Tunnels != 0 || st.Malformed != 1 {
			t.Fatalf("stats %+v", st)
		}
		// Inside a tunnel: the tunnel is cleared.
		d.ns = 0
		d.tunnelUp()
		b = d.msg(MsgHello, 0, func(w *builder) {
			w.secret, w.hide, w.rand = []byte("x"), true, bytes.NewReader(make([]byte, 16))
			w.u16(AVPAssignedTunnelID, 1, true)
		})
		stop := one(t, d.deliver(b), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopGeneralError {
			t.Fatalf("StopCCN %+v", r)
		}
		d.srv.Close()
	})
}

func TestWrongPeerDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.tunnelUp()
		sid := d.sessionUp(3)
		synctest.Wait()
		d.from = Peer{Addr: otherAddr}
		if ms := d.deliver(d.msg(MsgStopCCN, 0, nil)); len(ms) != 0 {
			t.Fatal("a stranger's StopCCN answered")
		}
		data := appendData(nil, d.srvTID, sid, false, 0, []byte{0xc0, 0x21, 1})
		d.srv.HandleDatagram(data, d.from)
		if f, _ := d.h.get(0).snapshot(); len(f) != 0 {
			t.Fatal("a stranger's data delivered")
		}
		if st := d.srv.Stats(); st.Tunnels != 1 || st.Dropped != 2 {
			t.Fatalf("stats %+v", st)
		}
		d.srv.Close()
	})
}

func TestClosePeerSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.from.Key = 77
		d.tunnelUp()
		d.sessionUp(3)
		synctest.Wait()
		d.srv.ClosePeer(76)
		if d.srv.Stats().Tunnels != 1 {
			t.Fatal("ClosePeer dropped another key")
		}
		d.srv.ClosePeer(77)
		if ms := d.conn.take(t, nil); len(ms) != 0 {
			t.Fatalf("ClosePeer sent %v", ms[0].Type)
		}
		if _, closed := d.h.get(0).snapshot(); closed != 1 {
			t.Fatal("FrameHandler not closed")
		}
		if st := d.srv.Stats(); st.Tunnels != 0 || st.Sessions != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestDataChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.tunnelUp()
		sid := d.sessionUp(3)
		synctest.Wait()
		r := d.h.get(0)
		// Without FF 03, with it, with L and O bits.
		d.srv.HandleDatagram(unhex(t, "0002")[:0:0], d.from)
		for _, b := range [][]byte{
			appendData(nil, d.srvTID, sid, false, 0, []byte{0xc0, 0x21, 1})[0:],
			append([]byte{0, 2, byte(d.srvTID >> 8), byte(d.srvTID), byte(sid >> 8), byte(sid)}, 0xc0, 0x21, 2),
			append([]byte{bitL | bitO, 2, 0, 17, byte(d.srvTID >> 8), byte(d.srvTID), byte(sid >> 8), byte(sid), 0, 2, 9, 9}, 0xff, 0x03, 0x80, 0x21, 3),
		} {
			d.srv.HandleDatagram(b, d.from)
		}
		frames, _ := r.snapshot()
		want := [][]byte{{0xc0, 0x21, 1}, {0xc0, 0x21, 2}, {0x80, 0x21, 3}}
		if len(frames) != 3 {
			t.Fatalf("frames %x", frames)
		}
		for i := range want {
			if !bytes.Equal(frames[i], want[i]) {
				t.Fatalf("frame %d = %x, want %x", i, frames[i], want[i])
			}
		}
		// Out: FF 03 added, no sequencing yet.
		if err := r.sess.WriteFrame([]byte{0xc0, 0x21, 9}); err != nil {
			t.Fatal(err)
		}
		out := d.conn.take(t, nil)
		if len(out) != 1 || out[0].Header.Control || out[0].Header.HasSeq || out[0].Header.TunnelID != d.tid || out[0].Header.SessionID != 3 ||
			!bytes.Equal(out[0].Payload, []byte{0xff, 0x03, 0xc0, 0x21, 9}) {
			t.Fatalf("data out %+v", out)
		}
		// The peer sequences: so do we; a stale frame is dropped.
		seq := func(ns uint16, x byte) []byte {
			b := []byte{bitS, 2, byte(d.srvTID >> 8), byte(d.srvTID), byte(sid >> 8), byte(sid), byte(ns >> 8), byte(ns), 0, 0}
			return append(b, 0xff, 0x03, 0xc0, 0x21, x)
		}
		d.srv.HandleDatagram(seq(10, 4), d.from)
		d.srv.HandleDatagram(seq(9, 5), d.from)
		d.srv.HandleDatagram(seq(11, 6), d.from)
		frames, _ = r.snapshot()
		if len(frames) != 5 || frames[3][2] != 4 || frames[4][2] != 6 {
			t.Fatalf("sequenced frames %x", frames)
		}
		for range 2 {
			if err := r.sess.WriteFrame([]byte{0xc0, 0x21, 9}); err != nil {
				t.Fatal(err)
			}
		}
		out = d.conn.take(t, nil)
		if len(out) != 2 || !out[0].Header.HasSeq || out[0].Header.Ns != 0 || out[1].Header.Ns != 1 {
			t.Fatalf("sequenced out %+v", out)
		}
		if info := r.sess.Info(); info.FramesIn != 5 || info.FramesOut != 3 || !info.Sequencing {
			t.Fatalf("info %+v", info)
		}
		// An empty frame and a closed session are errors.
		if err := r.sess.WriteFrame(nil); err == nil {
			t.Fatal("empty frame written")
		}
		r.sess.Close()
		cdn := one(t, d.conn.take(t, nil), MsgCDN)
		if r, _ := cdn.ResultCode(); r.Code != cdnAdministrative || cdn.Header.SessionID != 3 {
			t.Fatalf("CDN %+v", r)
		}
		if err := r.sess.WriteFrame([]byte{0xc0, 0x21}); !errors.Is(err, errSessionClosed) {
			t.Fatalf("WriteFrame after Close: %v", err)
		}
		if _, closed := r.snapshot(); closed != 1 {
			t.Fatalf("FrameHandler closed %d times", closed)
		}
		r.sess.Close() // again: nothing
		if ms := d.conn.take(t, nil); len(ms) != 0 {
			t.Fatal("second Close sent something")
		}
		d.srv.Close()
	})
}

func TestSessionLimitsAndRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{MaxSessionsPerTunnel: 2})
		d.tunnelUp()
		d.sessionUp(1)
		d.sessionUp(2)
		cdn := one(t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) { w.u16(AVPAssignedSessionID, 3, false) })), MsgCDN)
		if r, _ := cdn.ResultCode(); r.Code != cdnTempResources || cdn.Header.SessionID != 3 {
			t.Fatalf("CDN %+v", r)
		}
		d.srv.Close()

		// NewSession refusing: CDN.
		d = newDriver(t, Config{NewSession: func(*Session) (FrameHandler, error) { return nil, errors.New("no") }})
		d.tunnelUp()
		icrp := one(t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) { w.u16(AVPAssignedSessionID, 1, false) })), MsgICRP)
		sid, _, _ := u16AVP(icrp, AVPAssignedSessionID)
		ms := d.deliver(d.msg(MsgICCN, sid, func(w *builder) { w.u32(AVPFramingType, 3, false) }))
		if len(ms) != 2 || !ms[0].ZLB || ms[1].Type != MsgCDN {
			t.Fatalf("refused session: %d messages", len(ms))
		}
		if st := d.srv.Stats(); st.Sessions != 0 || st.Refused != 1 {
			t.Fatalf("stats %+v", st)
		}
		d.srv.Close()
	})
}

func TestICCNTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{HalfOpenTimeout: 5 * time.Second, HelloInterval: time.Hour})
		d.tunnelUp()
		one(t, d.deliver(d.msg(MsgICRQ, 0, func(w *builder) { w.u16(AVPAssignedSessionID, 1, false) })), MsgICRP)
		time.Sleep(6 * time.Second)
		d.conn.take(t, nil)
		if st := d.srv.Stats(); st.Sessions != 0 || st.Tunnels != 1 {
			t.Fatalf("stats %+v", st)
		}
		d.srv.ClosePeer(0)
	})
}

func TestServerCloseSendsStopCCN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		d.tunnelUp()
		d.sessionUp(1)
		synctest.Wait()
		done := make(chan struct{})
		go func() { d.srv.Close(); close(done) }()
		synctest.Wait()
		stop := one(t, d.conn.take(t, nil), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopShuttingDown {
			t.Fatalf("StopCCN %+v", r)
		}
		// Ack it: Close returns at once.
		w := beginControl(nil, d.srvTID, 0, d.ns, stop.Header.Ns+1)
		d.srv.HandleDatagram(w.finish(), d.from)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Close still waiting after the ack")
		}
		if _, closed := d.h.get(0).snapshot(); closed != 1 {
			t.Fatal("FrameHandler not closed")
		}
		// Afterwards new tunnels are refused.
		d.ns, d.srvTID = 0, 0
		stop = one(t, d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(9))), MsgStopCCN)
		if r, _ := stop.ResultCode(); r.Code != stopShuttingDown {
			t.Fatalf("StopCCN %+v", r)
		}
	})
}

func TestSecretNotLogged(t *testing.T) {
	secret := "very-secret-tunnel-password"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	synctest.Test(t, func(t *testing.T) {
		runLadder(t, newLink(5, 0, 0, 0), []byte(secret), true)
		d := newDriver(t, Config{Secret: []byte(secret), Logger: logger})
		d.tunnelUp2(secret)
		d.srv.Close()
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), secret) {
		t.Fatal("secret in the log")
	}
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// tunnelUp2 brings a tunnel up with tunnel authentication.
func (d *driver) tunnelUp2(secret string) {
	sccrp := one(d.t, d.deliver(d.msg(MsgSCCRQ, 0, func(w *builder) {
		sccrqFill(d.tid)(w)
		w.avp(true, AVPChallenge, []byte("chal"), false)
	})), MsgSCCRP)
	d.srvTID, _, _ = u16AVP(sccrp, AVPAssignedTunnelID)
	ch, _ := sccrp.Find(AVPChallenge)
	one(d.t, d.deliver(d.msg(MsgSCCCN, 0, func(w *builder) {
		w.avp(true, AVPChallengeResponse, expectedResponse(3, []byte(secret), ch.Value), false)
	})), 0)
	if st := d.srv.Stats(); st.TunnelsOpened != 1 {
		d.t.Fatalf("stats %+v", st)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{HideAVPs: true}, "HideAVPs"},
		{Config{MaxTunnels: 1 << 20}, "MaxTunnels"},
		{Config{ReceiveWindow: 1000}, "ReceiveWindow"},
		{Config{RetransmitTimeout: -1}, "RetransmitTimeout"},
	} {
		if _, err := NewServer(&capConn{}, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
	if _, err := NewServer(nil, Config{}); err == nil {
		t.Error("nil conn accepted")
	}
	// The secret never prints, not even with the whole Config.
	cfg := Config{Secret: []byte("abc-secret")}
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "abc-secret") || strings.Contains(s, "97 98 99") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestHugeLengths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{})
		for _, b := range [][]byte{
			unhex(t, "c802 ffff 0000 0000 0000 0000 8008 0000 0000 0001"),
			unhex(t, "c802 0014 0000 0000 0000 0000 83ff 0000 0000 0001"),
			append(unhex(t, "c802 0413 0000 0000 0000 0000 8008 0000 0000 0001 83ff 0000 0007"), make([]byte, 1017)...), // a 1017-byte Host Name, no Tunnel ID
			unhex(t, "4202 ffff 0001 0002 ffff"),
		} {
			if ms := d.deliver(b); len(ms) != 0 {
				t.Fatalf("answered %x", b[:12])
			}
		}
		if st := d.srv.Stats(); st.Malformed != 3 || st.Dropped != 1 || st.Tunnels != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestTunnelsPerPeer: one client cannot take the tunnels of the others.
func TestTunnelsPerPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{MaxTunnelsPerPeer: 2})
		a := Peer{Addr: lacAddr, Key: 1}
		aOtherPort := Peer{Addr: netip.AddrPortFrom(lacAddr.Addr(), 50000), Key: 1}
		b := Peer{Addr: lacAddr, Key: 2}
		for i, tc := range []struct {
			from Peer
			want MessageType
		}{
			{a, MsgSCCRP}, {aOtherPort, MsgSCCRP}, {a, MsgStopCCN}, {aOtherPort, MsgStopCCN},
			{b, MsgSCCRP}, {Peer{Addr: otherAddr}, MsgSCCRP},
		} {
			d.from, d.ns, d.srvTID = tc.from, 0, 0
			ms := d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(uint16(100+i))))
			if len(ms) != 1 || ms[0].Type != tc.want {
				t.Fatalf("SCCRQ %d from %+v: got %d messages, want %v", i, tc.from, len(ms), tc.want)
			}
		}
		// When a tunnel goes, the peer may open another.
		d.srv.ClosePeer(1)
		d.from, d.ns, d.srvTID = a, 0, 0
		one(t, d.deliver(d.msg(MsgSCCRQ, 0, sccrqFill(200))), MsgSCCRP)
		d.srv.ClosePeer(0)
		d.srv.ClosePeer(1)
		d.srv.ClosePeer(2)
	})
}

// TestHelloUnansweredTearsDown: a peer that vanished is noticed by the
// HELLO nobody acknowledges; its sessions are closed.
func TestHelloUnansweredTearsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, Config{HelloInterval: 10 * time.Second})
		d.tunnelUp()
		d.sessionUp(1)
		synctest.Wait()
		d.conn.take(t, nil)
		time.Sleep(10*time.Second + time.Millisecond)
		if ms := d.conn.take(t, nil); len(ms) != 1 || ms[0].Type != MsgHello {
			t.Fatalf("no HELLO after the idle interval: %d messages", len(ms))
		}
		time.Sleep(time.Minute)
		hellos := d.conn.take(t, nil)
		if len(hellos) != defaultMaxRetransmits {
			t.Fatalf("%d HELLO retransmissions, want %d", len(hellos), defaultMaxRetransmits)
		}
		if st := d.srv.Stats(); st.Tunnels != 0 || st.TimedOut != 1 {
			t.Fatalf("stats %+v", st)
		}
		if _, closed := d.h.get(0).snapshot(); closed != 1 {
			t.Fatal("FrameHandler not closed")
		}
	})
}
