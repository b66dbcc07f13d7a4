package ike

import (
	"encoding/binary"
	"fmt"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// processCreateChild answers CREATE_CHILD_SA (RFC 7296 sections 1.3.1 and
// 1.3.3) for new and rekeyed CHILD SAs, with or without PFS. The rekeyed
// SA stays installed until the peer deletes it, so no packet in flight is
// lost (make before break). Rekeying the IKE SA itself is not available
// yet; the peer is told NO_ADDITIONAL_SAS and keeps the current IKE SA.
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
	if rekeyIKE {
		return nil, notifyErr(wire.NO_ADDITIONAL_SAS, fmt.Errorf("IKE SA rekeying not supported yet"))
	}
	if sap == nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: CREATE_CHILD_SA without SA or valid nonce", ErrProtocol))
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
	peerKE := proposal.KENone
	if ke != nil {
		peerKE = proposal.KEID(ke.Group)
	}
	c, childPayloads, err := sa.respondChildKE(sap, tsi, tsr, transp, false, peerKE)
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
		kex, err := alg.NewKeyExchange(group, lockedReader{&sa.e.randMu, sa.e.cfg.rand})
		if err != nil {
			return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
		}
		pub, shared, err := kex.Respond(ke.Data)
		if err != nil {
			return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
		}
		secrets = [][]byte{shared}
		kePayload = &wire.KE{Group: wire.KEID(group), Data: pub}
	}
	nr := make([]byte, ourNonce)
	if err := sa.e.random(nr); err != nil {
		return nil, err
	}
	if err := sa.childKeys(c, nonce, nr, secrets); err != nil {
		return nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	if old != nil {
		// The new SA pair inherits the policies: the data plane sends
		// through the newest outbound SA of the ReqID.
		c.reqid, c.name = old.reqid, old.name
		c.policies, old.policies = old.policies, nil
	}
	if err := c.install(sa); err != nil {
		if old != nil {
			old.policies, c.policies = c.policies, nil
		}
		return nil, notifyErr(wire.TEMPORARY_FAILURE, err)
	}
	sa.children = append(sa.children, c)
	if old != nil {
		sa.log.Info("CHILD SA rekeyed", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn), "old_spi_in", fmt.Sprintf("%08x", old.spiIn))
	}
	sa.childUp(c)
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
