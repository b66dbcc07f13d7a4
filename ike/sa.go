package ike

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
)

type saState uint8

const (
	stateInit        saState = iota // IKE_SA_INIT in progress
	stateAuth                       // IKE_SA_INIT done, IKE_AUTH in progress
	stateEstablished                // authenticated
	stateDeleting                   // our Delete is outstanding
	stateDead                       // gone; the goroutine exits
)

func (s saState) String() string {
	return [...]string{"CONNECTING", "AUTHENTICATING", "ESTABLISHED", "DELETING", "DESTROYED"}[s]
}

// inboxSize bounds the packets queued for one SA; a flood against one SA
// is dropped there without affecting others.
const inboxSize = 64

// ikeSA is one IKE SA and its CHILD SAs, owned by its event loop (drain):
// one goroutine at a time, started when an event arrives and gone when
// none is left, so an idle SA holds no goroutine. Nothing in it is
// touched from elsewhere: other goroutines talk to it through the loop's
// queues (deliver, post, do).
type ikeSA struct {
	// The parts of an IKE SA's state, each with the code that owns it.
	initiation    // our IKE_SA_INIT as initiator: key exchange, retries, redirects
	leaseState    // what the configuration exchange gave (either role)
	loop          // the event loop: queued packets and commands, timer and deadlines
	renewal       // IKE rekeying and reauthentication
	path          // addresses and NAT state
	admission     // what the SA holds of the engine's pre-authentication limits
	negotiated    // what IKE_SA_INIT settled: keys, nonces, raw messages, features
	peerAuth      // the peer's authentication and the configuration chosen for it
	ledger        // ESP SAs removed by the data plane before their expiry event came
	informational // the INFORMATIONAL exchange: liveness, the peer's Delete
	childExchange // the CREATE_CHILD_SA exchange: rekeys of the IKE SA in progress

	// ex is the exchange layer: message IDs, the window and queue, the
	// cached response, fragments, the SK keys, retransmission. A named
	// part: the SA's code asks it (sa.ex.busy()), never writes its state.
	ex   exchanger
	auth *authTask // the IKE_AUTH exchange in progress (nil before and after it)

	e           *engine
	log         *slog.Logger
	weInitiated bool
	state       saState
	spii, spir  uint64

	created, establishedAt time.Time

	children []*childSA

	handle *SA      // the Dial handle, which follows rekeys
	sess   *session // the peer's session, shared with the SAs that replace this one (session.go)

	session atomic.Uint64 // session ID (session.go), read by other goroutines
	// started: run was launched, so do reaches the SA. A rekey reserves
	// its new IKE SA in the table before that (see engine.running).
	started atomic.Bool
}

type lease struct {
	pool ipsec.AddressPool
	addr netip.Addr
}

func newSA(e *engine, weInitiated bool, local, remote netip.AddrPort) *ikeSA {
	sa := &ikeSA{
		e: e, weInitiated: weInitiated, path: newPath(e, local, remote), ex: newExchanger(e),
		renewal: renewal{rnd: lockedReader{&e.randMu, e.cfg.rand}},
		loop:    loop{done: make(chan struct{})},
		created: e.cfg.now(), sess: e.newSession(),
	}
	sa.prop = noProposal
	sa.log = e.log.With("peer", remote.String())
	sa.session.Store(sa.sess.id)
	return sa
}

func (sa *ikeSA) ourSPI() uint64 {
	if sa.weInitiated {
		return sa.spii
	}
	return sa.spir
}

// deliver queues a packet for the SA without blocking the transport.
func (sa *ikeSA) deliver(p Packet) {
	if !sa.enqueue(p) {
		sa.e.stats.dropped.Add(1)
	}
}

// enqueue queues p for the loop unless inboxSize packets wait already
// or the loop has ended.
func (lp *loop) enqueue(p Packet) bool {
	mb := &lp.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.ended || len(mb.inbox) >= inboxSize {
		return false
	}
	mb.inbox = append(mb.inbox, p)
	lp.wakeLocked()
	return true
}

// post queues f to run on the loop without waiting; it reports false if
// the loop has ended. Before start, f waits for it.
func (lp *loop) post(f func()) bool {
	mb := &lp.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.ended {
		return false
	}
	mb.cmds = append(mb.cmds, f)
	lp.wakeLocked()
	return true
}

// do runs f on the loop and waits; it returns ErrClosed if the SA is
// gone.
func (lp *loop) do(ctx context.Context, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ran := make(chan struct{})
	if !lp.post(func() { f(); close(ran) }) {
		return ErrClosed
	}
	select {
	case <-ran:
		return nil
	case <-lp.done:
		// f may have run and ended the SA: both channels are closed
		// then, and select picks either.
		select {
		case <-ran:
			return nil
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAsync asks the SA to delete itself (with a Delete to the peer if
// sendDelete and established) without waiting.
func (sa *ikeSA) closeAsync(sendDelete bool) {
	sa.post(func() { sa.startDelete(sendDelete, nil) })
}

// start starts the SA's event loop; a responder SA gets the IKE_SA_INIT
// request that created it (nil for every other SA). Commands posted
// before run after it.
func (sa *ikeSA) start(first *initRequest) {
	sa.started.Store(true)
	sa.e.wg.Add(1)
	sa.startLoop(sa.drain, func() {
		if first != nil {
			sa.handleInitRequest(first.p, first)
		}
		sa.sendNext() // requests queued before the loop started
	})
}

// startLoop lets events start drain, the owner's event loop, with first
// as its first command.
func (lp *loop) startLoop(drain, first func()) {
	mb := &lp.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.cmds = append([]func(){first}, mb.cmds...)
	mb.drain, mb.live = drain, true
	lp.wakeLocked()
}

// wakeLocked starts a goroutine for the loop unless one runs or the loop
// has not started; mb.mu is held.
func (lp *loop) wakeLocked() {
	if mb := &lp.mb; mb.live && !mb.running {
		mb.running = true
		go mb.drain()
	}
}

// timerFired is the timer's callback: the loop runs onTimer.
func (lp *loop) timerFired() {
	lp.mb.mu.Lock()
	defer lp.mb.mu.Unlock()
	lp.mb.timerDue = true
	lp.wakeLocked()
}

// take returns what waits, or reports idle (and the drain goroutine
// ends) when nothing does.
func (lp *loop) take() (inbox []Packet, cmds []func(), timerDue, idle bool) {
	mb := &lp.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	inbox, cmds, timerDue = mb.inbox, mb.cmds, mb.timerDue
	mb.inbox, mb.cmds, mb.timerDue = nil, nil, false
	if len(inbox) == 0 && len(cmds) == 0 && !timerDue {
		mb.running = false
		return nil, nil, false, true
	}
	if timerDue {
		lp.timerAt = 0 // it fired: re-armed whatever it was armed for
	}
	return inbox, cmds, timerDue, false
}

// end ends the loop for good: what is queued is dropped, the timer
// stopped, waiters of do get ErrClosed.
func (lp *loop) end() {
	mb := &lp.mb
	mb.mu.Lock()
	mb.ended, mb.live, mb.running = true, false, false
	mb.inbox, mb.cmds = nil, nil
	mb.mu.Unlock()
	if lp.timer != nil {
		lp.timer.Stop()
	}
	close(lp.done)
}

// drain is the SA's event loop: it handles what is queued (commands,
// packets, the timer) in batches, re-arms the timer to the earliest
// deadline, and returns when nothing is left, so an idle SA costs no
// goroutine and wakes only at its deadlines. One drain runs at a time
// (mailbox.running), and the mailbox's mutex hands the SA's state from
// one to the next. When the SA has ended (or its engine was closed,
// which ends it) the loop ends.
func (sa *ikeSA) drain() {
	alive := func() bool {
		if sa.state != stateDead && sa.e.ctx.Err() != nil {
			sa.destroy(ErrClosed)
		}
		if sa.state != stateDead {
			return true
		}
		sa.end()
		sa.e.wg.Done()
		return false
	}
	for {
		inbox, cmds, timerDue, idle := sa.take()
		if idle {
			return
		}
		for _, f := range cmds {
			if !alive() {
				return
			}
			f()
		}
		for _, p := range inbox {
			if !alive() {
				return
			}
			sa.handlePacket(p)
		}
		if timerDue {
			if !alive() {
				return
			}
			sa.onTimer()
		}
		if !alive() {
			return
		}
		if sa.state == stateEstablished {
			sa.forgetInitExchange()
		}
		sa.ex.idle()
		sa.armTimer()
	}
}

// armTimer re-arms the single timer to the earliest deadline of the
// SA's parts.
func (sa *ikeSA) armTimer() {
	sa.arm(sa.ex.retransmitAt(), sa.halfOpenDeadline, sa.dpdAt, sa.nextRekey(), sa.reauthAt,
		sa.lingerUntil, sa.interimAt(), sa.nextHeldDown(), sa.ex.respCacheUntil())
}

// arm re-arms the timer to the earliest of deadlines (zero ones do not
// count; none: the timer is stopped and dropped, nothing wakes the SA
// until an event arrives). A timer that fires late or needlessly is
// harmless: onTimer checks every deadline against the clock.
func (lp *loop) arm(deadlines ...time.Time) {
	var next time.Time
	for _, t := range deadlines {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		// Nothing to wake for: an idle SA keeps no timer.
		if lp.timer != nil {
			lp.timer.Stop()
			lp.timer = nil
		}
		lp.timerAt = 0
		return
	}
	if lp.timer != nil && next.UnixNano() == lp.timerAt {
		return
	}
	lp.timerAt = next.UnixNano()
	d := max(time.Until(next), 0)
	if lp.timer == nil {
		lp.timer = time.AfterFunc(d, lp.timerFired)
	} else {
		lp.timer.Reset(d)
	}
}

func (sa *ikeSA) onTimer() {
	now := time.Now()
	if !sa.halfOpenDeadline.IsZero() && !now.Before(sa.halfOpenDeadline) {
		sa.log.Warn("half-open IKE SA timed out", "state", sa.state.String())
		sa.destroy(fmt.Errorf("%w: half-open timeout", ErrTimeout))
		return
	}
	if !sa.lingerUntil.IsZero() && !now.Before(sa.lingerUntil) {
		sa.log.Debug("superseded IKE SA was not deleted by the peer; removing it", "ike_sa", sa.name())
		sa.destroy(nil)
		return
	}
	if !sa.dpdAt.IsZero() && !now.Before(sa.dpdAt) {
		sa.checkLiveness(now)
	}
	if r := sa.nextRekey(); !r.IsZero() && !now.Before(r) {
		sa.rekeyDue(now)
	}
	if !sa.reauthAt.IsZero() && !now.Before(sa.reauthAt) && sa.state == stateEstablished && !sa.rekeyed {
		// The client (the side holding the Dial handle) reauthenticates;
		// after IKE rekeys either side may be the "initiator".
		if sa.handle != nil {
			sa.startReauth()
		} else {
			sa.reauthOverdue()
			return
		}
	}
	sa.interimDue(now)
	sa.releaseHeldDowns(now, false)
	sa.ex.expireResponse(now)
	if p, giveUp := sa.ex.retransmit(now); giveUp {
		sa.alert(AlertRetransmitTimeout, ErrTimeout, fmt.Sprintf("%s request %d unanswered after %d retransmissions", p.exchange, p.mid, p.tries))
		sa.destroy(ErrTimeout)
		return
	} else if p != nil {
		sa.log.Debug("retransmit", "exchange", p.exchange.String(), "mid", p.mid, "try", p.tries)
		sa.sendPackets(p.packets)
	}
}

func (sa *ikeSA) name() string { return fmt.Sprintf("%016x_i %016x_r", sa.spii, sa.spir) }

// updateRemote moves the SA (and its CHILD SAs) to new addresses.
func (sa *ikeSA) updateRemote(local, remote netip.AddrPort) {
	sa.local, sa.remote = local, remote
	sa.log = sa.e.log.With("peer", remote.String())
	for _, c := range sa.children {
		sa.moveChild(c)
	}
}

func (sa *ikeSA) alert(kind AlertKind, err error, detail string) {
	if f := sa.e.cfg.hooks.Alert; f != nil {
		f(Alert{Kind: kind, Info: sa.info(), Err: err, Detail: detail})
	}
}

// destroy tears the SA down without telling the peer: CHILD SAs leave the
// data plane, leases go back to their pools, hooks fire.
func (sa *ikeSA) destroy(err error) {
	if sa.state == stateDead {
		return
	}
	wasUp := sa.state == stateEstablished || sa.state == stateDeleting
	sa.releaseHeldDowns(time.Time{}, true)
	info := sa.info()
	for _, c := range sa.children {
		sa.removeChild(c)
		if wasUp {
			if f := sa.e.cfg.hooks.ChildDown; f != nil {
				f(info, c.fullInfo())
			}
		}
	}
	sa.children = nil
	sa.releaseLeases()
	sa.auth.end()
	sa.auth = nil
	if sa.keys != nil {
		sa.keys.Wipe()
	}
	if sa.cfg != nil && !sa.cfgLent {
		sa.cfg.wipeSecrets()
	}
	// A new IKE SA reserved for a rekey that never completed.
	for _, r := range sa.abandonIKERekeys() {
		if r.ns != nil && !r.started {
			sa.e.unregister(r.ns)
		}
	}
	sa.ex.abortAll(fmt.Errorf("%w: IKE SA %s ended", ErrClosed, sa.name()))
	if sa.reauthOf != nil && !wasUp {
		sa.reauthFailed()
	}
	sa.state = stateDead
	if sa.countedSuperseded {
		sa.countedSuperseded = false
		sa.e.mu.Lock()
		if sa.e.superseded[sa.peerKey]--; sa.e.superseded[sa.peerKey] <= 0 {
			delete(sa.e.superseded, sa.peerKey)
		}
		sa.e.mu.Unlock()
	}
	sa.e.unregister(sa)
	sa.downErr = err
	if h := sa.handle; h != nil && !sa.rekeyed {
		h.err = sa.endError(err)
		close(h.done)
	}
	if sa.dialDone != nil {
		if err == nil {
			err = ErrClosed
		}
		select {
		case sa.dialDone <- err:
		default:
		}
	}
	if wasUp && sa.rekeyed {
		sa.log.Info("rekeyed IKE SA deleted", "ike_sa", sa.name())
	}
	if wasUp {
		sa.sessionDown(info, err)
	}
	if wasUp && !sa.rekeyed {
		sa.log.Info("IKE SA down", "ike_sa", sa.name(), "err", err)
		if f := sa.e.cfg.hooks.IKEDown; f != nil {
			f(info, err)
		}
	}
}

// info returns a snapshot for hooks and status.
func (sa *ikeSA) info() ipsec.IKESAInfo {
	st := sa.state
	if st > stateDead {
		st = stateDead
	}
	state := st.String()
	if sa.redirected {
		state = "REDIRECTED"
	}
	in := ipsec.IKESAInfo{
		Version: 2, SessionID: sa.sessionID(), State: state, Initiator: sa.weInitiated, SPIi: sa.spii, SPIr: sa.spir,
		Local: sa.local, Remote: sa.remote, NATLocal: sa.natLocal, NATRemote: sa.natRemote,
		LocalID: sa.localID, RemoteID: sa.remoteID, EAPIdentity: sa.eapIdentity,
		Established: sa.establishedAt,
	}
	if sa.prf != nil {
		in.Proposal = sa.prop.String()
	}
	in.VirtualIPs = append(sa.virtualIPs(), sa.fixedAddrs...) // leased, ours, and a user's fixed ones
	for _, c := range sa.children {
		ci := c.info()
		c.fillCounters(&ci)
		in.Children = append(in.Children, ci)
	}
	sa.fillSession(&in)
	return in
}

// equalBytes is bytes.Equal, named for the places that compare
// retransmitted IKE_SA_INIT messages.
func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }

// loop is the plumbing of the SA's event loop: what waits for it, its
// one timer, and the deadlines and liveness facts the timer is armed
// from.
type loop struct {
	mb   mailbox
	done chan struct{}

	// The timer belongs to the loop's owner: an AfterFunc (no goroutine
	// while it waits), made for a deadline, dropped when there is none.
	timer            *time.Timer
	timerAt          int64 // the deadline it is armed for, in Unix ns (0: none, or it fired)
	halfOpenDeadline time.Time
	dialDone         chan error // initiator: the result of Dial
	downErr          error
}

// mailbox is what waits for the loop, under mu. The queues are allocated
// only while events wait.
type mailbox struct {
	mu       sync.Mutex
	inbox    []Packet // packets waiting
	cmds     []func() // commands waiting
	timerDue bool     // the timer fired
	running  bool     // a drain goroutine runs
	live     bool     // started and not ended: events start a drain
	ended    bool     // the SA is gone: nothing is queued any more
	drain    func()   // the owner's event loop
}
