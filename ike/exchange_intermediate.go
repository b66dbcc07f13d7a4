package ike

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// The IKE_INTERMEDIATE exchange (RFC 9242) carrying the additional key
// exchanges of the initial exchanges (RFC 9370 section 2.2.2):
//
//	Initiator                          Responder
//	HDR, SAi1(ADDKEs), KEi, Ni, N(INTERMEDIATE_EXCHANGE_SUPPORTED) -->
//	         <-- HDR, SAr1(ADDKEs), KEr, Nr, N(INTERMEDIATE_EXCHANGE_SUPPORTED)
//	HDR, SK {KEi(1)}  -->                  (IKE_INTERMEDIATE, one per ADDKE)
//	                  <--  HDR, SK {KEr(1)}
//	   ... SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), new SK_* ...
//	HDR, SK {IDi, AUTH, ...} -->           (IKE_AUTH, AUTH covers IntAuth)
//
// Each message of an IKE_INTERMEDIATE exchange is protected with the keys
// in force before its key exchange; its IntAuth link (RFC 9242 section
// 3.3.2) is computed with the SK_pi or SK_pr of those keys. The keys are
// replaced once the exchange is over: by the initiator when it has the
// response, by the responder once its response is encoded (the cached
// response, resent for retransmissions, stays under the old keys).

// intermediate is the state of the additional key exchanges of an IKE SA
// being set up; nil when none was negotiated.
type intermediate struct {
	kes  []proposal.KEID // negotiated additional methods, ADDKE1..7 order, NONE left out
	done int             // exchanges completed
	// intAuthI and intAuthR are the last links of the IntAuth chains
	// over the initiator's and the responder's IKE_INTERMEDIATE messages.
	intAuthI, intAuthR kdf.Key
	// shared is the responder's secret of the exchange it answered last,
	// used (and wiped) once the response is encoded.
	shared []byte
}

// addKEs returns the additional key exchange methods p negotiated, in
// ADDKE1..7 order (RFC 9370 section 2.2.2: the exchanges run in the order
// of the transform types).
func addKEs(p *proposal.Proposal) []proposal.KEID {
	var kes []proposal.KEID
	for _, l := range p.AddKE {
		if len(l) > 0 && l[0] != proposal.KENone {
			kes = append(kes, l[0])
		}
	}
	return kes
}

// offersAddKE reports whether l has an additional key exchange method
// other than NONE.
func offersAddKE(l proposal.List) bool {
	for i := range l {
		for _, t := range l[i].AddKE {
			for _, id := range t {
				if id != proposal.KENone {
					return true
				}
			}
		}
	}
	return false
}

// withoutAddKE returns l without ADDKE transforms: what a responder
// selects from when the initiator did not announce IKE_INTERMEDIATE, and
// what CREATE_CHILD_SA offers (IKE_FOLLOWUP_KE is not implemented).
func withoutAddKE(l proposal.List) proposal.List {
	out := l.Clone()
	for i := range out {
		out[i].AddKE = [proposal.NumAddKE][]proposal.KEID{}
	}
	return out
}

// pending reports whether additional key exchanges are still to run
// before IKE_AUTH (false for in nil).
func (in *intermediate) pending() bool { return in != nil && in.done < len(in.kes) }

// intAuthData is what AUTH covers after the IKE_INTERMEDIATE exchanges
// (RFC 9242 section 3.3.2): IntAuth_i | IntAuth_r | IKE_AUTH_MID, the
// message ID of the first IKE_AUTH request, which follows the last
// IKE_INTERMEDIATE exchange. Nil without IKE_INTERMEDIATE exchanges.
func (in *intermediate) intAuthData() []byte {
	if in == nil || in.done == 0 {
		return nil
	}
	out := make([]byte, 0, len(in.intAuthI)+len(in.intAuthR)+4)
	out = append(append(out, in.intAuthI...), in.intAuthR...)
	return binary.BigEndian.AppendUint32(out, uint32(in.done)+1)
}

// messageHeader is the header of a message of the IKE SA spii/spir
// from the original initiator (weInitiated) or the responder.
func messageHeader(spii, spir uint64, weInitiated bool, exch wire.ExchangeType, response bool, mid uint32) wire.Header {
	h := wire.Header{SPIi: spii, SPIr: spir, Exchange: exch, MessageID: mid}
	if weInitiated {
		h.Flags |= wire.FlagInitiator
	}
	if response {
		h.Flags |= wire.FlagResponse
	}
	return h
}

// plaintextOf encodes inner as the plaintext of an SK payload: the first
// payload's type and the chain.
func plaintextOf(inner []wire.Payload) (wire.PayloadType, []byte, error) {
	b, err := (&wire.Message{Payloads: inner}).Append(nil)
	if err != nil {
		return 0, nil, err
	}
	return wire.PayloadType(b[16]), b[wire.HeaderLen:], nil
}

// intAuthLink computes the next link of an IntAuth chain (RFC 9242
// section 3.3.2) over a message with header h whose SK payload holds
// plain (first inner payload of type first). IntAuth_A is the IKE header
// and the Encrypted payload header with their lengths as if the message
// had neither IV, padding nor ICV, and was not fragmented (strongSwan
// computes it so too): the same for both peers, whatever their ciphers
// and fragment sizes.
func intAuthLink(p alg.PRF, skp, prev []byte, h wire.Header, first wire.PayloadType, plain []byte) (kdf.Key, error) {
	h.NextPayload, h.Length = 0, 0
	a, err := (&wire.Message{Header: h}).Append(make([]byte, 0, wire.HeaderLen+4))
	if err != nil || len(a) != wire.HeaderLen {
		return nil, fmt.Errorf("ike: IntAuth header: %v", err)
	}
	a[16] = byte(wire.PayloadSK)
	binary.BigEndian.PutUint32(a[24:], uint32(wire.HeaderLen+4+len(plain)))
	a = append(a, byte(first), 0, 0, 0)
	binary.BigEndian.PutUint16(a[wire.HeaderLen+2:], uint16(4+len(plain)))
	return kdf.IntAuth(p, skp, prev, a, plain), nil
}

// updateIntAuth adds a link to the initiator's (ofInitiator) or the
// responder's chain, with the SA's PRF and current keys n.
func (in *intermediate) updateIntAuth(n *negotiated, ofInitiator bool, h wire.Header, first wire.PayloadType, plain []byte) error {
	skp, chain := n.keys.SKpr, &in.intAuthR
	if ofInitiator {
		skp, chain = n.keys.SKpi, &in.intAuthI
	}
	link, err := intAuthLink(n.prf, skp, *chain, h, first, plain)
	if err != nil {
		return err
	}
	(*chain).Wipe()
	*chain = link
	return nil
}

// newKeys replaces the IKE SA keys after the additional key
// exchange with secret shared (RFC 9370 section 2.2.2): SKEYSEED(n) =
// prf(SK_d(n-1), SK(n) | Ni | Nr), then the SK_* from prf+ as in RFC 7296
// section 2.14 with the same nonces and SPIs.
func (in *intermediate) newKeys(sa *ikeSA, shared []byte) error {
	old := sa.keys
	skeyseed := kdf.IntermediateSKEYSEED(sa.prf, old.SKd, shared, sa.ni, sa.nr)
	defer skeyseed.Wipe()
	if err := sa.deriveKeysFromSeed(sa.prf, skeyseed); err != nil {
		return err
	}
	old.Wipe() // the crypters built on them were replaced
	in.done++
	return nil
}

// intermediateTask is the initiator's IKE_INTERMEDIATE exchange for the
// n-th additional key exchange.
type intermediateTask struct {
	n      int
	method proposal.KEID
	kex    alg.KeyExchange
}

func (t *intermediateTask) build(sa *ikeSA) ([]wire.Payload, error) {
	in := sa.auth.interState()
	if in == nil || in.done != t.n {
		return nil, fmt.Errorf("%w: IKE_INTERMEDIATE %d out of order", ErrProtocol, t.n+1)
	}
	kex, err := sa.e.newKeyExchange(t.method)
	if err != nil {
		return nil, err
	}
	pub, err := kex.Public()
	if err != nil {
		return nil, err
	}
	t.kex = kex
	inner := []wire.Payload{&wire.KE{Group: wire.KEID(t.method), Data: pub}}
	first, plain, err := plaintextOf(inner)
	if err != nil {
		return nil, err
	}
	// sendNext encodes the request with the next message ID.
	h := messageHeader(sa.spii, sa.spir, sa.weInitiated, wire.IKE_INTERMEDIATE, false, sa.ex.nextID())
	if err := in.updateIntAuth(&sa.negotiated, true, h, first, plain); err != nil {
		return nil, err
	}
	return inner, nil
}

// replyIntermediate processes the response to an intermediateTask: the
// responder's KE, its IntAuth link, then the new keys. Any failure ends
// the IKE SA (the IKE_AUTH queued behind must not go out).
func (t *intermediateTask) replyIntermediate(sa *ikeSA, m *wire.Message, inner []wire.Payload) error {
	err := t.reply(sa, m, inner)
	t.kex = nil
	if err != nil {
		sa.log.Warn("IKE_INTERMEDIATE failed", "err", err)
		sa.destroy(err)
	}
	return err
}

func (t *intermediateTask) reply(sa *ikeSA, m *wire.Message, inner []wire.Payload) error {
	var ke *wire.KE
	for _, p := range inner {
		switch p := p.(type) {
		case *wire.KE:
			ke = p
		case *wire.Notify:
			if p.Type.IsError() {
				return &NotifyError{Type: p.Type, Remote: true, Data: p.Data}
			}
		}
	}
	if ke == nil || t.kex == nil {
		return fmt.Errorf("%w: IKE_INTERMEDIATE response without KE payload", ErrProtocol)
	}
	if proposal.KEID(ke.Group) != t.method {
		return fmt.Errorf("%w: IKE_INTERMEDIATE response KE is %s, want %s", ErrProtocol, proposal.KEID(ke.Group), t.method)
	}
	in := sa.auth.interState()
	if in == nil {
		return fmt.Errorf("%w: IKE_INTERMEDIATE response after the initial exchanges", ErrProtocol)
	}
	first, plain := sa.ex.plaintext()
	if err := in.updateIntAuth(&sa.negotiated, false, m.Header, first, plain); err != nil {
		return err
	}
	shared, err := t.kex.Shared(ke.Data)
	defer wipe(shared)
	if err != nil {
		return fmt.Errorf("%w: responder's additional KE %s: %v", ErrProtocol, t.method, err)
	}
	return in.newKeys(sa, shared)
}

// intermediateRequest is the request of the n-th additional key exchange
// of sa.
func intermediateRequest(sa *ikeSA, n int, method proposal.KEID) *request {
	t := &intermediateTask{n: n, method: method}
	return &request{
		exchange: wire.IKE_INTERMEDIATE,
		build:    func() ([]wire.Payload, error) { return t.build(sa) },
		onReply: func(m *wire.Message, inner []wire.Payload) error {
			return t.replyIntermediate(sa, m, inner)
		},
	}
}

// errUnexpectedIntermediate: an IKE_INTERMEDIATE request we did not
// negotiate, after the additional key exchanges, from the responder, or
// after IKE_AUTH.
var errUnexpectedIntermediate = errors.New("unexpected IKE_INTERMEDIATE request")

// respond answers the initiator's IKE_INTERMEDIATE request m
// (inner payloads inner): the next additional key exchange. The new keys
// follow in intermediateAnswered, after the response is encoded.
func (in *intermediate) respond(sa *ikeSA, m *wire.Message, inner []wire.Payload) ([]wire.Payload, error) {
	if sa.weInitiated || sa.state != stateAuth || !in.pending() {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: %w (state %s)", ErrProtocol, errUnexpectedIntermediate, sa.state))
	}
	method := in.kes[in.done]
	var ke *wire.KE
	for _, p := range inner {
		if k, ok := p.(*wire.KE); ok {
			if ke != nil {
				return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_INTERMEDIATE with two KE payloads", ErrProtocol))
			}
			ke = k
		}
	}
	// RFC 9370 section 2.2.1: the KE payload must use the method
	// negotiated for this exchange; a missing, other or malformed one is
	// a syntax error (there is no INVALID_KE_PAYLOAD round trip here, the
	// method was agreed in IKE_SA_INIT).
	if ke == nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_INTERMEDIATE without KE payload", ErrProtocol))
	}
	if proposal.KEID(ke.Group) != method {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_INTERMEDIATE KE is %s, negotiated %s", ErrProtocol, proposal.KEID(ke.Group), method))
	}
	if want, _, err := alg.PublicLen(method); err == nil && len(ke.Data) != want {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_INTERMEDIATE KE %s has %d bytes, want %d", ErrProtocol, method, len(ke.Data), want))
	}
	kex, err := sa.e.newKeyExchange(method)
	if err != nil {
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	pub, shared, err := kex.Respond(ke.Data)
	if err != nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: initiator's additional KE %s: %v", ErrProtocol, method, err))
	}
	resp := []wire.Payload{&wire.KE{Group: wire.KEID(method), Data: pub}}
	reqFirst, reqPlain := sa.ex.plaintext()
	respFirst, respPlain, err := plaintextOf(resp)
	if err == nil {
		err = in.updateIntAuth(&sa.negotiated, true, m.Header, reqFirst, reqPlain)
	}
	if err == nil {
		h := messageHeader(sa.spii, sa.spir, sa.weInitiated, wire.IKE_INTERMEDIATE, true, m.Header.MessageID)
		err = in.updateIntAuth(&sa.negotiated, false, h, respFirst, respPlain)
	}
	if err != nil {
		wipe(shared)
		return nil, err
	}
	in.shared = shared
	return resp, nil
}

// answered switches sa to the keys of the additional key exchange whose
// response was just encoded (and cached).
func (in *intermediate) answered(sa *ikeSA) {
	if in == nil || in.shared == nil {
		return
	}
	shared := in.shared
	in.shared = nil
	defer wipe(shared)
	if err := in.newKeys(sa, shared); err != nil {
		sa.log.Warn("IKE_INTERMEDIATE failed", "err", err)
		sa.destroy(err)
	}
}

// interState is the IKE_INTERMEDIATE state of the initial exchanges
// (nil for t nil or without additional key exchanges).
func (t *authTask) interState() *intermediate {
	if t == nil {
		return nil
	}
	return t.inter
}
