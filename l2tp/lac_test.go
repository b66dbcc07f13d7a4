package l2tp

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// This file holds the test doubles: an in-memory lossy network, a
// recording FrameHandler and a small LAC (the client side of a control
// connection) with its own reliable delivery, so ladder tests can run a
// whole session through loss, duplication and reordering. Tests using
// them run inside testing/synctest bubbles: all timing is virtual.

var (
	lacAddr   = netip.MustParseAddrPort("192.0.2.10:1701")
	lnsAddr   = netip.MustParseAddrPort("192.0.2.1:1701")
	lacPeer   = Peer{Addr: lacAddr, Local: lnsAddr}
	otherAddr = netip.MustParseAddrPort("198.51.100.7:40000")
)

// sent is one datagram the server sent.
type sent struct {
	b  []byte
	to Peer
	at time.Time
}

// lossyLink carries datagrams in both directions between one server and
// LACs. Each datagram may be dropped, duplicated or delayed (which
// reorders); a seeded generator makes every run the same.
type lossyLink struct {
	mu      sync.Mutex
	rng     *rand.Rand
	loss    float64
	dup     float64
	reorder float64
	srv     *Server
	lacs    map[netip.AddrPort]*lac
	log     []sent // everything the server sent, before loss
	// What the link did, to show a lossy run was lossy.
	dropped, duplicated, delayed int
}

func newLink(seed uint64, loss, dup, reorder float64) *lossyLink {
	return &lossyLink{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		loss: loss, dup: dup, reorder: reorder,
		lacs: make(map[netip.AddrPort]*lac),
	}
}

// fate returns how many copies to deliver and the delay of each.
func (l *lossyLink) fate() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rng.Float64() < l.loss {
		l.dropped++
		return nil
	}
	n := 1
	if l.rng.Float64() < l.dup {
		n = 2
		l.duplicated++
	}
	var d []time.Duration
	for range n {
		delay := time.Millisecond
		if l.rng.Float64() < l.reorder {
			delay = time.Duration(2+l.rng.IntN(30)) * time.Millisecond
			l.delayed++
		}
		d = append(d, delay)
	}
	return d
}

// WriteTo is the server's side: to a LAC.
func (l *lossyLink) WriteTo(b []byte, to Peer) error {
	c := bytes.Clone(b)
	l.mu.Lock()
	l.log = append(l.log, sent{b: c, to: to, at: time.Now()})
	dst := l.lacs[to.Addr]
	l.mu.Unlock()
	if dst == nil {
		return nil
	}
	for _, d := range l.fate() {
		time.AfterFunc(d, func() { dst.receive(c) })
	}
	return nil
}

// toServer is the LAC's side.
func (l *lossyLink) toServer(b []byte, from Peer) {
	c := bytes.Clone(b)
	for _, d := range l.fate() {
		time.AfterFunc(d, func() { l.srv.HandleDatagram(c, from) })
	}
}

// recorder is a FrameHandler that keeps copies of the frames.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
	closed int
	sess   *Session
}

func (r *recorder) HandleFrame(f []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, bytes.Clone(f))
}

func (r *recorder) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
}

func (r *recorder) snapshot() ([][]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.frames), r.closed
}

// handlers collects the FrameHandlers the server's NewSession made.
type handlers struct {
	mu   sync.Mutex
	list []*recorder
}

func (h *handlers) newSession(s *Session) (FrameHandler, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &recorder{sess: s}
	h.list = append(h.list, r)
	return r, nil
}

func (h *handlers) get(i int) *recorder {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i >= len(h.list) {
		return nil
	}
	return h.list[i]
}

// lac is a minimal L2TP access concentrator: window 1 for what it
// receives, retransmission every 300 ms for what it sends.
type lac struct {
	mu        sync.Mutex
	link      *lossyLink
	peer      Peer
	secret    []byte
	hide      bool
	tid       uint16 // ours
	srvTID    uint16 // the server's, from SCCRP
	ns, nr    uint16
	unacked   []ctlMsg
	got       []*Message // in-order control messages from the server
	data      [][]byte   // data payloads from the server
	zlbs      int
	rtx       *time.Timer
	stopped   bool
	challenge []byte
	rws       uint16 // announced in SCCRQ
}

func newLAC(link *lossyLink, peer Peer, tid uint16) *lac {
	c := &lac{link: link, peer: peer, tid: tid, rws: 4}
	link.mu.Lock()
	link.lacs[peer.Addr] = c
	link.mu.Unlock()
	return c
}

func (c *lac) receive(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := Parse(b, c.secret)
	if err != nil {
		return
	}
	if !m.Header.Control {
		c.data = append(c.data, bytes.Clone(m.Payload))
		return
	}
	// Ack processing.
	for len(c.unacked) > 0 && int16(c.unacked[0].ns-m.Header.Nr) < 0 {
		c.unacked = c.unacked[1:]
	}
	if m.ZLB {
		c.zlbs++
		return
	}
	if m.Header.Ns == c.nr {
		c.nr++
		c.got = append(c.got, m)
		if m.Type == MsgSCCRP {
			if a, ok := m.Find(AVPAssignedTunnelID); ok && len(a.Value) == 2 {
				c.srvTID = binary.BigEndian.Uint16(a.Value)
			}
		}
	}
	// Always ack (ZLB) what we got, new or copy.
	w := beginControl(nil, c.srvTID, 0, c.ns, c.nr)
	c.link.toServer(w.finish(), c.peer)
}

// send sends a reliable control message built by fill.
func (c *lac) send(typ MessageType, session uint16, fill func(w *builder)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := beginControl(nil, c.srvTID, session, c.ns, c.nr)
	w.secret, w.hide = c.secret, c.hide
	w.rand = rand.NewChaCha8([32]byte{byte(c.ns), 7}) // deterministic Random Vectors
	w.u16(AVPMessageType, uint16(typ), false)
	if fill != nil {
		fill(&w)
	}
	msg := ctlMsg{ns: c.ns, typ: typ, b: w.finish()}
	c.ns++
	c.unacked = append(c.unacked, msg)
	c.link.toServer(msg.b, c.peer)
	if c.rtx == nil {
		c.rtx = time.AfterFunc(300*time.Millisecond, c.retransmit)
	}
}

func (c *lac) retransmit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rtx = nil
	if c.stopped || len(c.unacked) == 0 {
		return
	}
	for _, m := range c.unacked {
		b := bytes.Clone(m.b)
		binary.BigEndian.PutUint16(b[10:], c.nr)
		binary.BigEndian.PutUint16(b[4:], c.srvTID)
		c.link.toServer(b, c.peer)
	}
	c.rtx = time.AfterFunc(300*time.Millisecond, c.retransmit)
}

func (c *lac) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.rtx != nil {
		c.rtx.Stop()
	}
}

// sendData sends one PPP frame (with FF 03 when ff03) unreliably.
func (c *lac) sendData(session uint16, frame []byte, ff03 bool) {
	c.mu.Lock()
	tid := c.srvTID
	c.mu.Unlock()
	b := []byte{bitL, verL2TP, 0, 0}
	b = binary.BigEndian.AppendUint16(b, tid)
	b = binary.BigEndian.AppendUint16(b, session)
	if ff03 {
		b = append(b, 0xff, 0x03)
	}
	b = append(b, frame...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	c.link.toServer(b, c.peer)
}

// waitFor polls (in virtual time) until cond holds; bounded.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// gotType returns the first in-order message of type typ the LAC got.
func (c *lac) gotType(typ MessageType) *Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.got {
		if m.Type == typ {
			return m
		}
	}
	return nil
}

func (c *lac) allAcked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.unacked) == 0
}

func (c *lac) dataFrames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.data)
}

// sccrq fills an Apple-like SCCRQ (plus a challenge when the LAC has a
// secret).
func (c *lac) sccrq(rws uint16) func(w *builder) {
	return func(w *builder) {
		w.avp(true, AVPProtocolVersion, []byte{1, 0}, false)
		w.u32(AVPFramingCaps, 3, true)
		w.avp(true, AVPHostName, []byte("lac\x00"), true)
		w.u16(AVPAssignedTunnelID, c.tid, true)
		w.u16(AVPReceiveWindowSize, rws, false)
		if c.secret != nil {
			c.challenge = []byte("0123456789abcdef0123456789abcdef")
			w.avp(true, AVPChallenge, c.challenge, false)
		}
	}
}

// expectedResponse is RFC 2661 section 5.1.1 written out independently
// of challengeResponse.
func expectedResponse(typ byte, secret, challenge []byte) []byte {
	buf := append([]byte{typ}, secret...)
	sum := md5.Sum(append(buf, challenge...))
	return sum[:]
}

// establish runs SCCRQ..ICCN and returns the server's session ID.
func (c *lac) establish(t testing.TB, sid uint16) uint16 {
	t.Helper()
	c.send(MsgSCCRQ, 0, c.sccrq(c.rws))
	waitFor(t, "SCCRP", func() bool { return c.gotType(MsgSCCRP) != nil })
	sccrp := c.gotType(MsgSCCRP)
	c.send(MsgSCCCN, 0, func(w *builder) {
		if a, ok := sccrp.Find(AVPChallenge); ok {
			w.avp(true, AVPChallengeResponse, expectedResponse(3, c.secret, a.Value), true)
		}
	})
	waitFor(t, "SCCCN acked", c.allAcked)
	c.send(MsgICRQ, 0, func(w *builder) {
		w.u16(AVPAssignedSessionID, sid, true)
		w.u32(AVPCallSerialNumber, 1, true)
	})
	waitFor(t, "ICRP", func() bool { return c.gotType(MsgICRP) != nil })
	a, ok := c.gotType(MsgICRP).Find(AVPAssignedSessionID)
	if !ok || len(a.Value) != 2 {
		t.Fatalf("ICRP without Assigned Session ID")
	}
	srvSID := binary.BigEndian.Uint16(a.Value)
	c.send(MsgICCN, srvSID, func(w *builder) {
		w.u32(AVPTxConnectSpeed, 1000000, true)
		w.u32(AVPFramingType, 3, true)
	})
	waitFor(t, "ICCN acked", c.allAcked)
	return srvSID
}
