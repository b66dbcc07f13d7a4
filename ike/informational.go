package ike

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/goipsec/ipsec/ike/wire"
)

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
			if sa.ikeRekeyPeer != nil {
				// We saw a rekey collision the peer did not: it completed
				// its rekey and deletes this SA (RFC 7296 section 2.8.2).
				sa.log.Info("peer finished its IKE rekey without seeing ours", "ike_sa", sa.name())
				sa.adoptPeerRekey()
			}
			sa.log.Info("peer deleted the IKE SA", "ike_sa", sa.name())
			sa.state, sa.peerDeleted = stateDeleting, true
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
	pkts, encErr := sa.encode(wire.INFORMATIONAL, false, sa.nextMID, inner)
	if encErr == nil {
		sa.logMessage("sending", wire.INFORMATIONAL, false, sa.nextMID, inner, len(pkts))
		sa.sendPackets(pkts)
	}
	sa.destroy(err)
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
	if idle := now.Sub(last); idle < delay {
		sa.dpdAt = now.Add(delay - idle)
		return
	}
	sa.dpdAt = now.Add(delay)
	if sa.busy() {
		return // an exchange in progress is a liveness check already
	}
	sa.queueRequest(&request{exchange: wire.INFORMATIONAL,
		build:   func() ([]wire.Payload, error) { return nil, nil },
		onReply: func(*wire.Message, []wire.Payload) error { return nil }})
}
