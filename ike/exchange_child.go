package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// maxChildSAs bounds the CHILD SAs one IKE SA may hold (rekeys in flight
// may briefly double it): far above what clients use (one, or one per
// address family), low enough that one peer cannot fill the data plane.
const maxChildSAs = 32

// childExchange is what the CREATE_CHILD_SA exchange keeps on an IKE SA
// between exchanges: the two halves of a simultaneous rekey of the IKE SA
// itself (RFC 7296 section 2.8.2), ours and the peer's, until it is clear
// which new IKE SA survives. An exchange we initiate holds its own state
// in its task (newChildTask, childRekeyTask, ikeRekeyTask below); a CHILD
// SA's rekeys are recorded on the CHILD SA (ourRekey, peerRekey).
type childExchange struct {
	ikeRekeyOurs *ikeRekeyRecord // our rekey of the IKE SA, from its request on
	ikeRekeyPeer *ikeRekeyRecord // the peer's, answered while ours was in flight
}

// rekeyingIKE records our rekey of the IKE SA, whose request is being
// built.
func (cx *childExchange) rekeyingIKE(rec *ikeRekeyRecord) { cx.ikeRekeyOurs = rec }

// collided records the peer's rekey of the IKE SA, answered while ours
// is in flight: settled when ours completes.
func (cx *childExchange) collided(rec *ikeRekeyRecord) { cx.ikeRekeyPeer = rec }

// peerIKERekeyOpen reports whether the peer's half of a collision waits
// for ours to settle.
func (cx *childExchange) peerIKERekeyOpen() bool { return cx.ikeRekeyPeer != nil }

// ourIKERekeyFailed forgets our rekey rec, which failed.
func (cx *childExchange) ourIKERekeyFailed(rec *ikeRekeyRecord) {
	if cx.ikeRekeyOurs == rec {
		cx.ikeRekeyOurs = nil
	}
}

// settleIKERekeys takes both halves once our exchange completed (ok is
// false while it has not; the halves stay).
func (cx *childExchange) settleIKERekeys() (ours, theirs *ikeRekeyRecord, ok bool) {
	if cx.ikeRekeyOurs == nil || !cx.ikeRekeyOurs.done {
		return nil, nil, false
	}
	ours, theirs = cx.ikeRekeyOurs, cx.ikeRekeyPeer
	cx.ikeRekeyOurs, cx.ikeRekeyPeer = nil, nil
	return ours, theirs, true
}

// takePeerIKERekey takes the peer's half of a collision (nil: none).
func (cx *childExchange) takePeerIKERekey() *ikeRekeyRecord {
	r := cx.ikeRekeyPeer
	cx.ikeRekeyPeer = nil
	return r
}

// abandonIKERekeys takes the halves still held when the IKE SA ends; the
// caller releases the new IKE SAs they reserved and never started.
func (cx *childExchange) abandonIKERekeys() []*ikeRekeyRecord {
	var out []*ikeRekeyRecord
	for _, r := range []*ikeRekeyRecord{cx.ikeRekeyOurs, cx.ikeRekeyPeer} {
		if r != nil {
			out = append(out, r)
		}
	}
	cx.ikeRekeyOurs, cx.ikeRekeyPeer = nil, nil
	return out
}

// --- responder ---

// processCreateChild answers CREATE_CHILD_SA (RFC 7296 sections 1.3.1 and
// 1.3.3) for new and rekeyed CHILD SAs, with or without PFS, and the
// rekeying of the IKE SA itself (section 1.3.2). A rekeyed CHILD SA stays
// installed until the peer deletes it, so no packet in flight is lost
// (make before break).
func (sa *ikeSA) processCreateChild(inner []wire.Payload) ([]wire.Payload, error) {
	if sa.state != stateEstablished {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: CREATE_CHILD_SA before IKE_AUTH completed", ErrProtocol))
	}
	var (
		sap      *wire.SA
		nonce    []byte
		ke       *wire.KE
		tsi, tsr *wire.TS
		rekeySPI []byte
		rekeyIKE bool
		transp   bool
	)
	for _, p := range inner {
		switch p := p.(type) {
		case *wire.SA:
			sap = p
			for _, pr := range p.Proposals {
				if pr.Protocol == wire.ProtocolID(proposal.ProtoIKE) {
					rekeyIKE = true
				}
			}
		case *wire.Nonce:
			nonce = p.Data
		case *wire.KE:
			ke = p
		case *wire.TS:
			if p.Responder {
				tsr = p
			} else {
				tsi = p
			}
		case *wire.Notify:
			switch p.Type {
			case wire.REKEY_SA:
				if len(p.SPI) == 4 {
					rekeySPI = p.SPI
				}
			case wire.USE_TRANSPORT_MODE:
				transp = true
			}
		}
	}
	if sa.rekeyed {
		// RFC 7296 section 2.8.2: an IKE SA we are closing after a rekey.
		return nil, notifyErr(wire.TEMPORARY_FAILURE, fmt.Errorf("CREATE_CHILD_SA on a superseded IKE SA"))
	}
	if rekeyIKE {
		return sa.rekeyIKEResponder(sap, nonce, ke)
	}
	if p := sa.ex.inFlight(); p != nil && p.kind == reqIKERekey {
		// Section 2.25: CHILD SAs created now would stay behind on the
		// old IKE SA; the peer retries after our rekey.
		return nil, notifyErr(wire.TEMPORARY_FAILURE, fmt.Errorf("CREATE_CHILD_SA while we rekey the IKE SA"))
	}
	if sap == nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: CREATE_CHILD_SA without SA or valid nonce", ErrProtocol))
	}
	if err := checkNonce(prfOf(*sa.prop), nonce); err != nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, err)
	}
	var old *childSA
	if rekeySPI != nil {
		spi := binary.BigEndian.Uint32(rekeySPI)
		for _, c := range sa.children {
			if c.spiOut == spi {
				old = c
			}
		}
		if old == nil {
			// RFC 7296 section 2.25: the SA may have been deleted meanwhile.
			return nil, notifyErr(wire.CHILD_SA_NOT_FOUND, fmt.Errorf("rekey of unknown CHILD SA %08x", spi))
		}
	}
	if n := len(sa.children); (old == nil && n >= maxChildSAs) || n >= 2*maxChildSAs {
		// An authenticated peer must not fill the data plane (RFC 7296
		// section 1.3: NO_ADDITIONAL_SAS).
		sa.log.Warn("refusing another CHILD SA", "child_sas", n)
		return nil, notifyErr(wire.NO_ADDITIONAL_SAS, fmt.Errorf("%d CHILD SAs on one IKE SA", n))
	}
	peerKE := proposal.KENone
	if ke != nil {
		peerKE = proposal.KEID(ke.Group)
	}
	c, childPayloads, err := sa.respondChildKE(sap, tsi, tsr, transp, false, peerKE, old)
	if err != nil {
		return nil, err
	}
	var secrets [][]byte
	var kePayload *wire.KE
	if len(c.prop.KE) > 0 && c.prop.KE[0] != proposal.KENone {
		group := c.prop.KE[0]
		if ke == nil || proposal.KEID(ke.Group) != group {
			var want [2]byte
			binary.BigEndian.PutUint16(want[:], uint16(group))
			return nil, &NotifyError{Type: wire.INVALID_KE_PAYLOAD, Data: want[:], Err: fmt.Errorf("PFS needs %s", group)}
		}
		kex, err := sa.e.newKeyExchange(group)
		if err != nil {
			return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
		}
		pub, shared, err := kex.Respond(ke.Data)
		defer wipe(shared) // keys derived from it (see secrets.go)
		if err != nil {
			return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
		}
		secrets = [][]byte{shared}
		kePayload = &wire.KE{Group: wire.KEID(group), Data: pub}
	}
	nr := make([]byte, sa.e.nonceLen())
	if err := sa.e.random(nr); err != nil {
		return nil, err
	}
	if err := sa.childKeys(c, nonce, nr, secrets); err != nil {
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	if old != nil {
		// Same ReqID: the policies stay, the data plane sends through
		// the newest outbound SA of the ReqID.
		c.reqid, c.name = old.reqid, old.name
		c.deferOut = true
		sa.noteRekeyByPeer(old, c, nonce, nr)
	}
	if err := sa.installChild(c); err != nil {
		return nil, notifyErr(wire.TEMPORARY_FAILURE, err)
	}
	sa.children = append(sa.children, c)
	if old != nil {
		sa.log.Info("CHILD SA rekeyed", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn), "old_spi_in", fmt.Sprintf("%08x", old.spiIn))
	}
	sa.childUp(c)
	if old != nil {
		sa.childRekeyed(old, c)
	}
	// SA, Nr, [KEr], TSi, TSr (RFC 7296 section 1.3.1); a transport mode
	// notify from respondChild comes first.
	var resp []wire.Payload
	for _, p := range childPayloads {
		resp = append(resp, p)
		if _, isSA := p.(*wire.SA); isSA {
			resp = append(resp, &wire.Nonce{Data: nr})
			if kePayload != nil {
				resp = append(resp, kePayload)
			}
		}
	}
	return resp, nil
}

// rekeyIKEResponder answers a rekey of this IKE SA (RFC 7296 sections 1.3.2
// and 2.18): a new IKE SA with fresh SPIs, nonces and key exchange takes
// over the CHILD SAs, leases and identities; the peer then deletes the old
// one. The peer, as initiator of the rekey, becomes the original initiator
// of the new SA.
func (sa *ikeSA) rekeyIKEResponder(sap *wire.SA, nonce []byte, ke *wire.KE) ([]wire.Payload, error) {
	if sap == nil || ke == nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE rekey without SA, KE or valid nonce", ErrProtocol))
	}
	if p := sa.ex.inFlight(); p != nil && (p.kind == reqChildRekey || p.kind == reqChildDelete || p.exchange == wire.CREATE_CHILD_SA && p.kind != reqIKERekey) || sa.peerIKERekeyOpen() {
		// A CHILD SA exchange of ours is in flight: its result would be
		// left on the old IKE SA (strongSwan refuses the same way).
		return nil, notifyErr(wire.TEMPORARY_FAILURE, fmt.Errorf("IKE rekey while a CHILD SA exchange is in progress"))
	}
	if sa.tooManySuperseded() {
		sa.log.Warn("refusing IKE rekey: the peer does not delete the IKE SAs it rekeys", "superseded", maxSuperseded)
		return nil, notifyErr(wire.TEMPORARY_FAILURE, fmt.Errorf("%d rekeyed IKE SAs not deleted", maxSuperseded))
	}
	e := sa.e
	ours, preferPeer := sa.ikeProposals()
	chosen, err := proposal.Select(ours, listFromWire(sap), proposal.SelectOptions{PreferPeer: preferPeer, PreferKE: proposal.KEID(ke.Group)})
	if err != nil {
		detail := err.Error()
		var mm *proposal.MismatchError
		if errors.As(err, &mm) {
			detail = mm.Explain()
		}
		sa.log.Warn("IKE rekey proposal mismatch", "notify", wire.NO_PROPOSAL_CHOSEN.String(), "err", err)
		sa.alert(AlertProposalMismatch, err, detail)
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	if len(chosen.SPI) != 8 || binary.BigEndian.Uint64(chosen.SPI) == 0 {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE rekey with a %d-byte SPI", ErrProtocol, len(chosen.SPI)))
	}
	if err := checkNonce(prfOf(chosen), nonce); err != nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, err)
	}
	if len(chosen.KE) != 1 || chosen.KE[0] != proposal.KEID(ke.Group) {
		var want [2]byte
		binary.BigEndian.PutUint16(want[:], uint16(chosen.KE[0]))
		return nil, &NotifyError{Type: wire.INVALID_KE_PAYLOAD, Data: want[:]}
	}
	kex, err := e.newKeyExchange(chosen.KE[0])
	if err != nil {
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	pub, shared, err := kex.Respond(ke.Data)
	defer wipe(shared) // keys derived from it (see secrets.go)
	if err != nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
	}
	ns := newSA(e, false, sa.local, sa.remote)
	ns.prop, ns.ni, ns.nr = internProposal(chosen), append([]byte(nil), nonce...), make([]byte, e.nonceLen())
	if err := e.random(ns.nr); err != nil {
		return nil, err
	}
	ns.spii = binary.BigEndian.Uint64(chosen.SPI)
	prf, err := alg.NewPRF(chosen.PRF[0])
	if err != nil {
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	skeyseed := kdf.RekeySKEYSEED(sa.prf, sa.keys.SKd, [][]byte{shared}, ns.ni, ns.nr)
	defer skeyseed.Wipe()
	e.mu.Lock()
	var spir uint64
	err = ErrClosed
	if !e.closed {
		spir, err = e.newSPI(false)
	}
	if err != nil {
		e.mu.Unlock()
		return nil, notifyErr(wire.TEMPORARY_FAILURE, err)
	}
	ns.spir = spir
	e.sas[spir] = ns // reserve the SPI before the keys exist: nothing else can claim it
	e.mu.Unlock()
	if err := ns.deriveKeysFromSeed(prf, skeyseed); err != nil {
		e.unregister(ns)
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	// The nonces stay with this exchange: ns, which runs on its own once
	// handed over, needs them no more.
	ni, nr := ns.ni, ns.nr
	ns.ni, ns.nr = nil, nil
	if p := sa.ex.inFlight(); p != nil && p.kind == reqIKERekey {
		// Simultaneous rekey (RFC 7296 section 2.8.2): settled when our
		// own exchange completes.
		sa.log.Info("IKE SA rekey collision detected", "ike_sa", sa.name(), "peer_ike_sa", ns.name())
		sa.collided(&ikeRekeyRecord{ns: ns, ni: ni, nr: nr, done: true})
	} else {
		sa.handOver(ns)
		sa.lingerUntil = time.Now().Add(rekeyedLinger) // the peer deletes it
		sa.noteSuperseded()
	}
	wp := propToWire(chosen, chosen.Number, spiBytes(spir))
	return []wire.Payload{&wire.SA{Proposals: []wire.Proposal{wp}}, &wire.Nonce{Data: nr}, &wire.KE{Group: wire.KEID(chosen.KE[0]), Data: pub}}, nil
}

// --- initiator ---
//
// Each CREATE_CHILD_SA exchange we initiate is a task holding its own
// state from the request to the response (exchangeTask, exchange.go):
// newChildTask, childRekeyTask and ikeRekeyTask.

// newChildTask negotiates an additional CHILD SA described by cc (RFC
// 7296 section 1.3.1): its own traffic selectors and proposals, with PFS
// when cc's proposals carry a KE method. It holds the CHILD SA proposed,
// our nonce and key exchange; done receives the result.
type newChildTask struct {
	cc    ChildConfig
	props proposal.List
	done  chan<- childResult
	nc    *childSA
	ni    []byte
	kex   alg.KeyExchange
}

// createChildRequest is the request of a newChildTask for cc.
func (sa *ikeSA) createChildRequest(cc ChildConfig, done chan<- childResult) *request {
	t := &newChildTask{cc: cc, props: cc.proposals(), done: done}
	r := sa.taskRequest(wire.CREATE_CHILD_SA, t)
	r.abort = func(err error) { t.finish(ipsec.ChildSAInfo{}, err) }
	return r
}

// finish reports the result to the caller once; it returns err.
func (t *newChildTask) finish(info ipsec.ChildSAInfo, err error) error {
	select {
	case t.done <- childResult{info, err}:
	default: // already answered
	}
	return err
}

func (t *newChildTask) build(sa *ikeSA) ([]wire.Payload, error) {
	cc, props := t.cc, t.props
	if sa.state != stateEstablished || sa.rekeyed {
		err := fmt.Errorf("%w: IKE SA %s is not established", ErrClosed, sa.name())
		t.finish(ipsec.ChildSAInfo{}, err)
		return nil, err
	}
	spi, err := sa.newChildSPI()
	if err != nil {
		t.finish(ipsec.ChildSAInfo{}, err)
		return nil, err
	}
	local := cc.LocalTS
	if len(local) == 0 {
		for _, a := range sa.vips {
			local = append(local, hostSelector(a))
		}
		if len(local) == 0 {
			local = []esp.Selector{hostSelector(sa.local.Addr())}
		}
	}
	remote := cc.RemoteTS
	if len(remote) == 0 {
		remote = anyTS
	}
	t.nc = &childSA{name: cc.Name, reqid: sa.e.newReqID(), spiIn: spi, localTS: local, remoteTS: remote, mode: cc.Mode, initiator: true, offered: props, prop: noProposal}
	t.ni = make([]byte, sa.e.nonceLen())
	if err := sa.e.random(t.ni); err != nil {
		t.finish(ipsec.ChildSAInfo{}, err)
		return nil, err
	}
	var ps []wire.Payload
	if cc.Mode == esp.ModeTransport {
		ps = append(ps, &wire.Notify{Type: wire.USE_TRANSPORT_MODE})
	}
	ps = append(ps, listToWire(props, binary.BigEndian.AppendUint32(nil, spi)), &wire.Nonce{Data: t.ni})
	if g := pfsGroup(props); g != proposal.KENone {
		if t.kex, err = sa.e.newKeyExchange(g); err != nil {
			t.finish(ipsec.ChildSAInfo{}, err)
			return nil, err
		}
		pub, err := t.kex.Public()
		if err != nil {
			t.finish(ipsec.ChildSAInfo{}, err)
			return nil, err
		}
		ps = append(ps, &wire.KE{Group: wire.KEID(g), Data: pub})
	}
	return append(ps, tsToWire(local, false), tsToWire(remote, true)), nil
}

func (t *newChildTask) reply(sa *ikeSA, inner []wire.Payload) error {
	ap := collectAuth(inner)
	nr, ke := nonceAndKE(inner)
	if ap.errNotify != nil && ap.sa == nil {
		return t.finish(ipsec.ChildSAInfo{}, &NotifyError{Type: ap.errNotify.Type, Remote: true, Data: ap.errNotify.Data})
	}
	if len(nr) < minNonce || len(nr) > maxNonce {
		return t.finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without nonce", ErrProtocol))
	}
	if err := checkNonce(prfOf(*sa.prop), nr); err != nil {
		return t.finish(ipsec.ChildSAInfo{}, err)
	}
	pfs := ap.sa != nil && len(ap.sa.Proposals) == 1 && len(propFromWire(&ap.sa.Proposals[0]).KE) > 0
	var secrets [][]byte
	if t.kex != nil && pfs {
		if ke == nil || proposal.KEID(ke.Group) != t.kex.Method() {
			return t.finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without our KE method", ErrProtocol))
		}
		shared, err := t.kex.Shared(ke.Data)
		defer wipe(shared) // keys derived from it (see secrets.go)
		if err != nil {
			return t.finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
		}
		secrets = [][]byte{shared}
	}
	nc := t.nc
	if err := sa.completeChild(nc, &ap, t.ni, nr, secrets, false); err != nil {
		sa.removeChild(nc)
		return t.finish(ipsec.ChildSAInfo{}, err)
	}
	sa.children = append(sa.children, nc)
	sa.childUp(nc)
	return t.finish(nc.info(), nil)
}

// pfsGroup is the key exchange method for PFS in a CHILD rekey: the first
// KE of our ESP proposals, if any (RFC 7296 section 1.3.1).
func pfsGroup(l proposal.List) proposal.KEID {
	for _, p := range l {
		for _, k := range p.KE {
			if k != proposal.KENone {
				return k
			}
		}
	}
	return proposal.KENone
}

// childRekeyTask rekeys the CHILD SA old (RFC 7296 section 1.3.3): a new
// CHILD SA with the same traffic selectors, made before the old one is
// deleted. It holds the new CHILD SA, our nonce and key exchange.
type childRekeyTask struct {
	old, nc *childSA
	ni      []byte
	kex     alg.KeyExchange
}

// childRekeyRequest is the request of a childRekeyTask for old.
func (sa *ikeSA) childRekeyRequest(old *childSA) *request {
	r := sa.taskRequest(wire.CREATE_CHILD_SA, &childRekeyTask{old: old})
	r.kind, r.child = reqChildRekey, old
	return r
}

func (t *childRekeyTask) build(sa *ikeSA) ([]wire.Payload, error) {
	old := t.old
	if !sa.hasChild(old) {
		return nil, fmt.Errorf("CHILD SA %08x is gone", old.spiIn)
	}
	if old.peerRekey != nil {
		// The peer rekeyed it first; its successor has its own timer.
		return nil, fmt.Errorf("CHILD SA %08x already rekeyed by the peer", old.spiIn)
	}
	spi, err := sa.newChildSPI()
	if err != nil {
		return nil, err
	}
	t.nc = &childSA{name: old.name, reqid: old.reqid, spiIn: spi, localTS: old.localTS, remoteTS: old.remoteTS, mode: old.mode, initiator: true, prop: noProposal}
	t.ni = make([]byte, sa.e.nonceLen())
	if err := sa.e.random(t.ni); err != nil {
		return nil, err
	}
	// The proposals the CHILD SA was created with: an additional
	// one (SA.AddChild) keeps its own through every rekey.
	props := old.offered
	if props == nil {
		props = sa.childConfig().proposals()
	}
	t.nc.offered = props
	ps := []wire.Payload{&wire.Notify{Protocol: wire.ProtocolID(proposal.ProtoESP), SPI: binary.BigEndian.AppendUint32(nil, old.spiIn), Type: wire.REKEY_SA}}
	if old.mode == esp.ModeTransport {
		ps = append(ps, &wire.Notify{Type: wire.USE_TRANSPORT_MODE})
	}
	ps = append(ps, listToWire(props, binary.BigEndian.AppendUint32(nil, spi)), &wire.Nonce{Data: t.ni})
	if g := pfsGroup(props); g != proposal.KENone {
		if t.kex, err = sa.e.newKeyExchange(g); err != nil {
			return nil, err
		}
		pub, err := t.kex.Public()
		if err != nil {
			return nil, err
		}
		ps = append(ps, &wire.KE{Group: wire.KEID(g), Data: pub})
	}
	return append(ps, tsToWire(old.localTS, false), tsToWire(old.remoteTS, true)), nil
}

func (t *childRekeyTask) reply(sa *ikeSA, inner []wire.Payload) error {
	old, nc := t.old, t.nc
	ap := collectAuth(inner)
	nr, ke := nonceAndKE(inner)
	if ap.errNotify != nil && ap.sa == nil {
		return sa.childRekeyFailed(old, &NotifyError{Type: ap.errNotify.Type, Remote: true})
	}
	// The responder may pick a proposal without KE when ours made
	// it optional ("modpnone"): then our KE payload is ignored.
	pfs := false
	if ap.sa != nil && len(ap.sa.Proposals) == 1 {
		pfs = len(propFromWire(&ap.sa.Proposals[0]).KE) > 0
	}
	var secrets [][]byte
	if t.kex != nil && pfs {
		if ke == nil || proposal.KEID(ke.Group) != t.kex.Method() {
			return sa.childRekeyFailed(old, fmt.Errorf("%w: CHILD rekey response without our KE method", ErrProtocol))
		}
		shared, err := t.kex.Shared(ke.Data)
		defer wipe(shared) // keys derived from it (see secrets.go)
		if err != nil {
			return sa.childRekeyFailed(old, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
		}
		secrets = [][]byte{shared}
	}
	if len(nr) < minNonce || len(nr) > maxNonce {
		return sa.childRekeyFailed(old, fmt.Errorf("%w: CHILD rekey response without nonce (%v)", ErrProtocol, ap.errNotify))
	}
	if err := checkNonce(prfOf(*sa.prop), nr); err != nil {
		return sa.childRekeyFailed(old, err)
	}
	if err := sa.completeChild(nc, &ap, t.ni, nr, secrets, false); err != nil {
		old.ourRekey = nil
		return sa.childRekeyFailed(old, err)
	}
	sa.children = append(sa.children, nc)
	sa.log.Info("CHILD SA rekeyed", "child_sa", nc.name, "spi_in", fmt.Sprintf("%08x", nc.spiIn), "old_spi_in", fmt.Sprintf("%08x", old.spiIn))
	sa.childUp(nc)
	sa.childRekeyed(old, nc)
	old.ourRekey = &rekeyRecord{child: nc, ni: t.ni, nr: nr}
	sa.resolveCollision(old)
	if sa.hasChild(old) {
		sa.queueRequest(sa.deleteChildRequest(old))
	}
	return nil
}

// nonceAndKE returns the Nonce and KE payloads of a CREATE_CHILD_SA
// message.
func nonceAndKE(inner []wire.Payload) (nonce []byte, ke *wire.KE) {
	for _, p := range inner {
		switch p := p.(type) {
		case *wire.Nonce:
			nonce = p.Data
		case *wire.KE:
			ke = p
		}
	}
	return nonce, ke
}

// childRekeyFailed retries later; the old SA keeps working meanwhile.
func (sa *ikeSA) childRekeyFailed(old *childSA, err error) error {
	retry := time.Minute
	if ne, ok := err.(*NotifyError); ok && ne.Type == wire.TEMPORARY_FAILURE {
		retry = sa.retryDelay()
	}
	sa.log.Warn("CHILD SA rekey failed, retrying later", "child_sa", old.name, "err", err, "retry_in", retry.String())
	old.rekeyAt = time.Now().Add(retry)
	return err
}

// ikeRekeyTask rekeys the IKE SA (RFC 7296 sections 1.3.2 and 2.18): we
// become the original initiator of the new SA, which takes over the CHILD
// SAs; then the old one is deleted. It holds our proposals (as they were
// when the rekey was queued), our key exchange and the record of the new
// IKE SA, which the IKE SA also keeps (childExchange) for a collision.
type ikeRekeyTask struct {
	props proposal.List
	kex   alg.KeyExchange
	rec   *ikeRekeyRecord
}

// ikeRekeyRequest is the request of an ikeRekeyTask.
func (sa *ikeSA) ikeRekeyRequest() *request {
	props, _ := sa.ikeProposals()
	r := sa.taskRequest(wire.CREATE_CHILD_SA, &ikeRekeyTask{props: props})
	r.kind = reqIKERekey
	return r
}

func (t *ikeRekeyTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.rekeyed || sa.state != stateEstablished {
		return nil, fmt.Errorf("IKE SA %s already superseded", sa.name())
	}
	e := sa.e
	ns := newSA(e, true, sa.local, sa.remote)
	e.mu.Lock()
	spi, err := e.newSPI(true)
	if err == nil {
		e.sas[spi] = ns // reserved; started once the keys exist
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ns.spii = spi
	t.rec = &ikeRekeyRecord{ns: ns, ni: make([]byte, sa.e.nonceLen())}
	sa.rekeyingIKE(t.rec)
	if err := e.random(t.rec.ni); err != nil {
		return nil, err
	}
	group := sa.prop.KE[0]
	if t.kex, err = e.newKeyExchange(group); err != nil {
		return nil, err
	}
	pub, err := t.kex.Public()
	if err != nil {
		return nil, err
	}
	// Our current KE method first: the responder accepted it.
	p := t.props.Clone()
	for i := range p {
		for j, k := range p[i].KE {
			if k == group && j > 0 {
				p[i].KE[0], p[i].KE[j] = p[i].KE[j], p[i].KE[0]
			}
		}
	}
	return []wire.Payload{listToWire(p, spiBytes(spi)), &wire.Nonce{Data: t.rec.ni}, &wire.KE{Group: wire.KEID(group), Data: pub}}, nil
}

func (t *ikeRekeyTask) reply(sa *ikeSA, inner []wire.Payload) error {
	rec, kex := t.rec, t.kex
	ns := rec.ns
	ip := collectInit(inner)
	fail := func(err error) error {
		sa.ourIKERekeyFailed(rec)
		sa.e.unregister(ns)
		if sa.peerIKERekeyOpen() {
			// The peer's rekey of a collision survives alone.
			sa.adoptPeerRekey()
			return err
		}
		retry := time.Minute
		if ip.errNotify != nil && ip.errNotify.Type == wire.TEMPORARY_FAILURE {
			retry = sa.retryDelay()
		}
		sa.log.Warn("IKE SA rekey failed, retrying later", "err", err, "retry_in", retry.String())
		sa.rekeyAt = time.Now().Add(retry)
		return err
	}
	if ip.sa == nil || ip.ke == nil || len(ip.sa.Proposals) != 1 || len(ip.nonce) < minNonce || len(ip.nonce) > maxNonce {
		return fail(fmt.Errorf("%w: IKE rekey response incomplete (%v)", ErrProtocol, ip.errNotify))
	}
	theirs := propFromWire(&ip.sa.Proposals[0])
	sel, err := proposal.Select(t.props, proposal.List{theirs}, proposal.SelectOptions{})
	if err != nil || len(theirs.SPI) != 8 || len(sel.KE) != 1 || sel.KE[0] != kex.Method() || proposal.KEID(ip.ke.Group) != kex.Method() {
		return fail(fmt.Errorf("%w: IKE rekey: responder chose %s", ErrProtocol, theirs))
	}
	if err := checkNonce(prfOf(sel), ip.nonce); err != nil {
		return fail(err)
	}
	shared, err := kex.Shared(ip.ke.Data)
	defer wipe(shared) // keys derived from it (see secrets.go)
	if err != nil {
		return fail(fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
	}
	prf, err := alg.NewPRF(sel.PRF[0])
	if err != nil {
		return fail(err)
	}
	rec.nr = append([]byte(nil), ip.nonce...)
	ns.prop, ns.ni, ns.nr = internProposal(sel), rec.ni, rec.nr
	ns.spir = binary.BigEndian.Uint64(theirs.SPI)
	skeyseed := kdf.RekeySKEYSEED(sa.prf, sa.keys.SKd, [][]byte{shared}, ns.ni, ns.nr)
	defer skeyseed.Wipe()
	if err := ns.deriveKeysFromSeed(prf, skeyseed); err != nil {
		return fail(err)
	}
	ns.ni, ns.nr = nil, nil // the record keeps them for a collision
	rec.done = true
	sa.resolveIKERekey()
	return nil
}

// childResult is what an additional CHILD SA's creation (SA.AddChild)
// reports back to its caller.
type childResult struct {
	info ipsec.ChildSAInfo
	err  error
}

// --- collisions (RFC 7296 sections 2.8.1 and 2.8.2) ---

// ikeRekeyRecord is one of the CREATE_CHILD_SA exchanges that rekey an
// IKE SA: the new SA and the nonces, kept on the old SA until it is clear
// which new SA survives (RFC 7296 section 2.8.2).
type ikeRekeyRecord struct {
	ns      *ikeSA
	ni, nr  []byte
	done    bool // the exchange completed: ns has its keys
	started bool // ns runs on its own goroutine (or was handed over)
}

// resolveIKERekey finishes our IKE rekey once its exchange completed. If
// the peer rekeyed the same IKE SA at the same time (RFC 7296 section
// 2.8.2), three IKE SAs exist: the new one created by the exchange with
// the lowest of the four nonces is redundant and is deleted by the side
// that initiated that exchange; the other inherits the CHILD SAs, and its
// initiator deletes the old IKE SA.
func (sa *ikeSA) resolveIKERekey() {
	ours, theirs, ok := sa.settleIKERekeys()
	if !ok {
		return
	}
	ours.started = true
	if theirs == nil {
		sa.handOver(ours.ns)
		sa.queueRequest(sa.deleteRekeyedRequest())
		return
	}
	theirs.started = true
	if bytes.Compare(lowerNonce(ours.ni, ours.nr), lowerNonce(theirs.ni, theirs.nr)) < 0 {
		sa.log.Info("IKE SA rekey collision: ours is redundant", "ike_sa", sa.name(), "redundant_ike_sa", ours.ns.name())
		sa.handOver(theirs.ns)
		sa.lingerUntil = time.Now().Add(rekeyedLinger) // the peer deletes it
		sa.startRedundant(ours.ns, true)
		return
	}
	sa.log.Info("IKE SA rekey collision: the peer's is redundant", "ike_sa", sa.name(), "redundant_ike_sa", theirs.ns.name())
	sa.handOver(ours.ns)
	sa.startRedundant(theirs.ns, false)
	sa.queueRequest(sa.deleteRekeyedRequest())
}

// adoptPeerRekey hands over to the IKE SA the peer created, when our own
// rekey of a collision failed or the peer deleted the old SA without
// noticing the collision (RFC 7296 section 2.8.2, last paragraph).
func (sa *ikeSA) adoptPeerRekey() {
	theirs := sa.takePeerIKERekey()
	if theirs == nil || sa.rekeyed {
		return
	}
	theirs.started = true
	sa.handOver(theirs.ns)
	sa.lingerUntil = time.Now().Add(rekeyedLinger)
}

// startRedundant runs the new IKE SA that lost a rekey collision until it
// is deleted: by us (sendDelete) or by the peer. It carries no CHILD SAs
// and its end is not reported as the peer going away.
func (sa *ikeSA) startRedundant(ns *ikeSA, sendDelete bool) {
	ns.continueSession(sa)
	ns.cfg, ns.localID, ns.remoteID = sa.cfg, sa.localID, sa.remoteID
	ns.cfgLent = true
	sa.joinSession(ns)
	ns.natLocal, ns.natRemote = sa.natLocal, sa.natRemote
	ns.ex.fragmentation(sa.ex.fragOK)
	ns.state, ns.establishedAt, ns.log = stateEstablished, sa.e.cfg.now(), sa.log
	ns.rekeyed = true
	ns.lingerUntil = time.Now().Add(rekeyedLinger)
	if sendDelete {
		ns.queueRequest(ns.deleteRekeyedRequest())
	}
	ns.start(nil)
}

// rekeyRecord is one completed rekey of a CHILD SA: the new SA and the
// nonces of the exchange that made it.
type rekeyRecord struct {
	child  *childSA
	ni, nr []byte
}

// noteRekeyByPeer records that the peer rekeyed old into c. If we are
// rekeying old ourselves, this is a collision (RFC 7296 section 2.8.1).
func (sa *ikeSA) noteRekeyByPeer(old, c *childSA, ni, nr []byte) {
	old.peerRekey = &rekeyRecord{child: c, ni: append([]byte(nil), ni...), nr: nr}
	sa.resolveCollision(old)
}

// resolveCollision settles a simultaneous rekey of old once both new CHILD
// SAs exist (RFC 7296 section 2.8.1): the one created by the exchange with
// the lowest of the four nonces is redundant and is deleted by the side
// that initiated that exchange. If it is ours we delete it; if it is the
// peer's, the peer will.
func (sa *ikeSA) resolveCollision(old *childSA) {
	ours, theirs := old.ourRekey, old.peerRekey
	if ours == nil || theirs == nil {
		return
	}
	old.ourRekey = nil
	if bytes.Compare(lowerNonce(ours.ni, ours.nr), lowerNonce(theirs.ni, theirs.nr)) < 0 {
		sa.log.Info("CHILD SA rekey collision: ours is redundant", "child_sa", ours.child.name, "spi_in", fmt.Sprintf("%08x", ours.child.spiIn))
		sa.queueRequest(sa.deleteChildRequest(ours.child))
	} else {
		sa.log.Info("CHILD SA rekey collision: the peer's is redundant", "child_sa", theirs.child.name, "spi_in", fmt.Sprintf("%08x", theirs.child.spiIn))
	}
}

func lowerNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) < 0 {
		return a
	}
	return b
}
