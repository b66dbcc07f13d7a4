package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
)

// DefaultDAEPort is the Dynamic Authorization Extensions port (RFC 5176
// section 3).
const DefaultDAEPort = 3799

// DefaultDuplicateWindow is how long the DAE server remembers an answer
// for a retransmitted request (RFC 5176 section 2.3: "a few seconds";
// RFC 5080 section 2.2.2 caches responses to detect duplicates).
const DefaultDuplicateWindow = 5 * time.Second

// maxDuplicateCache bounds the remembered answers.
const maxDuplicateCache = 1024

// callbackTimeout bounds a Disconnect or CoA callback's context.
const callbackTimeout = 5 * time.Second

// DAEClient is a host allowed to send Disconnect- and CoA-Requests.
type DAEClient struct {
	// Addr is the client's source address.
	Addr netip.Addr
	// Secret is the shared secret. It never appears in logs or errors.
	Secret ipsec.Secret
}

// SessionQuery identifies the sessions a request is about (RFC 5176
// section 3): the attributes present are set; a session matches when it
// matches every one of them.
type SessionQuery struct {
	// SessionID is Acct-Session-Id.
	SessionID string
	// UserName is User-Name.
	UserName string
	// FramedIP is Framed-IP-Address, FramedIPv6 Framed-IPv6-Address.
	FramedIP, FramedIPv6 netip.Addr
	// CallingStationID is Calling-Station-Id (the client's outer address
	// as the Client sent it).
	CallingStationID string
}

// CoA is the change a CoA-Request asks for; only what the package can
// map onto an IPsec session is supported.
type CoA struct {
	// SessionTimeout is the new Session-Timeout.
	SessionTimeout time.Duration
}

// DAEConfig configures a DAEServer.
type DAEConfig struct {
	// Addr is the UDP address to listen on (":3799" when empty).
	// Ignored when Conn is set.
	Addr string
	// Conn, when set, is the socket to serve (opened by the caller, for
	// instance inside a network namespace); Close closes it.
	Conn net.PacketConn
	// Clients are the hosts allowed to send requests; packets from any
	// other source are dropped.
	Clients []DAEClient
	// NASIdentifier, when set, must equal the request's NAS-Identifier
	// if it has one (else NAK, Error-Cause 403).
	NASIdentifier string
	// Disconnect ends the sessions matching q and returns nil, or an
	// error wrapping ErrSessionNotFound when none matches (NAK 503);
	// another error answers NAK 506. Required. It runs on the server's
	// goroutine: it must return quickly (it gets a 5 s context).
	Disconnect func(ctx context.Context, q SessionQuery) error
	// CoA applies c to the sessions matching q, with the errors of
	// Disconnect. When nil, CoA-Requests are answered NAK 405
	// (Unsupported-Service).
	CoA func(ctx context.Context, q SessionQuery, c CoA) error
	// DuplicateWindow is how long answers are kept for retransmissions
	// (DefaultDuplicateWindow when zero).
	DuplicateWindow time.Duration
	// Logger gets one line per request (silent when nil); secrets are
	// never logged.
	Logger *slog.Logger
}

// DAEStats are a DAEServer's counters.
type DAEStats struct {
	// Requests counts valid requests handled, Duplicates those answered
	// from the cache, ACKs and NAKs the answers.
	Requests, Duplicates, ACKs, NAKs uint64
	// Dropped counts datagrams dropped: unknown source, malformed, bad
	// authenticator, a code the server does not take.
	Dropped uint64
}

// DAEServer answers Disconnect-Request and CoA-Request (RFC 5176).
type DAEServer struct {
	cfg  DAEConfig
	conn net.PacketConn
	log  *slog.Logger
	now  func() time.Time

	mu    sync.Mutex
	cache map[dupKey]dupEntry
	once  sync.Once

	requests, duplicates, acks, naks, dropped atomic.Uint64
}

type dupKey struct {
	from netip.AddrPort
	id   uint8
	auth [16]byte
}

type dupEntry struct {
	resp    []byte
	expires time.Time
}

// NewDAEServer checks cfg and opens the socket.
func NewDAEServer(cfg DAEConfig) (*DAEServer, error) {
	if cfg.Disconnect == nil {
		return nil, errors.New("radius: DAEConfig.Disconnect: required")
	}
	for i, c := range cfg.Clients {
		if !c.Addr.IsValid() || len(c.Secret) == 0 {
			return nil, fmt.Errorf("radius: DAEConfig.Clients[%d]: address and secret required", i)
		}
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	cfg.Clients = slices.Clone(cfg.Clients)
	d := &DAEServer{cfg: cfg, conn: cfg.Conn, log: cfg.Logger, now: time.Now, cache: map[dupKey]dupEntry{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.conn == nil {
		addr := cfg.Addr
		if addr == "" {
			addr = fmt.Sprintf(":%d", DefaultDAEPort)
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("radius: DAE listen: %w", err)
		}
		d.conn = pc
	}
	return d, nil
}

// Addr returns the listening address.
func (d *DAEServer) Addr() net.Addr { return d.conn.LocalAddr() }

// Close closes the socket; Serve returns.
func (d *DAEServer) Close() error {
	var err error
	d.once.Do(func() { err = d.conn.Close() })
	return err
}

// Stats returns the counters.
func (d *DAEServer) Stats() DAEStats {
	return DAEStats{Requests: d.requests.Load(), Duplicates: d.duplicates.Load(), ACKs: d.acks.Load(), NAKs: d.naks.Load(), Dropped: d.dropped.Load()}
}

// Serve answers requests until ctx ends or Close is called.
func (d *DAEServer) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { d.Close() })
	defer stop()
	buf := make([]byte, MaxPacketLen+1)
	for {
		n, addr, err := d.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			d.dropped.Add(1)
			continue
		}
		if resp := d.Handle(ctx, buf[:n], ua.AddrPort()); resp != nil {
			_, _ = d.conn.WriteTo(resp, addr)
		}
	}
}

// Handle processes one datagram from from and returns the answer to
// send, or nil when the datagram is dropped. Serve calls it; it is
// exported for embedders with their own socket loop.
func (d *DAEServer) Handle(ctx context.Context, b []byte, from netip.AddrPort) []byte {
	client := -1
	for i, c := range d.cfg.Clients {
		if c.Addr.Unmap() == from.Addr().Unmap() {
			client = i
			break
		}
	}
	if client < 0 || len(b) > MaxPacketLen {
		d.drop("unknown client or oversized", from)
		return nil
	}
	secret := d.cfg.Clients[client].Secret
	p, err := Parse(b)
	if err != nil {
		d.drop(err.Error(), from)
		return nil
	}
	if p.Code != CodeDisconnectRequest && p.Code != CodeCoARequest {
		d.drop("code "+p.Code.String(), from)
		return nil
	}
	if err := VerifyRequest(p, secret, false); err != nil {
		d.drop(err.Error(), from)
		return nil
	}
	key := dupKey{from: from, id: p.Identifier, auth: p.Authenticator}
	now := d.now()
	d.mu.Lock()
	if e, ok := d.cache[key]; ok && now.Before(e.expires) {
		d.mu.Unlock()
		d.duplicates.Add(1)
		return slices.Clone(e.resp)
	}
	d.mu.Unlock()
	d.requests.Add(1)

	code, cause := d.decide(ctx, p)
	resp := &Packet{Code: code, Identifier: p.Identifier}
	if _, ok := p.Get(TypeMessageAuthenticator); ok {
		resp.Add(TypeMessageAuthenticator, nil)
	}
	if cause != 0 {
		resp.AddUint32(TypeErrorCause, uint32(cause))
	}
	// RFC 5176 section 3: Proxy-State is copied, in order.
	for _, ps := range p.GetAll(TypeProxyState) {
		resp.Add(TypeProxyState, ps)
	}
	out, err := EncodeResponse(nil, resp, p.Authenticator, secret)
	if err != nil {
		d.drop(err.Error(), from)
		return nil
	}
	if code == CodeDisconnectACK || code == CodeCoAACK {
		d.acks.Add(1)
	} else {
		d.naks.Add(1)
	}
	d.log.Info("radius dynamic authorization", "client", from.String(), "request", p.Code.String(), "answer", code.String(), "error_cause", uint32(cause))
	d.remember(key, out, now)
	return out
}

func (d *DAEServer) drop(reason string, from netip.AddrPort) {
	d.dropped.Add(1)
	d.log.Debug("radius DAE packet dropped", "client", from.String(), "reason", reason)
}

func (d *DAEServer) remember(key dupKey, resp []byte, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache) >= maxDuplicateCache {
		for k, e := range d.cache {
			if !now.Before(e.expires) {
				delete(d.cache, k)
			}
		}
	}
	if len(d.cache) >= maxDuplicateCache {
		var oldest dupKey
		var t time.Time
		for k, e := range d.cache {
			if t.IsZero() || e.expires.Before(t) {
				oldest, t = k, e.expires
			}
		}
		delete(d.cache, oldest)
	}
	d.cache[key] = dupEntry{resp: resp, expires: now.Add(d.cfg.DuplicateWindow)}
}

// daeAllowed are the attributes a request may carry besides the session
// identification (RFC 5176 section 3.6); any other is NAKed 401.
var daeAllowed = map[Type]bool{
	TypeUserName: true, TypeNASIPAddress: true, TypeNASIPv6Address: true, TypeNASIdentifier: true,
	TypeNASPort: true, TypeNASPortType: true, TypeNASPortID: true, TypeFramedIPAddress: true,
	TypeFramedIPv6Address: true, TypeCalledStationID: true, TypeCallingStationID: true,
	TypeAcctSessionID: true, TypeAcctMultiSessionID: true, TypeEventTimestamp: true,
	TypeMessageAuthenticator: true, TypeProxyState: true, TypeAcctTerminateCause: true,
	TypeChargeableUserIdentity: true, TypeReplyMessage: true, TypeState: true, TypeClass: true,
}

// decide answers a verified request: the code and an Error-Cause.
func (d *DAEServer) decide(ctx context.Context, p *Packet) (Code, ErrorCause) {
	ack, nak := CodeDisconnectACK, CodeDisconnectNAK
	if p.Code == CodeCoARequest {
		ack, nak = CodeCoAACK, CodeCoANAK
	}
	var q SessionQuery
	var coa CoA
	haveCoA := false
	for _, a := range p.Attributes {
		switch a.Type {
		case TypeAcctSessionID:
			q.SessionID = string(a.Value)
		case TypeUserName:
			q.UserName = string(a.Value)
		case TypeFramedIPAddress:
			q.FramedIP = netip.AddrFrom4([4]byte(a.Value))
		case TypeFramedIPv6Address:
			q.FramedIPv6 = netip.AddrFrom16([16]byte(a.Value))
		case TypeCallingStationID:
			q.CallingStationID = string(a.Value)
		case TypeNASIdentifier:
			if d.cfg.NASIdentifier != "" && string(a.Value) != d.cfg.NASIdentifier {
				return nak, ErrorCauseNASIdentMismatch
			}
		case TypeSessionTimeout:
			if p.Code != CodeCoARequest {
				return nak, ErrorCauseUnsupportedAttribute
			}
			coa.SessionTimeout = time.Duration(uint32FromValue(a.Value)) * time.Second
			haveCoA = true
		default:
			if !daeAllowed[a.Type] {
				return nak, ErrorCauseUnsupportedAttribute
			}
		}
	}
	if q == (SessionQuery{}) {
		return nak, ErrorCauseMissingAttribute
	}
	cctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	var err error
	if p.Code == CodeDisconnectRequest {
		err = d.cfg.Disconnect(cctx, q)
	} else {
		if d.cfg.CoA == nil {
			return nak, ErrorCauseUnsupportedService
		}
		if !haveCoA {
			return nak, ErrorCauseMissingAttribute
		}
		err = d.cfg.CoA(cctx, q, coa)
	}
	switch {
	case err == nil:
		return ack, 0
	case errors.Is(err, ErrSessionNotFound):
		return nak, ErrorCauseSessionNotFound
	}
	d.log.Warn("radius dynamic authorization failed", "request", p.Code.String(), "err", err)
	return nak, ErrorCauseResourcesUnavailable
}

func uint32FromValue(v []byte) uint32 {
	n, _ := u32(v)
	return n
}
