package ike

import (
	"context"
	"sync"
	"time"

	"github.com/goipsec/ipsec/transport"

	"github.com/goipsec/ipsec/eap"
)

// session is the peer's session as the embedder sees it: one SessionID
// (ipsec.IKESAInfo.SessionID) from the first IKE_SA_INIT to the end,
// whatever IKE rekeys, CHILD rekeys and reauthentications replace its SAs
// in between. The IKE SAs of one session share it (handOver, a
// reauthentication, a redundant SA of a rekey collision), each on its own
// goroutine, so everything but id is guarded by mu.
type session struct {
	id uint64 // unique per engine, never reused; constant

	mu sync.Mutex
	// owner is the IKE SA that holds the session now: set when an IKE SA
	// of the session is established or takes over by a rekey. Only the
	// owner sends interim accounting and its end is the session's end.
	owner *ikeSA
	// gone is the traffic of the session's CHILD SAs that ended without
	// a successor to take their counters over (see passOnCounters).
	gone counters
	// started is when accounting Start was reported (zero: not yet);
	// nextInterim is when the next interim update is due.
	started, nextInterim time.Time
}

// newSession gives a new IKE SA its own session with a fresh ID. A rekey
// or reauthentication later replaces it with its predecessor's
// (joinSession); the fresh ID is then never used, and never reused.
func (e *engine) newSession() *session { return &session{id: transport.NewSessionID()} }

// joinSession makes ns, which replaces or accompanies sa, part of sa's
// session. It runs before ns's goroutine starts.
func (sa *ikeSA) joinSession(ns *ikeSA) {
	ns.sess = sa.sess
	ns.session.Store(sa.sess.id)
}

// continueSession makes ns carry on old's session (ns takes over from
// old: a rekey, a reauthentication, a redirect after authentication).
func (ns *ikeSA) continueSession(old *ikeSA) { old.joinSession(ns) }

// sessionID returns the SA's session ID. Other goroutines (Terminate,
// SAs) read it while the SA goroutine may still adopt another session
// (resumeSession), so it is mirrored in an atomic.
func (sa *ikeSA) sessionID() uint64 { return sa.session.Load() }

// bySession returns the running IKE SAs (see engine.running) of session
// id: usually one, two while an IKE rekey or a reauthentication hands
// over.
func (e *engine) bySession(id uint64) []*ikeSA {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*ikeSA
	for _, sa := range e.sas {
		if sa.session.Load() == id && sa.started.Load() {
			out = append(out, sa)
		}
	}
	return out
}

// nasPort is the session's NAS-Port (RFC 2865 section 5.5), a number per
// session for RADIUS: the SessionID's low 32 bits, so it repeats only
// after 2^32 sessions of one engine.
func (s *session) nasPort() uint32 { return uint32(s.id) }

// takeOwnership makes sa the IKE SA that speaks for the session.
func (s *session) takeOwnership(sa *ikeSA) {
	s.mu.Lock()
	s.owner = sa
	s.mu.Unlock()
}

// nasContext is the context of EAP conversations: the engine's, carrying
// the NAS context an eap.Backend (a RADIUS client) needs.
func (sa *ikeSA) nasContext() context.Context {
	return eap.ContextWithNAS(sa.e.ctx, eap.NAS{
		ClientAddr: sa.remote, LocalAddr: sa.local, SPIi: sa.spii, SPIr: sa.spir,
		SessionID: sa.sess.id, Port: sa.sess.nasPort(),
	})
}

// resumeSession lets a gateway's newly established IKE SA continue the
// session of the IKE SA it replaces by the client's make-before-break
// reauthentication (RFC 7296 section 2.8.3): the same identity from the
// same address, holding the same virtual address (a reauthenticating
// client asks for the one it has, and the pool gives an identity its own
// address again). The client deletes the old IKE SA next; the session,
// its SessionID and its counters go on. A client without a virtual
// address cannot be told from a second login and starts a new session;
// an eap.Backend saw the new IKE SA's own SessionID either way, since the
// address is assigned after EAP.
func (sa *ikeSA) resumeSession() {
	if sa.weInitiated || sa.capKey == "" {
		return
	}
	e := sa.e
	e.mu.Lock()
	defer e.mu.Unlock()
	mine := e.caps[sa.capKey][sa]
	if mine == nil || len(mine.leases) == 0 {
		return
	}
	// The SAs holding one of our addresses (the pool gives an address to
	// one identity at a time), not all of the identity's.
	for _, a := range mine.leases {
		for _, o := range e.holders[a] {
			// o.sess was set before o became visible in caps and never
			// changes afterwards (joinSession precedes passIdentity).
			c := e.caps[sa.capKey][o]
			if o != sa && c != nil && c.peerKey == mine.peerKey && c.from == mine.from {
				sa.sess = o.sess
				sa.session.Store(o.sess.id)
				return
			}
		}
	}
}
