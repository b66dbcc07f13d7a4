package ikev1

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// ourPhase1SA builds the SA payload our initiator offers: one ISAKMP
// proposal with a transform per algorithm combination of the
// configuration, in preference order.
func (sa *isakmpSA) ourPhase1SA() (*wire.SA, error) {
	var ts []wire.Transform
	life := uint32(sa.cfg.lifetime().Seconds())
	for _, p := range sa.cfg.proposals() {
		v1, err := proposal.ToIKEv1Phase1(p, sa.cfg.authAttr())
		if err != nil {
			return nil, err
		}
		for _, x := range v1 {
			attrs := []wire.Attribute{wire.TV(wire.AttrEncryption, x.Encryption)}
			if x.KeyLength != 0 {
				attrs = append(attrs, wire.TV(wire.AttrKeyLength, x.KeyLength))
			}
			attrs = append(attrs, wire.TV(wire.AttrHash, x.Hash), wire.TV(wire.AttrAuthMethod, uint16(x.AuthMethod)),
				wire.TV(wire.AttrGroupDesc, x.Group), wire.TV(wire.AttrLifeType, uint16(wire.LifeSeconds)),
				wire.Num(wire.AttrLifeDuration, life))
			ts = append(ts, wire.Transform{Number: uint8(len(ts) + 1), ID: wire.KeyIKE, Attributes: attrs})
			if len(ts) == 255 {
				break
			}
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("ikev1: no phase 1 proposal")
	}
	if sa.cfg.Mode == AggressiveMode {
		// Our KE goes with the proposal: only transforms of its group can
		// be chosen (strongSwan picks another group's transform and then
		// fails on the KE's size).
		first, _ := phase1Attrs(&ts[0])
		kept := ts[:0]
		for _, t := range ts {
			if a, _ := phase1Attrs(&t); a.Group == first.Group {
				t.Number = uint8(len(kept) + 1)
				kept = append(kept, t)
			}
		}
		ts = kept
	}
	sa.p1.ourTrans = ts
	return &wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly,
		Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoISAKMP, Transforms: ts}}}, nil
}

// startPhase1 sends the first message of Main or Aggressive Mode.
func (sa *isakmpSA) startPhase1() error {
	ex := wire.IdentityProtection
	if sa.cfg.Mode == AggressiveMode {
		ex = wire.Aggressive
	}
	sa.p1 = &phase1{exchange: ex}
	sap, err := sa.ourPhase1SA()
	if err != nil {
		return err
	}
	if sa.p1.saiB, err = encodedBody(sap); err != nil {
		return err
	}
	out := []wire.Payload{sap}
	if ex == wire.Aggressive {
		// One group for all transforms: the KE goes with the proposal.
		first, _ := phase1Attrs(&sap.Proposals[0].Transforms[0])
		g, err := first.Proposal()
		if err != nil {
			return err
		}
		if err := sa.initiatorKE(g.KE[0]); err != nil {
			return err
		}
		sa.localID = sa.ourIdentity()
		id := idPayload(sa.localID)
		if sa.p1.idiB, err = idBody(id); err != nil {
			return err
		}
		out = append(out, &wire.KE{Data: sa.p1.gxi}, &wire.Nonce{Data: sa.p1.ni}, id)
	}
	out = append(out, ourVIDs(nattNone, true, peerVIDs{})...)
	sa.p1.step = 1
	return sa.send(&wire.Message{Header: wire.Header{Exchange: ex}, Payloads: out}, false, true)
}

// initiatorKE draws our Diffie-Hellman value and nonce.
func (sa *isakmpSA) initiatorKE(g proposal.KEID) error {
	ke, err := alg.NewKeyExchange(g, sa.e.cfg.rand)
	if err != nil {
		return err
	}
	pub, err := ke.Public()
	if err != nil {
		return err
	}
	sa.p1.ke, sa.p1.gxi = ke, pub
	sa.p1.ni = make([]byte, nonceLen)
	_, err = io.ReadFull(sa.e.cfg.rand, sa.p1.ni)
	return err
}

// acceptAnswerSA checks the responder's choice against what we offered.
func (sa *isakmpSA) acceptAnswerSA(in *inMsg) error {
	pl := in.Payloads
	if in.RCookie == ([8]byte{}) {
		return errors.New("answer without the responder's cookie")
	}
	sa.ckyR = in.RCookie
	sap := findSA(pl)
	if sap == nil || len(sap.Proposals) != 1 || len(sap.Proposals[0].Transforms) != 1 {
		return fail(wire.BAD_PROPOSAL_SYNTAX, errors.New("responder's SA does not hold one transform"))
	}
	t := &sap.Proposals[0].Transforms[0]
	got, life := phase1Attrs(t)
	for _, o := range sa.p1.ourTrans {
		want, _ := phase1Attrs(&o)
		if got == want {
			p, err := got.Proposal()
			if err != nil {
				return fail(wire.NO_PROPOSAL_CHOSEN, err)
			}
			sa.prop, sa.auth = p, got.AuthMethod
			if life <= 0 || life > sa.cfg.lifetime() {
				life = sa.cfg.lifetime()
			}
			sa.expires = sa.e.cfg.now().Add(life)
			sa.p1.peer = parseVIDs(pl)
			sa.nat.variant = sa.p1.peer.natt
			return nil
		}
	}
	return fail(wire.NO_PROPOSAL_CHOSEN, fmt.Errorf("%w: the responder chose a transform we did not offer (%s)", ErrNoProposalChosen, got))
}

// mainInitiator runs Main Mode as initiator (messages 2, 4 and 6).
func (sa *isakmpSA) mainInitiator(in *inMsg) error {
	p1 := sa.p1
	switch p1.step {
	case 1:
		if err := sa.acceptAnswerSA(in); err != nil {
			return err
		}
		sa.answered(0)
		if err := sa.initiatorKE(sa.prop.KE[0]); err != nil {
			return err
		}
		out := []wire.Payload{&wire.KE{Data: p1.gxi}, &wire.Nonce{Data: p1.ni}}
		out = append(out, sa.natdPayloads()...)
		p1.step = 2
		return sa.send(&wire.Message{Header: wire.Header{Exchange: wire.IdentityProtection}, Payloads: out}, false, true)
	case 2:
		ke, nr := findKE(in.Payloads), findNonce(in.Payloads)
		if ke == nil || nr == nil {
			return errors.New("ikev1: Main Mode message 4 without KE or nonce")
		}
		if err := sa.initiatorShared(ke.Data, nr.Data); err != nil {
			return err
		}
		sa.answered(0)
		sa.checkNATD(in.Payloads, in.pkt.Local, in.pkt.Remote)
		if err := sa.deriveKeys(p1.gxy); err != nil {
			return fail(wire.INVALID_KEY_INFORMATION, err)
		}
		sa.floatToNATT()
		out, err := sa.ourAuth(true)
		if err != nil {
			return err
		}
		if sa.pred == nil {
			// Not when re-authenticating: the peer would drop the SA
			// that still carries the traffic (RFC 2407 4.6.3.3).
			out = append(out, &wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: sa.cookies(), NotifyType: wire.INITIAL_CONTACT})
		}
		p1.step = 3
		return sa.send(&wire.Message{Header: wire.Header{Exchange: wire.IdentityProtection}, Payloads: out}, true, true)
	case 3:
		if in.Flags&wire.FlagEncryption == 0 {
			return errors.New("ikev1: Main Mode message 6 not encrypted")
		}
		if err := sa.verifyPeerAuth(in, true); err != nil {
			if ne := (*notifyError)(nil); errors.As(err, &ne) {
				ne.silent = true // RFC 2409: no notify after a failed final message
			}
			sa.terminate(err, false)
			return err
		}
		sa.accepted()
		sa.answered(0)
		sa.up(nil)
		sa.afterPhase1()
		return nil
	}
	return errors.New("unexpected Main Mode message")
}

// aggressiveInitiator runs Aggressive Mode as initiator (message 2).
func (sa *isakmpSA) aggressiveInitiator(in *inMsg) error {
	p1 := sa.p1
	if p1.step != 1 {
		return errors.New("unexpected Aggressive Mode message")
	}
	if err := sa.acceptAnswerSA(in); err != nil {
		return err
	}
	ke, nr := findKE(in.Payloads), findNonce(in.Payloads)
	if ke == nil || nr == nil {
		return errors.New("ikev1: Aggressive Mode message 2 without KE or nonce")
	}
	if err := sa.initiatorShared(ke.Data, nr.Data); err != nil {
		return err
	}
	sa.checkNATD(in.Payloads, in.pkt.Local, in.pkt.Remote)
	if err := sa.deriveKeys(p1.gxy); err != nil {
		return err
	}
	if err := sa.verifyPeerAuth(in, true); err != nil {
		sa.terminate(err, false)
		return err
	}
	sa.answered(0)
	var out []wire.Payload
	if sa.cfg.Auth == AuthPSK || sa.cfg.hybrid() {
		out = append(out, &wire.Hash{Data: sa.hashI()})
	} else {
		for _, c := range sa.cfg.Certificates {
			out = append(out, &wire.Cert{Encoding: certX509Signature, Data: c})
		}
		sig, err := sign(sa.cfg.Key, sa.e.cfg.rand, sa.hashI())
		if err != nil {
			return err
		}
		out = append(out, &wire.Sig{Data: sig})
	}
	out = append(out, sa.natdPayloads()...)
	sa.floatToNATT()
	p1.step = 2
	if err := sa.send(&wire.Message{Header: wire.Header{Exchange: wire.Aggressive}, Payloads: out}, true, false); err != nil {
		return err
	}
	sa.up(nil)
	sa.afterPhase1()
	return nil
}

// initiatorShared completes the Diffie-Hellman exchange as initiator.
func (sa *isakmpSA) initiatorShared(gxr, nr []byte) error {
	if len(nr) < 8 || len(nr) > 256 {
		return fmt.Errorf("nonce of %d bytes", len(nr))
	}
	shared, err := sa.p1.ke.Shared(gxr)
	if err != nil {
		return fail(wire.INVALID_KEY_INFORMATION, err)
	}
	sa.p1.gxr, sa.p1.gxy, sa.p1.nr = bytes.Clone(gxr), shared, bytes.Clone(nr)
	return nil
}

// afterPhase1 goes on after our initiator's phase 1: with XAuth it waits
// for the gateway's XAuth and pulls Mode Config first, otherwise it
// starts the Quick Modes.
func (sa *isakmpSA) afterPhase1() {
	if sa.state != stateEstablished {
		return
	}
	if sa.cfg.XAuth == nil {
		sa.initiateChildren()
		return
	}
	if err := sa.startXAuthClient(); err != nil {
		sa.terminate(err, true)
	}
}
