package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Conn is what the IKE engines (ike, ikev1) need from a transport: *Transport implements it
// for UDP, and ike/iketest offers an in-memory pair for tests.
type Conn interface {
	// Send transmits one IKE message; Local selects port and source.
	Send(Packet) error
	// Register adds an engine to the transport's routes, which send it
	// the messages of the IKE SAs it claims (see Router, which
	// implementations may use).
	Register(PacketHandler) (*Registration, error)
	// Ports returns the IKE and NAT-T ports.
	Ports() (ike, natt uint16)
}

// PacketHandler is an IKE engine as a transport sees it: a Responder's or
// an Initiator's engine of this package, or an IKEv1 engine. Any number
// of handlers share one transport (Conn.Register); the transport routes
// each message to one of them (see Router).
type PacketHandler interface {
	// IKEVersion is the ISAKMP major version of the messages the handler
	// takes: 2 for IKEv2 (RFC 7296), 1 for IKEv1 (RFC 2409). Register
	// reads it once.
	IKEVersion() int
	// Responder reports whether the handler answers peers that open IKE
	// SAs. Register reads it once; a transport has at most one responder
	// per version.
	Responder() bool
	// HandlePacket receives one message routed to the handler. It runs on
	// the transport's read loop, so it must hand the packet off, not
	// process it; p.Data belongs to the handler.
	HandlePacket(p Packet)
}

// sessionIDs is the process's last session ID (see NewSessionID).
var sessionIDs atomic.Uint64

// NewSessionID returns a session ID no other call in this process
// returned: the IKE engines number their sessions with it, so a
// SessionID (ipsec.IKESAInfo.SessionID) names one session among all the
// IKEv2 and IKEv1 engines of a process. It is never 0.
func NewSessionID() uint64 { return sessionIDs.Add(1) }

// Role is the part we play in an IKE SA: the original initiator, who sent
// its first message, or the original responder (RFC 7296 section 2.2).
// An IKE SA rekeyed by CREATE_CHILD_SA takes the role of whoever started
// the rekey.
type Role uint8

// The two roles.
const (
	RoleInitiator Role = iota + 1
	RoleResponder
)

// String returns "initiator" or "responder".
func (r Role) String() string {
	switch r {
	case RoleInitiator:
		return "initiator"
	case RoleResponder:
		return "responder"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// flagInitiator is the Initiator bit of the IKEv2 header's flags (RFC 7296
// section 3.1).
const flagInitiator = 0x08

// Router routes IKE messages to the handlers registered on one transport.
// *Transport and ike/iketest's endpoints use one; another Conn
// implementation can too. The zero Router is ready to use.
//
// The rules, for an IKEv2 message (RFC 7296 section 3.1):
//   - with the Initiator flag set, the sender is the original initiator
//     and we are the responder: the message goes to the handler that
//     claimed SPIr as RoleResponder;
//   - with it clear, we are the original initiator: the handler that
//     claimed SPIi as RoleInitiator gets it;
//   - everything else, above all the IKE_SA_INIT requests that open an
//     SA (SPIr zero), goes to the IKEv2 responder, which also answers
//     higher major versions (INVALID_MAJOR_VERSION, section 2.5) and
//     drops unknown SPIs.
//
// IKEv1 (ISAKMP, RFC 2408 section 3.1) has no role flag: a message goes
// to the handler that claimed its responder cookie (CKY-R) as
// RoleResponder or, failing that, its initiator cookie (CKY-I) as
// RoleInitiator, and otherwise to the IKEv1 responder. A message nobody
// takes is dropped; Route reports it.
type Router struct {
	mu         sync.RWMutex
	claims     map[claimKey]*Registration
	responders [3]*Registration // by version; index 0 unused
}

// claimKey is one claimed SPI: our SPI in an IKE SA of a version and role.
type claimKey struct {
	version uint8
	role    Role
	spi     uint64
}

// Registration is a handler's place on a transport. Its engine claims the
// SPIs of its IKE SAs, so the transport routes their messages to it.
type Registration struct {
	r         *Router
	h         PacketHandler
	version   uint8
	responder bool
	claims    map[claimKey]struct{} // under r.mu; nil once closed
}

// Register adds h to the routes and returns its registration. It fails for
// a nil handler, a version other than 1 and 2, and a second responder of
// one version.
func (r *Router) Register(h PacketHandler) (*Registration, error) {
	if h == nil {
		return nil, errors.New("transport: Register: nil handler")
	}
	v := h.IKEVersion()
	if v != 1 && v != 2 {
		return nil, fmt.Errorf("transport: Register: IKE version %d (want 1 or 2)", v)
	}
	reg := &Registration{r: r, h: h, version: uint8(v), responder: h.Responder(), claims: map[claimKey]struct{}{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reg.responder {
		if r.responders[v] != nil {
			return nil, fmt.Errorf("transport: Register: an IKEv%d responder is already registered on this transport", v)
		}
		r.responders[v] = reg
	}
	return reg, nil
}

// Claim routes the messages of our IKE SA with our SPI spi in role to the
// registration's handler (our SPI is SPIi when we initiated the SA, SPIr
// when we answered it). It reports whether the claim holds: false for SPI
// zero, an SPI another handler of the version holds in that role, and a
// closed registration. An engine allocating an SPI picks another one when
// the claim fails, so SPIs stay unique across the engines of a transport.
func (g *Registration) Claim(spi uint64, role Role) bool {
	if spi == 0 || (role != RoleInitiator && role != RoleResponder) {
		return false
	}
	k := claimKey{g.version, role, spi}
	g.r.mu.Lock()
	defer g.r.mu.Unlock()
	if g.claims == nil {
		return false
	}
	if o := g.r.claims[k]; o != nil {
		return o == g
	}
	if g.r.claims == nil {
		g.r.claims = map[claimKey]*Registration{}
	}
	g.r.claims[k] = g
	g.claims[k] = struct{}{}
	return true
}

// Release ends a claim of Claim (the IKE SA is gone). Releasing an SPI the
// registration does not hold does nothing.
func (g *Registration) Release(spi uint64, role Role) {
	k := claimKey{g.version, role, spi}
	g.r.mu.Lock()
	defer g.r.mu.Unlock()
	if g.r.claims[k] == g {
		delete(g.r.claims, k)
		delete(g.claims, k)
	}
}

// Close unregisters the handler: its claims and its responder place end,
// so another responder may register. A message the transport is routing
// while Close runs may still reach the handler. Close is idempotent.
func (g *Registration) Close() {
	g.r.mu.Lock()
	defer g.r.mu.Unlock()
	if g.claims == nil {
		return
	}
	for k := range g.claims {
		delete(g.r.claims, k)
	}
	g.claims = nil
	if g.responder && g.r.responders[g.version] == g {
		g.r.responders[g.version] = nil
	}
}

// Lookup returns the handler that msg, an IKE message without the non-ESP
// marker, is routed to, or nil: no handler takes it, or it is too short
// or of major version 0.
func (r *Router) Lookup(msg []byte) PacketHandler {
	if len(msg) < ikeHeaderLen {
		return nil
	}
	major := msg[17] >> 4
	if major == 0 {
		return nil
	}
	spii, spir := binary.BigEndian.Uint64(msg[0:8]), binary.BigEndian.Uint64(msg[8:16])
	r.mu.RLock()
	defer r.mu.RUnlock()
	var g *Registration
	switch major {
	case 1:
		if g = r.claims[claimKey{1, RoleResponder, spir}]; g == nil {
			g = r.claims[claimKey{1, RoleInitiator, spii}]
		}
	case 2:
		if msg[19]&flagInitiator != 0 {
			g = r.claims[claimKey{2, RoleResponder, spir}]
		} else {
			g = r.claims[claimKey{2, RoleInitiator, spii}]
		}
	default:
		major = 2 // the IKEv2 responder answers higher versions
	}
	if g == nil {
		g = r.responders[major]
	}
	if g == nil {
		return nil
	}
	return g.h
}

// Route hands p to the handler Lookup finds for p.Data and reports
// whether there was one.
func (r *Router) Route(p Packet) bool {
	h := r.Lookup(p.Data)
	if h == nil {
		return false
	}
	h.HandlePacket(p)
	return true
}
