package l2tp

import (
	"testing"
)

// nopConn discards what the server sends.
type nopConn struct{}

func (nopConn) WriteTo([]byte, Peer) error { return nil }

// establishedSession brings up one tunnel and session on a fresh server
// (with a capConn for the handshake, then nothing).
func establishedSession(tb testing.TB) (*driver, uint16, *recorder) {
	d := newDriver(tb, Config{})
	d.tunnelUp()
	sid := d.sessionUp(3)
	r := d.h.get(0)
	if r == nil {
		tb.Fatal("no session")
	}
	return d, sid, r
}

// countingHandler counts frames without keeping them.
type countingHandler struct{ n int }

func (c *countingHandler) HandleFrame([]byte) { c.n++ }
func (c *countingHandler) Close()             {}

func TestDataPathDoesNotAllocate(t *testing.T) {
	d, sid, r := establishedSession(t)
	defer d.srv.ClosePeer(0)
	h := &countingHandler{}
	d.srv.mu.Lock()
	r.sess.handler = h
	d.srv.mu.Unlock()
	in := appendData(nil, d.srvTID, sid, false, 0, make([]byte, 1400))
	if n := testing.AllocsPerRun(100, func() { d.srv.HandleDatagram(in, d.from) }); n != 0 {
		t.Errorf("HandleDatagram(data) allocates %v times", n)
	}
	if h.n < 100 {
		t.Fatalf("%d frames delivered", h.n)
	}
	d.srv.conn = nopConn{}
	frame := make([]byte, 1400)
	if n := testing.AllocsPerRun(100, func() { _ = r.sess.WriteFrame(frame) }); n != 0 {
		t.Errorf("WriteFrame allocates %v times", n)
	}
}

func BenchmarkDataIn(b *testing.B) {
	d, sid, r := establishedSession(b)
	defer d.srv.ClosePeer(0)
	d.srv.mu.Lock()
	r.sess.handler = &countingHandler{}
	d.srv.mu.Unlock()
	in := appendData(nil, d.srvTID, sid, false, 0, make([]byte, 1400))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d.srv.HandleDatagram(in, d.from)
	}
}

func BenchmarkDataOut(b *testing.B) {
	d, _, r := establishedSession(b)
	defer d.srv.ClosePeer(0)
	d.srv.conn = nopConn{}
	frame := make([]byte, 1400)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		_ = r.sess.WriteFrame(frame)
	}
}

func BenchmarkParse(b *testing.B) {
	m := unhex(b, windowsSCCRQ)
	b.SetBytes(int64(len(m)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Parse(m, nil)
	}
}
