package ike

import (
	"fmt"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
)

// Traffic accounting. The data plane counts per ESP SA, and an ESP SA
// lives only until its CHILD SA is rekeyed or deleted; the embedder
// counts per CHILD SA and per session. So, before an ESP SA leaves the
// data plane, its counters are read into its CHILD SA (retire); when a
// CHILD SA goes, its counters move to its successor of a rekey (the live
// CHILD SA with the same ReqID) or, when it has none, to the session
// (passOnCounters). A snapshot then adds what is still in the data plane.
// Nothing is counted twice: every byte is in exactly one place, an ESP SA
// in the data plane, a CHILD SA's acct or the session's gone.

// counters are traffic counters as ipsec.ChildSAInfo reports them.
type counters struct {
	bytesIn, bytesOut, pktsIn, pktsOut uint64
	lastIn, lastOut                    time.Time
}

// add adds o to c.
func (c *counters) add(o counters) {
	c.bytesIn += o.bytesIn
	c.bytesOut += o.bytesOut
	c.pktsIn += o.pktsIn
	c.pktsOut += o.pktsOut
	if o.lastIn.After(c.lastIn) {
		c.lastIn = o.lastIn
	}
	if o.lastOut.After(c.lastOut) {
		c.lastOut = o.lastOut
	}
}

// addStats adds one ESP SA's data plane counters.
func (c *counters) addStats(dir esp.Direction, st esp.SAStats) {
	if dir == esp.DirIn {
		c.add(counters{bytesIn: st.Bytes, pktsIn: st.Packets, lastIn: st.LastUse})
	} else {
		c.add(counters{bytesOut: st.Bytes, pktsOut: st.Packets, lastOut: st.LastUse})
	}
}

// counters returns c's counters: what it took over and retired plus
// what its ESP SAs in the data plane have counted.
func (c *childSA) counters() counters {
	n := c.acct
	c.plane.counters(&n)
	return n
}

// book adds the final counters of c's ESP SAs that left the data plane
// to c.acct. Those the data plane removed by itself (a hard lifetime)
// have no counters left to read: their expiry event, with the counters,
// has not reached us yet. They count when it comes (lateExpiry).
func (l *ledger) book(c *childSA, rs []retired) {
	for _, r := range rs {
		if r.ok {
			c.acct.addStats(r.id.Dir, r.st)
			continue
		}
		l.expiredPending = append(l.expiredPending, pendingExpiry{r.id, c})
		if n := len(l.expiredPending); n > maxExpiredPending {
			l.expiredPending = l.expiredPending[n-maxExpiredPending:]
		}
	}
}

// maxExpiredPending bounds the ESP SAs an IKE SA remembers as removed by
// the data plane before their expiry event arrived.
const maxExpiredPending = 16

// lateExpiryWait bounds how long a ChildDown hook waits for the expiry
// event of an ESP SA the data plane removed by itself: the event is
// normally on its way already (a kernel sends it with the removal) and
// arrives within milliseconds; one that never comes (a data plane that
// lost it) delays the hook by this much and its counters are missing.
const lateExpiryWait = 2 * time.Second

// ledger is what an IKE SA keeps of ESP SAs the data plane removed at
// their hard lifetime before the expiry event, with the final counters,
// reached us (accounting.go).
type ledger struct {
	// expiredPending: those ESP SAs and the CHILD SA each belonged to.
	expiredPending []pendingExpiry
	// heldDowns: removed CHILD SAs whose ChildDown waits for such an
	// event, so that it carries the final counters.
	heldDowns []heldDown
}

// pendingExpiry is an ESP SA of c the data plane removed before we read
// its counters.
type pendingExpiry struct {
	id esp.SAID
	c  *childSA
}

// heldDown is a ChildDown of c held until its late expiry events arrive
// or until passes.
type heldDown struct {
	c     *childSA
	until time.Time
}

// lateExpiry adds the counters of a hard expiry event that arrived after
// its ESP SA left its CHILD SA (see retire) to that CHILD SA, and to the
// session if the CHILD SA passed its counters on already; it reports the
// CHILD SA down if its ChildDown was waiting for this event. It reports
// whether id was such an SA. Each one counts once.
func (sa *ikeSA) lateExpiry(id esp.SAID, st esp.SAStats) bool {
	i := slices.IndexFunc(sa.expiredPending, func(x pendingExpiry) bool { return x.id.SPI == id.SPI && x.id.Dir == id.Dir })
	if i < 0 {
		return false
	}
	c := sa.expiredPending[i].c
	sa.expiredPending = slices.Delete(sa.expiredPending, i, i+1)
	var n counters
	n.addStats(id.Dir, st)
	c.acct.add(n)
	if c.passedOn {
		// c's counters went to its successor or the session already;
		// c.acct is only its ChildDown's now.
		s := sa.sess
		s.mu.Lock()
		s.gone.add(n)
		s.mu.Unlock()
	}
	if !sa.awaitingExpiry(c) {
		if j := slices.IndexFunc(sa.heldDowns, func(h heldDown) bool { return h.c == c }); j >= 0 {
			sa.heldDowns = slices.Delete(sa.heldDowns, j, j+1)
			sa.fireChildDown(c)
		}
	}
	return true
}

// awaitingExpiry reports whether an ESP SA of c awaits its late expiry
// event.
func (l *ledger) awaitingExpiry(c *childSA) bool {
	return slices.ContainsFunc(l.expiredPending, func(x pendingExpiry) bool { return x.c == c })
}

// childDown reports c, which left the IKE SA, to the ChildDown hook: at
// once, or, while the expiry event of an ESP SA of c that the data plane
// removed by itself is on its way, when the event arrives (lateExpiry)
// or lateExpiryWait has passed (releaseHeldDowns).
func (sa *ikeSA) childDown(c *childSA) {
	if sa.awaitingExpiry(c) {
		sa.heldDowns = append(sa.heldDowns, heldDown{c, time.Now().Add(lateExpiryWait)})
		return
	}
	sa.fireChildDown(c)
}

func (sa *ikeSA) fireChildDown(c *childSA) {
	if f := sa.e.cfg.hooks.ChildDown; f != nil {
		f(sa.info(), c.fullInfo())
	}
}

// releaseHeldDowns fires the held ChildDown hooks whose wait is over at
// now, or all of them (the IKE SA ends: no event reaches it any more).
func (sa *ikeSA) releaseHeldDowns(now time.Time, all bool) {
	for i := 0; i < len(sa.heldDowns); i++ {
		if h := sa.heldDowns[i]; all || !now.Before(h.until) {
			sa.heldDowns = slices.Delete(sa.heldDowns, i, i+1)
			i--
			sa.fireChildDown(h.c)
		}
	}
}

// nextHeldDown is when the first held ChildDown is due (zero: none).
func (l *ledger) nextHeldDown() time.Time {
	var t time.Time
	for _, h := range l.heldDowns {
		if t.IsZero() || h.until.Before(t) {
			t = h.until
		}
	}
	return t
}

// retireExpired takes the ESP SA id, which the data plane removed at its
// hard lifetime, out of c with the counters the expiry event carried.
func (c *childSA) retireExpired(id esp.SAID, st esp.SAStats) {
	if c.plane.forget(id) {
		c.acct.addStats(id.Dir, st)
	}
}

// passOnCounters hands the counters of c, whose ESP SAs have all been
// retired, to heir (c's successor of a rekey, or nil) or to the session.
// c keeps its own copy for the ChildDown hook.
func (sa *ikeSA) passOnCounters(c, heir *childSA) {
	c.passedOn = true
	if heir != nil {
		heir.acct.add(c.acct)
		return
	}
	s := sa.sess
	s.mu.Lock()
	s.gone.add(c.acct)
	s.mu.Unlock()
}

// fillCounters sets a CHILD SA snapshot's traffic counters.
func (c *childSA) fillCounters(ci *ipsec.ChildSAInfo) {
	n := c.counters()
	ci.BytesIn, ci.BytesOut, ci.PacketsIn, ci.PacketsOut = n.bytesIn, n.bytesOut, n.pktsIn, n.pktsOut
	ci.LastIn, ci.LastOut = n.lastIn, n.lastOut
}

// fullInfo is c's snapshot with its counters, for hooks.
func (c *childSA) fullInfo() ipsec.ChildSAInfo {
	ci := c.info()
	c.fillCounters(&ci)
	return ci
}

// fillSession sets the session's ID and totals in an IKE SA snapshot
// whose Children are filled in already.
func (sa *ikeSA) fillSession(in *ipsec.IKESAInfo) {
	s := sa.sess
	s.mu.Lock()
	n := s.gone
	s.mu.Unlock()
	for _, c := range in.Children {
		n.add(counters{bytesIn: c.BytesIn, bytesOut: c.BytesOut, pktsIn: c.PacketsIn, pktsOut: c.PacketsOut})
	}
	in.SessionID = s.id
	in.BytesIn, in.BytesOut, in.PacketsIn, in.PacketsOut = n.bytesIn, n.bytesOut, n.pktsIn, n.pktsOut
}

// RekeyEvent reports a completed rekey to Hooks.Rekeyed.
type RekeyEvent struct {
	// Scope is RekeyIKE for an IKE SA rekey, RekeyChildren for a CHILD
	// SA rekey.
	Scope RekeyScope
	// IKE is the IKE SA after the rekey: for RekeyIKE the new one, which
	// now holds the CHILD SAs; its SessionID is the old one's.
	IKE ipsec.IKESAInfo
	// OldIKE is the rekeyed IKE SA (RekeyIKE only); the peer or we delete
	// it shortly, without an IKEDown hook.
	OldIKE ipsec.IKESAInfo
	// Child and OldChild are the new and the rekeyed CHILD SA
	// (RekeyChildren only). OldChild stays installed until it is deleted
	// (a ChildDown hook follows); then Child's counters take over its
	// traffic. In a rekey collision (RFC 7296 section 2.8.1) one old SA
	// is rekeyed twice and the redundant successor is deleted at once.
	Child, OldChild ipsec.ChildSAInfo
}

// childRekeyed reports the rekey of old into c.
func (sa *ikeSA) childRekeyed(old, c *childSA) {
	if f := sa.e.cfg.hooks.Rekeyed; f != nil {
		f(RekeyEvent{Scope: RekeyChildren, IKE: sa.info(), Child: c.fullInfo(), OldChild: old.fullInfo()})
	}
}

// ikeRekeyed reports the rekey of sa into ns; it runs in handOver, before
// ns's goroutine starts.
func (sa *ikeSA) ikeRekeyed(ns *ikeSA) {
	if f := sa.e.cfg.hooks.Rekeyed; f != nil {
		f(RekeyEvent{Scope: RekeyIKE, IKE: ns.info(), OldIKE: sa.info()})
	}
}

// Accounting receives the life of each session, for RADIUS accounting
// (RFC 2866: Acct-Status-Type Start, Interim-Update, Stop) or a billing
// or monitoring system. A session is what ipsec.IKESAInfo.SessionID
// names: it starts when its first IKE SA is established, continues
// across IKE and CHILD rekeys and reauthentications, and stops when its
// last IKE SA ends. Its counters (IKESAInfo.BytesIn and the like) are
// cumulative over all of that; the Stop record's are the final ones, read
// from the data plane before the SAs were removed.
//
// The methods run on the IKE SA's goroutine, like Hooks, and must not
// block: hand the record to a queue of your own (a RADIUS client sends it
// and retransmits from there).
type Accounting interface {
	// Start: the session's first IKE SA was established.
	Start(AccountingRecord)
	// Interim: the interval given to WithAccounting has passed since
	// Start or the last Interim.
	Interim(AccountingRecord)
	// Stop: the session ended; Err says why (nil for an orderly Delete).
	Stop(AccountingRecord)
}

// AccountingRecord is one accounting event of a session.
type AccountingRecord struct {
	// SessionID is Info.SessionID (RADIUS Acct-Session-Id).
	SessionID uint64
	// NASPort is the session's NAS-Port (RFC 2865 section 5.5), a number
	// of the session that repeats only after 2^32 sessions; the same
	// number the eap.Backend sees in eap.NAS.Port.
	NASPort uint32
	// Started is when the session started (Start's time); Time is when
	// this record was made. Time - Started is Acct-Session-Time.
	Started, Time time.Time
	// Info is the session's current IKE SA with the session's cumulative
	// counters (Acct-Input-Octets is Info.BytesIn, Acct-Output-Octets
	// Info.BytesOut), its identities (User-Name: Info.EAPIdentity, else
	// Info.RemoteID), the client's outer address (Calling-Station-Id:
	// Info.Remote) and its virtual addresses (Framed-IP-Address).
	Info ipsec.IKESAInfo
	// Err is why the session stopped (Stop only; nil for a Delete).
	Err error
}

// MinAccountingInterim is the shortest interim interval WithAccounting
// accepts: RFC 2869 section 5.16 says an Acct-Interim-Interval should
// not be below 60 seconds, which also bounds the records a gateway with
// many sessions produces.
const MinAccountingInterim = time.Minute

// accountingConfig is what WithAccounting sets.
type accountingConfig struct {
	acct    Accounting
	interim time.Duration
}

func (a accountingConfig) validate() error {
	if a.acct == nil && a.interim != 0 {
		return fmt.Errorf("ike: WithAccounting: nil Accounting")
	}
	if a.interim != 0 && a.interim < MinAccountingInterim {
		return fmt.Errorf("ike: WithAccounting: interim interval %v below %v", a.interim, MinAccountingInterim)
	}
	return nil
}

// record makes an accounting record of the session from the snapshot
// info; the caller holds s.mu.
func (s *session) record(info ipsec.IKESAInfo, now time.Time, err error) AccountingRecord {
	return AccountingRecord{SessionID: s.id, NASPort: s.nasPort(), Started: s.started, Time: now, Info: info, Err: err}
}

// sessionUp runs when sa is established: sa speaks for its session from
// now on, and a new session's accounting starts.
func (sa *ikeSA) sessionUp() {
	s := sa.sess
	s.takeOwnership(sa)
	a := sa.e.cfg.accounting
	if a.acct == nil {
		return
	}
	s.mu.Lock()
	if !s.started.IsZero() {
		s.mu.Unlock()
		return // a reauthentication: the session goes on
	}
	now := time.Now()
	s.started = now
	if a.interim > 0 {
		s.nextInterim = now.Add(a.interim)
	}
	s.mu.Unlock()
	info := sa.info()
	s.mu.Lock()
	rec := s.record(info, now, nil)
	s.mu.Unlock()
	a.acct.Start(rec)
}

// interimAt is when sa owes its session's next interim update (zero:
// never).
func (sa *ikeSA) interimAt() time.Time {
	if sa.e.cfg.accounting.interim <= 0 || sa.state != stateEstablished || sa.rekeyed {
		return time.Time{}
	}
	s := sa.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != sa {
		return time.Time{}
	}
	return s.nextInterim
}

// interimDue sends the session's interim update if it is due at now. The
// next one is an interval later; after a long stall (a suspended host)
// updates are not replayed, so there is at most one per interval.
func (sa *ikeSA) interimDue(now time.Time) {
	at := sa.interimAt()
	if at.IsZero() || now.Before(at) {
		return
	}
	a := sa.e.cfg.accounting
	info := sa.info()
	s := sa.sess
	s.mu.Lock()
	s.nextInterim = now.Add(a.interim)
	rec := s.record(info, now, nil)
	s.mu.Unlock()
	a.acct.Interim(rec)
}

// sessionDown runs when the established IKE SA sa ends for good (not
// replaced by a rekey or reauthentication); info is its last snapshot,
// taken before its CHILD SAs left the data plane.
func (sa *ikeSA) sessionDown(info ipsec.IKESAInfo, err error) {
	s := sa.sess
	s.mu.Lock()
	if s.owner != sa {
		s.mu.Unlock()
		return
	}
	s.owner = nil
	started := !s.started.IsZero()
	rec := s.record(info, time.Now(), err)
	s.mu.Unlock()
	if a := sa.e.cfg.accounting.acct; a != nil && started {
		a.Stop(rec)
	}
}
