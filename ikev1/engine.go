package ikev1

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

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/transport"
)

// engine is what a Responder and an Initiator share: the registration on
// the transport, the table of ISAKMP SAs by our cookie, and the half-open
// accounting.
type engine struct {
	conn      transport.Conn
	reg       *transport.Registration
	cfg       config
	responder bool
	log       *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sas      map[[8]byte]*isakmpSA // by our cookie
	opening  map[openKey]*isakmpSA // responder: phase 1 by the peer's address and cookie
	halfOpen int

	xauthed map[string]*xauthRecord // under mu: authenticated Cisco IPSec sessions

	polMu    sync.Mutex
	policies map[string]*policyRef // under polMu

	reqid atomic.Uint32
}

// openKey finds the SA of a retransmitted first phase 1 message, which
// does not carry our cookie yet.
type openKey struct {
	remote netip.AddrPort
	cky    [8]byte
}

func newEngine(conn transport.Conn, responder bool, opts []Option) (*engine, error) {
	if conn == nil {
		return nil, errors.New("ikev1: nil transport")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(responder); err != nil {
		return nil, err
	}
	e := &engine{conn: conn, cfg: cfg, responder: responder, log: cfg.log,
		sas: map[[8]byte]*isakmpSA{}, opening: map[openKey]*isakmpSA{}, policies: map[string]*policyRef{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.reqid.Store(0x10000) // apart from the IKEv2 engine's ReqIDs
	// Held while registering: a message routed to us at once waits for
	// the registration it needs to open an SA.
	e.mu.Lock()
	defer e.mu.Unlock()
	reg, err := conn.Register(e)
	if err != nil {
		return nil, fmt.Errorf("ikev1: %w", err)
	}
	e.reg = reg
	return e, nil
}

// IKEVersion returns 1: the engine takes ISAKMP messages.
func (e *engine) IKEVersion() int { return 1 }

// Responder reports whether the engine answers new phase 1 exchanges.
func (e *engine) Responder() bool { return e.responder }

// HandlePacket takes one message from the transport (its read loop): it
// finds the SA and queues the packet to it, or opens a responder SA.
func (e *engine) HandlePacket(p transport.Packet) {
	h, err := wire.ParseHeader(p.Data)
	if err != nil {
		e.log.Debug("dropping malformed IKEv1 message", "peer", p.Remote, "err", err)
		return
	}
	e.mu.Lock()
	if e.sas == nil {
		e.mu.Unlock()
		return
	}
	var sa *isakmpSA
	if x := e.sas[h.RCookie]; x != nil && !x.initiator && x.ckyI == h.ICookie {
		sa = x
	} else if x := e.sas[h.ICookie]; x != nil && x.initiator {
		sa = x
	} else if h.RCookie == ([8]byte{}) && e.responder {
		sa = e.opening[openKey{p.Remote, h.ICookie}]
		if sa == nil {
			sa = e.openLocked(p, &h)
		}
	}
	e.mu.Unlock()
	if sa == nil {
		e.log.Debug("dropping IKEv1 message of no SA", "peer", p.Remote, "exchange", h.Exchange, "mid", h.MessageID)
		return
	}
	sa.deliver(p)
}

// openLocked starts a responder SA for a first phase 1 message, within
// the half-open limit. e.mu is held.
func (e *engine) openLocked(p transport.Packet, h *wire.Header) *isakmpSA {
	if h.MessageID != 0 || (h.Exchange != wire.IdentityProtection && h.Exchange != wire.Aggressive) || h.Flags&wire.FlagEncryption != 0 {
		return nil
	}
	if e.halfOpen >= e.cfg.halfOpen {
		e.log.Warn("dropping IKEv1 phase 1 request: half-open limit reached", "peer", p.Remote, "limit", e.cfg.halfOpen)
		return nil
	}
	var cky [8]byte
	for {
		if _, err := io.ReadFull(e.cfg.rand, cky[:]); err != nil {
			return nil
		}
		if e.sas[cky] == nil && cky != ([8]byte{}) && e.reg.Claim(binary.BigEndian.Uint64(cky[:]), transport.RoleResponder) {
			break
		}
	}
	sa := newSA(e, false, p.Local, p.Remote)
	sa.ckyI, sa.ckyR = h.ICookie, cky
	e.sas[cky] = sa
	e.opening[openKey{p.Remote, h.ICookie}] = sa
	sa.halfOpen = true
	e.halfOpen++
	e.start(sa)
	return sa
}

// newInitiatorSA registers an SA we initiate under a fresh cookie.
func (e *engine) newInitiatorSA(local, remote netip.AddrPort, cfg *PeerConfig) (*isakmpSA, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sas == nil {
		return nil, ErrClosed
	}
	var cky [8]byte
	for {
		if _, err := io.ReadFull(e.cfg.rand, cky[:]); err != nil {
			return nil, fmt.Errorf("ikev1: cookie: %w", err)
		}
		if e.sas[cky] == nil && cky != ([8]byte{}) && e.reg.Claim(binary.BigEndian.Uint64(cky[:]), transport.RoleInitiator) {
			break
		}
	}
	sa := newSA(e, true, local, remote)
	sa.ckyI = cky
	sa.cfg = cfg
	sa.dialLocal, sa.dialRemote = local, remote
	e.sas[cky] = sa
	sa.halfOpen = true
	e.halfOpen++
	return sa, nil
}

// start runs the SA's goroutine.
func (e *engine) start(sa *isakmpSA) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		sa.run(e.ctx)
	}()
}

// established takes an SA off the half-open count. Its entry in
// e.opening stays until the SA goes (remove): a replayed first message
// then reaches this SA, which drops it, instead of opening a new one.
func (e *engine) established(sa *isakmpSA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sa.halfOpen {
		sa.halfOpen = false
		e.halfOpen--
	}
}

// remove forgets an SA that ended.
func (e *engine) remove(sa *isakmpSA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	our := sa.ourCookie()
	if e.sas[our] == sa {
		delete(e.sas, our)
	}
	if sa.halfOpen {
		sa.halfOpen = false
		e.halfOpen--
	}
	if e.opening[openKey{sa.openRemote, sa.ckyI}] == sa {
		delete(e.opening, openKey{sa.openRemote, sa.ckyI})
	}
	role := transport.RoleResponder
	if sa.initiator {
		role = transport.RoleInitiator
	}
	e.reg.Release(binary.BigEndian.Uint64(our[:]), role)
}

// list returns the live SAs.
func (e *engine) list() []*isakmpSA {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*isakmpSA, 0, len(e.sas))
	for _, sa := range e.sas {
		out = append(out, sa)
	}
	return out
}

// infos returns snapshots of the established SAs.
func (e *engine) infos() []ipsec.IKESAInfo {
	var out []ipsec.IKESAInfo
	for _, sa := range e.list() {
		var in ipsec.IKESAInfo
		ok := false
		if !sa.do(func() { in, ok = sa.info(); ok = ok && sa.state == stateEstablished }) {
			continue
		}
		if ok {
			out = append(out, in)
		}
	}
	return out
}

// close deletes every SA (with a Delete to the peer) and unregisters.
func (e *engine) close() {
	for _, sa := range e.list() {
		sa.closeAndWait()
	}
	e.cancel()
	e.wg.Wait()
	e.mu.Lock()
	e.sas, e.opening = nil, nil
	e.mu.Unlock()
	e.reg.Close()
}

// ErrClosed is returned by an engine's methods after Close.
var ErrClosed = errors.New("ikev1: engine closed")

// initialContact ends the other SAs of the peer identity that sent
// INITIAL-CONTACT (RFC 2407 section 4.6.3.3): it restarted and lost them.
// Behind a NAT only those from the same public port count: other clients
// behind the same NAT may have the same identity (see adoptChildren).
func (e *engine) initialContact(sa *isakmpSA) {
	natted, remotePort := sa.nat.remote, sa.remote
	for _, o := range e.list() {
		if o == sa {
			continue
		}
		id, remote := sa.remoteID, sa.remote.Addr()
		// o's identity is read on o's goroutine: o may be in phase 1.
		go o.do(func() {
			if o.state == stateEstablished && !o.remoteID.IsZero() && o.remoteID.Equal(id) && o.remote.Addr() == remote && (!natted || o.remote == remotePort) {
				o.log.Info("peer sent INITIAL-CONTACT: deleting its older ISAKMP SA")
				o.terminate(nil, false)
			}
		})
	}
}

// adoptChildren moves the IPsec SAs of the peer's older ISAKMP SAs to sa,
// which the peer just established as their replacement: strongSwan and
// racoon re-authenticate with a new Main Mode and then delete the old
// ISAKMP SA alone, keeping their IPsec SAs (IKEv1 IPsec SAs do not depend
// on the ISAKMP SA that made them). Without this, deleting the old SA
// would take the traffic's SAs with it until the next Quick Mode.
//
// A peer behind a NAT must also come from the same port: several clients
// behind one NAT (carrier-grade NAT puts whole home networks, with the
// same private addresses, behind one address) share the public address
// and may name the same identity, and one client's new SA must not take
// another's IPsec SAs. A client re-authenticating keeps its NAT mapping.
func (e *engine) adoptChildren(sa *isakmpSA) {
	id, remote, name := sa.remoteID, sa.remote.Addr(), sa.cfg.Name
	natted, remotePort := sa.nat.remote, sa.remote
	for _, o := range e.list() {
		if o == sa || o.initiator || sa.initiator {
			continue
		}
		go func() {
			var kids []*child
			o.do(func() {
				if (o.state == stateEstablished || o.state == stateOrphaned) && o.cfg != nil && o.cfg.Name == name && o.remoteID.Equal(id) && o.remote.Addr() == remote && (!natted || o.remote == remotePort) {
					kids, o.children = o.children, nil
					if len(kids) > 0 {
						o.log.Info("the peer re-authenticated: its IPsec SAs move to the new ISAKMP SA", "n", len(kids))
					}
				}
			})
			if len(kids) == 0 {
				return
			}
			if !sa.do(func() { sa.children = append(sa.children, kids...) }) {
				for _, c := range kids {
					o.removeChild(c) // both SAs are gone: the data plane state goes too
				}
			}
		}()
	}
}
