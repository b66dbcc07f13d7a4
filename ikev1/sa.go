package ikev1

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/transport"
)

// saState is where an ISAKMP SA is in its life.
type saState uint8

const (
	stateConnecting  saState = iota // phase 1 running
	stateEstablished                // phase 1 done
	stateDeleting                   // our Delete sent, SA about to go
	stateOrphaned                   // the peer deleted the ISAKMP SA; its IPsec SAs wait to be adopted
	stateDone                       // the goroutine ends
)

func (s saState) String() string {
	switch s {
	case stateConnecting:
		return "CONNECTING"
	case stateEstablished:
		return "ESTABLISHED"
	case stateDeleting:
		return "DELETING"
	case stateOrphaned:
		return "ORPHANED"
	}
	return "DESTROYING"
}

// orphanGrace is how long the IPsec SAs of an ISAKMP SA the peer deleted
// wait for the peer's next ISAKMP SA to adopt them.
const orphanGrace = 20 * time.Second

// phase1Timeout bounds a phase 1 exchange: half-open SAs go after it.
const phase1Timeout = 30 * time.Second

// Errors an SA ends with (see SA.Err and Hooks.IKEDown).
var (
	// ErrPeerDeleted: the peer sent a Delete for the ISAKMP SA.
	ErrPeerDeleted = errors.New("ikev1: the peer deleted the ISAKMP SA")
	// ErrDeadPeer: DPD got no answer (RFC 3706).
	ErrDeadPeer = errors.New("ikev1: dead peer")
	// ErrTimeout: our retransmissions got no answer.
	ErrTimeout = errors.New("ikev1: no answer from the peer")
	// ErrAuthFailed: the peer's HASH or signature did not verify, or no
	// configuration accepts it.
	ErrAuthFailed = errors.New("ikev1: authentication failed")
	// ErrNoProposalChosen: no proposal matched (ours or the peer's
	// NO-PROPOSAL-CHOSEN).
	ErrNoProposalChosen = errors.New("ikev1: no proposal chosen")
	// ErrExpired: the ISAKMP SA reached its lifetime.
	ErrExpired = errors.New("ikev1: ISAKMP SA lifetime expired")
)

// headerLen is the ISAKMP header (RFC 2408 section 3.1).
const headerLen = 28

// inMsg is a received message with its plaintext body (decrypted, or the
// bytes after the header) and the packet it came in.
type inMsg struct {
	*wire.Message
	body []byte
	pkt  transport.Packet
}

// outMsg is our last message of one exchange (message ID), kept to
// retransmit it: on our timer while we wait for the peer's next message,
// and when the peer retransmits the message it answered.
type outMsg struct {
	data    [][]byte // the message, or its IKE fragments
	local   netip.AddrPort
	remote  netip.AddrPort
	retry   bool // resend on the timer
	sent    int  // retransmissions so far
	next    time.Time
	created time.Time
	answers [32]byte // SHA-256 of the peer's message it answers; zero if none
}

// isakmpSA is one ISAKMP (phase 1) SA with its IPsec SAs. One goroutine
// (run) owns it; other goroutines reach it through cmds.
type isakmpSA struct {
	e          *engine
	log        *slog.Logger
	initiator  bool
	ckyI, ckyR [8]byte
	local      netip.AddrPort
	remote     netip.AddrPort
	openRemote netip.AddrPort
	halfOpen   bool // under e.mu
	session    uint64
	started    time.Time

	in   chan transport.Packet
	cmds chan func()
	done chan struct{}

	cfg         *PeerConfig
	state       saState
	endErr      error
	established time.Time
	expires     time.Time

	p1   *phase1 // the running phase 1 exchange; nil after it
	keys *p1keys // after the key exchange

	prop       proposal.Proposal
	auth       proposal.IKEv1AuthMethod
	localID    ipsec.Identity
	remoteID   ipsec.Identity
	nat        natState
	peerDPD    bool
	peerFrag   bool
	quick      map[uint32]*quickMode
	children   []*child
	out        map[uint32]*outMsg
	lastIn     map[uint32][32]byte
	recent     []uint32    // exchange IDs in out and lastIn, oldest first
	xa         *xauthState // XAuth and Mode Config (gateway)
	eapName    string      // the XAuth user
	orphanedAt time.Time   // when the peer deleted the ISAKMP SA (stateOrphaned)
	quickMIDs  midSet      // the last Quick Modes' message IDs
	frags      *wire.Reassembler
	fragID     uint16
	mode       wire.ExchangeType // the phase 1 exchange, kept after it
	confirm    func()            // advances the receive IV once a message is verified
	dpd        dpdState
	timer      *time.Timer
	snap       atomic.Pointer[ipsec.IKESAInfo]
	waiters    []chan error // Dial waiting for the first IPsec SA

	// Re-authentication (our initiator): IKEv1 has no rekey of an
	// ISAKMP SA, so a new one replaces it before it expires.
	dialLocal, dialRemote netip.AddrPort
	rekeyAt               time.Time
	reauthing             bool
	pred                  *isakmpSA                // the SA this one replaces
	next                  atomic.Pointer[isakmpSA] // the SA that replaced this one
}

func newSA(e *engine, initiator bool, local, remote netip.AddrPort) *isakmpSA {
	sa := &isakmpSA{e: e, initiator: initiator, local: local, remote: remote, openRemote: remote,
		in: make(chan transport.Packet, 16), cmds: make(chan func(), 8), done: make(chan struct{}),
		quick: map[uint32]*quickMode{}, out: map[uint32]*outMsg{}, lastIn: map[uint32][32]byte{},
		session: transport.NewSessionID(), started: e.cfg.now()}
	sa.log = e.log.With("peer", remote)
	sa.publish()
	return sa
}

// ourCookie is the cookie that names the SA in the engine's table.
func (sa *isakmpSA) ourCookie() [8]byte {
	if sa.initiator {
		return sa.ckyI
	}
	return sa.ckyR
}

// deliver queues a packet; a full queue drops it (the peer retransmits).
func (sa *isakmpSA) deliver(p transport.Packet) {
	select {
	case sa.in <- p:
	case <-sa.done:
	default:
		sa.log.Debug("dropping IKEv1 message: SA queue full")
	}
}

// do runs f on the SA's goroutine and waits for it; false when the SA is
// gone.
func (sa *isakmpSA) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case sa.cmds <- func() { f(); close(ran) }:
	case <-sa.done:
		return false
	}
	select {
	case <-ran:
		return true
	case <-sa.done:
		return false
	}
}

// closeAndWait deletes the SA (telling the peer) and waits for its end.
func (sa *isakmpSA) closeAndWait() {
	sa.do(func() { sa.terminate(nil, true) })
	<-sa.done
}

func (sa *isakmpSA) run(ctx context.Context) {
	defer sa.finish()
	sa.timer = time.NewTimer(time.Hour)
	defer sa.timer.Stop()
	if sa.initiator {
		if err := sa.startPhase1(); err != nil {
			sa.terminate(err, false)
		}
	}
	for sa.state != stateDone {
		sa.arm()
		select {
		case p := <-sa.in:
			sa.handle(p)
		case f := <-sa.cmds:
			f()
		case <-sa.timer.C:
			sa.onTimer(sa.e.cfg.now())
		case <-ctx.Done():
			sa.terminate(ErrClosed, true)
		}
		sa.publish()
	}
}

// arm sets the timer to the earliest deadline.
func (sa *isakmpSA) arm() {
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, o := range sa.out {
		if o.retry {
			at(o.next)
		}
	}
	if sa.state == stateConnecting {
		at(sa.started.Add(phase1Timeout))
	}
	if sa.state == stateOrphaned {
		at(sa.orphanedAt.Add(orphanGrace))
	}
	at(sa.expires)
	if sa.state == stateEstablished && !sa.reauthing {
		at(sa.rekeyAt)
	}
	at(sa.dpd.next(sa))
	at(sa.xauthDeadline())
	if sa.xa != nil {
		at(sa.xa.pushAt)
	}
	for _, c := range sa.children {
		at(c.deadline())
	}
	for _, q := range sa.quick {
		at(q.started.Add(phase1Timeout))
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(next.Sub(sa.e.cfg.now()), 0)
	}
	if !sa.timer.Stop() {
		select {
		case <-sa.timer.C:
		default:
		}
	}
	sa.timer.Reset(d)
}

func (sa *isakmpSA) onTimer(now time.Time) {
	for mid, o := range sa.out {
		if !o.retry || now.Before(o.next) {
			continue
		}
		if o.sent >= len(sa.e.cfg.retrans) {
			if mid == 0 && sa.state == stateConnecting {
				sa.terminate(ErrTimeout, false)
				return
			}
			o.retry = false
			if q := sa.quick[mid]; q != nil {
				sa.quickFailed(q, ErrTimeout)
			}
			continue
		}
		sa.log.Debug("retransmitting", "mid", mid, "n", o.sent+1)
		sa.write(o)
		o.next = now.Add(sa.e.cfg.retrans[min(o.sent+1, len(sa.e.cfg.retrans)-1)])
		o.sent++
	}
	if sa.state == stateOrphaned && (len(sa.children) == 0 || !now.Before(sa.orphanedAt.Add(orphanGrace))) {
		sa.terminate(ErrPeerDeleted, false)
		return
	}
	if sa.state == stateConnecting && !now.Before(sa.started.Add(phase1Timeout)) {
		sa.log.Debug("phase 1 timed out")
		sa.terminate(ErrTimeout, false)
		return
	}
	for mid, q := range sa.quick {
		if !now.Before(q.started.Add(phase1Timeout)) {
			sa.quickFailed(q, ErrTimeout)
			delete(sa.quick, mid)
		}
	}
	if !sa.expires.IsZero() && !now.Before(sa.expires) {
		sa.log.Info("ISAKMP SA expired")
		sa.terminate(ErrExpired, true)
		return
	}
	if x := sa.xa; x != nil && !x.pushAt.IsZero() && !now.Before(x.pushAt) && !x.lease.IsValid() && sa.state == stateEstablished {
		sa.modeConfigPush()
	}
	if t := sa.xauthDeadline(); !t.IsZero() && !now.Before(t) {
		sa.log.Warn("XAuth or Mode Config did not finish in time")
		sa.terminate(fmt.Errorf("%w: XAuth or Mode Config did not finish", ErrTimeout), true)
		return
	}
	if sa.state == stateEstablished && !sa.reauthing && !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) {
		sa.reauth()
	}
	sa.dpd.tick(sa, now)
	if sa.state == stateDone {
		return
	}
	sa.childTimers(now)
}

// reauth starts the ISAKMP SA that replaces this one (our initiator): a
// new phase 1 and Quick Modes for the configuration's IPsec SAs; when its
// first IPsec SA is up, this SA is deleted (make before break, so traffic
// moves without a gap; the policies stay, see acquirePolicies).
func (sa *isakmpSA) reauth() {
	sa.reauthing = true
	n, err := sa.e.newInitiatorSA(sa.dialLocal, sa.dialRemote, sa.cfg)
	if err != nil {
		sa.log.Warn("re-authentication failed to start", "err", err)
		return
	}
	n.session, n.pred = sa.session, sa
	sa.log.Info("re-authenticating: starting a new ISAKMP SA")
	sa.e.start(n)
}

// replacePredecessor deletes the SA this one replaced, once this one
// carries traffic.
func (sa *isakmpSA) replacePredecessor() {
	old := sa.pred
	if old == nil {
		return
	}
	sa.pred = nil
	old.next.Store(sa)
	go old.do(func() {
		old.log.Info("replaced by the re-authenticated ISAKMP SA, deleting it")
		old.terminate(nil, true)
	})
}

// handle processes one message of the peer.
func (sa *isakmpSA) handle(p transport.Packet) {
	msg, err := wire.Parse(p.Data)
	if err != nil {
		sa.log.Debug("dropping malformed message", "err", err)
		return
	}
	if f := fragmentOf(msg); f != nil {
		sa.fragment(f, p)
		return
	}
	mid := msg.MessageID
	sum := sha256.Sum256(p.Data)
	if last, ok := sa.lastIn[mid]; ok && last == sum {
		// Only an answer to that very message is resent: our message
		// sent before it (Main Mode message 5, Quick Mode message 2)
		// would make the peer resend its answer in turn, and the two
		// would bounce a replayed message between them forever. The
		// answer is resent also while it waits for the peer's next
		// message (Main Mode message 2 waits for 3): the retransmission
		// says it was lost, and the peer gives up on the exchange long
		// before our own timer would resend it (strongSwan deletes the
		// SA it re-authenticates 2 s after starting the new one).
		if o := sa.out[mid]; o != nil && o.answers == sum {
			sa.log.Debug("peer retransmitted, resending our answer", "mid", mid)
			sa.write(o)
		}
		return
	}
	sa.confirm = nil
	body := msg.Raw[min(len(msg.Raw), headerLen):]
	if msg.Flags&wire.FlagEncryption != 0 {
		if sa.keys == nil {
			sa.log.Debug("dropping encrypted message before the keys exist", "exchange", msg.Exchange, "mid", mid)
			return
		}
		plain, confirm, err := sa.keys.crypto.Open(msg)
		var pl []wire.Payload
		if err == nil {
			pl, err = wire.ParsePayloads(msg.Next, plain)
		}
		if err != nil {
			sa.log.Debug("dropping message that does not decrypt", "exchange", msg.Exchange, "mid", mid, "err", err)
			if ct := len(msg.Encrypted); sa.state == stateConnecting && mid == 0 && ct > 0 && ct%sa.keys.crypto.BlockSize() == 0 {
				// The first encrypted message of phase 1 is garbage
				// with the keys we derived: the PSKs differ. (A body
				// that is no whole number of blocks was cut on the
				// way or forged: dropped, the peer retransmits.)
				sa.authFailedUndecryptable(err)
			}
			return
		}
		msg.Payloads, sa.confirm = pl, confirm
		body = plain
	}
	in := &inMsg{Message: msg, body: body, pkt: p}
	prev := sa.out[mid] // a message we send now answers this one
	sa.log.Debug("received "+msg.Summary(), "exchange", msg.Exchange, "mid", mid)
	switch msg.Exchange {
	case wire.IdentityProtection, wire.Aggressive:
		if mid != 0 {
			return
		}
		err = sa.phase1Process(in)
	case wire.QuickMode:
		err = sa.quickProcess(in)
	case wire.Informational:
		err = sa.infoProcess(in)
	case wire.Transaction:
		err = sa.transactionProcess(in)
	default:
		sa.log.Debug("ignoring unsupported exchange", "exchange", msg.Exchange, "mid", mid)
		return
	}
	if o := sa.out[mid]; o != nil && o != prev {
		o.answers = sum
	}
	if err != nil {
		sa.log.Debug("message rejected", "exchange", msg.Exchange, "mid", mid, "err", err)
		return
	}
	sa.lastIn[mid] = sum
	sa.remember(mid)
	sa.dpd.heard(sa.e.cfg.now())
}

// authFailedUndecryptable ends a phase 1 whose first encrypted message
// does not decrypt: with a pre-shared key that means the two keys differ
// (strongSwan reports it the same way).
func (sa *isakmpSA) authFailedUndecryptable(err error) {
	e := fmt.Errorf("%w: phase 1 message does not decrypt (pre-shared keys differ?): %v", ErrAuthFailed, err)
	sa.log.Warn("peer's phase 1 message does not decrypt: wrong pre-shared key?", "remote_id", sa.remoteID)
	sa.alert(AlertAuthFailed, e, "")
	sa.sendPhase1Notify(wire.PAYLOAD_MALFORMED)
	sa.terminate(e, false)
}

// accepted confirms the message being processed: its IV moves the chain
// on. Called once the message is authenticated, before our answer is
// encrypted.
func (sa *isakmpSA) accepted() {
	if sa.confirm != nil {
		sa.confirm()
		sa.confirm = nil
	}
}

// send encodes m, encrypts it when encrypt is set, transmits it and keeps
// it as the last message of its exchange; retry resends it on the timer
// until the peer's next message.
func (sa *isakmpSA) send(m *wire.Message, encrypt, retry bool) error {
	m.ICookie, m.RCookie = sa.ckyI, sa.ckyR
	m.Version = 0x10
	b, err := m.Append(nil)
	if err != nil {
		return fmt.Errorf("ikev1: encode %s: %w", m.Exchange, err)
	}
	if encrypt {
		if b, err = sa.keys.crypto.Seal(nil, b); err != nil {
			return fmt.Errorf("ikev1: encrypt %s: %w", m.Exchange, err)
		}
	}
	return sa.sendRaw(m, b, retry)
}

// sendRaw transmits an encoded message and records it for retransmission.
func (sa *isakmpSA) sendRaw(m *wire.Message, b []byte, retry bool) error {
	now := sa.e.cfg.now()
	frags := [][]byte{b}
	if sa.peerFragments() && len(b) > fragmentAbove {
		var err error
		sa.fragID++
		if frags, err = wire.SplitFragments(b, sa.phase1Exchange(), sa.fragID, fragmentSize); err != nil {
			return err
		}
	}
	o := &outMsg{data: frags, local: sa.local, remote: sa.remote, retry: retry, created: now, next: now.Add(sa.e.cfg.retrans[0])}
	sa.out[m.MessageID] = o
	sa.remember(m.MessageID)
	sa.log.Debug("sending "+m.Summary(), "exchange", m.Exchange, "mid", m.MessageID)
	return sa.write(o)
}

func (sa *isakmpSA) write(o *outMsg) error {
	var err error
	for _, d := range o.data {
		if e := sa.e.conn.Send(transport.Packet{Data: d, Local: o.local, Remote: o.remote}); e != nil {
			sa.log.Debug("send failed", "err", e)
			err = e
		}
	}
	return err
}

// IKE fragmentation (the Cisco/racoon scheme, payload 132): messages
// above fragmentAbove bytes go in fragments of at most fragmentSize bytes
// (strongSwan's default fragment_size is 1280) when the peer announced
// the FRAGMENTATION vendor ID; received fragments are reassembled within
// bounds.
const (
	fragmentAbove   = 1200
	fragmentSize    = 1200
	fragMax         = 32
	fragMaxSize     = 64 << 10
	fragMaxHalfOpen = 16 << 10
)

func (sa *isakmpSA) peerFragments() bool {
	if sa.p1 != nil {
		return sa.p1.peer.fragment
	}
	return sa.peerFrag
}

// phase1Exchange is the exchange type fragments carry: the ISAKMP SA's
// phase 1 exchange (receivers dispatch on it, as strongSwan does).
func (sa *isakmpSA) phase1Exchange() wire.ExchangeType {
	if sa.p1 != nil {
		return sa.p1.exchange
	}
	return sa.mode
}

// fragmentOf returns the fragment a message carries, if it is one.
func fragmentOf(m *wire.Message) *wire.Fragment {
	if len(m.Payloads) != 1 {
		return nil
	}
	f, _ := m.Payloads[0].(*wire.Fragment)
	return f
}

// fragment collects an IKE fragment and handles the message once it is
// complete.
func (sa *isakmpSA) fragment(f *wire.Fragment, p transport.Packet) {
	if sa.frags == nil {
		// Before phase 1 is authenticated the peer may be anyone: a
		// half-open SA holds at most 16 KB of fragments (a certificate
		// chain fits), so the half-open limit bounds the memory.
		size := fragMaxSize
		if sa.state == stateConnecting {
			size = fragMaxHalfOpen
		}
		sa.frags = wire.NewReassembler(fragMax, size)
	}
	msg, done, err := sa.frags.Add(f)
	if err != nil {
		sa.log.Debug("dropping IKE fragments", "err", err)
		return
	}
	if done {
		p.Data = msg
		sa.handle(p)
	}
}

// maxExchanges bounds the exchanges whose last messages an SA keeps
// (to answer retransmissions): DPD and rekeys add one every few seconds
// for as long as the SA lives.
const maxExchanges = 32

// remember notes exchange mid as the newest; the oldest finished ones
// beyond maxExchanges are forgotten (phase 1's, mid 0, and running Quick
// Modes stay).
func (sa *isakmpSA) remember(mid uint32) {
	if mid == 0 {
		return
	}
	for i, m := range sa.recent {
		if m == mid {
			sa.recent = append(sa.recent[:i], sa.recent[i+1:]...)
			break
		}
	}
	sa.recent = append(sa.recent, mid)
	for i := 0; len(sa.recent) > maxExchanges && i < len(sa.recent); {
		old := sa.recent[i]
		if sa.quick[old] != nil {
			i++
			continue
		}
		delete(sa.out, old)
		delete(sa.lastIn, old)
		sa.recent = append(sa.recent[:i], sa.recent[i+1:]...)
	}
}

// answered stops retransmitting our message of exchange mid: the peer's
// next message arrived.
func (sa *isakmpSA) answered(mid uint32) {
	if o := sa.out[mid]; o != nil {
		o.retry = false
	}
}

// terminate ends the SA: with notify set, the peer is told with a
// Delete (when the SA is established). err is the reason (nil: a local,
// orderly close).
func (sa *isakmpSA) terminate(err error, notify bool) {
	if sa.state == stateDone {
		return
	}
	if notify && sa.state == stateEstablished {
		sa.deleteChildren(true)
		sa.sendDeleteISAKMP()
	} else {
		sa.deleteChildren(false)
	}
	sa.state = stateDone
	sa.endErr = err
	for _, w := range sa.waiters {
		if err == nil {
			err = ErrClosed
		}
		w <- err
	}
	sa.waiters = nil
}

// finish runs when the goroutine ends: hooks, keys wiped, table entry
// gone.
func (sa *isakmpSA) finish() {
	sa.state = stateDone
	sa.e.remove(sa)
	sa.e.releaseXAuth(sa)
	if !sa.established.IsZero() {
		info, _ := sa.info()
		if h := sa.e.cfg.hooks.IKEDown; h != nil {
			h(info, sa.endErr)
		}
		sa.log.Info("ISAKMP SA down", "err", sa.endErr)
	}
	if sa.keys != nil {
		sa.keys.wipe()
	}
	if sa.p1 != nil {
		sa.p1.wipe()
	}
	sa.publish()
	close(sa.done)
}

// info returns a snapshot; ok is false before phase 1 is done.
func (sa *isakmpSA) info() (ipsec.IKESAInfo, bool) {
	in := ipsec.IKESAInfo{
		Version: 1, State: sa.state.String(), Initiator: sa.initiator,
		SPIi: beUint64(sa.ckyI[:]), SPIr: beUint64(sa.ckyR[:]),
		Local: sa.local, Remote: sa.remote, NATLocal: sa.nat.local, NATRemote: sa.nat.remote,
		LocalID: sa.localID, RemoteID: sa.remoteID, Established: sa.established,
		SessionID: sa.session, EAPIdentity: sa.eapName,
	}
	if sa.xa != nil && sa.xa.lease.IsValid() {
		in.VirtualIPs = []netip.Addr{sa.xa.lease}
	}
	if len(sa.prop.Encr) > 0 {
		in.Proposal = sa.prop.String()
	}
	for _, c := range sa.children {
		ci := c.info(sa)
		in.Children = append(in.Children, ci)
		in.BytesIn += ci.BytesIn
		in.BytesOut += ci.BytesOut
		in.PacketsIn += ci.PacketsIn
		in.PacketsOut += ci.PacketsOut
	}
	return in, !sa.established.IsZero()
}

// publish stores a snapshot for readers on other goroutines.
func (sa *isakmpSA) publish() {
	in, _ := sa.info()
	sa.snap.Store(&in)
}

// alert raises Hooks.Alert.
func (sa *isakmpSA) alert(kind AlertKind, err error, explanation string) {
	if h := sa.e.cfg.hooks.Alert; h != nil {
		info, _ := sa.info()
		h(Alert{Kind: kind, Info: info, Err: err, Explanation: explanation})
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
