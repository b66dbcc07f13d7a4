package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

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
	if err := c.install(sa); err != nil {
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
