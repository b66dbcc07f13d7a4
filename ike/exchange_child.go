package ike

import (
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
	if sa.pending != nil && sa.pending.kind == reqIKERekey {
		// Section 2.25: CHILD SAs created now would stay behind on the
		// old IKE SA; the peer retries after our rekey.
		return nil, notifyErr(wire.TEMPORARY_FAILURE, fmt.Errorf("CREATE_CHILD_SA while we rekey the IKE SA"))
	}
	if sap == nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: CREATE_CHILD_SA without SA or valid nonce", ErrProtocol))
	}
	if err := checkNonce(prfOf(sa.prop), nonce); err != nil {
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
	if p := sa.pending; p != nil && (p.kind == reqChildRekey || p.kind == reqChildDelete || p.exchange == wire.CREATE_CHILD_SA && p.kind != reqIKERekey) || sa.ikeRekeyPeer != nil {
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
	ns.prop, ns.ni, ns.nr = chosen, append([]byte(nil), nonce...), make([]byte, e.nonceLen())
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
	if p := sa.pending; p != nil && p.kind == reqIKERekey {
		// Simultaneous rekey (RFC 7296 section 2.8.2): settled when our
		// own exchange completes.
		sa.log.Info("IKE SA rekey collision detected", "ike_sa", sa.name(), "peer_ike_sa", ns.name())
		sa.ikeRekeyPeer = &ikeRekeyRecord{ns: ns, ni: ns.ni, nr: ns.nr, done: true}
	} else {
		sa.handOver(ns)
		sa.lingerUntil = time.Now().Add(rekeyedLinger) // the peer deletes it
		sa.noteSuperseded()
	}
	wp := propToWire(chosen, chosen.Number, spiBytes(spir))
	return []wire.Payload{&wire.SA{Proposals: []wire.Proposal{wp}}, &wire.Nonce{Data: ns.nr}, &wire.KE{Group: wire.KEID(chosen.KE[0]), Data: pub}}, nil
}

// createChildRequest negotiates an additional CHILD SA described by cc
// (RFC 7296 section 1.3.1): its own traffic selectors and proposals,
// with PFS when cc's proposals carry a KE method. done receives the
// result.
func (sa *ikeSA) createChildRequest(cc ChildConfig, done chan<- childResult) *request {
	var (
		nc  *childSA
		ni  []byte
		kex alg.KeyExchange
	)
	props := cc.proposals()
	finish := func(info ipsec.ChildSAInfo, err error) error {
		select {
		case done <- childResult{info, err}:
		default: // already answered
		}
		return err
	}
	return &request{
		exchange: wire.CREATE_CHILD_SA,
		abort:    func(err error) { finish(ipsec.ChildSAInfo{}, err) },
		build: func() ([]wire.Payload, error) {
			if sa.state != stateEstablished || sa.rekeyed {
				err := fmt.Errorf("%w: IKE SA %s is not established", ErrClosed, sa.name())
				finish(ipsec.ChildSAInfo{}, err)
				return nil, err
			}
			spi, err := sa.newChildSPI()
			if err != nil {
				finish(ipsec.ChildSAInfo{}, err)
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
			nc = &childSA{name: cc.Name, reqid: sa.e.newReqID(), spiIn: spi, localTS: local, remoteTS: remote, mode: cc.Mode, initiator: true, offered: props}
			ni = make([]byte, sa.e.nonceLen())
			if err := sa.e.random(ni); err != nil {
				finish(ipsec.ChildSAInfo{}, err)
				return nil, err
			}
			var ps []wire.Payload
			if cc.Mode == esp.ModeTransport {
				ps = append(ps, &wire.Notify{Type: wire.USE_TRANSPORT_MODE})
			}
			ps = append(ps, listToWire(props, binary.BigEndian.AppendUint32(nil, spi)), &wire.Nonce{Data: ni})
			if g := pfsGroup(props); g != proposal.KENone {
				if kex, err = sa.e.newKeyExchange(g); err != nil {
					finish(ipsec.ChildSAInfo{}, err)
					return nil, err
				}
				pub, err := kex.Public()
				if err != nil {
					finish(ipsec.ChildSAInfo{}, err)
					return nil, err
				}
				ps = append(ps, &wire.KE{Group: wire.KEID(g), Data: pub})
			}
			return append(ps, tsToWire(local, false), tsToWire(remote, true)), nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
			ap := collectAuth(inner)
			nr, ke := nonceAndKE(inner)
			if ap.errNotify != nil && ap.sa == nil {
				return finish(ipsec.ChildSAInfo{}, &NotifyError{Type: ap.errNotify.Type, Remote: true, Data: ap.errNotify.Data})
			}
			if len(nr) < minNonce || len(nr) > maxNonce {
				return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without nonce", ErrProtocol))
			}
			if err := checkNonce(prfOf(sa.prop), nr); err != nil {
				return finish(ipsec.ChildSAInfo{}, err)
			}
			pfs := ap.sa != nil && len(ap.sa.Proposals) == 1 && len(propFromWire(&ap.sa.Proposals[0]).KE) > 0
			var secrets [][]byte
			if kex != nil && pfs {
				if ke == nil || proposal.KEID(ke.Group) != kex.Method() {
					return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without our KE method", ErrProtocol))
				}
				shared, err := kex.Shared(ke.Data)
				defer wipe(shared) // keys derived from it (see secrets.go)
				if err != nil {
					return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
				}
				secrets = [][]byte{shared}
			}
			if err := sa.completeChild(nc, &ap, ni, nr, secrets, false); err != nil {
				sa.removeChild(nc)
				return finish(ipsec.ChildSAInfo{}, err)
			}
			sa.children = append(sa.children, nc)
			sa.childUp(nc)
			return finish(nc.info(), nil)
		},
	}
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

// childRekeyRequest rekeys c (RFC 7296 section 1.3.3): a new CHILD SA
// with the same traffic selectors, made before the old one is deleted.
func (sa *ikeSA) childRekeyRequest(old *childSA) *request {
	var (
		nc  *childSA
		ni  []byte
		kex alg.KeyExchange
	)
	return &request{
		exchange: wire.CREATE_CHILD_SA,
		kind:     reqChildRekey,
		child:    old,
		build: func() ([]wire.Payload, error) {
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
			nc = &childSA{name: old.name, reqid: old.reqid, spiIn: spi, localTS: old.localTS, remoteTS: old.remoteTS, mode: old.mode, initiator: true}
			ni = make([]byte, sa.e.nonceLen())
			if err := sa.e.random(ni); err != nil {
				return nil, err
			}
			// The proposals the CHILD SA was created with: an additional
			// one (SA.AddChild) keeps its own through every rekey.
			props := old.offered
			if props == nil {
				props = sa.childConfig().proposals()
			}
			nc.offered = props
			ps := []wire.Payload{&wire.Notify{Protocol: wire.ProtocolID(proposal.ProtoESP), SPI: binary.BigEndian.AppendUint32(nil, old.spiIn), Type: wire.REKEY_SA}}
			if old.mode == esp.ModeTransport {
				ps = append(ps, &wire.Notify{Type: wire.USE_TRANSPORT_MODE})
			}
			ps = append(ps, listToWire(props, binary.BigEndian.AppendUint32(nil, spi)), &wire.Nonce{Data: ni})
			if g := pfsGroup(props); g != proposal.KENone {
				if kex, err = sa.e.newKeyExchange(g); err != nil {
					return nil, err
				}
				pub, err := kex.Public()
				if err != nil {
					return nil, err
				}
				ps = append(ps, &wire.KE{Group: wire.KEID(g), Data: pub})
			}
			return append(ps, tsToWire(old.localTS, false), tsToWire(old.remoteTS, true)), nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
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
			if kex != nil && pfs {
				if ke == nil || proposal.KEID(ke.Group) != kex.Method() {
					return sa.childRekeyFailed(old, fmt.Errorf("%w: CHILD rekey response without our KE method", ErrProtocol))
				}
				shared, err := kex.Shared(ke.Data)
				defer wipe(shared) // keys derived from it (see secrets.go)
				if err != nil {
					return sa.childRekeyFailed(old, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
				}
				secrets = [][]byte{shared}
			}
			if len(nr) < minNonce || len(nr) > maxNonce {
				return sa.childRekeyFailed(old, fmt.Errorf("%w: CHILD rekey response without nonce (%v)", ErrProtocol, ap.errNotify))
			}
			if err := checkNonce(prfOf(sa.prop), nr); err != nil {
				return sa.childRekeyFailed(old, err)
			}
			if err := sa.completeChild(nc, &ap, ni, nr, secrets, false); err != nil {
				old.ourRekey = nil
				return sa.childRekeyFailed(old, err)
			}
			sa.children = append(sa.children, nc)
			sa.log.Info("CHILD SA rekeyed", "child_sa", nc.name, "spi_in", fmt.Sprintf("%08x", nc.spiIn), "old_spi_in", fmt.Sprintf("%08x", old.spiIn))
			sa.childUp(nc)
			sa.childRekeyed(old, nc)
			old.ourRekey = &rekeyRecord{child: nc, ni: ni, nr: nr}
			sa.resolveCollision(old)
			if sa.hasChild(old) {
				sa.queueRequest(sa.deleteChildRequest(old))
			}
			return nil
		},
	}
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

// ikeRekeyRequest rekeys the IKE SA (RFC 7296 sections 1.3.2 and 2.18): we
// become the original initiator of the new SA, which takes over the CHILD
// SAs; then the old one is deleted.
func (sa *ikeSA) ikeRekeyRequest() *request {
	var (
		kex alg.KeyExchange
		rec *ikeRekeyRecord
	)
	props, _ := sa.ikeProposals()
	return &request{
		exchange: wire.CREATE_CHILD_SA,
		kind:     reqIKERekey,
		build: func() ([]wire.Payload, error) {
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
			rec = &ikeRekeyRecord{ns: ns, ni: make([]byte, sa.e.nonceLen())}
			sa.ikeRekeyOurs = rec
			if err := e.random(rec.ni); err != nil {
				return nil, err
			}
			group := sa.prop.KE[0]
			if kex, err = e.newKeyExchange(group); err != nil {
				return nil, err
			}
			pub, err := kex.Public()
			if err != nil {
				return nil, err
			}
			// Our current KE method first: the responder accepted it.
			p := props.Clone()
			for i := range p {
				for j, k := range p[i].KE {
					if k == group && j > 0 {
						p[i].KE[0], p[i].KE[j] = p[i].KE[j], p[i].KE[0]
					}
				}
			}
			return []wire.Payload{listToWire(p, spiBytes(spi)), &wire.Nonce{Data: rec.ni}, &wire.KE{Group: wire.KEID(group), Data: pub}}, nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
			ns := rec.ns
			ip := collectInit(inner)
			fail := func(err error) error {
				if sa.ikeRekeyOurs == rec {
					sa.ikeRekeyOurs = nil
				}
				sa.e.unregister(ns)
				if sa.ikeRekeyPeer != nil {
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
			sel, err := proposal.Select(props, proposal.List{theirs}, proposal.SelectOptions{})
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
			ns.prop, ns.ni, ns.nr = sel, rec.ni, rec.nr
			ns.spir = binary.BigEndian.Uint64(theirs.SPI)
			skeyseed := kdf.RekeySKEYSEED(sa.prf, sa.keys.SKd, [][]byte{shared}, ns.ni, ns.nr)
			defer skeyseed.Wipe()
			if err := ns.deriveKeysFromSeed(prf, skeyseed); err != nil {
				return fail(err)
			}
			rec.done = true
			sa.resolveIKERekey()
			return nil
		},
	}
}

// childResult is what an additional CHILD SA's creation (SA.AddChild)
// reports back to its caller.
type childResult struct {
	info ipsec.ChildSAInfo
	err  error
}
