package ikev1

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// phase1 is the state of a running Main or Aggressive Mode exchange
// (RFC 2409 section 5), both roles. It goes when the ISAKMP SA is
// established.
type phase1 struct {
	exchange  wire.ExchangeType
	step      int // messages we processed (responder) or sent (initiator)
	saiB      []byte
	transform wire.Transform // the transform chosen, as the initiator sent it
	propNum   uint8
	ke        alg.KeyExchange
	gxi, gxr  []byte
	ni, nr    []byte
	idiB      []byte
	idrB      []byte
	gxy       []byte
	peer      peerVIDs
	ourTrans  []wire.Transform // initiator: what we proposed
}

func (p *phase1) wipe() {
	clear(p.gxy)
}

// maxPeerLifetime caps the phase 1 lifetime a responder accepts.
const maxPeerLifetime = 24 * time.Hour

// nonceLen is the length of our nonces (RFC 2409 section 5 asks for 8 to
// 256 bytes; strongSwan sends 32).
const nonceLen = 32

// lookupTimeout bounds the embedder's PeerLookup.
const lookupTimeout = 5 * time.Second

// phase1Process handles a Main or Aggressive Mode message.
func (sa *isakmpSA) phase1Process(in *inMsg) error {
	if sa.p1 == nil {
		if sa.state != stateConnecting && !sa.initiator {
			return errors.New("phase 1 message on an established SA")
		}
		if sa.initiator {
			return errors.New("phase 1 message of no exchange")
		}
		sa.p1 = &phase1{exchange: in.Exchange}
	}
	p1 := sa.p1
	if in.Exchange != p1.exchange {
		return fmt.Errorf("%s message in a %s exchange", in.Exchange, p1.exchange)
	}
	var err error
	switch {
	case sa.initiator && p1.exchange == wire.IdentityProtection:
		err = sa.mainInitiator(in)
	case sa.initiator:
		err = sa.aggressiveInitiator(in)
	case p1.exchange == wire.IdentityProtection:
		err = sa.mainResponder(in)
	default:
		err = sa.aggressiveResponder(in)
	}
	if err != nil && sa.state == stateConnecting {
		var ne *notifyError
		if errors.As(err, &ne) && !ne.silent {
			sa.sendPhase1Notify(ne.typ)
		}
		if ne != nil && ne.fatal {
			sa.terminate(err, false)
		}
	}
	return err
}

// notifyError is a failure the peer is told about with an unprotected
// notification (before the keys exist) or a protected one.
type notifyError struct {
	typ    wire.NotifyType
	err    error
	fatal  bool // the SA goes
	silent bool // no notify sent
}

func (e *notifyError) Error() string { return e.err.Error() }
func (e *notifyError) Unwrap() error { return e.err }

func fail(t wire.NotifyType, err error) error { return &notifyError{typ: t, err: err, fatal: true} }

// sendPhase1Notify tells the peer why phase 1 failed, in an
// Informational exchange that is encrypted once the keys exist.
func (sa *isakmpSA) sendPhase1Notify(t wire.NotifyType) {
	n := &wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: sa.cookies(), NotifyType: t}
	if sa.keys != nil && sa.state == stateEstablished {
		sa.sendInformational(n)
		return
	}
	m := &wire.Message{Header: wire.Header{Exchange: wire.Informational}, Payloads: []wire.Payload{n}}
	m.ICookie, m.RCookie, m.Version = sa.ckyI, sa.ckyR, 0x10
	b, err := m.Append(nil)
	if err != nil {
		return
	}
	sa.log.Debug("sending "+m.Summary(), "notify", t)
	sa.e.conn.Send(packetTo(b, sa.local, sa.remote))
}

func (sa *isakmpSA) cookies() []byte {
	return append(append(make([]byte, 0, 16), sa.ckyI[:]...), sa.ckyR[:]...)
}

// lookup asks the embedder for the peer's configuration.
func (sa *isakmpSA) lookup(q PeerQuery) (*PeerConfig, error) {
	ctx, cancel := context.WithTimeout(sa.e.ctx, lookupTimeout)
	defer cancel()
	cfg, err := sa.e.cfg.peers(ctx, q)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("no configuration for the peer")
	}
	c := *cfg // copied: later changes by the caller have no effect
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// authMethodOf maps the phase 1 Authentication Method attribute to the
// method of a configuration.
func authMethodOf(m proposal.IKEv1AuthMethod) (AuthMethod, bool) {
	a, _, ok := authMethodXAuth(m)
	return a, ok
}

// authMethodXAuth also reports whether the method asks for XAuth after
// phase 1 (the client, the initiator, is then authenticated by it).
func authMethodXAuth(m proposal.IKEv1AuthMethod) (AuthMethod, bool, bool) {
	switch m {
	case proposal.V1AuthPSK:
		return AuthPSK, false, true
	case proposal.V1AuthRSASig, proposal.V1AuthECDSA256, proposal.V1AuthECDSA384, proposal.V1AuthECDSA521:
		return AuthPubkey, false, true
	case proposal.V1AuthXAuthInitPSK:
		return AuthPSK, true, true
	case proposal.V1AuthXAuthInitRSA, proposal.V1AuthHybridInitRSA:
		return AuthPubkey, true, true
	}
	return 0, false, false
}

// hybrid reports whether the configuration uses hybrid authentication
// (draft-ietf-ipsec-isakmp-hybrid-auth-05): the gateway signs with its
// certificate, the client sends only HASH_I and is authenticated by
// XAuth.
func (c *PeerConfig) hybrid() bool { return c.XAuth != nil && c.XAuth.Hybrid }

// ourAuthAttr is the Authentication Method attribute for our key.
func (c *PeerConfig) authAttr() proposal.IKEv1AuthMethod {
	if c.XAuth != nil {
		switch {
		case c.Auth == AuthPSK:
			return proposal.V1AuthXAuthInitPSK
		case c.XAuth.Hybrid:
			return proposal.V1AuthHybridInitRSA
		}
		return proposal.V1AuthXAuthInitRSA
	}
	if c.Auth == AuthPSK {
		return proposal.V1AuthPSK
	}
	if c.Key != nil {
		if m, ok := ecdsaMethod(c.Key.Public()); ok {
			return m
		}
	}
	return proposal.V1AuthRSASig
}

// phase1Attrs reads a phase 1 transform.
func phase1Attrs(t *wire.Transform) (proposal.IKEv1Phase1, time.Duration) {
	get := func(a uint16) uint16 {
		v, _ := t.Attr(a)
		return uint16(v)
	}
	p := proposal.IKEv1Phase1{Encryption: get(wire.AttrEncryption), KeyLength: get(wire.AttrKeyLength),
		Hash: get(wire.AttrHash), Group: get(wire.AttrGroupDesc), AuthMethod: proposal.IKEv1AuthMethod(get(wire.AttrAuthMethod))}
	return p, lifeOf(t.Attributes, wire.AttrLifeType, wire.AttrLifeDuration)
}

// lifeOf reads a seconds lifetime from life type/duration attribute pairs
// (RFC 2409 appendix A, RFC 2407 section 4.5); zero when there is none.
func lifeOf(attrs []wire.Attribute, typeAttr, durAttr uint16) time.Duration {
	var cur uint32
	var life time.Duration
	for _, a := range attrs {
		v, ok := a.Uint()
		switch {
		case a.Type == typeAttr:
			cur = v
		case a.Type == durAttr && ok && cur == uint32(wire.LifeSeconds):
			life = time.Duration(v) * time.Second
		}
	}
	return life
}

// lifeKB reads a kilobytes lifetime from life type/duration attribute
// pairs (RFC 2407 section 4.5), in bytes; zero when there is none.
func lifeKB(attrs []wire.Attribute, typeAttr, durAttr uint16) uint64 {
	var cur uint32
	var b uint64
	for _, a := range attrs {
		v, ok := a.Uint()
		switch {
		case a.Type == typeAttr:
			cur = v
		case a.Type == durAttr && ok && cur == uint32(wire.LifeKilobytes):
			b = uint64(v) * 1024
		}
	}
	return b
}

// selectPhase1 picks the transform of the peer's SA that our configuration
// prefers, with the explanation of a mismatch.
func (sa *isakmpSA) selectPhase1(sap *wire.SA) (*wire.Transform, proposal.Proposal, time.Duration, error) {
	if sap.DOI != wire.DOIIPsec || len(sap.Proposals) == 0 {
		return nil, proposal.Proposal{}, 0, fail(wire.DOI_NOT_SUPPORTED, fmt.Errorf("SA with DOI %d and %d proposals", sap.DOI, len(sap.Proposals)))
	}
	p := &sap.Proposals[0]
	if p.Protocol != wire.ProtoISAKMP {
		return nil, proposal.Proposal{}, 0, fail(wire.INVALID_PROTOCOL_ID, fmt.Errorf("phase 1 proposal for %s", p.Protocol))
	}
	var peer proposal.List
	var idx []int
	var skipped []string
	for i := range p.Transforms {
		t := &p.Transforms[i]
		a, _ := phase1Attrs(t)
		m, xa, ok := authMethodXAuth(a.AuthMethod)
		if !ok || m != sa.cfg.Auth || xa != (sa.cfg.XAuth != nil) || (a.AuthMethod == proposal.V1AuthHybridInitRSA) != sa.cfg.hybrid() {
			skipped = append(skipped, fmt.Sprintf("%s (auth %s)", a, a.AuthMethod))
			continue
		}
		pp, err := a.Proposal()
		if err != nil {
			skipped = append(skipped, a.String())
			continue
		}
		peer = append(peer, pp)
		idx = append(idx, i)
	}
	ours := sa.cfg.proposals()
	chosen, err := proposal.Select(ours, peer, proposal.SelectOptions{})
	if err != nil {
		expl := err.Error()
		var me *proposal.MismatchError
		if errors.As(err, &me) {
			expl = me.Explain()
		}
		if len(skipped) > 0 {
			expl += fmt.Sprintf("; transforms with another authentication method than %s (ours): %v", sa.cfg.Auth, skipped)
		}
		sa.log.Warn("no phase 1 proposal chosen", "explanation", expl)
		sa.alert(AlertNoProposal, ErrNoProposalChosen, expl)
		return nil, proposal.Proposal{}, 0, fail(wire.NO_PROPOSAL_CHOSEN, fmt.Errorf("%w: %s", ErrNoProposalChosen, expl))
	}
	for k, pp := range peer {
		if proposal.Matches(proposal.List{chosen}, proposal.List{pp}, proposal.SelectOptions{}) {
			t := &p.Transforms[idx[k]]
			_, life := phase1Attrs(t)
			return t, chosen, life, nil
		}
	}
	return nil, proposal.Proposal{}, 0, fail(wire.NO_PROPOSAL_CHOSEN, ErrNoProposalChosen)
}

// mainResponder runs our side of Main Mode as responder:
//
//	HDR, SA                     -->
//	                            <--  HDR, SA
//	HDR, KE, Ni, [NAT-D]        -->
//	                            <--  HDR, KE, Nr, [NAT-D], [CR]
//	HDR*, IDii, [CERT,] HASH_I/SIG_I  -->
//	                            <--  HDR*, IDir, [CERT,] HASH_R/SIG_R
func (sa *isakmpSA) mainResponder(in *inMsg) error {
	p1 := sa.p1
	switch p1.step {
	case 0:
		sap := findSA(in.Payloads)
		if sap == nil {
			return fail(wire.PAYLOAD_MALFORMED, errors.New("ikev1: Main Mode message 1 without SA"))
		}
		p1.peer = parseVIDs(in.Payloads)
		m := authMethodFirst(sap)
		cfg, err := sa.lookup(PeerQuery{Local: in.pkt.Local, Remote: in.pkt.Remote, Method: m, XAuth: xauthFirst(sap), Hybrid: hybridFirst(sap)})
		if err != nil {
			sa.log.Warn("no configuration for the peer", "err", err)
			sa.alert(AlertAuthFailed, fmt.Errorf("%w: %v", ErrAuthFailed, err), "")
			return fail(wire.NO_PROPOSAL_CHOSEN, err)
		}
		sa.cfg = cfg
		if err := sa.choosePhase1(sap); err != nil {
			return err
		}
		p1.saiB = payloadBody(in.body, in.Next, wire.PayloadSA)
		sa.nat.variant = p1.peer.natt
		out := []wire.Payload{sa.answerSA(sap)}
		out = append(out, ourVIDs(sa.nat.variant, false, p1.peer)...)
		p1.step = 1
		return sa.send(&wire.Message{Header: wire.Header{Exchange: wire.IdentityProtection}, Payloads: out}, false, true)
	case 1:
		ke, ni := findKE(in.Payloads), findNonce(in.Payloads)
		if ke == nil || ni == nil {
			return fail(wire.PAYLOAD_MALFORMED, errors.New("ikev1: Main Mode message 3 without KE or nonce"))
		}
		sa.answered(0)
		if err := sa.respondKE(ke.Data, ni.Data); err != nil {
			return err
		}
		sa.checkNATD(in.Payloads, in.pkt.Local, in.pkt.Remote)
		if err := sa.deriveKeys(p1.gxy); err != nil {
			return fail(wire.INVALID_KEY_INFORMATION, err)
		}
		out := []wire.Payload{&wire.KE{Data: p1.gxr}, &wire.Nonce{Data: p1.nr}}
		out = append(out, sa.natdPayloads()...)
		if sa.cfg.Auth == AuthPubkey && !sa.cfg.hybrid() {
			out = append(out, sa.certReqs()...)
		}
		p1.step = 2
		return sa.send(&wire.Message{Header: wire.Header{Exchange: wire.IdentityProtection}, Payloads: out}, false, true)
	case 2:
		if in.Flags&wire.FlagEncryption == 0 {
			return errors.New("ikev1: Main Mode message 5 not encrypted")
		}
		if err := sa.verifyPeerAuth(in, true); err != nil {
			return err
		}
		sa.accepted()
		sa.answered(0)
		sa.local, sa.remote = in.pkt.Local, in.pkt.Remote
		if err := sa.authorize(); err != nil {
			return err
		}
		out, err := sa.ourAuth(false)
		if err != nil {
			return fail(wire.AUTHENTICATION_FAILED, err)
		}
		p1.step = 3
		if err := sa.send(&wire.Message{Header: wire.Header{Exchange: wire.IdentityProtection}, Payloads: out}, true, false); err != nil {
			return err
		}
		sa.up(in.Payloads)
		return nil
	}
	return errors.New("unexpected Main Mode message")
}

// aggressiveResponder runs Aggressive Mode as responder:
//
//	HDR, SA, KE, Ni, IDii       -->
//	                            <--  HDR, SA, KE, Nr, IDir, [CERT,] HASH_R/SIG_R, [NAT-D]
//	HDR[*], [CERT,] HASH_I/SIG_I, [NAT-D]  -->
func (sa *isakmpSA) aggressiveResponder(in *inMsg) error {
	p1 := sa.p1
	switch p1.step {
	case 0:
		sap, ke, ni, id := findSA(in.Payloads), findKE(in.Payloads), findNonce(in.Payloads), findID(in.Payloads)
		if sap == nil || ke == nil || ni == nil || id == nil {
			return fail(wire.PAYLOAD_MALFORMED, errors.New("ikev1: Aggressive Mode message 1 without SA, KE, nonce or ID"))
		}
		p1.peer = parseVIDs(in.Payloads)
		sa.remoteID = identityOf(id)
		cfg, err := sa.lookup(PeerQuery{Local: in.pkt.Local, Remote: in.pkt.Remote, RemoteID: sa.remoteID, Aggressive: true, Method: authMethodFirst(sap), XAuth: xauthFirst(sap), Hybrid: hybridFirst(sap)})
		if err != nil {
			sa.log.Warn("no configuration for the peer", "remote_id", sa.remoteID, "err", err)
			sa.alert(AlertAuthFailed, fmt.Errorf("%w: %v", ErrAuthFailed, err), "")
			return fail(wire.NO_PROPOSAL_CHOSEN, err)
		}
		if !cfg.AllowAggressive {
			sa.log.Warn("refusing Aggressive Mode (not allowed by the configuration; use Main Mode)", "config", cfg.Name, "remote_id", sa.remoteID)
			sa.alert(AlertWeakMode, errors.New("ikev1: Aggressive Mode refused"), "")
			return fail(wire.NO_PROPOSAL_CHOSEN, errors.New("aggressive mode not allowed"))
		}
		sa.cfg = cfg
		if !cfg.RemoteID.IsZero() && !cfg.RemoteID.Equal(sa.remoteID) {
			sa.alert(AlertAuthFailed, ErrAuthFailed, "")
			return fail(wire.INVALID_ID_INFORMATION, fmt.Errorf("%w: peer identity %s, configuration wants %s", ErrAuthFailed, sa.remoteID, cfg.RemoteID))
		}
		if cfg.Auth == AuthPSK {
			sa.log.Warn("peer uses Aggressive Mode with a pre-shared key: its hash can be attacked offline; Main Mode is recommended", "remote_id", sa.remoteID)
			sa.alert(AlertWeakMode, nil, "Aggressive Mode with a PSK")
		}
		if err := sa.choosePhase1(sap); err != nil {
			return err
		}
		p1.saiB = payloadBody(in.body, in.Next, wire.PayloadSA)
		p1.idiB = payloadBody(in.body, in.Next, wire.PayloadID)
		sa.nat.variant = p1.peer.natt
		if err := sa.respondKE(ke.Data, ni.Data); err != nil {
			return err
		}
		if err := sa.deriveKeys(p1.gxy); err != nil {
			return fail(wire.INVALID_KEY_INFORMATION, err)
		}
		auth, err := sa.ourAuth(false)
		if err != nil {
			return fail(wire.AUTHENTICATION_FAILED, err)
		}
		out := []wire.Payload{sa.answerSA(sap), &wire.KE{Data: p1.gxr}, &wire.Nonce{Data: p1.nr}}
		out = append(out, auth...)
		out = append(out, sa.natdPayloads()...)
		out = append(out, ourVIDs(sa.nat.variant, false, p1.peer)...)
		p1.step = 1
		return sa.send(&wire.Message{Header: wire.Header{Exchange: wire.Aggressive}, Payloads: out}, false, true)
	case 1:
		if err := sa.verifyPeerAuth(in, false); err != nil {
			return err
		}
		sa.accepted()
		sa.answered(0)
		sa.checkNATD(in.Payloads, in.pkt.Local, in.pkt.Remote)
		sa.local, sa.remote = in.pkt.Local, in.pkt.Remote
		if err := sa.authorize(); err != nil {
			ne := err.(*notifyError)
			ne.typ = 0
			ne.silent = true // Aggressive Mode has no answer left to refuse with
			return err
		}
		sa.up(in.Payloads)
		return nil
	}
	return errors.New("unexpected Aggressive Mode message")
}

// choosePhase1 selects the peer's transform and records it.
func (sa *isakmpSA) choosePhase1(sap *wire.SA) error {
	t, chosen, life, err := sa.selectPhase1(sap)
	if err != nil {
		return err
	}
	sa.p1.transform = *t
	sa.p1.propNum = sap.Proposals[0].Number
	sa.prop = chosen
	a, _ := phase1Attrs(t)
	sa.auth = a.AuthMethod
	// The initiator renews the SA on its own schedule (Windows proposes
	// 8 hours, Apple 1 hour): its lifetime holds up to maxPeerLifetime.
	if life <= 0 {
		life = sa.cfg.lifetime()
	}
	life = min(life, maxPeerLifetime)
	// The initiator replaces the SA before its lifetime ends (strongSwan
	// re-authenticates at the rekey time it derived the lifetime from,
	// with jitter and a running exchange that may take it past the
	// lifetime). A responder expiring it on the dot would delete the
	// peer's working SAs, so it grants a grace period first.
	sa.expires = sa.e.cfg.now().Add(life + max(30*time.Second, life/10))
	sa.log.Debug("phase 1 proposal selected", "proposal", chosen.String(), "auth", a.AuthMethod)
	return nil
}

// answerSA is the responder's SA payload: the chosen transform as the
// peer sent it (RFC 2409 section 5: the responder returns the transform
// unchanged).
func (sa *isakmpSA) answerSA(peer *wire.SA) *wire.SA {
	t := sa.p1.transform
	t.Attributes = append([]wire.Attribute(nil), t.Attributes...)
	return &wire.SA{DOI: wire.DOIIPsec, Situation: peer.Situation, Proposals: []wire.Proposal{{
		Number: sa.p1.propNum, Protocol: wire.ProtoISAKMP, Transforms: []wire.Transform{t}}}}
}

// respondKE completes the Diffie-Hellman exchange as responder and draws
// our nonce.
func (sa *isakmpSA) respondKE(gxi, ni []byte) error {
	p1 := sa.p1
	if len(ni) < 8 || len(ni) > 256 {
		return fail(wire.PAYLOAD_MALFORMED, fmt.Errorf("nonce of %d bytes", len(ni)))
	}
	ke, err := alg.NewKeyExchange(sa.prop.KE[0], sa.e.cfg.rand)
	if err != nil {
		return fail(wire.NO_PROPOSAL_CHOSEN, err)
	}
	pub, shared, err := ke.Respond(gxi)
	if err != nil {
		return fail(wire.INVALID_KEY_INFORMATION, err)
	}
	p1.ke, p1.gxi, p1.gxr, p1.gxy = ke, bytes.Clone(gxi), pub, shared
	p1.ni = bytes.Clone(ni)
	p1.nr = make([]byte, nonceLen)
	if _, err := io.ReadFull(sa.e.cfg.rand, p1.nr); err != nil {
		return err
	}
	return nil
}

// ourIdentity is the ID we send.
func (sa *isakmpSA) ourIdentity() ipsec.Identity {
	if !sa.cfg.LocalID.IsZero() {
		return sa.cfg.LocalID
	}
	if sa.cfg.Auth == AuthPubkey && len(sa.cfg.Certificates) > 0 && !(sa.initiator && sa.cfg.hybrid()) {
		if c, err := x509.ParseCertificate(sa.cfg.Certificates[0]); err == nil {
			return ipsec.Identity{Type: ipsec.IDDERASN1DN, Data: c.RawSubject}
		}
	}
	return ipsec.AddrID(sa.local.Addr())
}

// ourAuth builds our ID and proof: HASH_I/HASH_R with a PSK, or our
// certificates and the signature over it.
func (sa *isakmpSA) ourAuth(initiator bool) ([]wire.Payload, error) {
	p1 := sa.p1
	sa.localID = sa.ourIdentity()
	id := idPayload(sa.localID)
	idB, err := idBody(id)
	if err != nil {
		return nil, err
	}
	var h []byte
	if initiator {
		p1.idiB = idB
		h = sa.hashI()
	} else {
		p1.idrB = idB
		h = sa.hashR()
	}
	out := []wire.Payload{id}
	if sa.cfg.Auth == AuthPSK || (sa.cfg.hybrid() && initiator) {
		return append(out, &wire.Hash{Data: h}), nil
	}
	for _, c := range sa.cfg.Certificates {
		out = append(out, &wire.Cert{Encoding: certX509Signature, Data: c})
	}
	sig, err := sign(sa.cfg.Key, sa.e.cfg.rand, h)
	if err != nil {
		return nil, err
	}
	return append(out, &wire.Sig{Data: sig}), nil
}

// certX509Signature is the CERT encoding "X.509 Certificate - Signature"
// (RFC 2408 section 3.9).
const certX509Signature = 4

// certReqs asks for a certificate of each of our CAs.
func (sa *isakmpSA) certReqs() []wire.Payload {
	return []wire.Payload{&wire.CertReq{Encoding: certX509Signature}}
}

// verifyPeerAuth checks the peer's ID and HASH or signature. idInMsg says
// whether the ID is in this message (Main Mode) or came earlier
// (Aggressive Mode message 1, the responder's in message 2 for the
// initiator).
func (sa *isakmpSA) verifyPeerAuth(in *inMsg, idInMsg bool) error {
	p1 := sa.p1
	peerIsInitiator := !sa.initiator
	if idInMsg {
		id := findID(in.Payloads)
		if id == nil {
			return fail(wire.PAYLOAD_MALFORMED, errors.New("no ID payload"))
		}
		sa.remoteID = identityOf(id)
		b := payloadBody(in.body, in.Next, wire.PayloadID)
		if peerIsInitiator {
			p1.idiB = b
		} else {
			p1.idrB = b
		}
	}
	if !sa.cfg.RemoteID.IsZero() && !sa.cfg.RemoteID.Equal(sa.remoteID) {
		sa.alert(AlertAuthFailed, ErrAuthFailed, "")
		return fail(wire.INVALID_ID_INFORMATION, fmt.Errorf("%w: peer identity %s, configuration wants %s", ErrAuthFailed, sa.remoteID, sa.cfg.RemoteID))
	}
	var want []byte
	if peerIsInitiator {
		want = sa.hashI()
	} else {
		want = sa.hashR()
	}
	if sa.cfg.Auth == AuthPSK || (sa.cfg.hybrid() && peerIsInitiator) {
		// A PSK, or the client of hybrid authentication, proves itself
		// with HASH (the user is authenticated by XAuth next).
		h := findHash(in.Payloads)
		if h == nil || subtle.ConstantTimeCompare(h.Data, want) != 1 {
			sa.log.Warn("peer's HASH does not verify (wrong pre-shared key?)", "remote_id", sa.remoteID)
			sa.alert(AlertAuthFailed, ErrAuthFailed, "")
			return fail(wire.AUTHENTICATION_FAILED, fmt.Errorf("%w: HASH does not verify", ErrAuthFailed))
		}
		return nil
	}
	if err := sa.verifyCert(in.Payloads, want); err != nil {
		sa.log.Warn("peer's signature does not verify", "remote_id", sa.remoteID, "err", err)
		sa.alert(AlertAuthFailed, err, "")
		return fail(wire.AUTHENTICATION_FAILED, err)
	}
	return nil
}

// verifyCert checks the peer's certificate chain against the CAs, that it
// names the peer's ID, and the signature over h.
func (sa *isakmpSA) verifyCert(pl []wire.Payload, h []byte) error {
	var certs []*x509.Certificate
	var sig *wire.Sig
	for _, p := range pl {
		switch x := p.(type) {
		case *wire.Cert:
			if x.Encoding != certX509Signature {
				continue
			}
			c, err := x509.ParseCertificate(x.Data)
			if err != nil {
				return fmt.Errorf("%w: certificate: %v", ErrAuthFailed, err)
			}
			certs = append(certs, c)
		case *wire.Sig:
			sig = x
		}
	}
	if len(certs) == 0 || sig == nil {
		return fmt.Errorf("%w: no certificate or no signature", ErrAuthFailed)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: sa.cfg.CAs, Intermediates: inter,
		CurrentTime: sa.e.cfg.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: certificate: %v", ErrAuthFailed, err)
	}
	if !certNames(certs[0], sa.remoteID) {
		return fmt.Errorf("%w: certificate does not name %s", ErrAuthFailed, sa.remoteID)
	}
	if err := verify(certs[0], h, sig.Data); err != nil {
		return fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	return nil
}

// certNames reports whether an ID names a certificate's subject.
func certNames(c *x509.Certificate, id ipsec.Identity) bool {
	switch id.Type {
	case ipsec.IDDERASN1DN:
		return bytes.Equal(c.RawSubject, id.Data)
	case ipsec.IDFQDN:
		return c.VerifyHostname(string(id.Data)) == nil
	case ipsec.IDRFC822Addr:
		for _, e := range c.EmailAddresses {
			if e == string(id.Data) {
				return true
			}
		}
	case ipsec.IDIPv4Addr, ipsec.IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			for _, ip := range c.IPAddresses {
				if ip.Equal(a.AsSlice()) {
					return true
				}
			}
		}
	}
	return false
}

// authorizeTimeout bounds Hooks.Authorize.
const authorizeTimeout = 5 * time.Second

// authorize asks Hooks.Authorize whether the authenticated peer may
// connect (responder).
func (sa *isakmpSA) authorize() error {
	h := sa.e.cfg.hooks.Authorize
	if h == nil || sa.initiator {
		return nil
	}
	ctx, cancel := context.WithTimeout(sa.e.ctx, authorizeTimeout)
	defer cancel()
	info, _ := sa.info()
	info.State = stateEstablished.String()
	if err := h(ctx, info); err != nil {
		e := fmt.Errorf("%w: refused by Authorize: %w", ErrAuthFailed, err)
		sa.log.Warn("peer refused by the authorization hook", "remote_id", sa.remoteID, "err", err)
		sa.alert(AlertAuthFailed, e, "")
		return &notifyError{typ: wire.AUTHENTICATION_FAILED, err: e, fatal: true}
	}
	return nil
}

// up marks phase 1 done.
func (sa *isakmpSA) up(pl []wire.Payload) {
	sa.state = stateEstablished
	sa.established = sa.e.cfg.now()
	sa.peerDPD = sa.p1.peer.dpd
	sa.peerFrag = sa.p1.peer.fragment
	sa.mode = sa.p1.exchange
	sa.e.established(sa)
	contact := false
	for _, p := range pl {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == wire.INITIAL_CONTACT {
			contact = true
		}
	}
	if contact {
		sa.e.initialContact(sa)
	} else {
		sa.e.adoptChildren(sa)
	}
	sa.p1.wipe()
	sa.p1 = nil
	sa.frags = nil // a larger bound from now on
	sa.dpd.start(sa)
	if sa.initiator {
		life := sa.expires.Sub(sa.established)
		margin := sa.cfg.RekeyMargin
		if margin <= 0 || margin >= life {
			margin = life / 10
		}
		sa.rekeyAt = sa.expires.Add(-margin)
	}
	info, _ := sa.info()
	sa.log.Info("ISAKMP SA established", "ike_sa", fmt.Sprintf("%x_i %x_r", sa.ckyI, sa.ckyR),
		"remote_id", sa.remoteID, "proposal", sa.prop.String(), "auth", sa.auth)
	if h := sa.e.cfg.hooks.IKEUp; h != nil {
		h(info)
	}
	if !sa.initiator && sa.cfg.XAuth != nil {
		sa.startXAuth()
	}
}

// authMethodFirst returns the authentication method of the peer's first
// transform, for the configuration lookup.
func authMethodFirst(sap *wire.SA) AuthMethod {
	if len(sap.Proposals) == 0 || len(sap.Proposals[0].Transforms) == 0 {
		return 0
	}
	a, _ := phase1Attrs(&sap.Proposals[0].Transforms[0])
	m, _ := authMethodOf(a.AuthMethod)
	return m
}

// hybridFirst reports whether the peer's first transform asks for hybrid
// authentication.
func hybridFirst(sap *wire.SA) bool {
	if len(sap.Proposals) == 0 || len(sap.Proposals[0].Transforms) == 0 {
		return false
	}
	a, _ := phase1Attrs(&sap.Proposals[0].Transforms[0])
	return a.AuthMethod == proposal.V1AuthHybridInitRSA
}

// xauthFirst reports whether the peer's first transform asks for XAuth.
func xauthFirst(sap *wire.SA) bool {
	if len(sap.Proposals) == 0 || len(sap.Proposals[0].Transforms) == 0 {
		return false
	}
	a, _ := phase1Attrs(&sap.Proposals[0].Transforms[0])
	_, x, _ := authMethodXAuth(a.AuthMethod)
	return x
}
