package radius

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
)

// Defaults of a Server and a Client.
const (
	// DefaultTimeout is how long a try waits for an answer (strongSwan's
	// eap-radius and FreeRADIUS's radclient use a few seconds too).
	DefaultTimeout = 3 * time.Second
	// DefaultRetries is the retransmissions per server after the first
	// try (RFC 5080 section 2.2.1 leaves the number to the client).
	DefaultRetries = 2
	// DefaultDeadTime is the hold-down of a server that did not answer:
	// it is skipped for this long, then tried again ("revived").
	DefaultDeadTime = 30 * time.Second
	// maxIDs is the number of outstanding requests one socket can have:
	// the Identifier is one octet (RFC 2865 section 3).
	maxIDs = 256
)

// Server is one RADIUS server the Client talks to.
type Server struct {
	// Addr is "host:port" (1812 for authentication, 1813 for accounting
	// by convention; a missing port means 1812).
	Addr string
	// Secret is the shared secret. It never appears in logs or errors.
	Secret ipsec.Secret
	// Timeout is how long one try waits (DefaultTimeout when zero).
	Timeout time.Duration
	// Retries is the retransmissions after the first try
	// (DefaultRetries when zero; negative means none).
	Retries int
}

// ClientConfig configures a Client. Servers is required.
type ClientConfig struct {
	// Servers are tried in order; one that does not answer is marked
	// dead for DeadTime and the next one is tried.
	Servers []Server
	// NASIdentifier is sent as NAS-Identifier (RFC 2865 section 5.32)
	// on every request when set.
	NASIdentifier string
	// NASAddr, when valid, is sent as NAS-IP-Address or
	// NAS-IPv6-Address; otherwise the local address of the request's
	// eap.NAS is used. RFC 2865 wants one of NASIdentifier and NASAddr.
	NASAddr netip.Addr
	// CalledStationID overrides Called-Station-Id, which is otherwise
	// the eap.NAS local address.
	CalledStationID string
	// FramedProtocol is the Framed-Protocol value of Access-Requests
	// (FramedProtocolPPP when zero, what Windows RRAS and most VPN
	// gateways send; there is no IANA value for IKE).
	FramedProtocol uint32
	// DeadTime is the hold-down of a server that timed out
	// (DefaultDeadTime when zero).
	DeadTime time.Duration
	// RequireMessageAuthenticator drops Access-Accept, -Reject and
	// -Challenge packets without a valid Message-Authenticator even
	// when they carry no EAP-Message (the Blast-RADIUS defence,
	// CVE-2024-3596). Access-Requests always carry one. Servers that
	// sign only EAP answers (FreeRADIUS before 3.2.5, tested with 3.2.1)
	// then time out for PAP, CHAP and MS-CHAPv2.
	RequireMessageAuthenticator bool
	// Rand is the randomness source (crypto/rand when nil).
	Rand io.Reader
	// Logger receives debug lines per request and warnings for dropped
	// responses (silent when nil). Secrets are never logged.
	Logger *slog.Logger
}

// Client sends requests to RADIUS servers: authentication
// (Access-Request) and accounting (Accounting-Request). It is safe for
// concurrent use. Each server gets one UDP socket, with up to 256
// requests outstanding on it; more wait for an Identifier, honouring
// their context.
type Client struct {
	cfg     ClientConfig
	servers []*serverConn
	closed  chan struct{}
	once    sync.Once
	log     *slog.Logger
	now     func() time.Time
}

// ServerStats are the counters of one server.
type ServerStats struct {
	// Addr is the server's configured address.
	Addr string
	// Dead reports whether the server is in its hold-down.
	Dead bool
	// Requests counts requests sent (first tries), Retransmissions the
	// repeats, Timeouts the requests that got no answer after all tries.
	Requests, Retransmissions, Timeouts uint64
	// Responses counts valid responses.
	Responses uint64
	// Dropped counts received packets that were discarded: malformed,
	// an unknown Identifier, a wrong source, a bad Response
	// Authenticator or Message-Authenticator, a code that does not
	// answer the request.
	Dropped uint64
}

type serverConn struct {
	cfg  Server
	c    *Client
	mu   sync.Mutex
	conn *net.UDPConn
	peer netip.AddrPort
	txns [maxIDs]*txn
	ids  chan uint8
	dead time.Time // hold-down end; zero when alive

	requests, retrans, timeouts, responses, dropped atomic.Uint64
}

type txn struct {
	code      Code
	auth      [16]byte
	requireMA bool
	resp      chan delivered
}

// delivered is a verified answer and the Authenticator it was verified
// against.
type delivered struct {
	p    *Packet
	auth [16]byte
}

// NewClient checks cfg and returns a client. Sockets are opened on first
// use, so an unreachable server does not fail NewClient.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("radius: ClientConfig.Servers: no server")
	}
	c := &Client{cfg: cfg, closed: make(chan struct{}), now: time.Now}
	c.cfg.Servers = slices.Clone(cfg.Servers)
	if c.cfg.Rand == nil {
		c.cfg.Rand = rand.Reader
	}
	if c.cfg.DeadTime == 0 {
		c.cfg.DeadTime = DefaultDeadTime
	}
	if c.cfg.FramedProtocol == 0 {
		c.cfg.FramedProtocol = FramedProtocolPPP
	}
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.NASIdentifier) > MaxAttrValueLen || len(cfg.CalledStationID) > MaxAttrValueLen {
		return nil, errors.New("radius: ClientConfig: NASIdentifier or CalledStationID longer than 253 octets")
	}
	for i, s := range c.cfg.Servers {
		if len(s.Secret) == 0 {
			return nil, fmt.Errorf("radius: ClientConfig.Servers[%d] (%s): empty secret", i, s.Addr)
		}
		if s.Timeout < 0 {
			return nil, fmt.Errorf("radius: ClientConfig.Servers[%d] (%s): negative timeout", i, s.Addr)
		}
		if _, _, err := net.SplitHostPort(s.Addr); err != nil {
			s.Addr = net.JoinHostPort(s.Addr, "1812")
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultTimeout
		}
		if s.Retries == 0 {
			s.Retries = DefaultRetries
		}
		s.Retries = max(s.Retries, 0)
		s.Secret = slices.Clone(s.Secret)
		sc := &serverConn{cfg: s, c: c, ids: make(chan uint8, maxIDs)}
		var first [1]byte
		if _, err := io.ReadFull(c.cfg.Rand, first[:]); err != nil {
			return nil, fmt.Errorf("radius: random: %w", err)
		}
		for j := range maxIDs {
			sc.ids <- first[0] + uint8(j)
		}
		c.servers = append(c.servers, sc)
	}
	return c, nil
}

// Connect opens every server's socket now instead of on first use:
// an error for a server whose address does not resolve shows at once,
// and a caller that runs Connect inside a network namespace (a test,
// a VRF) puts the sockets there.
func (c *Client) Connect() error {
	var errs []error
	for _, s := range c.servers {
		errs = append(errs, s.dial())
	}
	return errors.Join(errs...)
}

// Close closes the sockets; outstanding and later requests fail with
// ErrClosed.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.closed)
		for _, s := range c.servers {
			s.mu.Lock()
			if s.conn != nil {
				s.conn.Close()
			}
			s.mu.Unlock()
		}
	})
	return nil
}

// Stats returns the counters of every server, in configuration order.
func (c *Client) Stats() []ServerStats {
	now := c.now()
	out := make([]ServerStats, 0, len(c.servers))
	for _, s := range c.servers {
		s.mu.Lock()
		dead := now.Before(s.dead)
		s.mu.Unlock()
		out = append(out, ServerStats{
			Addr: s.cfg.Addr, Dead: dead,
			Requests: s.requests.Load(), Retransmissions: s.retrans.Load(), Timeouts: s.timeouts.Load(),
			Responses: s.responses.Load(), Dropped: s.dropped.Load(),
		})
	}
	return out
}

// order returns the servers to try: the live ones in configuration
// order, then those in their hold-down, soonest revived first, as a last
// resort.
func (c *Client) order() []*serverConn {
	now := c.now()
	type held struct {
		s     *serverConn
		until time.Time
	}
	var live []*serverConn
	var dead []held
	for _, s := range c.servers {
		s.mu.Lock()
		until := s.dead
		s.mu.Unlock()
		if now.Before(until) {
			dead = append(dead, held{s, until})
		} else {
			live = append(live, s)
		}
	}
	slices.SortStableFunc(dead, func(a, b held) int { return a.until.Compare(b.until) })
	for _, d := range dead {
		live = append(live, d.s)
	}
	return live
}

// encoder builds the request for server s with Identifier id; it returns
// the packet and its Authenticator.
type encoder func(s *serverConn, id uint8) ([]byte, [16]byte, error)

// exchangeOpts tunes one exchange.
type exchangeOpts struct {
	code      Code
	requireMA bool
	// rebuild re-encodes (with a new Identifier) on every
	// retransmission: accounting updates Acct-Delay-Time, and RFC 5080
	// section 2.2.1 then requires a new Identifier.
	rebuild bool
	// only pins the exchange to one server (an EAP conversation's State
	// belongs to the server that issued it).
	only *serverConn
}

// response is a verified answer and what it needs for decoding.
type response struct {
	p    *Packet
	s    *serverConn
	auth [16]byte
}

// exchange sends a request to the servers in order until one answers.
func (c *Client) exchange(ctx context.Context, o exchangeOpts, enc encoder) (response, error) {
	servers := c.order()
	if o.only != nil {
		servers = []*serverConn{o.only}
	}
	var lastErr error
	for _, s := range servers {
		r, err := s.exchange(ctx, o, enc)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if !errors.Is(err, ErrTimeout) {
			return response{}, err
		}
		s.mu.Lock()
		s.dead = c.now().Add(c.cfg.DeadTime)
		s.mu.Unlock()
		c.log.Warn("radius server marked dead", "server", s.cfg.Addr, "hold_down", c.cfg.DeadTime)
	}
	return response{}, lastErr
}

func (s *serverConn) dial() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return nil
	}
	select {
	case <-s.c.closed:
		return ErrClosed
	default:
	}
	ua, err := net.ResolveUDPAddr("udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("radius: server %s: %w", s.cfg.Addr, err)
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return fmt.Errorf("radius: server %s: %w", s.cfg.Addr, err)
	}
	s.conn = conn
	s.peer = ua.AddrPort()
	go s.read(conn)
	return nil
}

// read dispatches responses to their transactions until the socket
// closes. Every packet that is not a valid answer is dropped and
// counted.
func (s *serverConn) read(conn *net.UDPConn) {
	buf := make([]byte, MaxPacketLen+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors surface as read errors on a connected
			// socket: the retransmission timer handles them.
			continue
		}
		if reason := s.deliver(buf[:n], from); reason != "" {
			s.dropped.Add(1)
			s.c.log.Debug("radius response dropped", "server", s.cfg.Addr, "reason", reason)
		}
	}
}

// deliver hands a datagram to its transaction; it returns why it was
// dropped, or "".
func (s *serverConn) deliver(b []byte, from netip.AddrPort) string {
	if len(b) > MaxPacketLen {
		return "oversized"
	}
	if from.Addr().Unmap() != s.peer.Addr().Unmap() || from.Port() != s.peer.Port() {
		return "wrong source " + from.String()
	}
	p, err := Parse(b)
	if err != nil {
		return err.Error()
	}
	s.mu.Lock()
	t := s.txns[p.Identifier]
	var auth [16]byte
	if t != nil {
		auth = t.auth
	}
	s.mu.Unlock()
	if t == nil {
		return "no request with Identifier " + strconv.Itoa(int(p.Identifier))
	}
	if !t.code.answers(p.Code) {
		return fmt.Sprintf("%s does not answer %s", p.Code, t.code)
	}
	if err := VerifyResponse(p, auth, s.cfg.Secret, t.requireMA); err != nil {
		return err.Error()
	}
	// The packet is ours: copy it out of the read buffer.
	p, _ = Parse(slices.Clone(b))
	s.mu.Lock()
	if s.txns[p.Identifier] == t {
		s.txns[p.Identifier] = nil
	} else {
		t = nil
	}
	s.mu.Unlock()
	if t == nil {
		return "duplicate response"
	}
	t.resp <- delivered{p, auth} // capacity 1, and the slot was cleared: never blocks
	return ""
}

func (s *serverConn) acquire(ctx context.Context) (uint8, error) {
	select {
	case id := <-s.ids:
		return id, nil
	default:
	}
	select {
	case id := <-s.ids:
		return id, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.c.closed:
		return 0, ErrClosed
	}
}

func (s *serverConn) release(id uint8, t *txn) {
	s.mu.Lock()
	if s.txns[id] == t {
		s.txns[id] = nil
	}
	s.mu.Unlock()
	s.ids <- id
}

// exchange runs the tries of one request against s.
func (s *serverConn) exchange(ctx context.Context, o exchangeOpts, enc encoder) (response, error) {
	if err := s.dial(); err != nil {
		return response{}, err
	}
	t := &txn{code: o.code, requireMA: o.requireMA || s.c.cfg.RequireMessageAuthenticator && o.code == CodeAccessRequest, resp: make(chan delivered, 1)}
	var held []uint8
	defer func() {
		for _, id := range held {
			s.release(id, t)
		}
	}()
	var pkt []byte
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	for try := 0; try <= s.cfg.Retries; try++ {
		if try == 0 || o.rebuild {
			id, err := s.acquire(ctx)
			if err != nil {
				return response{}, err
			}
			held = append(held, id)
			b, auth, err := enc(s, id)
			if err != nil {
				return response{}, err
			}
			pkt = b
			s.mu.Lock()
			// A rebuilt request has a new Authenticator; a late answer
			// to an earlier try no longer verifies and is dropped.
			t.auth = auth
			for _, h := range held {
				s.txns[h] = t
			}
			s.mu.Unlock()
		}
		if try == 0 {
			s.requests.Add(1)
		} else {
			s.retrans.Add(1)
		}
		s.c.log.Debug("radius request", "server", s.cfg.Addr, "code", o.code.String(), "id", pkt[1], "try", try)
		if _, err := s.conn.Write(pkt); err != nil && errors.Is(err, net.ErrClosed) {
			return response{}, ErrClosed
		}
		timer.Reset(s.cfg.Timeout)
		select {
		case d := <-t.resp:
			s.responses.Add(1)
			s.mu.Lock()
			s.dead = time.Time{}
			s.mu.Unlock()
			return response{p: d.p, s: s, auth: d.auth}, nil
		case <-timer.C:
		case <-ctx.Done():
			return response{}, ctx.Err()
		case <-s.c.closed:
			return response{}, ErrClosed
		}
	}
	s.timeouts.Add(1)
	return response{}, fmt.Errorf("radius: server %s: %w", s.cfg.Addr, ErrTimeout)
}

// nasAttributes adds what a NAS says about itself and the session to
// an Access- or Accounting-Request (RFC 2865 sections 5.4-5.7, 5.30-5.32,
// 5.41; RFC 3162 section 2.1).
func (c *Client) nasAttributes(p *Packet, nas eap.NAS, haveNAS bool) {
	if c.cfg.NASIdentifier != "" {
		p.AddString(TypeNASIdentifier, c.cfg.NASIdentifier)
	}
	local := c.cfg.NASAddr
	if !local.IsValid() && haveNAS {
		local = nas.LocalAddr.Addr()
	}
	local = local.Unmap()
	switch {
	case local.Is4():
		a := local.As4()
		p.Add(TypeNASIPAddress, a[:])
	case local.Is6():
		a := local.As16()
		p.Add(TypeNASIPv6Address, a[:])
	}
	if haveNAS {
		p.AddUint32(TypeNASPort, nas.Port)
	}
	p.AddUint32(TypeNASPortType, NASPortTypeVirtual)
	called := c.cfg.CalledStationID
	if called == "" && haveNAS && nas.LocalAddr.IsValid() {
		called = nas.LocalAddr.Addr().Unmap().String()
	}
	if called != "" {
		p.AddString(TypeCalledStationID, called)
	}
	if haveNAS && nas.ClientAddr.IsValid() {
		p.AddString(TypeCallingStationID, nas.ClientAddr.Addr().Unmap().String())
	}
	if haveNAS && nas.SessionID != 0 {
		p.AddString(TypeAcctSessionID, SessionID(nas.SessionID))
	}
}

// SessionID formats an ipsec session number as the Acct-Session-Id the
// package sends: 16 upper-case hex digits, the same in Access-Requests
// and accounting, so a server can join them.
func SessionID(id uint64) string { return fmt.Sprintf("%016X", id) }

// accessRequest is an Access-Request under construction; password, when
// set, is hidden per server (the hiding depends on the secret and the
// Request Authenticator).
type accessRequest struct {
	p        Packet
	password ipsec.Secret
}

// newAccessRequest starts an Access-Request for user with the NAS
// attributes of ctx and the Message-Authenticator.
func (c *Client) newAccessRequest(ctx context.Context, user string) (*accessRequest, error) {
	if len(user) > MaxAttrValueLen {
		return nil, fmt.Errorf("radius: user name of %d octets exceeds %d", len(user), MaxAttrValueLen)
	}
	r := &accessRequest{p: Packet{Code: CodeAccessRequest}}
	// Message-Authenticator first: RFC 3579 allows any position, and
	// first is what the Blast-RADIUS advisories recommend.
	r.p.Add(TypeMessageAuthenticator, nil)
	r.p.AddString(TypeUserName, user)
	nas, ok := eap.NASFromContext(ctx)
	c.nasAttributes(&r.p, nas, ok)
	r.p.AddUint32(TypeServiceType, ServiceTypeFramed)
	r.p.AddUint32(TypeFramedProtocol, c.cfg.FramedProtocol)
	return r, nil
}

// encoder returns the per-server encoder of r.
func (c *Client) accessEncoder(r *accessRequest) encoder {
	return func(s *serverConn, id uint8) ([]byte, [16]byte, error) {
		q := r.p
		q.Attributes = slices.Clone(r.p.Attributes)
		q.Identifier = id
		if _, err := io.ReadFull(c.cfg.Rand, q.Authenticator[:]); err != nil {
			return nil, q.Authenticator, fmt.Errorf("radius: random: %w", err)
		}
		if r.password != nil {
			h, err := HidePassword(r.password, s.cfg.Secret, q.Authenticator)
			if err != nil {
				return nil, q.Authenticator, err
			}
			q.Add(TypeUserPassword, h)
		}
		b, err := EncodeRequest(make([]byte, 0, 512), &q, s.cfg.Secret, nil)
		return b, q.Authenticator, err
	}
}

// access sends an Access-Request and decodes the answer.
func (c *Client) access(ctx context.Context, r *accessRequest, only *serverConn) (*Reply, response, error) {
	resp, err := c.exchange(ctx, exchangeOpts{code: CodeAccessRequest, only: only}, c.accessEncoder(r))
	if err != nil {
		return nil, resp, err
	}
	reply, err := DecodeReply(resp.p, resp.s.cfg.Secret, resp.auth)
	if err != nil {
		return nil, resp, err
	}
	return reply, resp, nil
}
