package l2tp

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"time"
)

type tunnelState int

const (
	stateWaitCtlConn tunnelState = iota // SCCRP sent, waiting for SCCCN
	stateEstablished
	stateClosing // our StopCCN sent, waiting for its ack
	stateClosed  // the peer's StopCCN acked; lingering to re-ack copies
	stateDead    // removed from the server
)

func (s tunnelState) String() string {
	switch s {
	case stateWaitCtlConn:
		return "wait-ctl-conn"
	case stateEstablished:
		return "established"
	case stateClosing:
		return "closing"
	case stateClosed:
		return "closed"
	}
	return "dead"
}

// tunnel is one control connection. Every field is guarded by srv.mu.
type tunnel struct {
	srv               *Server
	peer              Peer
	key               peerKey
	localID, remoteID uint16
	state             tunnelState
	hostName, vendor  string
	peerRWS           uint16
	created           time.Time
	lastRx            time.Time
	challenge         []byte // ours, sent in SCCRP
	authenticated     bool

	// Reliable delivery (RFC 2661 section 5.8).
	ns, nr     uint16              // next Ns we send, next Ns we expect
	unacked    []*ctlMsg           // sent and not acknowledged, in Ns order
	pending    []*ctlMsg           // waiting for room in the peer's window
	rxq        map[uint16]*Message // out of order, inside our window
	ackPending bool                // we accepted a message and owe an ack
	rto        time.Duration
	retries    int
	rtx        *time.Timer
	hello      *time.Timer
	halfOpen   *time.Timer
	linger     *time.Timer

	sessions map[uint16]*Session
}

// ctlMsg is one reliable control message; b is re-sent with a fresh Nr.
type ctlMsg struct {
	ns  uint16
	typ MessageType
	b   []byte
}

// matches says the datagram comes from the tunnel's peer.
func (t *tunnel) matches(from Peer) bool {
	return from.Addr == t.peer.Addr && from.Key == t.peer.Key
}

// receive runs the reliable-delivery rules for one control message and
// dispatches what is in order.
func (t *tunnel) receive(m *Message, fx *effects) {
	s := t.srv
	if t.state == stateDead {
		return
	}
	t.lastRx = time.Now()
	t.ack(m.Header.Nr, fx)
	if t.state == stateDead || m.ZLB {
		return
	}
	d := int16(m.Header.Ns - t.nr)
	switch {
	case d < 0:
		// A copy of something we accepted: our ack was lost. Ack again.
		s.stats.Dropped++
		t.sendZLB(fx)
		return
	case d > 0:
		if int(d) < int(s.cfg.ReceiveWindow) && t.state < stateClosed {
			if _, dup := t.rxq[m.Header.Ns]; !dup {
				t.rxq[m.Header.Ns] = m
			}
		} else {
			s.stats.Dropped++
		}
		return
	}
	t.nr++
	t.ackPending = true
	t.dispatch(m, fx)
	for t.state != stateDead {
		next, ok := t.rxq[t.nr]
		if !ok {
			break
		}
		delete(t.rxq, t.nr)
		t.nr++
		t.ackPending = true
		t.dispatch(next, fx)
	}
	if t.ackPending && t.state != stateDead {
		t.sendZLB(fx)
	}
}

// ack removes what the peer's Nr acknowledges and fills the window.
func (t *tunnel) ack(nr uint16, fx *effects) {
	if int16(nr-t.ns) > 0 {
		return // acknowledges what we never sent
	}
	n := 0
	for n < len(t.unacked) && int16(t.unacked[n].ns-nr) < 0 {
		n++
	}
	if n == 0 {
		return
	}
	clear(t.unacked[:n])
	t.unacked = t.unacked[n:]
	t.retries = 0
	t.rto = t.srv.cfg.RetransmitTimeout
	for len(t.pending) > 0 && len(t.unacked) < int(t.peerRWS) {
		c := t.pending[0]
		t.pending = t.pending[1:]
		t.transmit(c, fx)
	}
	t.armRetransmit()
	if t.state == stateClosing && len(t.unacked) == 0 && len(t.pending) == 0 {
		t.teardown("StopCCN acknowledged", fx)
	}
}

func (t *tunnel) armRetransmit() {
	if t.rtx != nil {
		t.rtx.Stop()
		t.rtx = nil
	}
	if len(t.unacked) > 0 {
		t.rtx = time.AfterFunc(t.rto, t.retransmit)
	}
}

// retransmit is the retransmission timer: exponential backoff up to 8 s,
// then the tunnel is torn down (RFC 2661 section 5.8).
func (t *tunnel) retransmit() {
	s := t.srv
	var fx effects
	s.mu.Lock()
	if t.state == stateDead || len(t.unacked) == 0 {
		s.mu.Unlock()
		return
	}
	t.retries++
	if t.retries > s.cfg.MaxRetransmits {
		s.stats.TimedOut++
		t.teardown("peer stopped acknowledging", &fx)
	} else {
		t.rto = min(2*t.rto, maxRTO)
		for _, c := range t.unacked {
			s.stats.Retransmits++
			t.put(c, &fx)
		}
		t.rtx = time.AfterFunc(t.rto, t.retransmit)
	}
	s.mu.Unlock()
	s.run(&fx)
}

// put queues c for sending with the current Nr.
func (t *tunnel) put(c *ctlMsg, fx *effects) {
	b := append([]byte(nil), c.b...)
	binary.BigEndian.PutUint16(b[10:], t.nr)
	fx.out = append(fx.out, outPkt{b: b, to: t.peer})
	t.ackPending = false
}

func (t *tunnel) transmit(c *ctlMsg, fx *effects) {
	t.unacked = append(t.unacked, c)
	t.put(c, fx)
	if t.rtx == nil {
		t.rtx = time.AfterFunc(t.rto, t.retransmit)
	}
}

// begin starts a control message of this tunnel.
func (t *tunnel) begin(typ MessageType, session uint16) builder {
	w := beginControl(nil, t.remoteID, session, t.ns, t.nr)
	w.secret = t.srv.cfg.Secret
	w.hide = t.srv.cfg.HideAVPs
	w.rand = t.srv.cfg.Rand
	w.u16(AVPMessageType, uint16(typ), false)
	return w
}

// send makes w's message reliable: Ns assigned at begin, sent now when
// the peer's window has room, else queued (bounded).
func (t *tunnel) send(typ MessageType, w *builder, fx *effects) {
	c := &ctlMsg{ns: t.ns, typ: typ, b: w.finish()}
	t.ns++
	if len(t.unacked) < int(t.peerRWS) {
		t.transmit(c, fx)
		return
	}
	if len(t.pending) >= maxPending {
		t.teardown("control queue full", fx)
		return
	}
	t.pending = append(t.pending, c)
}

func (t *tunnel) sendZLB(fx *effects) {
	w := beginControl(nil, t.remoteID, 0, t.ns, t.nr)
	fx.out = append(fx.out, outPkt{b: w.finish(), to: t.peer})
	t.ackPending = false
}

func (t *tunnel) sendSCCRP(peerChallenge []byte, fx *effects) {
	cfg := &t.srv.cfg
	w := t.begin(MsgSCCRP, 0)
	// Nothing in SCCRP is hidden: xl2tpd 1.3.18 reveals the hidden AVPs
	// of SCCRP before it has looked up the tunnel secret (its
	// handle_challenge runs after the AVPs), so it reveals garbage and
	// clears the tunnel. Later messages are hidden with HideAVPs.
	w.hide = false
	w.avp(true, AVPProtocolVersion, []byte{1, 0}, false)
	w.u32(AVPFramingCaps, 3, true)
	w.u32(AVPBearerCaps, 0, true)
	w.u16(AVPFirmwareRevision, 0x0100, true)
	w.avp(true, AVPHostName, []byte(cfg.HostName), false)
	w.avp(false, AVPVendorName, []byte("goipsec"), true)
	w.u16(AVPAssignedTunnelID, t.localID, true)
	w.u16(AVPReceiveWindowSize, cfg.ReceiveWindow, false)
	if t.challenge != nil {
		w.avp(true, AVPChallenge, t.challenge, true)
	}
	if peerChallenge != nil {
		w.avp(true, AVPChallengeResponse, challengeResponse(MsgSCCRP, cfg.Secret, peerChallenge), true)
	}
	t.send(MsgSCCRP, &w, fx)
}

// stop clears the tunnel with StopCCN and waits for its ack.
func (t *tunnel) stop(result, errCode uint16, msg string, fx *effects) {
	if t.state >= stateClosing {
		return
	}
	t.srv.log.Info("l2tp: sending StopCCN", "peer", t.peer.Addr, "tunnel", t.localID, "result", result, "reason", msg)
	t.closeSessions(fx)
	w := t.begin(MsgStopCCN, 0)
	w.avp(true, AVPResultCode, resultValue(result, errCode, msg), false)
	w.u16(AVPAssignedTunnelID, t.localID, false)
	t.state = stateClosing
	t.pending = nil
	t.stopTimers()
	t.send(MsgStopCCN, &w, fx)
}

func (t *tunnel) stopTimers() {
	for _, tm := range []*time.Timer{t.hello, t.halfOpen, t.linger} {
		if tm != nil {
			tm.Stop()
		}
	}
	t.hello, t.halfOpen, t.linger = nil, nil, nil
}

// teardown removes the tunnel without a message.
func (t *tunnel) teardown(reason string, fx *effects) {
	s := t.srv
	if t.state == stateDead {
		return
	}
	t.closeSessions(fx)
	t.stopTimers()
	if t.rtx != nil {
		t.rtx.Stop()
		t.rtx = nil
	}
	t.state = stateDead
	t.unacked, t.pending, t.rxq = nil, nil, nil
	if s.tunnels[t.localID] == t {
		delete(s.tunnels, t.localID)
	}
	if s.byPeer[t.key] == t {
		delete(s.byPeer, t.key)
	}
	host := hostKey{addr: t.peer.Addr.Addr(), key: t.peer.Key}
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
	s.log.Info("l2tp: tunnel down", "peer", t.peer.Addr, "tunnel", t.localID, "reason", reason)
	s.checkDrained()
}

func (t *tunnel) closeSessions(fx *effects) {
	for _, se := range t.sessions {
		se.end(fx)
	}
}

func (t *tunnel) halfOpenExpired() {
	s := t.srv
	var fx effects
	s.mu.Lock()
	if t.state == stateWaitCtlConn {
		t.teardown("no SCCCN", &fx)
	}
	s.mu.Unlock()
	s.run(&fx)
}

func (t *tunnel) helloTick() {
	s := t.srv
	var fx effects
	s.mu.Lock()
	if t.state != stateEstablished {
		s.mu.Unlock()
		return
	}
	if idle := time.Since(t.lastRx); idle >= s.cfg.HelloInterval && len(t.unacked) == 0 {
		w := t.begin(MsgHello, 0)
		t.send(MsgHello, &w, &fx)
		t.lastRx = time.Now()
		t.hello = time.AfterFunc(s.cfg.HelloInterval, t.helloTick)
	} else {
		t.hello = time.AfterFunc(max(s.cfg.HelloInterval-idle, time.Millisecond), t.helloTick)
	}
	s.mu.Unlock()
	s.run(&fx)
}

// dispatch handles one in-order control message.
func (t *tunnel) dispatch(m *Message, fx *effects) {
	s := t.srv
	hidden := 0
	for _, a := range m.AVPs {
		if a.Hidden {
			hidden++
		}
	}
	s.log.Debug("l2tp: received", "peer", t.peer.Addr, "tunnel", t.localID, "msg", m.Type, "ns", m.Header.Ns, "hidden", hidden)
	if t.state >= stateClosing {
		return // only acknowledged
	}
	switch m.Type {
	case MsgSCCRQ:
		return // a copy would have been a duplicate; ignore
	case MsgSCCCN:
		t.handleSCCCN(m, fx)
		return
	case MsgStopCCN:
		t.handleStopCCN(m, fx)
		return
	case MsgHello, MsgWEN, MsgSLI:
		if u, bad := m.UnknownMandatory(); bad {
			t.stop(stopGeneralError, errCodeUnknownMAVP, "unknown mandatory "+u.Type.String(), fx)
		}
		return
	case MsgICRQ, MsgICCN, MsgCDN:
		if t.state != stateEstablished {
			t.stop(stopFSMError, 0, m.Type.String()+" before SCCCN", fx)
			return
		}
		t.handleSessionMessage(m, fx)
		return
	case MsgSCCRP, MsgOCRQ, MsgOCRP, MsgOCCN, MsgICRP:
		// Messages an LNS does not receive from a LAC.
		if m.Type == MsgOCRQ {
			t.refuseOCRQ(m, fx)
		}
		return
	}
	// Unknown message type: RFC 2661 section 4.4.1, the M bit of the
	// Message Type AVP says whether to clear the tunnel.
	if m.AVPs[0].Mandatory {
		t.stop(stopGeneralError, errCodeUnknownMAVP, "unknown mandatory message type", fx)
	}
}

func (t *tunnel) handleSCCCN(m *Message, fx *effects) {
	s := t.srv
	if t.state != stateWaitCtlConn {
		return
	}
	if u, bad := m.UnknownMandatory(); bad {
		t.stop(stopGeneralError, errCodeUnknownMAVP, "unknown mandatory "+u.Type.String(), fx)
		return
	}
	if t.challenge != nil {
		a, ok := m.Find(AVPChallengeResponse)
		want := challengeResponse(MsgSCCCN, s.cfg.Secret, t.challenge)
		if !ok || subtle.ConstantTimeCompare(a.Value, want) != 1 {
			s.stats.Refused++
			t.stop(stopNotAuthorized, 0, "bad challenge response", fx)
			return
		}
		t.authenticated = true
	}
	t.state = stateEstablished
	if t.halfOpen != nil {
		t.halfOpen.Stop()
		t.halfOpen = nil
	}
	s.stats.TunnelsOpened++
	t.hello = time.AfterFunc(s.cfg.HelloInterval, t.helloTick)
	s.log.Info("l2tp: tunnel up", "peer", t.peer.Addr, "tunnel", t.localID, "host", t.hostName, "authenticated", t.authenticated)
}

func (t *tunnel) handleStopCCN(m *Message, fx *effects) {
	s := t.srv
	r, _ := m.ResultCode()
	s.log.Info("l2tp: StopCCN received", "peer", t.peer.Addr, "tunnel", t.localID, "result", r.Code, "error", r.Error, "message", r.Message)
	t.closeSessions(fx)
	t.stopTimers()
	t.state = stateClosed
	t.unacked, t.pending = nil, nil
	if t.rtx != nil {
		t.rtx.Stop()
		t.rtx = nil
	}
	// Ack now (receive sends the ZLB) and linger a while to re-ack
	// retransmitted copies (RFC 2661 section 5.7).
	t.linger = time.AfterFunc(4*s.cfg.RetransmitTimeout, func() {
		var fx effects
		s.mu.Lock()
		t.teardown("StopCCN received", &fx)
		s.mu.Unlock()
		s.run(&fx)
	})
}

func (t *tunnel) refuseOCRQ(m *Message, fx *effects) {
	a, ok := m.Find(AVPAssignedSessionID)
	if !ok || len(a.Value) != 2 {
		return
	}
	w := t.begin(MsgCDN, binary.BigEndian.Uint16(a.Value))
	w.avp(true, AVPResultCode, resultValue(cdnPermResources, 0, "outgoing calls not supported"), false)
	w.u16(AVPAssignedSessionID, 0, true)
	t.send(MsgCDN, &w, fx)
}

// u16AVP decodes a 2-byte AVP.
func u16AVP(m *Message, typ AVPType) (uint16, bool, error) {
	a, ok := m.Find(typ)
	if !ok {
		return 0, false, nil
	}
	if len(a.Value) != 2 {
		return 0, true, avpErr(a.Offset, 0, typ, ErrAVPValue)
	}
	return binary.BigEndian.Uint16(a.Value), true, nil
}

// u32AVP decodes a 4-byte AVP.
func u32AVP(m *Message, typ AVPType) (uint32, bool, error) {
	a, ok := m.Find(typ)
	if !ok {
		return 0, false, nil
	}
	if len(a.Value) != 4 {
		return 0, true, avpErr(a.Offset, 0, typ, ErrAVPValue)
	}
	return binary.BigEndian.Uint32(a.Value), true, nil
}

func missing(m *Message, typ AVPType) error {
	return &ParseError{Offset: m.bodyOffset(), AVP: typ, HasAVP: true, Err: ErrMissingAVP}
}

// handleSessionMessage handles ICRQ, ICCN and CDN.
func (t *tunnel) handleSessionMessage(m *Message, fx *effects) {
	s := t.srv
	switch m.Type {
	case MsgICRQ:
		peerSID, ok, err := u16AVP(m, AVPAssignedSessionID)
		if err == nil && (!ok || peerSID == 0) {
			err = missing(m, AVPAssignedSessionID)
		}
		if err != nil {
			s.stats.Malformed++
			s.log.Debug("l2tp: bad ICRQ", "peer", t.peer.Addr, "err", err)
			return // cannot address a CDN without the peer's session ID
		}
		if u, bad := m.UnknownMandatory(); bad {
			t.sendCDN(peerSID, 0, cdnGeneralError, errCodeUnknownMAVP, "unknown mandatory "+u.Type.String(), fx)
			return
		}
		serial, _, _ := u32AVP(m, AVPCallSerialNumber)
		for _, se := range t.sessions {
			if se.remoteID == peerSID {
				return // the same call again: ICRP already sent
			}
		}
		if s.closed || s.nsessions >= s.cfg.MaxSessions || len(t.sessions) >= s.cfg.MaxSessionsPerTunnel {
			s.stats.Refused++
			t.sendCDN(peerSID, 0, cdnTempResources, 0, "too many sessions", fx)
			return
		}
		id, ok := t.newSessionID()
		if !ok {
			s.stats.Refused++
			t.sendCDN(peerSID, 0, cdnTempResources, 0, "no session ID", fx)
			return
		}
		se := &Session{t: t, srv: s, localID: id, remoteID: peerSID, callSerial: serial}
		t.sessions[id] = se
		s.nsessions++
		se.halfOpen = time.AfterFunc(s.cfg.HalfOpenTimeout, se.halfOpenExpired)
		w := t.begin(MsgICRP, peerSID)
		w.u16(AVPAssignedSessionID, id, true)
		t.send(MsgICRP, &w, fx)
	case MsgICCN:
		se := t.sessions[m.Header.SessionID]
		if se == nil || se.state != sessWaitConnect {
			s.stats.Dropped++
			return
		}
		if u, bad := m.UnknownMandatory(); bad {
			se.close(cdnGeneralError, errCodeUnknownMAVP, "unknown mandatory "+u.Type.String(), fx)
			return
		}
		speed, _, err := u32AVP(m, AVPTxConnectSpeed)
		if err == nil {
			_, _, err = u32AVP(m, AVPFramingType)
		}
		if err != nil {
			s.stats.Malformed++
			se.close(cdnGeneralError, errCodeRange, "malformed ICCN", fx)
			return
		}
		se.txSpeed = speed
		if _, ok := m.Find(AVPSequencingRequired); ok {
			se.sequencing = true
		}
		se.establish(fx)
	case MsgCDN:
		se := t.sessions[m.Header.SessionID]
		if se == nil {
			// Some LACs clear a call before they learn our ID.
			if peerSID, ok, _ := u16AVP(m, AVPAssignedSessionID); ok {
				for _, x := range t.sessions {
					if x.remoteID == peerSID {
						se = x
					}
				}
			}
		}
		if se == nil {
			s.stats.Dropped++
			return
		}
		r, _ := m.ResultCode()
		s.log.Info("l2tp: CDN received", "peer", t.peer.Addr, "tunnel", t.localID, "session", se.localID, "result", r.Code, "error", r.Error, "message", r.Message)
		se.end(fx)
	}
}

func (t *tunnel) newSessionID() (uint16, bool) {
	var b [2]byte
	for range 64 {
		if _, err := io.ReadFull(t.srv.cfg.Rand, b[:]); err != nil {
			return 0, false
		}
		id := binary.BigEndian.Uint16(b[:])
		if id != 0 && t.sessions[id] == nil {
			return id, true
		}
	}
	return 0, false
}

// sendCDN clears a call; localSID is ours (0 when none was assigned).
func (t *tunnel) sendCDN(peerSID, localSID, result, errCode uint16, msg string, fx *effects) {
	w := t.begin(MsgCDN, peerSID)
	w.avp(true, AVPResultCode, resultValue(result, errCode, msg), false)
	w.u16(AVPAssignedSessionID, localSID, true)
	t.send(MsgCDN, &w, fx)
}

var errSessionClosed = errors.New("l2tp: session closed")
