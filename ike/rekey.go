package ike

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// rekeyJitter is the largest fraction by which a rekey is moved earlier,
// so that SAs created together (or both peers) do not rekey in lockstep
// (strongSwan's rand_time does the same).
const rekeyJitter = 10 // percent

// jittered returns d shortened by a random 0..10 %.
func (rn *renewal) jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	var b [2]byte
	io.ReadFull(rn.rnd, b[:])
	cut := time.Duration(binary.BigEndian.Uint16(b[:])) * (d * rekeyJitter / 100) / 65535
	return d - cut
}

// scheduleRekey arms the IKE SA's rekey timer for after every (zero:
// never), jittered.
func (rn *renewal) scheduleRekey(every time.Duration) {
	if every > 0 {
		rn.rekeyAt = time.Now().Add(rn.jittered(every))
	}
}

// scheduleIKERekey arms the IKE SA's rekey timer from the configuration.
func (sa *ikeSA) scheduleIKERekey() {
	if sa.cfg != nil {
		sa.scheduleRekey(sa.cfg.RekeyTime)
	}
}

// scheduleChildRekey arms a new CHILD SA's rekey timer from the
// configuration.
func (sa *ikeSA) scheduleChildRekey(c *childSA) {
	cc := sa.childConfig()
	if cc.RekeyTime > 0 {
		c.rekeyAt = time.Now().Add(sa.jittered(cc.RekeyTime))
	}
}

// nextRekey returns the earliest rekey deadline of the SA and its
// children (zero: none).
func (sa *ikeSA) nextRekey() time.Time {
	next := sa.rekeyAt
	for _, c := range sa.children {
		for _, t := range []time.Time{c.rekeyAt, c.plane.outDeadline} {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next
}

// rekeyDue starts the rekeys whose time has come.
func (sa *ikeSA) rekeyDue(now time.Time) {
	sa.activateDueOutbound(now)
	if sa.state != stateEstablished {
		return
	}
	if !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) {
		sa.rekeyAt = time.Time{}
		sa.queueRequest(sa.ikeRekeyRequest())
	}
	for _, c := range sa.children {
		if !c.rekeyAt.IsZero() && !now.Before(c.rekeyAt) {
			c.rekeyAt = time.Time{}
			sa.queueRequest(sa.childRekeyRequest(c))
		}
	}
}

func (sa *ikeSA) hasChild(c *childSA) bool {
	for _, x := range sa.children {
		if x == c {
			return true
		}
	}
	return false
}

// rekeyedLinger is how long a superseded IKE SA waits for the peer's
// Delete before it is removed quietly.
const rekeyedLinger = 2 * time.Minute

// maxSuperseded bounds the IKE SAs one peer identity may have rekeyed
// without deleting them (a well-behaved peer deletes each at once): an
// authenticated peer must not pile up SAs, each with its goroutine, by
// rekeying in a loop. Further IKE rekeys get TEMPORARY_FAILURE.
const maxSuperseded = 8

// noteSuperseded counts sa as rekeyed by the peer and not yet deleted;
// destroy undoes it.
func (sa *ikeSA) noteSuperseded() {
	if sa.peerKey == "" || sa.countedSuperseded {
		return
	}
	sa.countedSuperseded = true
	e := sa.e
	e.mu.Lock()
	e.superseded[sa.peerKey]++
	e.mu.Unlock()
}

// tooManySuperseded reports whether the peer has reached maxSuperseded.
func (sa *ikeSA) tooManySuperseded() bool {
	if sa.peerKey == "" {
		return false
	}
	e := sa.e
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.superseded[sa.peerKey] >= maxSuperseded
}

// retryDelay is a short random wait before retrying an exchange the peer
// refused with TEMPORARY_FAILURE (RFC 7296 section 2.25): 2 to 6 seconds,
// random so that two peers do not collide again.
func (rn *renewal) retryDelay() time.Duration {
	var b [1]byte
	io.ReadFull(rn.rnd, b[:])
	return 2*time.Second + time.Duration(b[0])*4*time.Second/255
}

// deleteRekeyedRequest deletes an IKE SA whose successor took over.
func (sa *ikeSA) deleteRekeyedRequest() *request {
	return &request{exchange: wire.INFORMATIONAL,
		build: func() ([]wire.Payload, error) {
			return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(proposal.ProtoIKE)}}, nil
		},
		onReply: func(*wire.Message, []wire.Payload) error { sa.destroy(nil); return nil }}
}

// handOver moves everything the peer authenticated from sa to the new IKE
// SA ns of a rekey and starts ns. Requests queued on sa that concern CHILD
// SAs follow them: a due CHILD rekey happens on ns at once, a pending
// CHILD delete is sent there; the IKE SA's own queued requests are moot.
func (sa *ikeSA) handOver(ns *ikeSA) {
	sa.joinSession(ns) // first: passIdentity makes ns visible to other SAs
	ns.cfg, ns.localID, ns.remoteID = sa.cfg, sa.localID, sa.remoteID
	ns.cfgLent, sa.cfgLent = sa.cfgLent, true
	ns.eapIdentity, ns.eapUser, ns.fixedAddrs = sa.eapIdentity, sa.eapUser, sa.fixedAddrs
	ns.natLocal, ns.natRemote, ns.peerHashes, ns.peerMOBIKE = sa.natLocal, sa.natRemote, sa.peerHashes, sa.peerMOBIKE
	ns.ex.fragmentation(sa.ex.fragOK)
	ns.peerRedirect = sa.peerRedirect
	ns.children, sa.children = sa.children, nil
	ns.leases, sa.leases = sa.leases, nil
	ns.vips, ns.dns, ns.dnsDomains, ns.subnets = sa.vips, sa.dns, sa.dnsDomains, sa.subnets
	ns.state, ns.establishedAt = stateEstablished, sa.e.cfg.now()
	ns.log = sa.log
	ns.startLiveness(time.Now(), ns.cfg.DPDDelay)
	ns.scheduleIKERekey()
	ns.reauthAt = sa.reauthAt
	sa.reauthAt = time.Time{}
	if ns.peerKey = sa.peerKey; ns.peerKey != "" {
		sa.e.established(ns) // ns takes its place among the peer's SAs
	}
	sa.e.passIdentity(sa, ns)
	sa.rekeyed = true
	sa.rekeyAt = time.Time{}
	if sa.handle != nil {
		sa.handle.cur.Store(ns)
		ns.handle, sa.handle = sa.handle, nil
	}
	for _, r := range sa.ex.takeQueue() {
		switch r.kind {
		case reqChildRekey:
			if ns.hasChild(r.child) {
				r.child.rekeyAt = time.Now()
			}
		case reqChildDelete:
			if ns.hasChild(r.child) {
				ns.ex.queueUnsent(ns.deleteChildRequest(r.child))
			}
		default:
			if r.abort != nil {
				r.abort(fmt.Errorf("%w: the IKE SA was rekeyed; try again", ErrClosed))
			}
		}
	}
	ns.sess.takeOwnership(ns)
	sa.ikeRekeyed(ns)
	ns.start(nil)
	sa.log.Info("IKE SA rekeyed", "ike_sa", sa.name(), "new_ike_sa", ns.name(), "proposal", ns.prop.String())
}

// RekeyScope says what Rekey renews.
type RekeyScope uint8

// Rekey scopes; they combine with |.
const (
	// RekeyIKE rekeys the IKE SA (RFC 7296 section 1.3.2).
	RekeyIKE RekeyScope = 1 << iota
	// RekeyChildren rekeys every CHILD SA (section 1.3.3).
	RekeyChildren
)

// rekeyNow queues the rekeys of scope on the SA goroutine; it reports
// whether anything was started.
func (sa *ikeSA) rekeyNow(scope RekeyScope) bool {
	if sa.state != stateEstablished || sa.rekeyed {
		return false
	}
	started := false
	if scope&RekeyChildren != 0 {
		for _, c := range sa.children {
			if c.peerRekey == nil && c.ourRekey == nil && !sa.ex.childRekeyQueued(c) {
				c.rekeyAt = time.Time{}
				sa.queueRequest(sa.childRekeyRequest(c))
				started = true
			}
		}
	}
	if scope&RekeyIKE != 0 && !sa.ex.ikeRekeyQueued() {
		sa.rekeyAt = time.Time{}
		sa.queueRequest(sa.ikeRekeyRequest())
		started = true
	}
	return started
}

// childDeleteQueued reports whether a Delete of c is queued or in flight.
func (x *exchanger) childDeleteQueued(c *childSA) bool {
	return x.findRequest(reqChildDelete, c)
}

// childRekeyQueued reports whether a rekey of c is queued or in flight.
func (x *exchanger) childRekeyQueued(c *childSA) bool {
	return x.findRequest(reqChildRekey, c)
}

// ikeRekeyQueued reports whether a rekey of the IKE SA is queued or in
// flight.
func (x *exchanger) ikeRekeyQueued() bool {
	return x.findRequest(reqIKERekey, nil)
}

// renewal is the IKE SA's rekeying and reauthentication state.
type renewal struct {
	rekeyAt  time.Time // our IKE SA rekey (zero: none scheduled)
	reauthAt time.Time // our reauthentication (zero: none scheduled)
	reauthOf *ikeSA    // the SA this one reauthenticates
	// rekeyed: a new IKE SA took over; deleting this one must not look
	// like the peer going away.
	rekeyed bool
	// lingerUntil destroys an SA that has no more purpose (rekeyed, or
	// redundant after a collision) if the peer never deletes it.
	lingerUntil time.Time
	rnd         io.Reader // the engine's random source, for jitter
}
