package ppp

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Errors returned by Session methods.
var (
	// ErrNotOpen is returned by WriteIP before the network control protocol
	// of the packet's family opened.
	ErrNotOpen = errors.New("ppp: network protocol not open")
	// ErrClosed is returned after the session ended.
	ErrClosed = errors.New("ppp: session closed")
	// ErrTooBig is returned by WriteIP for a packet larger than the
	// client's Maximum-Receive-Unit.
	ErrTooBig = errors.New("ppp: packet larger than the client's MRU")
	// ErrNotIP is returned by WriteIP for a packet that is neither IPv4 nor
	// IPv6.
	ErrNotIP = errors.New("ppp: not an IP packet")
)

// lookupTimeout bounds a user store or pool call made while a frame is
// handled.
const lookupTimeout = 5 * time.Second

// Session is the server side of one PPP link. Its methods are safe for
// concurrent use. Frames to the client are written and the Config
// callbacks are called without the session's lock held, so a callback may
// call the session's methods.
type Session struct {
	link Link
	cfg  Config
	log  *slog.Logger

	mu    sync.Mutex
	phase Phase
	dead  bool
	lcp   *fsm
	ipcp  *fsm
	ip6cp *fsm
	lcpO  lcpOptions
	auth  authState
	ip4   ipcpState
	ip6   ipv6cpState

	user      string
	authProto AuthProtocol
	addr4     netip.Addr // the client's addresses once their NCP opened,
	addr6     netip.Addr // kept after the session ended (for OnDown)
	upAt      time.Time
	upCalled  bool
	echoTimer *time.Timer
	echoGen   uint64
	echoOut   int // unanswered Echo-Requests
	echoID    uint8
	stats     Stats

	// Work collected under mu and done after it is released.
	out        [][]byte
	after      []func()
	closeLink  bool
	downQueued bool
}

// NewSession starts the server side of a PPP link over link: it sends the
// first LCP Configure-Request. cfg is copied.
func NewSession(link Link, cfg *Config) (*Session, error) {
	if link == nil {
		return nil, errors.New("ppp: NewSession: nil link")
	}
	if cfg == nil {
		return nil, errors.New("ppp: NewSession: nil config")
	}
	s := &Session{link: link, cfg: *cfg}
	if err := s.cfg.validate(); err != nil {
		return nil, err
	}
	s.cfg.Auth = append([]AuthProtocol(nil), s.cfg.Auth...)
	s.cfg.DNS = append([]netip.Addr(nil), s.cfg.DNS...)
	if len(s.cfg.Auth) == 0 {
		s.cfg.Auth = []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5}
	}
	s.log = s.cfg.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.lcp = newFSM(s, protoLCP, (*lcpHandler)(s))
	s.ipcp = newFSM(s, protoIPCP, (*ipcpHandler)(s))
	s.ip6cp = newFSM(s, protoIPV6CP, (*ipv6cpHandler)(s))
	s.mu.Lock()
	s.phase = PhaseEstablish
	s.lcpO.magic = s.randomMagic()
	s.lcp.open()
	s.lcp.up()
	s.unlockAndFlush()
	return s, nil
}

func (c *Config) validate() error {
	if c.Users == nil {
		return errors.New("ppp: Config.Users: no user store")
	}
	seen := map[AuthProtocol]bool{}
	for _, a := range c.Auth {
		if a < AuthMSCHAPv2 || a > AuthPAP {
			return fmt.Errorf("ppp: Config.Auth: unknown protocol %d", a)
		}
		if seen[a] {
			return fmt.Errorf("ppp: Config.Auth: %v listed twice", a)
		}
		seen[a] = true
	}
	if c.LocalAddr.IsValid() && !c.LocalAddr.Is4() {
		return fmt.Errorf("ppp: Config.LocalAddr: %v is not an IPv4 address", c.LocalAddr)
	}
	for _, d := range c.DNS {
		if !d.Is4() {
			return fmt.Errorf("ppp: Config.DNS: %v is not an IPv4 address (RFC 1877 carries IPv4 only)", d)
		}
	}
	if c.Pool != nil && !c.Pool.Prefix().Addr().Is4() {
		return fmt.Errorf("ppp: Config.Pool: %v is not an IPv4 pool", c.Pool.Prefix())
	}
	if c.MRU != 0 && c.MRU < minMRU {
		return fmt.Errorf("ppp: Config.MRU: %d is below %d", c.MRU, minMRU)
	}
	if c.EchoFailures < 0 || c.MaxConfigure < 0 || c.AuthRetries < 0 {
		return errors.New("ppp: Config: negative EchoFailures, MaxConfigure or AuthRetries")
	}
	return nil
}

func (c *Config) mru() uint16 {
	if c.MRU == 0 {
		return DefaultMRU
	}
	return c.MRU
}

func (c *Config) maxConfigure() int {
	if c.MaxConfigure == 0 {
		return DefaultMaxConfigure
	}
	return c.MaxConfigure
}

func (c *Config) maxFailure() int { return DefaultMaxFailure }

func (c *Config) restartTimer() time.Duration {
	if c.RestartTimer <= 0 {
		return DefaultRestartTimer
	}
	return c.RestartTimer
}

func (c *Config) echoInterval() time.Duration {
	if c.EchoInterval == 0 {
		return DefaultEchoInterval
	}
	return c.EchoInterval
}

func (c *Config) echoFailures() int {
	if c.EchoFailures == 0 {
		return DefaultEchoFailures
	}
	return c.EchoFailures
}

func (c *Config) authTimeout() time.Duration {
	if c.AuthTimeout <= 0 {
		return DefaultAuthTimeout
	}
	return c.AuthTimeout
}

func (c *Config) authRetries() int {
	if c.AuthRetries == 0 {
		return DefaultAuthRetries
	}
	return c.AuthRetries
}

// HandleFrame processes one frame from the client, starting at the PPP
// protocol field. frame may be reused by the caller after return.
func (s *Session) HandleFrame(frame []byte) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.stats.FramesIn++
	proto, info, err := parseProtocol(frame)
	if err != nil {
		s.malformed("frame", err)
		s.unlockAndFlush()
		return
	}
	if !s.cfg.IPv6 && (proto == protoIPv6 || proto == protoIPV6CP) {
		// IPv6 is off: like pppd without +ipv6, these are protocols we
		// do not run.
		if s.networkPhase() {
			s.protocolReject(proto, info)
		} else {
			s.stats.Dropped++
		}
		s.unlockAndFlush()
		return
	}
	switch proto {
	case protoIPv4, protoIPv6:
		s.handleIP(proto, info) // unlocks
		return
	case protoLCP:
		s.controlInput(s.lcp, info)
	case protoPAP, protoCHAP:
		if s.phase != PhaseAuthenticate {
			s.stats.Dropped++ // a late retransmission, or out of order
			if s.phase == PhaseNetwork {
				s.resendAuthSuccess(proto, info)
			}
			break
		}
		s.authInput(proto, info)
	case protoIPCP:
		if !s.networkPhase() {
			s.stats.Dropped++
			break
		}
		s.controlInput(s.ipcp, info)
		if s.ip4.failed {
			s.ipcpGiveUp()
		}
	case protoIPV6CP:
		if !s.networkPhase() {
			s.stats.Dropped++
			break
		}
		s.controlInput(s.ip6cp, info)
	default:
		// RFC 1661 section 5.7: an unknown protocol gets a
		// Protocol-Reject in the network phase; before it, anything but
		// LCP and authentication is discarded (RFC 1661 section 3.5,
		// as pppd does). CCP, ACSCP and the rest land here.
		if !s.networkPhase() {
			s.stats.Dropped++
			break
		}
		s.protocolReject(proto, info)
	}
	s.unlockAndFlush()
}

func (s *Session) networkPhase() bool { return s.phase == PhaseNetwork && s.lcp.state == StateOpened }

func (s *Session) controlInput(f *fsm, info []byte) {
	p, err := parsePacket(info)
	if err != nil {
		s.malformed(f.name(), err)
		return
	}
	f.input(p)
}

// handleIP delivers a data packet from the client: only once its network
// protocol opened and only from the client's own address. It releases mu.
func (s *Session) handleIP(proto uint16, pkt []byte) {
	var ok bool
	switch proto {
	case protoIPv4:
		if !s.networkPhase() || s.ipcp.state != StateOpened {
			s.stats.Dropped++
			break
		}
		if len(pkt) < 20 || pkt[0]>>4 != 4 {
			s.stats.Malformed++
			break
		}
		if netip.AddrFrom4([4]byte(pkt[12:16])) != s.ip4.peer {
			s.stats.Spoofed++
			break
		}
		ok = true
	case protoIPv6:
		if !s.networkPhase() || !s.cfg.IPv6 || s.ip6cp.state != StateOpened {
			s.stats.Dropped++
			break
		}
		if len(pkt) < 40 || pkt[0]>>4 != 6 {
			s.stats.Malformed++
			break
		}
		if netip.AddrFrom16([16]byte(pkt[8:24])) != s.ip6.peerAddr() {
			s.stats.Spoofed++
			break
		}
		ok = true
	}
	deliver := s.cfg.DeliverIP
	if ok {
		s.stats.PacketsIn++
		s.stats.BytesIn += uint64(len(pkt))
	}
	s.unlockAndFlush()
	if ok && deliver != nil {
		deliver(s, pkt)
	}
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// WriteIP sends an IPv4 or IPv6 packet to the client. It fails before the
// network control protocol of the packet's family opened.
func (s *Session) WriteIP(pkt []byte) error {
	if len(pkt) == 0 {
		return ErrNotIP
	}
	var proto uint16
	switch pkt[0] >> 4 {
	case 4:
		proto = protoIPv4
	case 6:
		proto = protoIPv6
	default:
		return ErrNotIP
	}
	s.mu.Lock()
	switch {
	case s.dead:
		s.mu.Unlock()
		return ErrClosed
	case !s.networkPhase(),
		proto == protoIPv4 && s.ipcp.state != StateOpened,
		proto == protoIPv6 && s.ip6cp.state != StateOpened:
		s.mu.Unlock()
		return ErrNotOpen
	case len(pkt) > int(s.lcpO.peerMRU):
		s.mu.Unlock()
		return ErrTooBig
	}
	s.stats.PacketsOut++
	s.stats.BytesOut += uint64(len(pkt))
	s.stats.FramesOut++
	s.mu.Unlock()
	bp := framePool.Get().(*[]byte)
	b := binary.BigEndian.AppendUint16((*bp)[:0], proto)
	b = append(b, pkt...)
	err := s.link.WriteFrame(b)
	*bp = b[:0]
	framePool.Put(bp)
	return err
}

// Close ends the session: one LCP Terminate-Request if the link is up, the
// pool lease released, OnDown called. It does not wait for the client.
func (s *Session) Close() {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	switch s.lcp.state {
	case StateReqSent, StateAckRcvd, StateAckSent, StateOpened:
		s.sendPacket(protoLCP, codeTermReq, s.lcp.nextID, nil)
	}
	s.end("closed", false)
	s.unlockAndFlush()
}

// Info returns a snapshot of the session.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{
		User: s.user, Auth: s.authProto, Phase: s.phase,
		LCP: s.lcp.state, IPCP: s.ipcp.state, IPV6CP: s.ip6cp.state,
		MRU: s.lcpO.peerMRU, Up: s.upAt, Stats: s.stats,
	}
	in.Addr4, in.Addr6 = s.addr4, s.addr6
	return in
}

// String names the session by its user and address, never a secret.
func (s *Session) String() string {
	in := s.Info()
	return fmt.Sprintf("ppp.Session(user=%q addr=%v phase=%v)", in.User, in.Addr4, in.Phase)
}

// end finishes the session under mu: timers stopped, NCPs down, the
// lease released, OnDown queued. closeLink asks the link to close too
// (when we, not the L2TP side, ended the session).
func (s *Session) end(reason string, closeLink bool) {
	if s.dead {
		return
	}
	s.dead = true
	s.phase = PhaseDead
	for _, f := range []*fsm{s.lcp, s.ipcp, s.ip6cp} {
		f.stopTimer()
	}
	s.stopEcho()
	s.stopAuthTimer()
	s.ipcp.state, s.ip6cp.state = StateInitial, StateInitial
	s.lcp.state = StateInitial
	s.releaseAddr()
	s.log.Info("ppp session down", "user", s.user, "reason", reason)
	s.closeLink = closeLink
	if f := s.cfg.OnDown; f != nil && !s.downQueued {
		s.downQueued = true
		s.after = append(s.after, func() { f(s) })
	}
}

// unlockAndFlush releases mu, then writes the queued frames and runs the
// queued callbacks, so neither runs under the session's lock.
func (s *Session) unlockAndFlush() {
	out, after, closeLink := s.out, s.after, s.closeLink
	s.out, s.after, s.closeLink = nil, nil, false
	s.mu.Unlock()
	for _, b := range out {
		_ = s.link.WriteFrame(b) // a lost control frame is retransmitted by the timers
	}
	for _, f := range after {
		f()
	}
	if closeLink {
		if c, ok := s.link.(interface{ Close() }); ok {
			// The L2TP session's Close may call our Close; from another
			// goroutine so that no caller's lock is held twice.
			go c.Close()
		}
	}
}

// sendPacket queues a control packet.
func (s *Session) sendPacket(proto uint16, code, id uint8, data []byte) {
	s.out = append(s.out, appendPacket(make([]byte, 0, 6+len(data)), proto, code, id, data))
	s.stats.FramesOut++
}

// sendCodeReject answers an unknown code (RFC 1661 section 5.6) with the
// rejected packet, cut to fit the client's MRU.
func (s *Session) sendCodeReject(proto uint16, p packet) {
	rej := append([]byte{p.code, p.id, 0, 0}, p.data...)
	binary.BigEndian.PutUint16(rej[2:], uint16(len(rej)))
	rej = s.fit(rej, headerLen)
	s.lcp.nextID++
	s.sendPacket(proto, codeCodeRej, s.lcp.nextID, rej)
}

// protocolReject answers a frame of a protocol we do not run (RFC 1661
// section 5.7).
func (s *Session) protocolReject(proto uint16, info []byte) {
	if s.lcp.state != StateOpened {
		s.stats.Dropped++
		return
	}
	data := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(info)), proto)
	data = s.fit(append(data, info...), headerLen+2)
	s.stats.ProtocolRejects++
	s.lcp.nextID++
	s.sendPacket(protoLCP, codeProtoRej, s.lcp.nextID, data)
	s.log.Debug("ppp protocol rejected", "proto", protoName(proto))
}

// fit truncates a reject's data so the frame fits the client's MRU.
func (s *Session) fit(data []byte, overhead int) []byte {
	if max := int(s.lcpO.peerMRU) - overhead; len(data) > max {
		return data[:max]
	}
	return data
}

func (s *Session) malformed(what string, err error) {
	s.stats.Malformed++
	s.log.Debug("ppp malformed input", "what", what, "err", err)
}

func (s *Session) logf(msg string, args ...any) { s.log.Info("ppp "+msg, args...) }

// random fills n octets from Config.Rand, falling back to crypto/rand when
// it fails (a test's reader ran dry).
func (s *Session) random(n int) []byte {
	b := make([]byte, n)
	if s.cfg.Rand != nil {
		if _, err := io.ReadFull(s.cfg.Rand, b); err == nil {
			return b
		}
	}
	_, _ = crand.Read(b)
	return b
}

func (s *Session) randomMagic() uint32 {
	if m := binary.BigEndian.Uint32(s.random(4)); m != 0 {
		return m
	}
	var b [4]byte
	for {
		_, _ = crand.Read(b[:])
		if m := binary.BigEndian.Uint32(b[:]); m != 0 {
			return m
		}
	}
}

// lookupCtx bounds calls to the user store and the pool.
func lookupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), lookupTimeout)
}

// networkUp runs when IPCP opened: OnUp once (a renegotiation keeps the
// address, see assignAddr).
func (s *Session) networkUp() {
	if s.upCalled {
		return
	}
	s.upCalled = true
	s.upAt = time.Now()
	s.log.Info("ppp session up", "user", s.user, "addr", s.ip4.peer)
	if f := s.cfg.OnUp; f != nil {
		s.after = append(s.after, func() { f(s) })
	}
}
