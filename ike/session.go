package ike

import "net/netip"

// Session IDs (ipsec.IKESAInfo.SessionID) name a peer's session as the
// embedder sees it: one number from the first IKE_SA_INIT until the peer
// is gone, kept across IKE and CHILD rekeys and reauthentication
// handovers, unique per engine and never reused. Status displays,
// accounting and Responder.Terminate use it; SPIs change with every IKE
// rekey and cannot.
//
// Every ikeSA gets a fresh ID when it is created (newSA). The IKE SA that
// takes over from another continues the older one's session instead:
//   - an IKE rekey (handOver) and the redundant SA of a rekey collision
//     (startRedundant);
//   - as initiator, a make-before-break reauthentication (startReauthFrom)
//     and a redirect after authentication (followAuthRedirect), which the
//     Dial handle follows too;
//   - as responder, a make-before-break reauthentication by the client,
//     recognized in establish: the new IKE SA of the same peer identity
//     (IKE and EAP identity) holds a pool address that an older IKE SA of
//     that identity holds, which only the client that owns the address
//     asks for again (adoptReauthSession).
//
// Hooks are unchanged by this: a rekey runs none, an initiator's
// reauthentication none, while on a responder the client's
// reauthentication runs IKEUp for the new IKE SA and, when the client
// deletes the old one, IKEDown for that one, both with the same
// SessionID (an embedder counting sessions ends one when no IKE SA of its
// SessionID is left, see Responder.SAs).
//
// The ID lives in an atomic on the ikeSA because lookups (Terminate, SAs)
// read it from other goroutines while the SA goroutine may hand it on.

// newSessionID returns the next session ID of the engine (never 0).
func (e *engine) newSessionID() uint64 { return e.sessionIDs.Add(1) }

// continueSession makes ns carry on old's session (ns takes over from old).
func (ns *ikeSA) continueSession(old *ikeSA) { ns.session.Store(old.session.Load()) }

// sessionID returns the SA's session ID.
func (sa *ikeSA) sessionID() uint64 { return sa.session.Load() }

// adoptReauthSession runs on a responder IKE SA being established: when
// it reauthenticates an older IKE SA of the same peer identity (see
// above), it continues that SA's session.
func (sa *ikeSA) adoptReauthSession() {
	if sa.weInitiated || sa.capKey == "" || len(sa.leases) == 0 {
		return
	}
	mine := map[netip.Addr]bool{}
	for _, l := range sa.leases {
		mine[l.addr] = true
	}
	e := sa.e
	e.mu.Lock()
	defer e.mu.Unlock()
	for o, c := range e.caps[sa.capKey] {
		if o == sa || c.peerKey != sa.identityKey() {
			continue
		}
		for _, a := range c.leases {
			if mine[a] {
				sa.session.Store(o.session.Load())
				return
			}
		}
	}
}

// bySession returns the running IKE SAs (see engine.running) of session id: usually one, two
// while an IKE rekey or a reauthentication hands over.
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
