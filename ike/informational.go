package ike

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// The INFORMATIONAL exchange (RFC 7296 section 1.4), both roles, top to
// bottom: the state it keeps on an IKE SA (informational); as initiator
// the liveness check, the Delete of a CHILD SA and the Delete of the IKE
// SA; as responder the processing of the peer's request, whose Deletes
// are handled here and whose MOBIKE and REDIRECT notifications go to
// mobike.go and redirect.go. Deleting the IKE SA on behalf of the
// embedder (Terminate) is in terminate.go, the Delete of an IKE SA
// replaced by a rekey in rekey.go.

// informational is the exchange's state on an IKE SA: when the peer was
// last heard, when it is next checked, and whether its Delete ended the
// SA.
type informational struct {
	lastRecv    time.Time // last authentic message from the peer
	dpdAt       time.Time // next liveness check (zero: off)
	peerDeleted bool      // the peer's Delete ends the SA (SA.Err: ErrPeerDeleted)
}

// heard notes an authentic message from the peer.
func (t *informational) heard(now time.Time) { t.lastRecv = now }

// startLiveness schedules the first liveness check delay after the peer
// was last heard (none for a zero delay), once the IKE SA is up.
func (t *informational) startLiveness(now time.Time, delay time.Duration) {
	t.lastRecv = now
	if delay > 0 {
		t.dpdAt = now.Add(delay)
	}
}

// probeDue tells whether the peer, last heard at last (IKE or ESP), must
// be probed at now, and schedules the next check.
func (t *informational) probeDue(now time.Time, delay time.Duration, last time.Time) bool {
	if idle := now.Sub(last); idle < delay {
		t.dpdAt = now.Add(delay - idle)
		return false
	}
	t.dpdAt = now.Add(delay)
	return true
}

// deletedByPeer notes that the peer's Delete ends the IKE SA.
func (t *informational) deletedByPeer() { t.peerDeleted = true }

// endError is the SA handle's end error for err, the reason the IKE SA
// ended: ErrPeerDeleted for an orderly end by the peer's Delete.
func (t *informational) endError(err error) error {
	if err == nil && t.peerDeleted {
		return ErrPeerDeleted
	}
	return err
}

// checkLiveness is dead peer detection (RFC 7296 section 2.4): when
// neither IKE messages nor ESP packets arrived from the peer for DPDDelay,
// an empty INFORMATIONAL request probes it; if the retransmissions go
// unanswered the SA is destroyed, which removes its CHILD SAs from the
// data plane and returns its addresses to the pools.
func (sa *ikeSA) checkLiveness(now time.Time) {
	delay := sa.cfg.DPDDelay
	if sa.state != stateEstablished || delay <= 0 {
		sa.dpdAt = time.Time{}
		return
	}
	last := sa.lastRecv
	for _, c := range sa.children {
		last = c.plane.lastInbound(last)
	}
	if !sa.probeDue(now, delay, last) || sa.ex.busy() {
		return // an exchange in progress is a liveness check already
	}
	sa.queueRequest(&request{exchange: wire.INFORMATIONAL,
		build:   func() ([]wire.Payload, error) { return nil, nil },
		onReply: func(*wire.Message, []wire.Payload) error { return nil }})
}

// deleteChildRequest deletes a CHILD SA with the peer (RFC 7296 section
// 1.4.1); the local state goes when the peer confirms (or the IKE SA dies).
func (sa *ikeSA) deleteChildRequest(c *childSA) *request {
	return &request{
		exchange: wire.INFORMATIONAL,
		kind:     reqChildDelete,
		child:    c,
		build: func() ([]wire.Payload, error) {
			// Stop sending with it now: the peer removes its inbound SA
			// when our Delete arrives, before we see the response.
			sa.activateSuccessors(c)
			sa.removeOut(c)
			return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(proposal.ProtoESP), SPISize: 4, NumSPIs: 1, SPIs: binary.BigEndian.AppendUint32(nil, c.spiIn)}}, nil
		},
		onReply: func(*wire.Message, []wire.Payload) error {
			sa.dropChild(c)
			return nil
		},
	}
}

// dropChild removes a CHILD SA we deleted ourselves.
func (sa *ikeSA) dropChild(c *childSA) {
	for i, x := range sa.children {
		if x == c {
			sa.activateSuccessors(c)
			sa.removeChild(c)
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			sa.childDown(c)
			return
		}
	}
}

// finishDelete completes a Delete of the IKE SA requested by the peer,
// after our (empty) response went out.
func (sa *ikeSA) finishDelete() { sa.destroy(nil) }

// startDelete deletes the IKE SA: established SAs tell the peer with an
// INFORMATIONAL Delete (one try: a dead peer must not delay us), others
// just vanish.
func (sa *ikeSA) startDelete(sendDelete bool, err error) {
	if sa.state == stateDead {
		return
	}
	if !sendDelete || sa.state != stateEstablished {
		sa.destroy(err)
		return
	}
	sa.state = stateDeleting
	inner := []wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(1)}}
	pkts, encErr := sa.encode(wire.INFORMATIONAL, false, sa.ex.nextID(), inner)
	if encErr == nil {
		sa.logMessage("sending", wire.INFORMATIONAL, false, sa.ex.nextID(), inner, len(pkts))
		sa.sendPackets(pkts)
	}
	sa.destroy(err)
}

// processInformational answers an INFORMATIONAL request (RFC 7296
// section 1.4): Delete payloads for the IKE SA or CHILD SAs, and empty
// liveness checks.
func (sa *ikeSA) processInformational(inner []wire.Payload) ([]wire.Payload, error) {
	var resp []wire.Payload
	if sa.peerMOBIKE {
		resp = sa.processMOBIKE(inner)
	}
	for _, p := range inner {
		if n, ok := p.(*wire.Notify); ok && n.Type == wire.REDIRECT {
			sa.redirectEstablished(n)
			continue
		}
		d, ok := p.(*wire.Delete)
		if !ok {
			continue
		}
		switch d.Protocol {
		case wire.ProtocolID(1): // IKE: the whole SA goes (section 1.4.1)
			if sa.peerIKERekeyOpen() {
				// We saw a rekey collision the peer did not: it completed
				// its rekey and deletes this SA (RFC 7296 section 2.8.2).
				sa.log.Info("peer finished its IKE rekey without seeing ours", "ike_sa", sa.name())
				sa.adoptPeerRekey()
			}
			sa.log.Info("peer deleted the IKE SA", "ike_sa", sa.name())
			sa.state = stateDeleting
			sa.deletedByPeer()
			return nil, nil
		case wire.ProtocolID(3): // ESP
			if d.SPISize != 4 {
				continue
			}
			var ours []byte
			for i := range int(d.NumSPIs) {
				spi := binary.BigEndian.Uint32(d.SPI(i))
				if c := sa.removeChildByOutSPI(spi); c != nil {
					ours = binary.BigEndian.AppendUint32(ours, c.spiIn)
				}
			}
			if len(ours) > 0 {
				resp = append(resp, &wire.Delete{Protocol: wire.ProtocolID(3), SPISize: 4, NumSPIs: uint16(len(ours) / 4), SPIs: ours})
			}
		}
	}
	return resp, nil
}

// removeChildByOutSPI deletes the CHILD SA whose outbound SPI (the peer's
// inbound SPI, which its Delete names) is spi.
func (sa *ikeSA) removeChildByOutSPI(spi uint32) *childSA {
	for i, c := range sa.children {
		if c.spiOut == spi {
			sa.activateSuccessors(c)
			sa.removeChild(c)
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			sa.log.Info("CHILD SA deleted by peer", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn))
			sa.childDown(c)
			return c
		}
	}
	return nil
}
