package ikev1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1/wire"
)

// Informational exchanges (RFC 2409 section 5.7): one message, protected
// by HASH(1) = prf(SKEYID_a, M-ID | N/D), under a fresh message ID.

// sendInformational sends notifications or deletes in a new
// Informational exchange.
func (sa *isakmpSA) sendInformational(pl ...wire.Payload) {
	var b [4]byte
	var mid uint32
	for mid == 0 || sa.quick[mid] != nil || sa.out[mid] != nil {
		if _, err := io.ReadFull(sa.e.cfg.rand, b[:]); err != nil {
			return
		}
		mid = binary.BigEndian.Uint32(b[:])
	}
	sa.sendInformationalMID(mid, pl...)
	delete(sa.out, mid) // informational messages are not retransmitted
	sa.keys.crypto.Forget(mid)
}

// sendInformationalMID sends an Informational message under mid.
func (sa *isakmpSA) sendInformationalMID(mid uint32, pl ...wire.Payload) {
	if sa.keys == nil {
		return
	}
	if err := sa.sendHashed(wire.Informational, mid, 0, pl, nil, false); err != nil {
		sa.log.Debug("sending informational failed", "err", err)
	}
}

// sendDeleteISAKMP tells the peer the ISAKMP SA is gone.
func (sa *isakmpSA) sendDeleteISAKMP() {
	sa.sendInformational(&wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPISize: 16, SPIs: [][]byte{sa.cookies()}})
}

// sendDeleteIPsec tells the peer IPsec SAs are gone: we name our inbound
// SPIs (RFC 2408 section 3.15: the SPIs of the sending entity).
func (sa *isakmpSA) sendDeleteIPsec(spis []uint32) {
	d := &wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtoIPsecESP, SPISize: 4}
	for _, s := range spis {
		d.SPIs = append(d.SPIs, be32(s))
	}
	sa.sendInformational(d)
}

// infoProcess handles an Informational message of the peer.
func (sa *isakmpSA) infoProcess(in *inMsg) error {
	if in.Flags&wire.FlagEncryption == 0 {
		// Before the keys exist a peer can only tell us why it refuses
		// (e.g. NO-PROPOSAL-CHOSEN). Only our initiator listens: a
		// responder's half-open SA just times out.
		if sa.initiator && sa.state == stateConnecting {
			for _, p := range in.Payloads {
				if n, ok := p.(*wire.Notify); ok && n.NotifyType.IsError() {
					sa.log.Warn("peer refused phase 1", "notify", n.NotifyType)
					err := fmt.Errorf("ikev1: peer sent %s", n.NotifyType)
					if n.NotifyType == wire.NO_PROPOSAL_CHOSEN {
						err = fmt.Errorf("%w: the peer sent NO-PROPOSAL-CHOSEN", ErrNoProposalChosen)
					} else if n.NotifyType == wire.AUTHENTICATION_FAILED || n.NotifyType == wire.INVALID_HASH_INFORMATION {
						err = fmt.Errorf("%w: the peer sent %s", ErrAuthFailed, n.NotifyType)
					} else if sa.keys != nil {
						err = fmt.Errorf("%w: the peer sent %s to our encrypted message (pre-shared keys differ?)", ErrAuthFailed, n.NotifyType)
					}
					sa.terminate(err, false)
					return nil
				}
			}
		}
		return errors.New("unencrypted informational message ignored")
	}
	h, ok := in.Payloads[0].(*wire.Hash)
	if !ok {
		return errors.New("informational message without HASH")
	}
	if err := sa.verifyHash12(in, h, nil); err != nil {
		return err
	}
	sa.accepted()
	sa.keys.crypto.Forget(in.MessageID)
	for _, p := range in.Payloads[1:] {
		switch x := p.(type) {
		case *wire.Delete:
			sa.peerDelete(x)
			if sa.state == stateDone {
				return nil
			}
		case *wire.Notify:
			sa.peerNotify(x)
		}
	}
	return nil
}

// peerDelete handles the peer's Delete payload.
func (sa *isakmpSA) peerDelete(d *wire.Delete) {
	switch d.Protocol {
	case wire.ProtoISAKMP:
		for _, s := range d.SPIs {
			if bytes.Equal(s, sa.cookies()) {
				if !sa.initiator && len(sa.children) > 0 {
					// IKEv1 IPsec SAs do not depend on the ISAKMP SA that
					// made them: strongSwan re-authenticating deletes the
					// old ISAKMP SA 2 s after starting the new one, even
					// when the new one is not up yet, and moves its IPsec
					// SAs over. Keep them for the peer's next ISAKMP SA
					// to adopt (adoptChildren), then let them go.
					sa.log.Info("peer deleted the ISAKMP SA; its IPsec SAs wait for the peer's next one", "grace", orphanGrace)
					sa.state = stateOrphaned
					sa.orphanedAt = sa.e.cfg.now()
					sa.endErr = ErrPeerDeleted
					return
				}
				sa.log.Info("peer deleted the ISAKMP SA")
				sa.terminate(ErrPeerDeleted, false)
				return
			}
		}
	case wire.ProtoIPsecESP:
		for _, s := range d.SPIs {
			if len(s) != 4 {
				continue
			}
			spi := binary.BigEndian.Uint32(s)
			for _, c := range sa.children {
				if c.spiOut == spi {
					sa.log.Debug("peer deleted IPsec SA", "child_sa", c.name, "spi_out", fmt.Sprintf("%08x", spi))
					sa.deleteChild(c, false)
					break
				}
			}
		}
	}
}

// peerNotify handles the peer's notification.
func (sa *isakmpSA) peerNotify(n *wire.Notify) {
	switch n.NotifyType {
	case wire.R_U_THERE:
		if len(n.Data) != 4 || !bytes.Equal(n.SPI, sa.cookies()) {
			return
		}
		sa.sendInformational(&wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: sa.cookies(), NotifyType: wire.R_U_THERE_ACK, Data: bytes.Clone(n.Data)})
	case wire.R_U_THERE_ACK:
		if len(n.Data) == 4 {
			sa.dpd.ack(binary.BigEndian.Uint32(n.Data))
		}
	case wire.INITIAL_CONTACT:
		sa.e.initialContact(sa)
	default:
		if n.NotifyType.IsError() {
			sa.log.Warn("peer sent an error notification", "notify", n.NotifyType)
			// A refused Quick Mode of ours: the peer names no message ID,
			// so fail the oldest one we run.
			for mid, q := range sa.quick {
				if q.initiator {
					sa.quickFailed(q, fmt.Errorf("%w: the peer sent %s", ErrNoProposalChosen, n.NotifyType))
					delete(sa.quick, mid)
					break
				}
			}
		} else {
			sa.log.Debug("peer sent a notification", "notify", n.NotifyType)
		}
	}
}

// dpdState is Dead Peer Detection (RFC 3706): we probe only a peer that
// has been silent (no IKE message, no ESP packet) for the delay, and give
// up after the timeout.
type dpdState struct {
	on        bool
	delay     time.Duration
	timeout   time.Duration
	seq       uint32
	lastHeard time.Time
	probing   time.Time // first unanswered probe; zero when none
	lastProbe time.Time
}

// dpdRetry is how often an unanswered R-U-THERE is repeated.
const dpdRetry = 5 * time.Second

func (d *dpdState) start(sa *isakmpSA) {
	d.lastHeard = sa.e.cfg.now()
	if !sa.peerDPD || sa.cfg.dpdDelay() < 0 {
		return
	}
	d.on, d.delay, d.timeout = true, sa.cfg.dpdDelay(), sa.cfg.dpdTimeout()
	var b [4]byte
	io.ReadFull(sa.e.cfg.rand, b[:])
	d.seq = binary.BigEndian.Uint32(b[:]) & 0x7fffffff // RFC 3706 section 7: a random start
}

func (d *dpdState) heard(now time.Time) {
	d.lastHeard = now
	d.probing = time.Time{}
}

func (d *dpdState) ack(seq uint32) {
	if d.on && seq == d.seq {
		d.probing = time.Time{}
	}
}

func (d *dpdState) next(sa *isakmpSA) time.Time {
	if !d.on || sa.state != stateEstablished {
		return time.Time{}
	}
	if !d.probing.IsZero() {
		return d.lastProbe.Add(dpdRetry)
	}
	return d.lastHeard.Add(d.delay)
}

func (d *dpdState) tick(sa *isakmpSA, now time.Time) {
	if !d.on || sa.state != stateEstablished {
		return
	}
	if d.probing.IsZero() {
		if now.Before(d.lastHeard.Add(d.delay)) {
			return
		}
		if t := sa.lastESPIn(); t.After(d.lastHeard) {
			d.lastHeard = t
			if now.Before(t.Add(d.delay)) {
				return
			}
		}
		d.probing = now
	} else if now.Before(d.lastProbe.Add(dpdRetry)) {
		return
	}
	if !now.Before(d.probing.Add(d.timeout)) {
		sa.log.Warn("peer is dead: no answer to DPD", "timeout", d.timeout)
		sa.alert(AlertPeerDead, ErrDeadPeer, "")
		sa.terminate(ErrDeadPeer, false)
		return
	}
	d.seq++
	d.lastProbe = now
	sa.sendInformational(&wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: sa.cookies(), NotifyType: wire.R_U_THERE, Data: be32(d.seq)})
}

// lastESPIn is the newest inbound ESP packet of the SA's IPsec SAs.
func (sa *isakmpSA) lastESPIn() time.Time {
	var t time.Time
	dp := sa.e.cfg.dp
	if dp == nil {
		return t
	}
	for _, c := range sa.children {
		for _, id := range c.installed {
			if id.Dir != esp.DirIn {
				continue
			}
			if st, err := dp.SAStats(id); err == nil && st.LastUse.After(t) {
				t = st.LastUse
			}
		}
	}
	return t
}
