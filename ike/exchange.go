package ike

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
)

// The exchange layer of an IKE SA (RFC 7296 sections 2.1-2.3, RFC 7383):
// message IDs and the window of one, our requests queued and
// retransmitted, the cached response to the peer's last request,
// encryption and integrity (SK/SKF), fragments, and the dispatch of a
// request to the exchange that answers it. The exchanges themselves are
// in exchange_*.go, informational.go, mobike.go and redirect.go.

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

// exchangeTask is an exchange we initiate, holding its own state from
// its request to the response: build makes the request's payloads when
// it is sent, reply handles the response's.
type exchangeTask interface {
	build(sa *ikeSA) ([]wire.Payload, error)
	reply(sa *ikeSA, inner []wire.Payload) error
}

// taskRequest is the request of task t on the IKE SA sa.
func (sa *ikeSA) taskRequest(exch wire.ExchangeType, t exchangeTask) *request {
	return &request{
		exchange: exch,
		build:    func() ([]wire.Payload, error) { return t.build(sa) },
		onReply:  func(_ *wire.Message, inner []wire.Payload) error { return t.reply(sa, inner) },
	}
}

// exchanger is the exchange layer of an IKE SA (RFC 7296 section 2.3,
// window size 1): the message IDs, our one outstanding request and the
// ones queued behind it, the cached response to the peer's last request
// (resent for a retransmission), encryption and integrity of SK and SKF
// payloads, the reassembly of fragmented messages (RFC 7383) and the
// retransmission schedule. Its methods touch nothing else of the SA; the
// SA's methods below put its output on the wire (the path is the SA's)
// and dispatch what it accepts to the exchanges.
type exchanger struct {
	nextMID      uint32 // message ID of our next request
	pending      *request
	queue        []*request
	peerMID      uint32 // message ID we expect in the peer's next request
	lastResp     [][]byte
	lastRespAt   time.Time // when lastResp was cached (see respCacheTTL)
	lastReqHash  [sha256.Size]byte
	haveLastResp bool
	reqFrags     *wire.Reassembler // while a fragmented request arrives (nil: none)
	respFrags    *wire.Reassembler // while a fragmented response arrives
	in, out      alg.Crypter       // SK keys, from IKE_SA_INIT (nil before)
	fragOK       bool              // RFC 7383 fragmentation negotiated
	rt           retransmission
	rnd          io.Reader // the engine's random source, for IVs and padding
	// plainFirst and plain are the decrypted inner chain of the message
	// open returned last (IKE_INTERMEDIATE's IntAuth covers them, RFC
	// 9242 section 3.3.2); plain aliases the decryption buffer.
	plainFirst wire.PayloadType
	plain      []byte
}

// retransmission is the schedule of our requests (WithRetransmission).
type retransmission struct {
	timeout time.Duration // after the first transmission
	base    float64       // each further timeout is base times longer
	tries   int           // retransmissions before the peer is given up
}

func newExchanger(e *engine) exchanger {
	return exchanger{rt: e.cfg.rt, rnd: lockedReader{&e.randMu, e.cfg.rand}}
}

// useKeys sets the SK keys of the IKE SA: out seals our messages, in
// opens the peer's.
func (x *exchanger) useKeys(out, in alg.Crypter) { x.out, x.in = out, in }

// idle drops what the exchange layer needs only while messages flow: the
// SK ciphers (skCrypter), built again for the next message, and the
// reassemblers with no fragmented message under way (one keeps the last
// message it put together, a few KB with certificates).
func (x *exchanger) idle() {
	x.plain = nil
	for _, c := range []alg.Crypter{x.in, x.out} {
		if s, ok := c.(*skCrypter); ok {
			s.release()
		}
	}
	for _, r := range []**wire.Reassembler{&x.reqFrags, &x.respFrags} {
		if *r != nil {
			if _, busy := (*r).InProgress(); !busy {
				*r = nil
			}
		}
	}
}

// fragmentation turns RFC 7383 fragmentation on or off (both sides
// announced it).
func (x *exchanger) fragmentation(on bool) { x.fragOK = on }

// queueUnsent adds r to the queue without sending it: the IKE SA's
// goroutine sends it when it starts.
func (x *exchanger) queueUnsent(r *request) { x.queue = append(x.queue, r) }

// backoff is the timeout after the n-th transmission (n starting at 0).
func (x *exchanger) backoff(n int) time.Duration {
	return time.Duration(float64(x.rt.timeout) * math.Pow(x.rt.base, float64(n)))
}

// seal builds and encrypts a message, fragmenting it when both sides
// support RFC 7383 and it exceeds maxLen.
func (x *exchanger) seal(h wire.Header, inner []wire.Payload, maxLen int) ([][]byte, error) {
	m := &wire.Message{Header: h, Payloads: []wire.Payload{&wire.SK{Payloads: inner}}}
	b, err := m.AppendSealed(nil, x.out, x.rnd)
	if err != nil {
		return nil, err
	}
	if x.fragOK && len(b) > maxLen {
		return m.AppendFragments(nil, x.out, x.rnd, maxLen)
	}
	return [][]byte{b}, nil
}

// open decrypts the SK payload or adds an SKF fragment (to the peer's
// request or, with response, to the response to ours). It returns the
// inner payloads once the message is complete; ok is false while
// fragments are missing or when the message is not authentic (err says
// why, for the log).
func (x *exchanger) open(m *wire.Message, response bool) (inner []wire.Payload, ok bool, err error) {
	if len(m.Payloads) == 0 {
		return nil, false, nil
	}
	switch sk := m.Payloads[len(m.Payloads)-1].(type) {
	case *wire.SK:
		out, err := sk.Open(x.in, nil)
		if err != nil {
			return nil, false, fmt.Errorf("message fails integrity or decoding: %w", err)
		}
		// out is the plaintext with its padding and pad length, which
		// Open checked.
		x.plainFirst, x.plain = sk.FirstPayload, out[:len(out)-1-int(out[len(out)-1])]
		return sk.Payloads, true, nil
	case *wire.SKF:
		if !x.fragOK {
			return nil, false, nil
		}
		if _, err := sk.Open(x.in, nil); err != nil {
			return nil, false, fmt.Errorf("fragment fails integrity: %w", err)
		}
		frags := &x.reqFrags
		if response {
			frags = &x.respFrags
		}
		if *frags == nil {
			*frags = new(wire.Reassembler)
		}
		done, err := (*frags).Add(m.Header.MessageID, sk)
		if err != nil || !done {
			return nil, false, nil
		}
		first, plain := (*frags).Result()
		ps, err := wire.ParsePayloads(first, plain)
		if err != nil {
			return nil, false, fmt.Errorf("reassembled message: %w", err)
		}
		x.plainFirst, x.plain = first, plain
		return ps, true, nil
	}
	return nil, false, nil
}

// plaintext is the inner chain of the message open returned last: the
// type of its first payload and its bytes.
func (x *exchanger) plaintext() (wire.PayloadType, []byte) { return x.plainFirst, x.plain }

// next takes the request to send next, if the window is free.
func (x *exchanger) next() *request {
	if x.pending != nil || len(x.queue) == 0 {
		return nil
	}
	r := x.queue[0]
	x.queue = x.queue[1:]
	return r
}

// sent makes r, encoded as pkts with the next message ID, the request in
// flight.
func (x *exchanger) sent(r *request, pkts [][]byte) {
	r.mid, r.packets, r.next = x.nextMID, pkts, time.Now().Add(x.backoff(0))
	x.nextMID++
	x.pending = r
}

// IKE_SA_INIT (message ID 0) is unencrypted and runs before the SA has
// keys; the exchanger still owns its message IDs and its request in
// flight.

// initSent makes our IKE_SA_INIT request, encoded as pkts, the request in
// flight with message ID 0, retransmitted like any other; a retry (with a
// COOKIE, another KE method, at another gateway) replaces it.
func (x *exchanger) initSent(pkts [][]byte) {
	x.pending = &request{exchange: wire.IKE_SA_INIT, mid: 0, packets: pkts, next: time.Now().Add(x.backoff(0))}
}

// initReplyTo reports whether m may answer our IKE_SA_INIT request in
// flight.
func (x *exchanger) initReplyTo(m *wire.Message) bool {
	return x.pending != nil && x.pending.exchange == wire.IKE_SA_INIT && m.Header.MessageID == 0
}

// initOver ends our IKE_SA_INIT request: answered, or dropped for a retry.
// With keyed the IKE SA exists and our next request (IKE_AUTH) has
// message ID 1.
func (x *exchanger) initOver(keyed bool) {
	x.pending = nil
	if keyed {
		x.nextMID = 1
	}
}

// initAnswered records that we answered the peer's IKE_SA_INIT request
// (message ID 0): its next request has message ID 1.
func (x *exchanger) initAnswered() { x.peerMID = 1 }

// replied frees the window: the request in flight was answered.
func (x *exchanger) replied() { x.pending = nil }

// keyed reports whether the SK keys exist (IKE_SA_INIT completed).
func (x *exchanger) keyed() bool { return x.out != nil }

// peerID is the message ID of the peer's request being answered (the
// one expected next once it is).
func (x *exchanger) peerID() uint32 { return x.peerMID }

// nextID is the message ID of our next request.
func (x *exchanger) nextID() uint32 { return x.nextMID }

// inFlight is our request in flight (nil: none).
func (x *exchanger) inFlight() *request { return x.pending }

// busy reports whether an exchange of ours is in flight or queued.
func (x *exchanger) busy() bool { return x.pending != nil || len(x.queue) > 0 }

// requests returns the request in flight (if any) and the queued ones.
func (x *exchanger) requests() []*request {
	out := make([]*request, 0, 1+len(x.queue))
	if x.pending != nil {
		out = append(out, x.pending)
	}
	return append(out, x.queue...)
}

// findRequest reports whether a request of kind, for child c if c is not
// nil, is in flight or queued.
func (x *exchanger) findRequest(kind reqKind, c *childSA) bool {
	for _, r := range x.requests() {
		if r.kind == kind && (c == nil || r.child == c) {
			return true
		}
	}
	return false
}

// takeQueue empties the queue and returns what was in it.
func (x *exchanger) takeQueue() []*request {
	q := x.queue
	x.queue = nil
	return q
}

// abortAll drops every request, telling their owners err.
func (x *exchanger) abortAll(err error) {
	for _, r := range x.requests() {
		if r.abort != nil {
			r.abort(err)
		}
	}
	x.pending, x.queue = nil, nil
}

// retransmitAt is when the request in flight is due again (zero: none).
func (x *exchanger) retransmitAt() time.Time {
	if x.pending == nil {
		return time.Time{}
	}
	return x.pending.next
}

// retransmit returns the request in flight if it is due at now, counting
// the try; giveUp is set when its retransmissions are used up.
func (x *exchanger) retransmit(now time.Time) (r *request, giveUp bool) {
	r = x.pending
	if r == nil || now.Before(r.next) {
		return nil, false
	}
	if r.tries >= x.rt.tries {
		return r, true
	}
	r.tries++
	r.next = now.Add(x.backoff(r.tries))
	return r, false
}

// replyTo returns the request in flight that the response m answers, or
// nil.
func (x *exchanger) replyTo(m *wire.Message) *request {
	r := x.pending
	if r == nil || m.Header.MessageID != r.mid || m.Header.Exchange != r.exchange {
		return nil
	}
	return r
}

// repeated tells whether the peer's request m, arriving as p, is a
// retransmission of the one answered last (RFC 7296 section 2.1), and if
// so the cached response to resend: only an exact copy of a packet of
// the request (or a fragment of it, RFC 7383 section 2.6.2) gets it, so
// spoofed packets cannot make us send. old is set for any message ID
// that is not the one expected next: such requests are not processed.
func (x *exchanger) repeated(p Packet, m *wire.Message) (resend [][]byte, old bool) {
	mid := m.Header.MessageID
	if x.haveLastResp && mid+1 == x.peerMID {
		if h := reqHash(p); h == x.lastReqHash || x.isFragmentOfLast(m) {
			return x.lastResp, true
		}
		return nil, true
	}
	return nil, mid != x.peerMID
}

// isFragmentOfLast reports whether m is a fragment of the request answered
// last (the peer retransmits fragments; RFC 7383 section 2.6.2).
func (x *exchanger) isFragmentOfLast(m *wire.Message) bool {
	if len(m.Payloads) == 0 {
		return false
	}
	f, ok := m.Payloads[len(m.Payloads)-1].(*wire.SKF)
	if !ok || f.Number != 1 {
		return false
	}
	_, err := f.Open(x.in, nil)
	return err == nil
}

// answering records the peer's request p, being processed now.
func (x *exchanger) answering(p Packet) { x.lastReqHash = reqHash(p) }

// cacheResponse caches pkts, our response to the peer's request mid, for its
// retransmissions, and moves on to the next message ID.
func (x *exchanger) cacheResponse(mid uint32, pkts [][]byte, now time.Time) {
	x.lastResp, x.lastRespAt, x.haveLastResp = pkts, now, true
	x.peerMID = mid + 1
}

// respCacheTTL is how long the response to the peer's last request is
// kept for its retransmissions. RFC 7296 section 2.1 has the responder
// resend it for as long as the peer retransmits; peers give up long before
// this (strongSwan after about 165 s, Windows and Apple sooner). After it,
// a retransmission of that request is recognised (its hash and message ID
// stay) and dropped unanswered, and the packets, with certificates several
// kilobytes, no longer sit in every idle SA (most clients send no request
// for hours after IKE_AUTH).
const respCacheTTL = 5 * time.Minute

// respCacheUntil is when the cached response goes (zero: none cached).
func (x *exchanger) respCacheUntil() time.Time {
	if x.lastResp == nil {
		return time.Time{}
	}
	return x.lastRespAt.Add(respCacheTTL)
}

// expireResponse drops the cached response once respCacheTTL has passed.
func (x *exchanger) expireResponse(now time.Time) {
	if x.lastResp != nil && !now.Before(x.respCacheUntil()) {
		x.lastResp = nil
	}
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

// encode builds and encrypts a message of this SA (its SPIs, our role),
// fragmented to the path's fragment size where negotiated.
func (sa *ikeSA) encode(exch wire.ExchangeType, response bool, mid uint32, inner []wire.Payload) ([][]byte, error) {
	h := messageHeader(sa.spii, sa.spir, sa.weInitiated, exch, response, mid)
	mtu := DefaultFragmentMTU
	if sa.cfg != nil && sa.cfg.FragmentMTU != 0 {
		mtu = sa.cfg.FragmentMTU
	}
	return sa.ex.seal(h, inner, wire.FragmentSize(mtu, sa.remote.Addr().Is6(), sa.natt()))
}

// queueRequest adds an exchange we initiate; it is sent when the previous
// one is answered (window size 1).
func (sa *ikeSA) queueRequest(r *request) {
	sa.ex.queueUnsent(r)
	sa.sendNext()
}

func (sa *ikeSA) sendNext() {
	for sa.state != stateDead {
		r := sa.ex.next()
		if r == nil {
			return
		}
		inner, err := r.build()
		if err != nil {
			sa.log.Warn("cannot build request", "exchange", r.exchange.String(), "err", err)
			continue
		}
		pkts, err := sa.encode(r.exchange, false, sa.ex.nextID(), inner)
		if err != nil {
			sa.log.Warn("cannot encode request", "exchange", r.exchange.String(), "err", err)
			continue
		}
		sa.ex.sent(r, pkts)
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
	if !sa.ex.keyed() {
		return // no keys yet: nothing else can be authentic
	}
	if h.IsResponse() {
		sa.handleResponse(p, m)
	} else {
		sa.handleRequest(p, m)
	}
}

// decrypt opens the SK payload or adds an SKF fragment (see
// exchanger.open), logging what it drops.
func (sa *ikeSA) decrypt(m *wire.Message) ([]wire.Payload, bool) {
	inner, ok, err := sa.ex.open(m, m.Header.IsResponse())
	if err != nil {
		sa.log.Debug("dropping "+err.Error(), "exchange", m.Header.Exchange.String(), "mid", m.Header.MessageID)
	}
	return inner, ok
}

func reqHash(p Packet) [sha256.Size]byte { return sha256.Sum256(p.Data) }

func (sa *ikeSA) handleRequest(p Packet, m *wire.Message) {
	mid := m.Header.MessageID
	if resend, old := sa.ex.repeated(p, m); old {
		// A retransmitted request gets the cached response, never a
		// second processing (RFC 7296 section 2.1).
		sa.sendPacketsTo(resend, p.Local, p.Remote)
		return
	}
	if sa.auth.authzWaiting(mid) {
		// A retransmission of the IKE_AUTH request whose authorization
		// is running: the answer follows when it is decided.
		sa.log.Debug("IKE_AUTH request still being authorized", "mid", mid)
		return
	}
	inner, ok := sa.decrypt(m)
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
	sa.ex.answering(p)
	sa.heard(time.Now())
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
	sa.reqFrom = reqAddrs{Local: p.Local, Remote: p.Remote}
	var resp []wire.Payload
	var err error
	switch m.Header.Exchange {
	case wire.IKE_AUTH:
		if sa.auth.interState().pending() {
			// RFC 9370 section 2.2.2: every additional key exchange
			// precedes IKE_AUTH.
			err = notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_AUTH before the additional key exchanges", ErrProtocol))
			break
		}
		resp, err = sa.auth.respond(sa, inner)
	case wire.IKE_INTERMEDIATE:
		resp, err = sa.auth.interState().respond(sa, m, inner)
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
	if m.Header.Exchange == wire.IKE_INTERMEDIATE {
		sa.auth.interState().answered(sa)
	}
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
	if err != nil && ((exch == wire.IKE_AUTH || exch == wire.IKE_INTERMEDIATE) && sa.state != stateEstablished) {
		sa.destroy(err)
	}
	if sa.state == stateDeleting && exch == wire.INFORMATIONAL {
		sa.finishDelete()
	}
}

func (sa *ikeSA) respond(exch wire.ExchangeType, mid uint32, inner []wire.Payload) {
	pkts, err := sa.encode(exch, true, mid, inner)
	if err != nil {
		sa.log.Warn("cannot encode response", "exchange", exch.String(), "err", err)
		return
	}
	sa.ex.cacheResponse(mid, pkts, time.Now())
	sa.logMessage("sending", exch, true, mid, inner, len(pkts))
	if sa.reqFrom.Remote.IsValid() {
		sa.sendPacketsTo(pkts, sa.reqFrom.Local, sa.reqFrom.Remote)
	} else {
		sa.sendPackets(pkts)
	}
}

func (sa *ikeSA) handleResponse(p Packet, m *wire.Message) {
	r := sa.ex.replyTo(m)
	if r == nil {
		return
	}
	inner, ok := sa.decrypt(m)
	if !ok {
		return
	}
	sa.logMessage("received", m.Header.Exchange, true, r.mid, inner, 0)
	sa.heard(time.Now())
	sa.ex.replied()
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
