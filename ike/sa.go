package ike

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
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

// ikeSA is one IKE SA and its CHILD SAs, owned by one goroutine (run).
// Nothing in it is touched from elsewhere: other goroutines talk to it
// through inbox and cmds.
type ikeSA struct {
	// The parts of an IKE SA's state, each with the code that owns it.
	initiation    // our IKE_SA_INIT as initiator: key exchange, retries, redirects
	leaseState    // what the configuration exchange gave (either role)
	loop          // the SA goroutine: inbox, commands, timer and deadlines
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
		loop:    loop{inbox: make(chan Packet, inboxSize), cmds: make(chan func(), 16), done: make(chan struct{})},
		created: e.cfg.now(), sess: e.newSession(),
	}
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

// enqueue puts p in the inbox unless it is full.
func (lp *loop) enqueue(p Packet) bool {
	select {
	case lp.inbox <- p:
		return true
	default:
		return false
	}
}

// do runs f on the SA goroutine and waits; it returns ErrClosed if the SA
// is gone.
func (lp *loop) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case lp.cmds <- func() { f(); close(ran) }:
	case <-lp.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
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
	go sa.do(context.Background(), func() { sa.startDelete(sendDelete, nil) })
}

// start launches the SA goroutine.
// start runs the SA's goroutine; a responder SA gets the IKE_SA_INIT
// request that created it (nil for every other SA).
func (sa *ikeSA) start(first *initRequest) {
	sa.started.Store(true)
	sa.e.wg.Add(1)
	go sa.run(first)
}

func (sa *ikeSA) run(first *initRequest) {
	defer sa.e.wg.Done()
	defer close(sa.done)
	sa.timer = time.NewTimer(time.Hour)
	defer sa.timer.Stop()
	if first != nil {
		sa.handleInitRequest(first.p, first)
	}
	sa.sendNext() // requests queued before the goroutine started
	for sa.state != stateDead {
		sa.armTimer()
		select {
		case p := <-sa.inbox:
			sa.handlePacket(p)
		case f := <-sa.cmds:
			f()
		case <-sa.timer.C:
			sa.onTimer()
		case <-sa.e.ctx.Done():
			sa.destroy(ErrClosed)
		}
	}
}

// armTimer re-arms the single timer to the earliest deadline of the
// SA's parts.
func (sa *ikeSA) armTimer() {
	sa.arm(sa.ex.retransmitAt(), sa.halfOpenDeadline, sa.dpdAt, sa.nextRekey(), sa.reauthAt,
		sa.lingerUntil, sa.interimAt(), sa.nextHeldDown())
}

// arm re-arms the timer to the earliest of deadlines (zero ones do not
// count; none: an hour, the timer must not stay idle forever).
func (lp *loop) arm(deadlines ...time.Time) {
	var next time.Time
	for _, t := range deadlines {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !lp.timer.Stop() {
		select {
		case <-lp.timer.C:
		default:
		}
	}
	if next.IsZero() {
		lp.timer.Reset(time.Hour)
		return
	}
	lp.timer.Reset(max(time.Until(next), 0))
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
	in.VirtualIPs = sa.virtualIPs()
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

// loop is the plumbing of the SA goroutine: what it reads, its one timer,
// and the deadlines and liveness facts the timer is armed from.
type loop struct {
	inbox            chan Packet
	cmds             chan func()
	done             chan struct{}
	timer            *time.Timer
	halfOpenDeadline time.Time
	dialDone         chan error // initiator: the result of Dial
	downErr          error
}
