package ike

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// engine is the machinery shared by Responder and Initiator: the SA table,
// packet dispatch, half-open accounting and cookies. One engine may serve
// both roles.
type engine struct {
	conn      Conn
	configs   configTable // shared configurations of established responder SAs (intern.go)
	cfg       config
	responder bool
	log       *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	saTable // under mu

	// reg is our place on conn (nil until register); under mu. Every SPI
	// in sas is claimed there, so the transport routes its SA's messages
	// here even when other engines share conn.
	reg *Registration

	cookies *cookieJar
	// reqids hands out CHILD SA ReqIDs; engines sharing a data plane
	// share it (attachEvents), so their CHILD SAs' policies and outbound
	// SAs never mix.
	reqids *atomic.Uint32
	wg     sync.WaitGroup
	randMu sync.Mutex // cfg.rand need not be safe for concurrent use

	stats struct {
		cookiesSent, dropped, rejected atomic.Uint64
		blocked, kexDropped            atomic.Uint64
	}

	// Pre-authentication limits (preauth.go): half-open SAs per source
	// (under mu), failed authentications per source, key exchange work,
	// and the rates of the read loop's log lines and explanations.
	halfOpenBySrc map[netip.Addr]int
	authFails     *authFailures
	kex           *kexPool
	blockLog      *rateLimiter
	mismatchLog   *rateLimiter
	explainLimit  *rateLimiter
}

type initKey struct {
	spii   uint64
	remote netip.AddrPort
}

func newEngine(conn Conn, cfg config, responder bool) *engine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{
		conn: conn, cfg: cfg, responder: responder, log: cfg.logger,
		ctx: ctx, cancel: cancel,
		saTable: saTable{
			sas: map[uint64]*ikeSA{}, initReqs: map[initKey]*ikeSA{}, byPeer: map[string]map[*ikeSA]bool{}, superseded: map[string]int{},
			caps: map[string]map[*ikeSA]*capEntry{}, replacing: map[string]int{}, holders: map[netip.Addr][]*ikeSA{},
		},
	}
	e.cookies = newCookieJar(lockedReader{&e.randMu, cfg.rand}, cfg.now)
	e.halfOpenBySrc = map[netip.Addr]int{}
	e.authFails = newAuthFailures(cfg.authFailLimit, cfg.authFailWindow)
	e.kex = newKexPool(cfg.kexWorkers, cfg.kexQueue)
	e.blockLog = newRateLimiter(logInterval, logBurst)
	e.mismatchLog = newRateLimiter(logInterval, logBurst)
	e.explainLimit = newRateLimiter(explainInterval, explainBurst)
	if e.cfg.proposals == nil {
		e.cfg.proposals = proposal.CompatibleIKE()
	}
	if r, ok := cfg.dp.(interface{ RawESP() bool }); ok && !r.RawESP() && !cfg.forceEncap {
		e.cfg.forceEncap = true
		e.log.Info("the data plane cannot send raw ESP: forcing UDP encapsulation for every peer (as if behind a NAT)")
	}
	e.reqids = new(atomic.Uint32)
	attachEvents(e)
	return e
}

// lockedReader serializes reads from a shared random source.
type lockedReader struct {
	mu *sync.Mutex
	r  io.Reader
}

func (l lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

func (e *engine) random(b []byte) error {
	_, err := lockedReader{&e.randMu, e.cfg.rand}.Read(b)
	return err
}

// newSPI allocates a fresh non-zero IKE SPI of ours for an SA in which we
// are the original initiator or not, and claims it on the transport. The
// caller holds mu and enters the SA in sas under that SPI.
func (e *engine) newSPI(weInitiated bool) (uint64, error) {
	var b [8]byte
	for range 16 {
		if err := e.random(b[:]); err != nil {
			return 0, err
		}
		spi := binary.BigEndian.Uint64(b[:])
		if _, taken := e.sas[spi]; spi != 0 && !taken && (e.reg == nil || e.reg.Claim(spi, roleOf(weInitiated))) {
			return spi, nil
		}
	}
	return 0, errors.New("ike: cannot allocate an IKE SPI")
}

func roleOf(weInitiated bool) Role {
	if weInitiated {
		return RoleInitiator
	}
	return RoleResponder
}

// register puts the engine on its transport's routes, with receive
// (e.receive, or a Responder's wrapper around it) taking its messages: a
// responder's engine takes the requests that open IKE SAs, every engine
// the messages of the SAs whose SPIs it claims. SAs entered before are
// claimed now.
func (e *engine) register(receive func(Packet)) error {
	reg, err := e.conn.Register(engineHandler{e, receive})
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reg != nil {
		reg.Close()
		return errors.New("ike: the engine is already registered with its transport")
	}
	e.reg = reg
	for spi, sa := range e.sas {
		if !reg.Claim(spi, roleOf(sa.weInitiated)) {
			e.log.Warn("IKE SPI already in use by another engine on the transport", "ike_sa", sa.name())
		}
	}
	return nil
}

// unregisterConn takes the engine off its transport's routes.
func (e *engine) unregisterConn() {
	e.mu.Lock()
	reg := e.reg
	e.reg = nil
	e.mu.Unlock()
	if reg != nil {
		reg.Close()
	}
}

// engineHandler is an engine as its transport sees it.
type engineHandler struct {
	e       *engine
	receive func(Packet)
}

// IKEVersion implements PacketHandler.
func (engineHandler) IKEVersion() int { return 2 }

// Responder implements PacketHandler: a Responder's engine answers
// IKE_SA_INIT requests; an Initiator's takes only the SAs it claimed.
func (h engineHandler) Responder() bool { return h.e.responder }

// HandlePacket implements PacketHandler.
func (h engineHandler) HandlePacket(p Packet) { h.receive(p) }

func (e *engine) newReqID() uint32 { return e.reqids.Add(1) }

// receive is the transport's IKEv2 handler. It runs on a socket read loop,
// so everything expensive happens on the SAs' loops.
func (e *engine) receive(p Packet) {
	h, err := wire.ParseHeader(p.Data)
	if err != nil {
		e.stats.dropped.Add(1)
		if errors.Is(err, wire.ErrUnsupportedVersion) && e.responder && !h.IsResponse() && h.Exchange == wire.IKE_SA_INIT {
			e.sendInvalidMajorVersion(p, h)
		}
		return
	}
	if h.Exchange == wire.IKE_SA_INIT && !h.IsResponse() && h.SPIr == 0 {
		if e.responder && h.IsInitiator() && h.MessageID == 0 {
			e.handleInitRequest(p, h)
		} else {
			e.stats.dropped.Add(1)
		}
		return
	}
	ours := h.SPIi
	if h.IsInitiator() {
		ours = h.SPIr // the peer is the original initiator: we are responder
	}
	e.mu.Lock()
	sa := e.sas[ours]
	e.mu.Unlock()
	if sa == nil || sa.weInitiated == h.IsInitiator() {
		// RFC 7296 section 2.21.4 allows an INVALID_IKE_SPI notify, but
		// unauthenticated answers to spoofed packets help attackers more
		// than lost peers: stay silent, as strongSwan does by default.
		e.stats.dropped.Add(1)
		return
	}
	sa.deliver(p)
}

// sendInvalidMajorVersion answers an IKE_SA_INIT of a higher major version
// (RFC 7296 section 2.5) with an unencrypted notify.
func (e *engine) sendInvalidMajorVersion(p Packet, h wire.Header) {
	m := &wire.Message{
		Header:   wire.Header{SPIi: h.SPIi, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagResponse, MessageID: h.MessageID},
		Payloads: []wire.Payload{&wire.Notify{Type: wire.INVALID_MAJOR_VERSION}},
	}
	if b, err := m.Append(nil); err == nil {
		e.conn.Send(Packet{Data: b, Local: p.Local, Remote: p.Remote})
	}
}

// unregister removes an SA and its half-open and init-request entries.
func (e *engine) unregister(sa *ikeSA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sas[sa.ourSPI()] == sa {
		delete(e.sas, sa.ourSPI())
		if e.reg != nil {
			e.reg.Release(sa.ourSPI(), roleOf(sa.weInitiated))
		}
	}
	k := initKey{sa.spii, sa.initRemote}
	if e.initReqs[k] == sa {
		delete(e.initReqs, k)
	}
	e.uncountHalfOpen(sa)
	if sa.peerKey != "" {
		delete(e.byPeer[sa.peerKey], sa)
		if len(e.byPeer[sa.peerKey]) == 0 {
			delete(e.byPeer, sa.peerKey)
		}
	}
	e.uncountLocked(sa)
}

// hasOtherSA reports whether another IKE SA with sa's peer address exists.
func (e *engine) hasOtherSA(sa *ikeSA) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.sas {
		if o != sa && o.initRemote.Addr() == sa.initRemote.Addr() {
			return true
		}
	}
	return false
}

// samePeer returns the other established SAs of the peer identity key.
func (e *engine) samePeer(key string, self *ikeSA) []*ikeSA {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*ikeSA
	for o := range e.byPeer[key] {
		if o != self {
			out = append(out, o)
		}
	}
	return out
}

// established ends an SA's half-open accounting.
func (e *engine) established(sa *ikeSA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.uncountHalfOpen(sa)
	k := initKey{sa.spii, sa.initRemote}
	if e.initReqs[k] == sa {
		delete(e.initReqs, k)
	}
	if sa.peerKey != "" {
		if e.byPeer[sa.peerKey] == nil {
			e.byPeer[sa.peerKey] = map[*ikeSA]bool{}
		}
		e.byPeer[sa.peerKey][sa] = true
	}
}

// SAs returns the live IKE SAs (snapshot of the table).
func (e *engine) list() []*ikeSA {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*ikeSA, 0, len(e.sas))
	for _, sa := range e.sas {
		out = append(out, sa)
	}
	return out
}

// shutdown deletes every SA (sending Delete where established) and waits
// for their goroutines.
func (e *engine) shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	sas := make([]*ikeSA, 0, len(e.sas))
	for _, sa := range e.sas {
		sas = append(sas, sa)
	}
	e.mu.Unlock()
	for _, sa := range sas {
		sa.closeAsync(true)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancel()
		// Idle SAs have no goroutine to notice: wake each, and its loop
		// ends it (loop.alive).
		for _, sa := range e.list() {
			sa.post(func() {})
		}
		<-done
		e.unregisterConn()
		return ctx.Err()
	}
	e.cancel()
	detachEvents(e)
	e.unregisterConn()
	return nil
}

func (e *engine) String() string { return fmt.Sprintf("ike engine (%d SAs)", len(e.list())) }

// saTable is the engine's table of IKE SAs and what it counts about
// them, guarded by engine.mu: the SAs by our SPI, the IKE_SA_INIT
// requests being answered, the established ones by peer identity
// (uniqueness), half-open and superseded SAs (limits) and the identities'
// SAs and leases (IdentityLimits).
type saTable struct {
	sas      map[uint64]*ikeSA  // by our SPI
	initReqs map[initKey]*ikeSA // responder: IKE_SA_INIT requests being answered
	halfOpen int
	closed   bool
	byPeer   map[string]map[*ikeSA]bool // established responder SAs per peer identity
	// superseded counts, per peer identity, the IKE SAs the peer rekeyed
	// and has not deleted yet (see maxSuperseded).
	superseded map[string]int
	// caps counts, per identity (ikeSA.owner), the responder's IKE SAs
	// and leases against IdentityLimits.
	caps map[string]map[*ikeSA]*capEntry
	// replacing counts, per identity, the entries of caps whose replaces
	// is not empty: without any, removing or passing on an entry touches
	// no other (one identity may hold 100,000 SAs with the limits off).
	replacing map[string]int
	// holders are, per pool address, the counted SAs holding it
	// (capEntry.leases): resumeSession looks there, not at every SA of
	// the identity.
	holders map[netip.Addr][]*ikeSA
}
