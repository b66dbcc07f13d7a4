package ikev1

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// quickMode is a running Quick Mode exchange (RFC 2409 section 5.5), both
// roles:
//
//	HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] [, NAT-OAi, NAT-OAr]  -->
//	            <--  HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr]
//	HDR*, HASH(3)  -->
type quickMode struct {
	mid       uint32
	initiator bool
	started   time.Time
	step      int
	cc        ChildConfig
	ni, nr    []byte
	ke        alg.KeyExchange
	gqmxy     []byte
	prop      proposal.Proposal
	propNum   uint8
	transform wire.Transform
	encap     wire.EncapMode
	spiIn     uint32
	spiOut    uint32
	localTS   []esp.Selector
	remoteTS  []esp.Selector
	ids       []*wire.ID // IDci, IDcr as they go on the wire (echoed by the responder)
	life      time.Duration
	lifeBytes uint64 // volume lifetime, 0 for none
	shortened bool   // we cut the peer's lifetime: RESPONDER-LIFETIME
	replaces  *child
	commit    bool
}

func (q *quickMode) wipe() { clear(q.gqmxy) }

// midBytes is a message ID as HASH input.
func midBytes(mid uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], mid)
	return b[:]
}

// quickProcess handles a Quick Mode message.
func (sa *isakmpSA) quickProcess(in *inMsg) error {
	if sa.state != stateEstablished || in.Flags&wire.FlagEncryption == 0 || in.MessageID == 0 {
		return errors.New("ikev1: Quick Mode message outside an established ISAKMP SA or not encrypted")
	}
	h, ok := in.Payloads[0].(*wire.Hash)
	if !ok {
		return errors.New("ikev1: Quick Mode message does not start with HASH")
	}
	q := sa.quick[in.MessageID]
	if q == nil {
		if len(sa.quick) >= maxQuickModes {
			return errors.New("too many Quick Modes running")
		}
		if sa.quickMIDs.has(in.MessageID) {
			// A replay of a finished Quick Mode's first message (its
			// cached answer is gone): it decrypts and its HASH holds, but
			// it must not start a Quick Mode again.
			return errors.New("ikev1: replayed Quick Mode message ID")
		}
		return sa.quickRespond1(in, h)
	}
	switch {
	case q.initiator && q.step == 1:
		return sa.quickInitiator2(in, q, h)
	case !q.initiator && q.step == 1:
		return sa.quickRespond3(in, q, h)
	}
	return errors.New("unexpected Quick Mode message")
}

// maxQuickModes bounds the Quick Modes running at once on one ISAKMP SA.
const maxQuickModes = 8

// midSet remembers the message IDs of the last maxQuickMIDs Quick Modes
// of an ISAKMP SA (4 bytes each): a Quick Mode's first message replayed
// later must not start it again.
type midSet struct {
	seen  map[uint32]struct{}
	order []uint32
}

const maxQuickMIDs = 1024

func (s *midSet) has(mid uint32) bool {
	_, ok := s.seen[mid]
	return ok
}

func (s *midSet) add(mid uint32) {
	if s.seen == nil {
		s.seen = map[uint32]struct{}{}
	}
	if _, ok := s.seen[mid]; ok {
		return
	}
	s.seen[mid] = struct{}{}
	s.order = append(s.order, mid)
	if len(s.order) > maxQuickMIDs {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
	}
}

// verifyHash12 checks HASH(1) (prefix nil) or HASH(2) (prefix Ni_b) over
// the payloads that follow the HASH.
func (sa *isakmpSA) verifyHash12(in *inMsg, h *wire.Hash, prefix []byte) error {
	rest, ok := afterFirst(in.body, in.Next)
	if !ok {
		return errors.New("payloads do not walk")
	}
	want := sa.prfA(midBytes(in.MessageID), prefix, rest)
	if subtle.ConstantTimeCompare(h.Data, want) != 1 {
		return fmt.Errorf("%s HASH does not verify", in.Exchange)
	}
	return nil
}

// quickRespond1 answers the first Quick Mode message.
func (sa *isakmpSA) quickRespond1(in *inMsg, h *wire.Hash) error {
	if err := sa.verifyHash12(in, h, nil); err != nil {
		return err
	}
	sa.accepted()
	q := &quickMode{mid: in.MessageID, started: sa.e.cfg.now(), commit: in.Flags&wire.FlagCommit != 0}
	sa.quickMIDs.add(q.mid)
	err := sa.quickAllowed()
	if err == nil {
		err = sa.quickChoose(in, q)
	}
	if err != nil {
		sa.log.Warn("Quick Mode refused", "mid", in.MessageID, "err", err)
		var ne *notifyError
		t := wire.NO_PROPOSAL_CHOSEN
		if errors.As(err, &ne) {
			t = ne.typ
		}
		sa.sendInformational(&wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoIPsecESP, NotifyType: t})
		return nil // the message was authentic: keep it as received
	}
	sa.quick[q.mid] = q
	sap := &wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly, Proposals: []wire.Proposal{{
		Number: q.propNum, Protocol: wire.ProtoIPsecESP, SPI: be32(q.spiIn), Transforms: []wire.Transform{q.transform}}}}
	out := []wire.Payload{sap, &wire.Nonce{Data: q.nr}}
	if q.ke != nil {
		pub, _ := keyPublic(q)
		out = append(out, &wire.KE{Data: pub})
	}
	for _, id := range q.ids {
		out = append(out, id)
	}
	if q.encap == wire.EncapUDPTransport || q.encap == wire.EncapUDPTransportDraft {
		// RFC 3947 section 5.2: the responder that selected UDP-encapsulated
		// transport mode sends NAT-OA too: the initiator's address as we
		// see it, then ours.
		draft := q.encap == wire.EncapUDPTransportDraft
		out = append(out, &wire.NATOA{IDType: idTypeOfAddr(sa.remote.Addr()), Addr: sa.remote.Addr(), Draft: draft},
			&wire.NATOA{IDType: idTypeOfAddr(sa.local.Addr()), Addr: sa.local.Addr(), Draft: draft})
	}
	if q.shortened {
		out = append(out, &wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoIPsecESP, SPI: be32(q.spiIn),
			NotifyType: wire.RESPONDER_LIFETIME, Data: lifetimeAttrs(q.life)})
	}
	q.step = 1
	return sa.sendHashed(wire.QuickMode, q.mid, 0, out, q.ni, true)
}

// keyPublic returns our KE data of a Quick Mode with PFS.
func keyPublic(q *quickMode) ([]byte, error) { return q.ke.Public() }

// quickChoose selects the ESP proposal, the configuration and the
// selectors of a peer's Quick Mode request, and keys it.
func (sa *isakmpSA) quickChoose(in *inMsg, q *quickMode) error {
	sap, ni := findSA(in.Payloads), findNonce(in.Payloads)
	if sap == nil || ni == nil || len(ni.Data) < 8 || len(ni.Data) > 256 {
		return &notifyError{typ: wire.PAYLOAD_MALFORMED, err: errors.New("ikev1: Quick Mode message 1 without SA or nonce")}
	}
	q.ni = bytes.Clone(ni.Data)
	ids := findIDs(in.Payloads)
	var peerTS, ourTS []esp.Selector
	switch len(ids) {
	case 0:
		peerTS, ourTS = []esp.Selector{hostSel(sa.remote.Addr())}, []esp.Selector{hostSel(sa.local.Addr())}
	case 2:
		a, err1 := selectorOf(ids[0])
		b, err2 := selectorOf(ids[1])
		if err1 != nil || err2 != nil {
			return &notifyError{typ: wire.INVALID_ID_INFORMATION, err: errors.Join(err1, err2)}
		}
		peerTS, ourTS = []esp.Selector{a}, []esp.Selector{b}
		q.ids = []*wire.ID{cloneID(ids[0]), cloneID(ids[1])}
	default:
		return &notifyError{typ: wire.INVALID_ID_INFORMATION, err: fmt.Errorf("%d ID payloads", len(ids))}
	}
	// NAT-T: a peer behind a NAT names its private address; in transport
	// mode the packets carry its outer one after decapsulation.
	if sa.nat.remote && len(ids) == 2 && isHost(peerTS[0]) && wantsTransport(sap) {
		peerTS = []esp.Selector{withAddr(peerTS[0], sa.remote.Addr())}
	}
	cc, our, err := sa.childFor(peerTS[0], ourTS[0], sap)
	if err != nil {
		return &notifyError{typ: wire.INVALID_ID_INFORMATION, err: err}
	}
	ourTS = []esp.Selector{our}
	q.cc = cc
	q.localTS, q.remoteTS = ourTS, peerTS
	if err := sa.quickSelect(sap, q); err != nil {
		return err
	}
	if h := sa.e.cfg.hooks.AuthorizeChild; h != nil {
		ike, _ := sa.info()
		ci := ipsec.ChildSAInfo{Name: cc.Name, State: "CONNECTING", Transport: cc.Transport, UDPEncap: sa.udpEncap(), Proposal: q.prop.String()}
		for _, s := range ourTS {
			ci.LocalTS = append(ci.LocalTS, selString(s))
		}
		for _, s := range peerTS {
			ci.RemoteTS = append(ci.RemoteTS, selString(s))
		}
		if err := h(ike, ci); err != nil {
			sa.log.Warn("Quick Mode refused by the authorization hook", "local_ts", ci.LocalTS, "remote_ts", ci.RemoteTS, "err", err)
			return &notifyError{typ: wire.INVALID_ID_INFORMATION, err: err}
		}
	}
	if len(q.prop.KE) > 0 && q.prop.KE[0] != proposal.KENone {
		ke := findKE(in.Payloads)
		if ke == nil {
			return &notifyError{typ: wire.NO_PROPOSAL_CHOSEN, err: errors.New("PFS group chosen but no KE payload")}
		}
		x, err := alg.NewKeyExchange(q.prop.KE[0], sa.e.cfg.rand)
		if err != nil {
			return &notifyError{typ: wire.NO_PROPOSAL_CHOSEN, err: err}
		}
		pub, shared, err := x.Respond(ke.Data)
		if err != nil {
			return &notifyError{typ: wire.INVALID_KEY_INFORMATION, err: err}
		}
		_ = pub
		q.ke, q.gqmxy = &fixedPublic{KeyExchange: x, pub: pub}, shared
	}
	q.nr = make([]byte, nonceLen)
	if _, err := io.ReadFull(sa.e.cfg.rand, q.nr); err != nil {
		return err
	}
	spi, err := sa.newSPI()
	if err != nil {
		return err
	}
	q.spiIn = spi
	return nil
}

// wantsTransport reports whether the peer's first ESP transform asks for
// transport mode.
func wantsTransport(sap *wire.SA) bool {
	for _, p := range sap.Proposals {
		for i := range p.Transforms {
			_, mode, _ := espAttrs(&p.Transforms[i])
			return !mode.Tunnel()
		}
	}
	return false
}

// fixedPublic returns the responder's KE data computed by Respond.
type fixedPublic struct {
	alg.KeyExchange
	pub []byte
}

func (f *fixedPublic) Public() ([]byte, error) { return f.pub, nil }

// quickSelect picks the peer's ESP transform that our configuration
// prefers and checks its encapsulation mode.
func (sa *isakmpSA) quickSelect(sap *wire.SA, q *quickMode) error {
	var peer proposal.List
	type ref struct {
		p, t int
	}
	var refs []ref
	for i := range sap.Proposals {
		p := &sap.Proposals[i]
		if p.Protocol != wire.ProtoIPsecESP || len(p.SPI) != 4 {
			continue
		}
		for j := range p.Transforms {
			x, _, _ := espAttrs(&p.Transforms[j])
			pp, err := x.Proposal()
			if err != nil {
				continue
			}
			peer = append(peer, pp)
			refs = append(refs, ref{i, j})
		}
	}
	chosen, err := proposal.Select(q.cc.proposals(), peer, proposal.SelectOptions{})
	if err != nil {
		expl := err.Error()
		var me *proposal.MismatchError
		if errors.As(err, &me) {
			expl = me.Explain()
		}
		sa.log.Warn("no Quick Mode proposal chosen", "explanation", expl)
		sa.alert(AlertNoProposal, ErrNoProposalChosen, expl)
		return &notifyError{typ: wire.NO_PROPOSAL_CHOSEN, err: fmt.Errorf("%w: %s", ErrNoProposalChosen, expl)}
	}
	for k, pp := range peer {
		if !proposal.Matches(proposal.List{chosen}, proposal.List{pp}, proposal.SelectOptions{}) {
			continue
		}
		p := &sap.Proposals[refs[k].p]
		t := p.Transforms[refs[k].t]
		_, mode, life := espAttrs(&t)
		if mode.Tunnel() == q.cc.Transport {
			continue
		}
		if mode.UDPEncapsulated() != sa.udpEncap() {
			sa.log.Debug("peer's encapsulation mode disagrees with NAT detection", "mode", mode)
		}
		q.prop, q.propNum, q.encap = chosen, p.Number, mode
		q.spiOut = binary.BigEndian.Uint32(p.SPI)
		q.life = q.cc.lifetime()
		q.lifeBytes = q.cc.LifeBytes
		if life > 0 && life < q.life {
			q.life = life
		} else if life > q.life {
			q.shortened = true
		}
		t.Attributes = append([]wire.Attribute(nil), t.Attributes...)
		if q.shortened {
			t.Attributes = setLife(t.Attributes, q.life)
		}
		if kb := lifeKB(t.Attributes, wire.AttrSALifeType, wire.AttrSALifeDuration); kb > 0 && (q.lifeBytes == 0 || kb < q.lifeBytes) {
			q.lifeBytes = kb
		}
		q.transform = t
		return nil
	}
	return &notifyError{typ: wire.NO_PROPOSAL_CHOSEN, err: fmt.Errorf("%w: the peer asks for %s mode", ErrNoProposalChosen, modeName(!q.cc.Transport))}
}

func modeName(tunnel bool) string {
	if tunnel {
		return "transport"
	}
	return "tunnel"
}

// setLife replaces the seconds lifetime of phase 2 attributes.
func setLife(attrs []wire.Attribute, life time.Duration) []wire.Attribute {
	out := attrs[:0:0]
	skip := false
	for _, a := range attrs {
		switch a.Type {
		case wire.AttrSALifeType:
			v, _ := a.Uint()
			skip = v == uint32(wire.LifeSeconds)
			if skip {
				continue
			}
		case wire.AttrSALifeDuration:
			if skip {
				skip = false
				continue
			}
		}
		out = append(out, a)
	}
	return append(out, wire.TV(wire.AttrSALifeType, uint16(wire.LifeSeconds)), wire.Num(wire.AttrSALifeDuration, uint32(life.Seconds())))
}

// lifetimeAttrs is the data of a RESPONDER-LIFETIME notify.
func lifetimeAttrs(life time.Duration) []byte {
	b := make([]byte, 0, 12)
	b = append(b, 0x80, 0x01, 0x00, 0x01) // SA Life Type: seconds (TV)
	b = append(b, 0x00, 0x02, 0x00, 0x04) // SA Life Duration (TLV, 4 bytes)
	return binary.BigEndian.AppendUint32(b, uint32(life.Seconds()))
}

// espAttrs reads an ESP transform.
func espAttrs(t *wire.Transform) (proposal.IKEv1ESP, wire.EncapMode, time.Duration) {
	get := func(a uint16) uint32 {
		v, _ := t.Attr(a)
		return v
	}
	x := proposal.IKEv1ESP{TransformID: t.ID, KeyLength: uint16(get(wire.AttrIPsecKeyLength)), AuthAlg: uint16(get(wire.AttrAuthAlgorithm)),
		Group: uint16(get(wire.AttrGroupDescription)), ESN: get(wire.AttrExtendedSeqNum) == 1}
	mode := wire.EncapMode(get(wire.AttrEncapsulation))
	if mode == 0 {
		mode = wire.EncapTunnel // RFC 2407 4.5: the default is unspecified; strongSwan assumes tunnel
	}
	return x, mode, lifeOf(t.Attributes, wire.AttrSALifeType, wire.AttrSALifeDuration)
}

// quickRespond3 takes HASH(3) and installs the IPsec SA.
func (sa *isakmpSA) quickRespond3(in *inMsg, q *quickMode, h *wire.Hash) error {
	want := sa.prfA([]byte{0}, midBytes(q.mid), q.ni, q.nr)
	if subtle.ConstantTimeCompare(h.Data, want) != 1 {
		return errors.New("HASH(3) does not verify")
	}
	sa.accepted()
	sa.answered(q.mid)
	delete(sa.quick, q.mid)
	sa.quickDone(q)
	if q.commit {
		// RFC 2409 section 5.5: the initiator waits for CONNECTED before
		// it uses the SA.
		sa.sendInformationalMID(q.mid, &wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoIPsecESP, SPI: be32(q.spiIn), NotifyType: wire.CONNECTED})
	}
	return nil
}

// quickDone installs a finished Quick Mode's IPsec SA.
func (sa *isakmpSA) quickDone(q *quickMode) {
	c, err := sa.newChild(q)
	q.wipe()
	if err != nil {
		sa.log.Warn("installing the IPsec SA failed", "mid", q.mid, "err", err)
		sa.sendDeleteIPsec([]uint32{q.spiIn})
		sa.notifyWaiters(err)
		return
	}
	sa.children = append(sa.children, c)
	ike, _ := sa.info()
	ci := c.info(sa)
	sa.log.Info("IPsec SA established", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn), "spi_out", fmt.Sprintf("%08x", c.spiOut),
		"proposal", c.prop.String(), "local_ts", ci.LocalTS, "remote_ts", ci.RemoteTS, "transport", c.transport, "udp_encap", c.encap)
	if h := sa.e.cfg.hooks.ChildUp; h != nil {
		h(ike, ci)
	}
	if q.replaces != nil {
		q.replaces.rekeyed = true
		c.replaces = q.replaces
	}
	if c.outPending == nil {
		sa.activateOut(c) // nothing deferred: delete what it replaces now
	}
	sa.notifyWaiters(nil)
}

// quickFailed ends a Quick Mode that got no answer.
func (sa *isakmpSA) quickFailed(q *quickMode, err error) {
	sa.log.Debug("Quick Mode failed", "mid", q.mid, "err", err)
	q.wipe()
	delete(sa.quick, q.mid)
	delete(sa.out, q.mid)
	sa.keys.crypto.Forget(q.mid)
	if q.replaces != nil {
		q.replaces.rekeying = false
	}
	sa.notifyWaiters(err)
}

func (sa *isakmpSA) notifyWaiters(err error) {
	sa.publish() // the waiter reads the snapshot next
	for _, w := range sa.waiters {
		w <- err
	}
	sa.waiters = nil
}

// startQuick begins a Quick Mode for cc as initiator; old is the IPsec SA
// it replaces (a rekey), if any.
func (sa *isakmpSA) startQuick(cc ChildConfig, old *child) error {
	q := &quickMode{initiator: true, started: sa.e.cfg.now(), cc: cc, replaces: old}
	for q.mid == 0 || sa.quick[q.mid] != nil || sa.out[q.mid] != nil {
		var b [4]byte
		if _, err := io.ReadFull(sa.e.cfg.rand, b[:]); err != nil {
			return err
		}
		q.mid = binary.BigEndian.Uint32(b[:])
	}
	q.ni = make([]byte, nonceLen)
	if _, err := io.ReadFull(sa.e.cfg.rand, q.ni); err != nil {
		return err
	}
	spi, err := sa.newSPI()
	if err != nil {
		return err
	}
	q.spiIn = spi
	q.localTS, q.remoteTS = cc.LocalTS, cc.RemoteTS
	if sa.xa != nil && sa.xa.lease.IsValid() {
		// Our virtual address, to what the gateway routes for us.
		q.localTS = []esp.Selector{hostSel(sa.xa.lease)}
		if len(q.remoteTS) == 0 && sa.xa.got != nil {
			for _, p := range sa.xa.got.SplitInclude {
				q.remoteTS = append(q.remoteTS, esp.PrefixSelector(p))
			}
		}
		if len(q.remoteTS) == 0 {
			q.remoteTS = []esp.Selector{esp.AnySelector(true)}
		}
	}
	if len(q.localTS) == 0 {
		q.localTS = []esp.Selector{hostSel(sa.local.Addr())}
	}
	if len(q.remoteTS) == 0 {
		q.remoteTS = []esp.Selector{hostSel(sa.remote.Addr())}
	}
	mode := wire.EncapTunnel
	if cc.Transport {
		mode = wire.EncapTransport
	}
	if sa.udpEncap() {
		switch {
		case sa.nat.variant == nattDraft && cc.Transport:
			mode = wire.EncapUDPTransportDraft
		case sa.nat.variant == nattDraft:
			mode = wire.EncapUDPTunnelDraft
		case cc.Transport:
			mode = wire.EncapUDPTransport
		default:
			mode = wire.EncapUDPTunnel
		}
	}
	q.encap = mode
	var ts []wire.Transform
	var pfs proposal.KEID
	for _, p := range cc.proposals() {
		v1, err := proposal.ToIKEv1ESP(p)
		if err != nil {
			return err
		}
		for _, x := range v1 {
			attrs := []wire.Attribute{wire.TV(wire.AttrSALifeType, uint16(wire.LifeSeconds)), wire.Num(wire.AttrSALifeDuration, uint32(cc.lifetime().Seconds()))}
			if cc.LifeBytes >= 1024 {
				attrs = append(attrs, wire.TV(wire.AttrSALifeType, uint16(wire.LifeKilobytes)), wire.Num(wire.AttrSALifeDuration, uint32(min(cc.LifeBytes/1024, 1<<32-1))))
			}
			attrs = append(attrs, wire.TV(wire.AttrEncapsulation, uint16(mode)))
			if x.AuthAlg != 0 {
				attrs = append(attrs, wire.TV(wire.AttrAuthAlgorithm, x.AuthAlg))
			}
			if x.KeyLength != 0 {
				attrs = append(attrs, wire.TV(wire.AttrIPsecKeyLength, x.KeyLength))
			}
			if x.Group != 0 {
				attrs = append(attrs, wire.TV(wire.AttrGroupDescription, x.Group))
				if pfs == 0 {
					pfs, _ = keOfGroup(x.Group)
				}
			}
			if x.ESN {
				attrs = append(attrs, wire.TV(wire.AttrExtendedSeqNum, 1))
			}
			ts = append(ts, wire.Transform{Number: uint8(len(ts) + 1), ID: x.TransformID, Attributes: attrs})
		}
	}
	sap := &wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly, Proposals: []wire.Proposal{{
		Number: 1, Protocol: wire.ProtoIPsecESP, SPI: be32(q.spiIn), Transforms: ts}}}
	out := []wire.Payload{sap, &wire.Nonce{Data: q.ni}}
	if pfs != 0 {
		ke, err := alg.NewKeyExchange(pfs, sa.e.cfg.rand)
		if err != nil {
			return err
		}
		pub, err := ke.Public()
		if err != nil {
			return err
		}
		q.ke = ke
		out = append(out, &wire.KE{Data: pub})
	}
	q.ids = []*wire.ID{idOfSelector(q.localTS[0]), idOfSelector(q.remoteTS[0])}
	out = append(out, q.ids[0], q.ids[1])
	if cc.Transport && sa.nat.any() {
		draft := sa.nat.variant == nattDraft
		out = append(out, &wire.NATOA{IDType: idTypeOfAddr(sa.local.Addr()), Addr: sa.local.Addr(), Draft: draft},
			&wire.NATOA{IDType: idTypeOfAddr(sa.remote.Addr()), Addr: sa.remote.Addr(), Draft: draft})
	}
	q.step = 1
	sa.quick[q.mid] = q
	sa.quickMIDs.add(q.mid)
	return sa.sendHashed(wire.QuickMode, q.mid, 0, out, nil, true)
}

func keOfGroup(g uint16) (proposal.KEID, bool) {
	p, err := proposal.IKEv1Phase1{Encryption: 7, KeyLength: 128, Hash: 2, Group: g}.Proposal()
	if err != nil || len(p.KE) == 0 {
		return 0, false
	}
	return p.KE[0], true
}

// quickInitiator2 takes the responder's answer, sends HASH(3) and
// installs the SA.
func (sa *isakmpSA) quickInitiator2(in *inMsg, q *quickMode, h *wire.Hash) error {
	if err := sa.verifyHash12(in, h, q.ni); err != nil {
		return err
	}
	sa.accepted()
	sa.answered(q.mid)
	sap, nr := findSA(in.Payloads), findNonce(in.Payloads)
	if sap == nil || nr == nil || len(sap.Proposals) != 1 || len(sap.Proposals[0].Transforms) != 1 || len(sap.Proposals[0].SPI) != 4 {
		sa.quickFailed(q, errors.New("ikev1: malformed Quick Mode answer"))
		return nil
	}
	t := &sap.Proposals[0].Transforms[0]
	x, _, life := espAttrs(t)
	p, err := x.Proposal()
	if err != nil || !proposal.Matches(q.cc.proposals(), proposal.List{p}, proposal.SelectOptions{}) {
		sa.quickFailed(q, fmt.Errorf("%w: the responder chose a transform we did not offer", ErrNoProposalChosen))
		return nil
	}
	q.prop, q.spiOut, q.nr = p, binary.BigEndian.Uint32(sap.Proposals[0].SPI), bytes.Clone(nr.Data)
	q.life = q.cc.lifetime()
	if life > 0 && life < q.life {
		q.life = life
	}
	q.lifeBytes = q.cc.LifeBytes
	if kb := lifeKB(t.Attributes, wire.AttrSALifeType, wire.AttrSALifeDuration); kb > 0 && (q.lifeBytes == 0 || kb < q.lifeBytes) {
		q.lifeBytes = kb
	}
	for _, pl := range in.Payloads {
		if n, ok := pl.(*wire.Notify); ok && n.NotifyType == wire.RESPONDER_LIFETIME {
			if l := lifeOf(parseAttrs(n.Data), wire.AttrSALifeType, wire.AttrSALifeDuration); l > 0 && l < q.life {
				q.life = l
			}
		}
	}
	if q.ke != nil {
		ke := findKE(in.Payloads)
		if ke == nil {
			sa.quickFailed(q, errors.New("ikev1: PFS answer without KE"))
			return nil
		}
		shared, err := q.ke.Shared(ke.Data)
		if err != nil {
			sa.quickFailed(q, err)
			return nil
		}
		q.gqmxy = shared
	}
	hash3 := sa.prfA([]byte{0}, midBytes(q.mid), q.ni, q.nr)
	if err := sa.sendRawHashed(wire.QuickMode, q.mid, hash3); err != nil {
		return err
	}
	delete(sa.quick, q.mid)
	sa.quickDone(q)
	return nil
}

// sendHashed sends an encrypted message of a phase 2 or informational
// exchange whose first payload is HASH = prf(SKEYID_a, M-ID | prefix |
// the payloads after HASH) (RFC 2409 sections 5.5 and 5.7).
func (sa *isakmpSA) sendHashed(ex wire.ExchangeType, mid uint32, flags wire.Flags, pl []wire.Payload, prefix []byte, retry bool) error {
	size := sa.keys.prf.Size()
	h := &wire.Hash{Data: make([]byte, size)}
	m := &wire.Message{Header: wire.Header{Exchange: ex, MessageID: mid, Flags: flags, ICookie: sa.ckyI, RCookie: sa.ckyR, Version: 0x10},
		Payloads: append([]wire.Payload{h}, pl...)}
	b, err := m.Append(nil)
	if err != nil {
		return fmt.Errorf("ikev1: encode %s: %w", ex, err)
	}
	copy(b[headerLen+4:], sa.prfA(midBytes(mid), prefix, b[headerLen+4+size:]))
	copy(h.Data, b[headerLen+4:headerLen+4+size])
	enc, err := sa.keys.crypto.Seal(nil, b)
	if err != nil {
		return err
	}
	return sa.sendRaw(m, enc, retry)
}

// sendRawHashed sends a message that holds only a HASH (Quick Mode
// message 3).
func (sa *isakmpSA) sendRawHashed(ex wire.ExchangeType, mid uint32, hash []byte) error {
	m := &wire.Message{Header: wire.Header{Exchange: ex, MessageID: mid, ICookie: sa.ckyI, RCookie: sa.ckyR, Version: 0x10},
		Payloads: []wire.Payload{&wire.Hash{Data: hash}}}
	b, err := m.Append(nil)
	if err != nil {
		return err
	}
	enc, err := sa.keys.crypto.Seal(nil, b)
	if err != nil {
		return err
	}
	return sa.sendRaw(m, enc, false)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// parseAttrs reads data attributes (a RESPONDER-LIFETIME's data).
func parseAttrs(b []byte) []wire.Attribute {
	var out []wire.Attribute
	for len(b) >= 4 {
		t := binary.BigEndian.Uint16(b)
		if t&0x8000 != 0 {
			out = append(out, wire.TV(t&0x7fff, binary.BigEndian.Uint16(b[2:])))
			b = b[4:]
			continue
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			break
		}
		out = append(out, wire.TLV(t, b[4:4+n]))
		b = b[4+n:]
	}
	return out
}

// newSPI draws an inbound SPI (values below 256 are reserved, RFC 4303
// section 2.1).
func (sa *isakmpSA) newSPI() (uint32, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(sa.e.cfg.rand, b[:]); err != nil {
			return 0, err
		}
		if v := binary.BigEndian.Uint32(b[:]); v >= 256 {
			return v, nil
		}
	}
}

// hostSel is a selector of one address, any protocol and port.
func hostSel(a netip.Addr) esp.Selector {
	return esp.Selector{Start: a, End: a, EndPort: 65535}
}

func isHost(s esp.Selector) bool { return s.Start == s.End }

func withAddr(s esp.Selector, a netip.Addr) esp.Selector {
	s.Start, s.End = a, a
	return s
}

func cloneID(id *wire.ID) *wire.ID {
	c := *id
	c.Data = bytes.Clone(id.Data)
	return &c
}
