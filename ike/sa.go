package ike

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
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

// reqKind classifies the requests that must be handled specially when
// the IKE SA is rekeyed (RFC 7296 sections 2.8 and 2.25).
type reqKind uint8

const (
	reqOther       reqKind = iota
	reqIKERekey            // CREATE_CHILD_SA rekeying this IKE SA
	reqChildRekey          // CREATE_CHILD_SA rekeying child
	reqChildDelete         // INFORMATIONAL deleting child
)

// request is one exchange we initiated.
type request struct {
	exchange wire.ExchangeType
	kind     reqKind
	child    *childSA
	// abort, if set, is told when the request is dropped unsent or
	// unanswered (the IKE SA was rekeyed away or ended).
	abort   func(error)
	build   func() ([]wire.Payload, error)
	onReply func(m *wire.Message, inner []wire.Payload) error
	// set when sent
	mid     uint32
	packets [][]byte
	tries   int
	next    time.Time
}

// ikeSA is one IKE SA and its CHILD SAs, owned by one goroutine (run).
// Nothing in it is touched from elsewhere: other goroutines talk to it
// through inbox and cmds.
type ikeSA struct {
	// The parts of an IKE SA's state, each with the code that owns it.
	exchanger  // message IDs, window, queue, cached response, fragments
	initiation // our IKE_SA_INIT as initiator: key exchange, retries, redirects
	leaseState // what the configuration exchange gave (either role)
	loop       // the SA goroutine: inbox, commands, timer and deadlines
	renewal    // IKE rekeying and reauthentication
	path       // addresses and NAT state
	admission  // what the SA holds of the engine's pre-authentication limits
	negotiated // what IKE_SA_INIT settled: keys, nonces, raw messages, features
	peerAuth   // the peer's authentication and the configuration chosen for it

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
		e: e, weInitiated: weInitiated, path: path{local: local, remote: remote, initRemote: remote},
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
	select {
	case sa.inbox <- p:
	default:
		sa.e.stats.dropped.Add(1)
	}
}

// do runs f on the SA goroutine and waits; it returns ErrClosed if the SA
// is gone.
func (sa *ikeSA) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case sa.cmds <- func() { f(); close(ran) }:
	case <-sa.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ran:
		return nil
	case <-sa.done:
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

// armTimer re-arms the single timer to the earliest deadline.
func (sa *ikeSA) armTimer() {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if sa.pending != nil {
		consider(sa.pending.next)
	}
	consider(sa.halfOpenDeadline)
	consider(sa.dpdAt)
	consider(sa.nextRekey())
	consider(sa.reauthAt)
	consider(sa.lingerUntil)
	consider(sa.interimAt())
	if !sa.timer.Stop() {
		select {
		case <-sa.timer.C:
		default:
		}
	}
	if next.IsZero() {
		sa.timer.Reset(time.Hour)
		return
	}
	sa.timer.Reset(max(time.Until(next), 0))
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
	if p := sa.pending; p != nil && !now.Before(p.next) {
		if p.tries >= sa.e.cfg.rtTries {
			sa.alert(AlertRetransmitTimeout, ErrTimeout, fmt.Sprintf("%s request %d unanswered after %d retransmissions", p.exchange, p.mid, p.tries))
			sa.destroy(ErrTimeout)
			return
		}
		p.tries++
		p.next = now.Add(sa.backoff(p.tries))
		sa.log.Debug("retransmit", "exchange", p.exchange.String(), "mid", p.mid, "try", p.tries)
		sa.sendPackets(p.packets)
	}
}

// backoff is the timeout after the n-th transmission (n starting at 0).
func (sa *ikeSA) backoff(n int) time.Duration {
	return time.Duration(float64(sa.e.cfg.rtTimeout) * math.Pow(sa.e.cfg.rtBase, float64(n)))
}

func (sa *ikeSA) sendPackets(pkts [][]byte) { sa.sendPacketsTo(pkts, sa.local, sa.remote) }

// sendPacketsTo sends from local to remote. Responses go back to where
// their request came from (RFC 7296 section 2.11), which with MOBIKE path
// checks (RFC 4555 section 3.5) is not yet the SA's address.
func (sa *ikeSA) sendPacketsTo(pkts [][]byte, local, remote netip.AddrPort) {
	for _, b := range pkts {
		if err := sa.e.conn.Send(Packet{Data: b, Local: local, Remote: remote}); err != nil {
			sa.log.Debug("send failed", "err", err)
		}
	}
}

// natt reports whether the SA uses the NAT-T port.
func (sa *ikeSA) natt() bool {
	_, port := sa.e.conn.Ports()
	return sa.local.Port() == port
}

// encode builds and encrypts a message, fragmenting it when both sides
// support RFC 7383 and it exceeds the fragment size.
func (sa *ikeSA) encode(exch wire.ExchangeType, response bool, mid uint32, inner []wire.Payload) ([][]byte, error) {
	h := wire.Header{SPIi: sa.spii, SPIr: sa.spir, Exchange: exch, MessageID: mid}
	if sa.weInitiated {
		h.Flags |= wire.FlagInitiator
	}
	if response {
		h.Flags |= wire.FlagResponse
	}
	m := &wire.Message{Header: h, Payloads: []wire.Payload{&wire.SK{Payloads: inner}}}
	rnd := lockedReader{&sa.e.randMu, sa.e.cfg.rand}
	b, err := m.AppendSealed(nil, sa.out, rnd)
	if err != nil {
		return nil, err
	}
	mtu := DefaultFragmentMTU
	if sa.cfg != nil && sa.cfg.FragmentMTU != 0 {
		mtu = sa.cfg.FragmentMTU
	}
	maxLen := wire.FragmentSize(mtu, sa.remote.Addr().Is6(), sa.natt())
	if sa.fragOK && len(b) > maxLen {
		return m.AppendFragments(nil, sa.out, rnd, maxLen)
	}
	return [][]byte{b}, nil
}

// queueRequest adds an exchange we initiate; it is sent when the previous
// one is answered (window size 1).
func (sa *ikeSA) queueRequest(r *request) {
	sa.queue = append(sa.queue, r)
	sa.sendNext()
}

func (sa *ikeSA) sendNext() {
	for sa.pending == nil && len(sa.queue) > 0 && sa.state != stateDead {
		r := sa.queue[0]
		sa.queue = sa.queue[1:]
		inner, err := r.build()
		if err != nil {
			sa.log.Warn("cannot build request", "exchange", r.exchange.String(), "err", err)
			continue
		}
		pkts, err := sa.encode(r.exchange, false, sa.nextMID, inner)
		if err != nil {
			sa.log.Warn("cannot encode request", "exchange", r.exchange.String(), "err", err)
			continue
		}
		r.mid, r.packets, r.next = sa.nextMID, pkts, time.Now().Add(sa.backoff(0))
		sa.nextMID++
		sa.pending = r
		sa.logMessage("sending", r.exchange, false, r.mid, inner, len(pkts))
		sa.sendPackets(pkts)
	}
}

// handlePacket processes one message addressed to this SA.
func (sa *ikeSA) handlePacket(p Packet) {
	m, err := wire.Parse(p.Data)
	if err != nil {
		sa.log.Debug("dropping malformed message", "err", err)
		return
	}
	h := &m.Header
	if h.Exchange == wire.IKE_SA_INIT {
		if !sa.weInitiated && !h.IsResponse() {
			sa.handleInitRequest(p, nil) // a retransmission: the engine made this SA from the first one
		} else if sa.weInitiated && h.IsResponse() {
			sa.handleInitResponse(p, m)
		}
		return
	}
	if sa.out == nil {
		return // no keys yet: nothing else can be authentic
	}
	if h.IsResponse() {
		sa.handleResponse(p, m)
	} else {
		sa.handleRequest(p, m)
	}
}

// decrypt opens the SK payload or adds an SKF fragment. It returns the
// inner payloads once the message is complete; ok is false while
// fragments are missing or when the message is not authentic.
func (sa *ikeSA) decrypt(m *wire.Message, frags *wire.Reassembler) (inner []wire.Payload, ok bool) {
	if len(m.Payloads) == 0 {
		return nil, false
	}
	switch sk := m.Payloads[len(m.Payloads)-1].(type) {
	case *wire.SK:
		if _, err := sk.Open(sa.in, nil); err != nil {
			sa.log.Debug("dropping message that fails integrity or decoding", "exchange", m.Header.Exchange.String(), "mid", m.Header.MessageID, "err", err)
			return nil, false
		}
		return sk.Payloads, true
	case *wire.SKF:
		if !sa.fragOK {
			return nil, false
		}
		if _, err := sk.Open(sa.in, nil); err != nil {
			sa.log.Debug("dropping fragment that fails integrity", "mid", m.Header.MessageID, "err", err)
			return nil, false
		}
		done, err := frags.Add(m.Header.MessageID, sk)
		if err != nil || !done {
			return nil, false
		}
		first, plain := frags.Result()
		ps, err := wire.ParsePayloads(first, plain)
		if err != nil {
			sa.log.Debug("dropping reassembled message", "err", err)
			return nil, false
		}
		return ps, true
	}
	return nil, false
}

func reqHash(p Packet) [sha256.Size]byte { return sha256.Sum256(p.Data) }

func (sa *ikeSA) handleRequest(p Packet, m *wire.Message) {
	mid := m.Header.MessageID
	if sa.haveLastResp && mid+1 == sa.peerMID {
		// A retransmitted request gets the cached response, never a
		// second processing (RFC 7296 section 2.1). Only an exact copy
		// of a packet of the request triggers it, so spoofed packets
		// cannot make us send.
		if h := reqHash(p); h == sa.lastReqHash || sa.isFragmentOfLast(m) {
			sa.sendPacketsTo(sa.lastResp, p.Local, p.Remote)
		}
		return
	}
	if mid != sa.peerMID {
		return
	}
	if sa.authzWaiting(mid) {
		// A retransmission of the IKE_AUTH request whose authorization
		// is running: the answer follows when it is decided.
		sa.log.Debug("IKE_AUTH request still being authorized", "mid", mid)
		return
	}
	inner, ok := sa.decrypt(m, &sa.reqFrags)
	if !ok {
		return
	}
	if m.Header.Exchange == wire.INFORMATIONAL && sa.state != stateEstablished && sa.state != stateDeleting {
		// RFC 7296 section 1.4: INFORMATIONAL exchanges only after the
		// initial exchanges. Before IKE_AUTH completes the peer has our
		// keys but no identity: its Deletes and notifies (REDIRECT,
		// MOBIKE) must not act. We drop the request, as strongSwan does
		// with requests it refuses in a state ("ignoring INFORMATIONAL in
		// IKE_SA state CONNECTING"): an error response would use up the
		// message ID the IKE_AUTH needs and answer an unauthenticated
		// peer; dropped, the half-open SA keeps its timeout.
		sa.log.Debug("ignoring INFORMATIONAL before IKE_AUTH completed", "mid", mid, "state", sa.state.String())
		return
	}
	sa.lastReqHash = reqHash(p)
	sa.lastRecv = time.Now()
	sa.logMessage("received", m.Header.Exchange, false, mid, inner, 0)
	if (p.Remote != sa.remote || p.Local != sa.local) && !sa.peerMOBIKE {
		// RFC 7296 section 2.23: after NAT detection the initiator floats
		// to port 4500, and a NAT may change its mapping; authenticated
		// requests tell us where the peer is now. Without MOBIKE that is
		// the only way to follow it (with MOBIKE, UPDATE_SA_ADDRESSES).
		if sa.natRemote || sa.natLocal || p.Local.Port() != sa.local.Port() {
			sa.updateRemote(p.Local, p.Remote)
		}
	}
	sa.reqFrom = p
	var resp []wire.Payload
	var err error
	switch m.Header.Exchange {
	case wire.IKE_AUTH:
		resp, err = sa.processAuthRequest(inner)
	case wire.INFORMATIONAL:
		resp, err = sa.processInformational(inner)
	case wire.CREATE_CHILD_SA:
		resp, err = sa.processCreateChild(inner)
	default:
		err = notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("exchange %s not supported", m.Header.Exchange))
	}
	if err == errAuthzPending {
		return // answered by authorized
	}
	sa.answerRequest(m.Header.Exchange, mid, resp, err)
}

// answerRequest sends the response to the peer's request mid: resp, or
// the notify of err; a failed IKE_AUTH ends the IKE SA.
func (sa *ikeSA) answerRequest(exch wire.ExchangeType, mid uint32, resp []wire.Payload, err error) {
	var ne *NotifyError
	if err != nil && errors.As(err, &ne) && resp == nil {
		resp = []wire.Payload{&wire.Notify{Type: ne.Type, Data: ne.Data}}
	}
	if err != nil && exch == wire.IKE_AUTH && sa.state != stateEstablished {
		sa.e.noteAuthFailure(sa, err) // before the peer can learn of it and retry
	}
	sa.respond(exch, mid, resp)
	if err != nil && (exch == wire.IKE_AUTH && sa.state != stateEstablished) {
		sa.destroy(err)
	}
	if sa.state == stateDeleting && exch == wire.INFORMATIONAL {
		sa.finishDelete()
	}
}

// isFragmentOfLast reports whether m is a fragment of the request answered
// last (the peer retransmits fragments; RFC 7383 section 2.6.2).
func (sa *ikeSA) isFragmentOfLast(m *wire.Message) bool {
	if len(m.Payloads) == 0 {
		return false
	}
	f, ok := m.Payloads[len(m.Payloads)-1].(*wire.SKF)
	if !ok || f.Number != 1 {
		return false
	}
	_, err := f.Open(sa.in, nil)
	return err == nil
}

func (sa *ikeSA) respond(exch wire.ExchangeType, mid uint32, inner []wire.Payload) {
	pkts, err := sa.encode(exch, true, mid, inner)
	if err != nil {
		sa.log.Warn("cannot encode response", "exchange", exch.String(), "err", err)
		return
	}
	sa.lastResp, sa.haveLastResp = pkts, true
	sa.peerMID = mid + 1
	sa.logMessage("sending", exch, true, mid, inner, len(pkts))
	if sa.reqFrom.Remote.IsValid() {
		sa.sendPacketsTo(pkts, sa.reqFrom.Local, sa.reqFrom.Remote)
	} else {
		sa.sendPackets(pkts)
	}
}

func (sa *ikeSA) handleResponse(p Packet, m *wire.Message) {
	r := sa.pending
	if r == nil || m.Header.MessageID != r.mid || m.Header.Exchange != r.exchange {
		return
	}
	inner, ok := sa.decrypt(m, &sa.respFrags)
	if !ok {
		return
	}
	sa.logMessage("received", m.Header.Exchange, true, r.mid, inner, 0)
	sa.lastRecv = time.Now()
	sa.pending = nil
	if err := r.onReply(m, inner); err != nil {
		sa.log.Warn("exchange failed", "exchange", r.exchange.String(), "err", err)
	}
	sa.sendNext()
}

// logMessage writes the strongSwan-style one-line summary at debug level.
func (sa *ikeSA) logMessage(dir string, exch wire.ExchangeType, response bool, mid uint32, inner []wire.Payload, frags int) {
	if !sa.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	m := &wire.Message{Header: wire.Header{Exchange: exch, MessageID: mid}, Payloads: inner}
	if response {
		m.Header.Flags |= wire.FlagResponse
	}
	s := m.Summary()
	if frags > 1 {
		s += fmt.Sprintf(" (%d fragments)", frags)
	}
	sa.log.Debug(dir+" "+s, "ike_sa", sa.name(), "exchange", exch.String(), "mid", mid)
}

func (sa *ikeSA) name() string { return fmt.Sprintf("%016x_i %016x_r", sa.spii, sa.spir) }

// updateRemote moves the SA (and its CHILD SAs) to new addresses.
func (sa *ikeSA) updateRemote(local, remote netip.AddrPort) {
	sa.local, sa.remote = local, remote
	sa.log = sa.e.log.With("peer", remote.String())
	for _, c := range sa.children {
		c.updateAddresses(sa)
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
	info := sa.info()
	for _, c := range sa.children {
		c.remove(sa)
		if wasUp {
			if f := sa.e.cfg.hooks.ChildDown; f != nil {
				f(info, sa.childInfo(c))
			}
		}
	}
	sa.children = nil
	for _, l := range sa.leases {
		l.pool.Release(l.addr)
	}
	sa.leases = nil
	if sa.eap != nil {
		sa.eap.close()
		sa.eap = nil
	}
	if sa.keys != nil {
		sa.keys.Wipe()
	}
	if sa.cfg != nil && !sa.cfgLent {
		sa.cfg.wipeSecrets()
	}
	// A new IKE SA reserved for a rekey that never completed.
	for _, r := range []*ikeRekeyRecord{sa.ikeRekeyOurs, sa.ikeRekeyPeer} {
		if r != nil && r.ns != nil && !r.started {
			sa.e.unregister(r.ns)
		}
	}
	sa.ikeRekeyOurs, sa.ikeRekeyPeer = nil, nil
	for _, r := range append([]*request{sa.pending}, sa.queue...) {
		if r != nil && r.abort != nil {
			r.abort(fmt.Errorf("%w: IKE SA %s ended", ErrClosed, sa.name()))
		}
	}
	sa.pending, sa.queue = nil, nil
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
		h.err = err
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
	for _, l := range sa.leases {
		in.VirtualIPs = append(in.VirtualIPs, l.addr)
	}
	in.VirtualIPs = append(in.VirtualIPs, sa.vips...)
	for _, c := range sa.children {
		ci := c.info()
		sa.fillCounters(c, &ci)
		in.Children = append(in.Children, ci)
	}
	sa.fillSession(&in)
	return in
}

// equalBytes is bytes.Equal, named for the places that compare
// retransmitted IKE_SA_INIT messages.
func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }

// exchanger is the exchange layer of an IKE SA (RFC 7296 section 2.3,
// window size 1): the message IDs, our one outstanding request and the
// ones queued behind it, the cached response to the peer's last request
// (resent for a retransmission) and the reassembly of fragmented
// messages (RFC 7383).
type exchanger struct {
	nextMID      uint32 // message ID of our next request
	pending      *request
	queue        []*request
	peerMID      uint32 // message ID we expect in the peer's next request
	lastResp     [][]byte
	lastReqHash  [sha256.Size]byte
	haveLastResp bool
	reqFrags     wire.Reassembler
	respFrags    wire.Reassembler
}

// initiation is an initiator's IKE_SA_INIT in progress: its key
// exchange, the group it offered, COOKIE and INVALID_KE retries, and the
// redirects followed (RFC 5685).
type initiation struct {
	kex            alg.KeyExchange
	initGroup      proposal.KEID
	initRetries    int
	redirects      int
	redirectedFrom netip.Addr // the gateway that redirected us (REDIRECTED_FROM)
}

// leaseState is what the configuration exchange gave: as responder the
// leases from the pools, as initiator our virtual addresses, DNS servers,
// split-DNS domains and pushed subnets.
type leaseState struct {
	leases     []lease
	vips       []netip.Addr   // ours, as initiator
	dns        []netip.Addr   // DNS servers the gateway gave us
	dnsDomains []string       // split-DNS domains (RFC 8598) the gateway gave us
	subnets    []netip.Prefix // INTERNAL_IP4/6_SUBNET the gateway sent us
}

// loop is the plumbing of the SA goroutine: what it reads, its one timer,
// and the deadlines and liveness facts the timer is armed from.
type loop struct {
	inbox            chan Packet
	cmds             chan func()
	done             chan struct{}
	timer            *time.Timer
	halfOpenDeadline time.Time
	lastRecv         time.Time  // last authentic message from the peer
	dpdAt            time.Time  // next liveness check (zero: off)
	dialDone         chan error // initiator: the result of Dial
	downErr          error
}

// renewal is the IKE SA's rekeying and reauthentication state.
type renewal struct {
	rekeyAt  time.Time // our IKE SA rekey (zero: none scheduled)
	reauthAt time.Time // our reauthentication (zero: none scheduled)
	reauthOf *ikeSA    // the SA this one reauthenticates
	// rekeyed: a new IKE SA took over; deleting this one must not look
	// like the peer going away.
	rekeyed bool
	// ikeRekeyOurs and ikeRekeyPeer are the two halves of a simultaneous
	// IKE rekey (RFC 7296 section 2.8.2), kept until both are known.
	ikeRekeyOurs, ikeRekeyPeer *ikeRekeyRecord
	// lingerUntil destroys an SA that has no more purpose (rekeyed, or
	// redundant after a collision) if the peer never deletes it.
	lingerUntil time.Time
}

// path is where the IKE SA's messages go: our and the peer's outer
// addresses, NAT detection (RFC 7296 section 2.23) and the addresses of
// the request being processed (MOBIKE, RFC 4555).
type path struct {
	local, remote netip.AddrPort
	initRemote    netip.AddrPort // where the IKE_SA_INIT request came from (init table key); written under e.mu once registered
	natLocal      bool           // we are behind a NAT: send keepalives
	natRemote     bool           // the peer is behind a NAT
	reqFrom       Packet         // the request being processed (addresses for MOBIKE)
}

// admission is what a responder SA counts against the engine's limits
// (preauth.go, rekey.go) and gives back when it is established or ends.
type admission struct {
	countedHalfOpen   bool
	halfOpenSrc       netip.Addr // source key counted while countedHalfOpen
	kexQueued         bool       // holds a slot of the engine's key exchange queue
	countedSuperseded bool       // counted in engine.superseded
}

// negotiated is what IKE_SA_INIT settled (RFC 7296 section 1.2): the
// proposal, the keys, the nonces and raw messages AUTH signs, and the
// features both sides announced.
type negotiated struct {
	prop       proposal.Proposal
	prf        alg.PRF
	keys       *kdf.IKEKeys
	in, out    alg.Crypter
	ni, nr     []byte
	initReq    []byte // raw IKE_SA_INIT request (the initiator signs it)
	initResp   []byte // raw IKE_SA_INIT response (the responder signs it)
	fragOK     bool   // both announced IKEV2_FRAGMENTATION_SUPPORTED
	peerHashes []uint16
	peerMOBIKE bool // MOBIKE negotiated: both sent MOBIKE_SUPPORTED (RFC 4555)
	mobikeSeen bool // an IKE_AUTH response announced MOBIKE_SUPPORTED
	redirected bool // we sent the peer elsewhere in IKE_AUTH
	// peerInitialContact: the peer said in IKE_SA_INIT that it holds no
	// other IKE SA with us (Windows' Vendor ID).
	peerInitialContact bool
	peerRedirect       bool // the peer announced REDIRECT_SUPPORTED (RFC 5685)
}

// peerAuth is the authentication of the peer (IKE_AUTH, EAP, RFC 7296
// sections 2.15 and 2.16, Hooks.Authorize) and the configuration chosen
// for it.
type peerAuth struct {
	cfg         *PeerConfig
	cfgLent     bool // cfg is another IKE SA's (a rekey handed it over or shares it): not ours to wipe
	localID     ipsec.Identity
	remoteID    ipsec.Identity
	eapIdentity string
	eap         *eapState
	eapUser     *ipsec.User
	fixedAddrs  []netip.Addr // per-user addresses given instead of a lease
	authz       authzState   // Hooks.Authorize (authorize.go)
	peerKey     string       // identity key for uniqueness (responder, once authenticated)
	capKey      string       // identity counted in engine.caps (responder), see IdentityLimits
}
