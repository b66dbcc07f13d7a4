package l2tp

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Server is an L2TP LNS (RFC 2661). It is safe for concurrent use: the
// embedder calls HandleDatagram from its receive goroutine(s), sessions
// call WriteFrame from PPP, and timers retransmit. One mutex guards the
// tunnel table; packets are sent and callbacks (NewSession,
// FrameHandler) run after it is released.
type Server struct {
	conn PacketConn
	cfg  Config
	log  *slog.Logger

	mu        sync.Mutex
	closed    bool
	tunnels   map[uint16]*tunnel
	byPeer    map[peerKey]*tunnel
	perHost   map[hostKey]int // tunnels per peer address (without port) and Key
	nsessions int
	stats     Stats
	drained   chan struct{} // closed by Close's wait when tunnels is empty
}

// peerKey identifies a tunnel from the peer's side, so a retransmitted
// SCCRQ does not create a second tunnel.
type peerKey struct {
	addr netip.AddrPort
	key  uint32
	id   uint16
}

// hostKey identifies one client for Config.MaxTunnelsPerPeer.
type hostKey struct {
	addr netip.Addr
	key  uint32
}

// NewServer makes a server that sends through conn. It checks cfg and
// names the field of the first problem.
func NewServer(conn PacketConn, cfg Config) (*Server, error) {
	if conn == nil {
		return nil, errors.New("l2tp: NewServer: nil PacketConn")
	}
	cfg = withDefaults(cfg)
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	cfg.Secret = bytes.Clone(cfg.Secret)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Server{
		conn:    conn,
		cfg:     cfg,
		log:     log,
		tunnels: make(map[uint16]*tunnel),
		byPeer:  make(map[peerKey]*tunnel),
		perHost: make(map[hostKey]int),
	}, nil
}

func validate(c *Config) error {
	switch {
	case c.HideAVPs && len(c.Secret) == 0:
		return errors.New("l2tp: Config.HideAVPs: needs Config.Secret")
	case c.ReceiveWindow > 256:
		return fmt.Errorf("l2tp: Config.ReceiveWindow: %d above 256", c.ReceiveWindow)
	case c.HelloInterval < 0:
		return errors.New("l2tp: Config.HelloInterval: negative")
	case c.RetransmitTimeout < 0:
		return errors.New("l2tp: Config.RetransmitTimeout: negative")
	case c.MaxRetransmits < 0 || c.MaxRetransmits > 100:
		return fmt.Errorf("l2tp: Config.MaxRetransmits: %d outside 0..100", c.MaxRetransmits)
	case c.MaxTunnels < 0 || c.MaxTunnels > maxIDs:
		return fmt.Errorf("l2tp: Config.MaxTunnels: %d outside 0..%d", c.MaxTunnels, maxIDs)
	case c.MaxTunnelsPerPeer < 0:
		return errors.New("l2tp: Config.MaxTunnelsPerPeer: negative")
	case c.MaxSessions < 0:
		return errors.New("l2tp: Config.MaxSessions: negative")
	case c.MaxSessionsPerTunnel < 0 || c.MaxSessionsPerTunnel > maxIDs:
		return fmt.Errorf("l2tp: Config.MaxSessionsPerTunnel: %d outside 0..%d", c.MaxSessionsPerTunnel, maxIDs)
	case c.HalfOpenTimeout < 0:
		return errors.New("l2tp: Config.HalfOpenTimeout: negative")
	case len(c.HostName) > 1000:
		return errors.New("l2tp: Config.HostName: longer than 1000 bytes")
	}
	return nil
}

// effects collects what a locked step wants done after the lock is
// released: datagrams to send and callbacks to run.
type effects struct {
	out   []outPkt
	calls []func()
}

type outPkt struct {
	b  []byte
	to Peer
}

func (s *Server) run(fx *effects) {
	for _, p := range fx.out {
		if err := s.conn.WriteTo(p.b, p.to); err != nil {
			s.log.Debug("l2tp: send failed", "peer", p.to.Addr, "err", err)
		}
	}
	for _, f := range fx.calls {
		f()
	}
}

// HandleDatagram processes one L2TP datagram from a peer. b may be reused
// by the caller after the call returns. Malformed and unwanted datagrams
// are counted and dropped; nothing a peer sends makes it panic.
func (s *Server) HandleDatagram(b []byte, from Peer) {
	if len(b) >= 1 && b[0]&bitT == 0 {
		s.handleData(b, from)
		return
	}
	// Control messages are rare: parse a copy, so queued out-of-order
	// messages may keep aliasing it.
	b = bytes.Clone(b)
	var fx effects
	s.mu.Lock()
	s.stats.Datagrams++
	m, err := Parse(b, s.cfg.Secret)
	if err != nil {
		s.stats.Malformed++
		s.malformedControl(b, from, err, &fx)
		s.mu.Unlock()
		s.log.Debug("l2tp: malformed control message", "peer", from.Addr, "err", err)
		s.run(&fx)
		return
	}
	if m.Header.TunnelID == 0 {
		s.handleSCCRQ(m, from, &fx)
	} else if t := s.tunnels[m.Header.TunnelID]; t == nil || !t.matches(from) {
		s.stats.Dropped++
	} else {
		t.receive(m, &fx)
	}
	s.mu.Unlock()
	s.run(&fx)
}

// malformedControl answers a malformed control message of a known tunnel
// when the damage is in an AVP (the header parsed, so Ns is known): the
// tunnel is cleared with StopCCN, since RFC 2661 gives no way to skip an
// undecodable AVP that may be mandatory.
func (s *Server) malformedControl(b []byte, from Peer, err error, fx *effects) {
	var pe *ParseError
	if !errors.As(err, &pe) || !pe.HasAVP {
		return
	}
	h, _, herr := ParseHeader(b)
	if herr != nil || h.TunnelID == 0 {
		return
	}
	t := s.tunnels[h.TunnelID]
	if t == nil || !t.matches(from) || t.state >= stateClosing {
		return
	}
	// Only a message that is next in sequence may clear the tunnel;
	// anything else could be a stale or forged copy.
	if h.Ns != t.nr {
		return
	}
	t.nr++
	code := uint16(errCodeRange)
	if errors.Is(err, ErrShort) || errors.Is(err, ErrLength) {
		code = errCodeLength
	}
	t.stop(stopGeneralError, code, "malformed "+pe.AVP.String()+" AVP", fx)
}

// handleSCCRQ handles a control message to tunnel ID 0: a new tunnel or
// a retransmitted SCCRQ.
func (s *Server) handleSCCRQ(m *Message, from Peer, fx *effects) {
	if m.ZLB || m.Type != MsgSCCRQ {
		s.stats.Dropped++
		return
	}
	a, ok := m.Find(AVPAssignedTunnelID)
	if !ok || len(a.Value) != 2 || binary.BigEndian.Uint16(a.Value) == 0 {
		// Without the peer's tunnel ID we cannot even answer.
		s.stats.Dropped++
		return
	}
	peerID := binary.BigEndian.Uint16(a.Value)
	key := peerKey{addr: from.Addr, key: from.Key, id: peerID}
	if t := s.byPeer[key]; t != nil {
		// Retransmitted SCCRQ: the existing tunnel re-acknowledges it.
		t.receive(m, fx)
		return
	}
	refuse := func(result, errCode uint16, msg string) {
		s.stats.Refused++
		w := beginControl(nil, peerID, 0, 0, m.Header.Ns+1)
		w.u16(AVPMessageType, uint16(MsgStopCCN), false)
		w.avp(true, AVPResultCode, resultValue(result, errCode, msg), false)
		w.u16(AVPAssignedTunnelID, 0, false)
		fx.out = append(fx.out, outPkt{b: w.finish(), to: from})
		s.log.Info("l2tp: SCCRQ refused", "peer", from.Addr, "reason", msg)
	}
	if s.closed {
		refuse(stopShuttingDown, 0, "server shutting down")
		return
	}
	if u, bad := m.UnknownMandatory(); bad {
		refuse(stopGeneralError, errCodeUnknownMAVP, "unknown mandatory "+u.Type.String())
		return
	}
	info, err := decodeSCCRQ(m)
	if err != nil {
		s.stats.Malformed++
		if errors.Is(err, ErrVersion) {
			refuse(stopBadVersion, 0, "protocol version 1.0 only")
		} else {
			refuse(stopGeneralError, errCodeRange, "malformed SCCRQ")
		}
		s.log.Debug("l2tp: bad SCCRQ", "peer", from.Addr, "err", err)
		return
	}
	if info.challenge != nil && len(s.cfg.Secret) == 0 {
		refuse(stopNotAuthorized, 0, "no tunnel secret configured")
		return
	}
	if len(s.tunnels) >= s.cfg.MaxTunnels {
		refuse(stopGeneralError, errCodeResources, "too many tunnels")
		return
	}
	host := hostKey{addr: from.Addr.Addr(), key: from.Key}
	if s.perHost[host] >= s.cfg.MaxTunnelsPerPeer {
		refuse(stopGeneralError, errCodeResources, "too many tunnels from this peer")
		return
	}
	id, ok := s.newTunnelID()
	if !ok {
		refuse(stopGeneralError, errCodeResources, "no tunnel ID")
		return
	}
	t := &tunnel{
		srv:      s,
		peer:     from,
		localID:  id,
		remoteID: peerID,
		key:      key,
		hostName: info.hostName,
		vendor:   info.vendor,
		peerRWS:  info.rws,
		created:  time.Now(),
		nr:       m.Header.Ns + 1,
		rto:      s.cfg.RetransmitTimeout,
		sessions: make(map[uint16]*Session),
		rxq:      make(map[uint16]*Message),
		lastRx:   time.Now(),
	}
	if len(s.cfg.Secret) > 0 {
		t.challenge = make([]byte, 16)
		if _, err := io.ReadFull(s.cfg.Rand, t.challenge); err != nil {
			refuse(stopGeneralError, errCodeResources, "no randomness")
			return
		}
	}
	s.tunnels[id] = t
	s.byPeer[key] = t
	s.perHost[host]++
	t.halfOpen = time.AfterFunc(s.cfg.HalfOpenTimeout, t.halfOpenExpired)
	s.log.Info("l2tp: SCCRQ", "peer", from.Addr, "tunnel", id, "peer_tunnel", peerID,
		"host", info.hostName, "vendor", info.vendor, "rws", info.rws)
	t.sendSCCRP(info.challenge, fx)
}

func (s *Server) newTunnelID() (uint16, bool) {
	var b [2]byte
	for range 64 {
		if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
			return 0, false
		}
		id := binary.BigEndian.Uint16(b[:])
		if id != 0 && s.tunnels[id] == nil {
			return id, true
		}
	}
	return 0, false
}

// sccrqInfo is what we keep of an SCCRQ.
type sccrqInfo struct {
	hostName, vendor string
	rws              uint16
	challenge        []byte
}

// decodeSCCRQ checks the SCCRQ AVPs we use (RFC 2661 section 6.1). Host
// Name and Framing Capabilities are mandatory in the RFC but not needed,
// so their absence is accepted; Bearer Capabilities and Firmware Revision
// are ignored whatever their length (Windows sends them empty).
func decodeSCCRQ(m *Message) (sccrqInfo, error) {
	info := sccrqInfo{rws: defaultPeerWindow}
	a, ok := m.Find(AVPProtocolVersion)
	if !ok {
		return info, &ParseError{Offset: m.bodyOffset(), AVP: AVPProtocolVersion, HasAVP: true, Err: ErrMissingAVP}
	}
	if len(a.Value) != 2 {
		return info, avpErr(a.Offset, 0, a.Type, ErrAVPValue)
	}
	if a.Value[0] != 1 || a.Value[1] != 0 {
		return info, avpErr(a.Offset, 0, a.Type, ErrVersion)
	}
	if a, ok := m.Find(AVPHostName); ok {
		info.hostName = trimHostName(a.Value)
	}
	if a, ok := m.Find(AVPVendorName); ok {
		info.vendor = trimHostName(a.Value)
	}
	if a, ok := m.Find(AVPReceiveWindowSize); ok {
		if len(a.Value) != 2 || binary.BigEndian.Uint16(a.Value) == 0 {
			return info, avpErr(a.Offset, 0, a.Type, ErrAVPValue)
		}
		info.rws = min(binary.BigEndian.Uint16(a.Value), maxPending)
	}
	if a, ok := m.Find(AVPChallenge); ok {
		if len(a.Value) == 0 {
			return info, avpErr(a.Offset, 0, a.Type, ErrAVPValue)
		}
		info.challenge = a.Value
	}
	return info, nil
}

// challengeResponse is RFC 2661 section 5.1.1: MD5 over the message type
// as one octet, the secret and the challenge.
func challengeResponse(t MessageType, secret, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{byte(t)})
	h.Write(secret)
	h.Write(challenge)
	return h.Sum(nil)
}

// handleData delivers one data message to its session's FrameHandler.
func (s *Server) handleData(b []byte, from Peer) {
	s.mu.Lock()
	s.stats.Datagrams++
	h, payload, err := ParseHeader(b)
	if err != nil {
		s.stats.Malformed++
		s.mu.Unlock()
		return
	}
	t := s.tunnels[h.TunnelID]
	var sess *Session
	if t != nil && t.matches(from) && t.state == stateEstablished {
		sess = t.sessions[h.SessionID]
	}
	if sess == nil || sess.state != sessEstablished || sess.handler == nil {
		s.stats.Dropped++
		s.mu.Unlock()
		return
	}
	if len(payload) >= 2 && payload[0] == 0xff && payload[1] == 0x03 {
		payload = payload[2:]
	}
	if len(payload) == 0 {
		s.stats.Dropped++
		s.mu.Unlock()
		return
	}
	if h.HasSeq {
		// RFC 2661 section 5.4: the peer sequences, so do we; stale
		// frames (behind the highest seen) are dropped.
		if sess.seqIn && int16(h.Ns-sess.nextNs) < 0 {
			s.stats.Dropped++
			s.mu.Unlock()
			return
		}
		sess.seqIn = true
		sess.sequencing = true
		sess.nextNs = h.Ns + 1
	}
	t.lastRx = time.Now()
	sess.framesIn++
	sess.bytesIn += uint64(len(payload))
	handler := sess.handler
	s.mu.Unlock()
	handler.HandleFrame(payload)
}

// ClosePeer drops every tunnel of the peers with this Key (the IPsec SA
// with this ReqID died) without sending StopCCN: nothing could reach the
// peer. Over plain UDP every peer has Key 0.
func (s *Server) ClosePeer(key uint32) {
	var fx effects
	s.mu.Lock()
	for _, t := range s.tunnels {
		if t.peer.Key == key {
			t.teardown("peer gone", &fx)
		}
	}
	s.mu.Unlock()
	s.run(&fx)
}

// Close sends StopCCN to every tunnel, waits a bounded time (until the
// StopCCNs are acknowledged or retransmission gives up, at most four
// retransmission timeouts) and then drops what is left. Every session's
// FrameHandler is closed. New SCCRQs are refused afterwards.
func (s *Server) Close() error {
	var fx effects
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, t := range s.tunnels {
		if t.state < stateClosing {
			t.stop(stopShuttingDown, 0, "server shutting down", &fx)
		}
	}
	s.drained = make(chan struct{})
	drained := s.drained
	s.checkDrained()
	s.mu.Unlock()
	s.run(&fx)

	timer := time.NewTimer(4 * s.cfg.RetransmitTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
	}
	fx = effects{}
	s.mu.Lock()
	for _, t := range s.tunnels {
		t.teardown("server closed", &fx)
	}
	s.mu.Unlock()
	s.run(&fx)
	return nil
}

// checkDrained signals Close when no tunnel waits for a StopCCN ack.
func (s *Server) checkDrained() {
	if s.drained == nil {
		return
	}
	for _, t := range s.tunnels {
		if t.state == stateClosing {
			return
		}
	}
	close(s.drained)
	s.drained = nil
}

// Tunnels returns a snapshot of every tunnel.
func (s *Server) Tunnels() []TunnelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TunnelInfo, 0, len(s.tunnels))
	for _, t := range s.tunnels {
		ti := TunnelInfo{
			Peer:          t.peer,
			LocalID:       t.localID,
			RemoteID:      t.remoteID,
			HostName:      t.hostName,
			Vendor:        t.vendor,
			State:         t.state.String(),
			PeerWindow:    t.peerRWS,
			Authenticated: t.authenticated,
			Created:       t.created,
		}
		for _, se := range t.sessions {
			ti.Sessions = append(ti.Sessions, se.infoLocked())
		}
		slices.SortFunc(ti.Sessions, func(a, b SessionInfo) int { return cmp.Compare(a.LocalID, b.LocalID) })
		out = append(out, ti)
	}
	slices.SortFunc(out, func(a, b TunnelInfo) int { return cmp.Compare(a.LocalID, b.LocalID) })
	return out
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Tunnels = len(s.tunnels)
	st.Sessions = s.nsessions
	return st
}
