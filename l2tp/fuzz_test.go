package l2tp

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{appleSCCRQ, windowsSCCRQ, androidSCCRQ,
		"c802 000c 1234 0000 0003 0005", "4a02 0016 0001 0002 0007 0000 0002 abcd ff03 c021 0102"} {
		f.Add(unhex(f, s), false)
	}
	w := beginControl(nil, 1, 0, 0, 0)
	w.secret, w.hide, w.rand = []byte("secret"), true, rand.NewChaCha8([32]byte{})
	w.u16(AVPMessageType, uint16(MsgSCCRQ), false)
	w.avp(true, AVPHostName, []byte("a hidden host name"), true)
	f.Add(w.finish(), true)
	f.Fuzz(func(t *testing.T, b []byte, withSecret bool) {
		var secret []byte
		if withSecret {
			secret = []byte("secret")
		}
		m, err := Parse(b, secret)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("untyped error %v", err)
			}
			if pe.Offset < 0 || pe.Offset > len(b) || pe.Err == nil {
				t.Fatalf("bad ParseError %+v for %d bytes", pe, len(b))
			}
			return
		}
		if m.Header.Control {
			if !m.ZLB && (len(m.AVPs) == 0 || m.AVPs[0].Type != AVPMessageType) {
				t.Fatal("control message without Message Type first")
			}
			for _, a := range m.AVPs {
				if a.Offset < 12 || a.Offset+6 > len(b) {
					t.Fatalf("AVP offset %d outside %d bytes", a.Offset, len(b))
				}
				if !a.Hidden && a.Offset+6+len(a.Value) > len(b) {
					t.Fatal("AVP value past the datagram")
				}
			}
			// What the server decodes must not panic either.
			_, _ = decodeSCCRQ(m)
			m.ResultCode()
			m.UnknownMandatory()
		} else if len(m.Payload) > len(b) {
			t.Fatal("payload longer than the datagram")
		}
	})
}

// fuzzScript turns fuzz input into datagrams: each is a control byte (bit
// 7: from a second peer; bits 0-3: tenths of a second to wait first), a
// one-byte length and the datagram. Tunnel and session ID fields 0xffff
// are replaced by the IDs the server assigned last, so the fuzzer can
// reach established sessions.
func FuzzServer(f *testing.F) {
	f.Add(ladderScript(f))
	f.Add([]byte{0x05, 12, 0xc8, 2, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		synctest.Test(t, func(t *testing.T) { runScript(t, script) })
	})
}

// fuzzSecret and fuzzRand make the server's first challenge predictable,
// so the seed script can authenticate.
var fuzzSecret = []byte("secret")

func fuzzRand() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{1}) }

// runScript runs one FuzzServer script and returns how many sessions
// were established.
func runScript(t *testing.T, script []byte) int {
	conn := &capConn{}
	h := &handlers{}
	srv, err := NewServer(conn, Config{
		MaxTunnels: 4, MaxSessions: 4, MaxSessionsPerTunnel: 2,
		Secret: fuzzSecret, NewSession: h.newSession,
		Rand: fuzzRand(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var tid, sid uint16
	for n := 0; len(script) >= 2 && n < 64; n++ {
		ctl, l := script[0], int(script[1])
		script = script[2:]
		l = min(l, len(script))
		b := append([]byte(nil), script[:l]...)
		script = script[l:]
		time.Sleep(time.Duration(ctl&0x0f) * 100 * time.Millisecond)
		patchIDs(b, tid, sid)
		from := lacPeer
		if ctl&0x80 != 0 {
			from = Peer{Addr: otherAddr, Key: 1}
		}
		srv.HandleDatagram(b, from)
		synctest.Wait()
		for _, m := range conn.take(t, []byte("secret")) {
			if m.Type == MsgSCCRP {
				tid, _, _ = u16AVP(m, AVPAssignedTunnelID)
			}
			if m.Type == MsgICRP {
				sid, _, _ = u16AVP(m, AVPAssignedSessionID)
			}
		}
		st := srv.Stats()
		if st.Tunnels > 4 || st.Sessions > 4 {
			t.Fatalf("limits exceeded: %+v", st)
		}
		// Sessions write back what they get.
		for i := 0; h.get(i) != nil; i++ {
			_ = h.get(i).sess.WriteFrame([]byte{0xc0, 0x21, 9})
		}
	}
	srv.Close()
	if st := srv.Stats(); st.Tunnels != 0 || st.Sessions != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	n := 0
	for ; h.get(n) != nil; n++ {
		if _, closed := h.get(n).snapshot(); closed != 1 {
			t.Fatalf("FrameHandler %d closed %d times", n, closed)
		}
	}
	return n
}

// patchIDs replaces 0xffff tunnel and session IDs of a header.
func patchIDs(b []byte, tid, sid uint16) {
	if len(b) < 2 {
		return
	}
	off := 2
	if b[0]&bitL != 0 {
		off = 4
	}
	if len(b) < off+4 {
		return
	}
	if binary.BigEndian.Uint16(b[off:]) == 0xffff {
		binary.BigEndian.PutUint16(b[off:], tid)
	}
	if binary.BigEndian.Uint16(b[off+2:]) == 0xffff {
		binary.BigEndian.PutUint16(b[off+2:], sid)
	}
}

// ladderScript is a valid session in the FuzzServer format.
func ladderScript(t testing.TB) []byte {
	var s []byte
	add := func(b []byte) { s = append(append(s, 0, byte(len(b))), b...) }
	msg := func(typ MessageType, session, ns, nr uint16, fill func(w *builder)) []byte {
		w := beginControl(nil, 0xffff, session, ns, nr)
		if typ == MsgSCCRQ {
			w = beginControl(nil, 0, 0, ns, nr)
		}
		w.u16(AVPMessageType, uint16(typ), false)
		if fill != nil {
			fill(&w)
		}
		return w.finish()
	}
	add(msg(MsgSCCRQ, 0, 0, 0, func(w *builder) {
		sccrqFill(0x1234)(w)
		w.avp(true, AVPChallenge, []byte("chal"), false)
	}))
	// The server's challenge: after the 2 bytes of its tunnel ID.
	r := fuzzRand()
	var ch [18]byte
	_, _ = r.Read(ch[:])
	add(msg(MsgSCCCN, 0, 1, 1, func(w *builder) {
		w.avp(true, AVPChallengeResponse, expectedResponse(3, fuzzSecret, ch[2:]), false)
	}))
	add(msg(MsgICRQ, 0, 2, 1, func(w *builder) { w.u16(AVPAssignedSessionID, 5, false) }))
	add(msg(MsgICCN, 0xffff, 3, 2, func(w *builder) { w.u32(AVPFramingType, 3, false) }))
	add(append([]byte{0, 2, 0xff, 0xff, 0xff, 0xff}, 0xff, 0x03, 0xc0, 0x21, 1))
	add(msg(MsgHello, 0, 4, 3, nil))
	add(msg(MsgCDN, 0xffff, 5, 3, func(w *builder) {
		w.avp(true, AVPResultCode, []byte{0, 1}, false)
		w.u16(AVPAssignedSessionID, 5, false)
	}))
	add(msg(MsgStopCCN, 0, 6, 3, func(w *builder) { w.avp(true, AVPResultCode, []byte{0, 1}, false) }))
	_ = t
	return s
}

func TestFuzzServerSeedReachesSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if n := runScript(t, ladderScript(t)); n != 1 {
			t.Fatalf("the seed script established %d sessions, want 1", n)
		}
	})
}
