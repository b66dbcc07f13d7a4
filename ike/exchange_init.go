package ike

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// Nonce sizes (RFC 7296 section 3.9): at least 16 and at most 256 bytes,
// and at least half the PRF key size; we send 32.
const (
	minNonce = 16
	maxNonce = 256
	ourNonce = 32
)

// maxProposals is the most proposals an SA payload can number.
const maxProposals = 255

// initPayloads collects what IKE_SA_INIT messages carry.
type initPayloads struct {
	sa         *wire.SA
	ke         *wire.KE
	nonce      []byte
	cookie     []byte
	natSrc     [][]byte
	natDst     []byte
	frag       bool
	hashes     []uint16
	hashesSeen bool
	errNotify  *wire.Notify
	invalidKE  *wire.Notify
	redirect   *wire.Notify
	redirectOK bool // REDIRECT_SUPPORTED or REDIRECTED_FROM
	// intermediate: INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9242 section 3.1)
	intermediate bool
	// msInitialContact: Windows' "Vid-Initial-Contact" Vendor ID, which
	// it sends instead of the INITIAL_CONTACT notify.
	msInitialContact bool
}

// msInitialContactVID is the Vendor ID with which Windows says it has no
// other IKE SA with us (it sends no INITIAL_CONTACT notify).
var msInitialContactVID = []byte{0x26, 0x24, 0x4d, 0x38, 0xed, 0xdb, 0x61, 0xb3, 0x17, 0x2a, 0x36, 0xe3, 0xd0, 0xcf, 0xb8, 0x19}

func collectInit(ps []wire.Payload) initPayloads {
	var ip initPayloads
	for _, p := range ps {
		switch p := p.(type) {
		case *wire.SA:
			ip.sa = p
		case *wire.KE:
			ip.ke = p
		case *wire.Nonce:
			ip.nonce = p.Data
		case *wire.VendorID:
			if bytes.Equal(p.Data, msInitialContactVID) {
				ip.msInitialContact = true
			}
		case *wire.Notify:
			switch p.Type {
			case wire.COOKIE:
				ip.cookie = p.Data
			case wire.NAT_DETECTION_SOURCE_IP:
				ip.natSrc = append(ip.natSrc, p.Data)
			case wire.NAT_DETECTION_DESTINATION_IP:
				ip.natDst = p.Data
			case wire.IKEV2_FRAGMENTATION_SUPPORTED:
				ip.frag = true
			case wire.SIGNATURE_HASH_ALGORITHMS:
				ip.hashesSeen = true
				ip.hashes = []uint16{}
				for i := 0; i+1 < len(p.Data); i += 2 {
					ip.hashes = append(ip.hashes, binary.BigEndian.Uint16(p.Data[i:]))
				}
			case wire.INVALID_KE_PAYLOAD:
				ip.invalidKE = p
			case wire.REDIRECT:
				ip.redirect = p
			case wire.REDIRECT_SUPPORTED, wire.REDIRECTED_FROM:
				ip.redirectOK = true
			case wire.INTERMEDIATE_EXCHANGE_SUPPORTED:
				ip.intermediate = true
			default:
				if p.Type.IsError() && ip.errNotify == nil {
					ip.errNotify = p
				}
			}
		}
	}
	return ip
}

func propFromWire(wp *wire.Proposal) proposal.Proposal {
	p := proposal.Proposal{Number: wp.Number, Protocol: proposal.Protocol(wp.Protocol), SPI: append([]byte(nil), wp.SPI...)}
	for i := range wp.Transforms {
		t := &wp.Transforms[i]
		kl, _ := t.KeyLength()
		p.Add(proposal.Transform{Type: proposal.TransformType(t.Type), ID: t.ID, KeyLen: kl})
	}
	return p
}

func listFromWire(sa *wire.SA) proposal.List {
	l := make(proposal.List, 0, len(sa.Proposals))
	for i := range sa.Proposals {
		l = append(l, propFromWire(&sa.Proposals[i]))
	}
	return l
}

func propToWire(p proposal.Proposal, num uint8, spi []byte) wire.Proposal {
	wp := wire.Proposal{Number: num, Protocol: wire.ProtocolID(p.Protocol), SPI: spi}
	for _, t := range p.Transforms() {
		wt := wire.Transform{Type: wire.TransformType(t.Type), ID: t.ID}
		if t.KeyLen != 0 {
			wt.Attributes = []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: t.KeyLen}}
		}
		wp.Transforms = append(wp.Transforms, wt)
	}
	return wp
}

func listToWire(l proposal.List, spi []byte) *wire.SA {
	sa := &wire.SA{}
	for i, p := range l {
		sa.Proposals = append(sa.Proposals, propToWire(p, uint8(i+1), spi))
	}
	return sa
}

func spiBytes(spi uint64) []byte { return binary.BigEndian.AppendUint64(nil, spi) }

func hashNotifyData(hs []uint16) []byte {
	var b []byte
	for _, h := range hs {
		b = binary.BigEndian.AppendUint16(b, h)
	}
	return b
}

// sendInitNotify answers an IKE_SA_INIT request statelessly with one
// notify (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, ...).
func (e *engine) sendInitNotify(p Packet, h wire.Header, n *wire.Notify) {
	m := &wire.Message{
		Header:   wire.Header{SPIi: h.SPIi, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagResponse, MessageID: 0},
		Payloads: []wire.Payload{n},
	}
	if b, err := m.Append(nil); err == nil {
		e.conn.Send(Packet{Data: b, Local: p.Local, Remote: p.Remote})
	}
}

// handleInitRequest screens a new IKE_SA_INIT request on the transport's
// goroutine: everything that can be refused without state is refused here
// (RFC 7296 section 2.6: no state before the cookie round trip), and only
// an acceptable request gets an SA and a goroutine.
func (e *engine) handleInitRequest(p Packet, h wire.Header) {
	k := initKey{h.SPIi, p.Remote}
	e.mu.Lock()
	if sa := e.initReqs[k]; sa != nil {
		e.mu.Unlock()
		sa.deliver(p) // retransmission: the SA resends its response
		return
	}
	src := sourceKey(p.Remote.Addr())
	halfOpen, srcHalfOpen, closed := e.halfOpen, e.halfOpenBySrc[src], e.closed
	e.mu.Unlock()
	if closed || halfOpen >= e.cfg.maxHalfOpen {
		e.stats.rejected.Add(1)
		return
	}
	if srcHalfOpen >= e.cfg.srcMaxHalfOpen {
		e.blockInit(p, "half-open SAs")
		return
	}
	if e.authFails.blocked(src, time.Now()) {
		e.blockInit(p, "failed authentications")
		return
	}
	m, err := wire.Parse(p.Data)
	if err != nil {
		var ce *wire.CriticalPayloadError
		if errors.As(err, &ce) {
			e.sendInitNotify(p, h, ce.Notify())
		}
		e.stats.dropped.Add(1)
		return
	}
	ip := collectInit(m.Payloads)
	// Proposals are numbered 1, 2, ... in one octet (RFC 7296 section
	// 3.3.1): more than maxProposals is malformed, and refusing it here
	// spares the read loop comparing thousands of them.
	if ip.sa == nil || len(ip.sa.Proposals) > maxProposals || ip.ke == nil || len(ip.nonce) < minNonce || len(ip.nonce) > maxNonce {
		e.sendInitNotify(p, h, &wire.Notify{Type: wire.INVALID_SYNTAX})
		e.stats.rejected.Add(1)
		return
	}
	if e.redirectInit(p, h, m.Payloads, ip.nonce) {
		return
	}
	if halfOpen >= e.cfg.cookieThresh || srcHalfOpen >= e.cfg.srcCookieThresh {
		if ip.cookie == nil || !e.cookies.check(ip.cookie, ip.nonce, p.Remote.Addr(), h.SPIi) {
			c, err := e.cookies.make(ip.nonce, p.Remote.Addr(), h.SPIi)
			if err == nil {
				e.stats.cookiesSent.Add(1)
				e.sendInitNotify(p, h, &wire.Notify{Type: wire.COOKIE, Data: c})
			}
			return
		}
	}
	peer := listFromWire(ip.sa)
	if !ip.intermediate && offersAddKE(peer) {
		// RFC 9370 section 2.2.1: additional key exchanges run in
		// IKE_INTERMEDIATE, which the initiator did not announce: its
		// ADDKE transforms cannot be chosen (ours that lack NONE then
		// match nothing).
		peer = withoutAddKE(peer)
	}
	chosen, err := proposal.Select(e.cfg.proposals, peer, proposal.SelectOptions{PreferPeer: e.cfg.preferPeer, PreferKE: proposal.KEID(ip.ke.Group)})
	if err != nil {
		e.reportMismatch(ipsec.IKESAInfo{Version: 2, SPIi: h.SPIi, Local: p.Local, Remote: p.Remote}, err)
		e.sendInitNotify(p, h, &wire.Notify{Type: wire.NO_PROPOSAL_CHOSEN})
		e.stats.rejected.Add(1)
		return
	}
	if len(chosen.KE) != 1 || chosen.KE[0] != proposal.KEID(ip.ke.Group) {
		// RFC 7296 section 1.2: tell the initiator which group we want.
		var want [2]byte
		binary.BigEndian.PutUint16(want[:], uint16(chosen.KE[0]))
		e.sendInitNotify(p, h, &wire.Notify{Type: wire.INVALID_KE_PAYLOAD, Data: want[:]})
		return
	}
	if err := checkNonce(prfOf(chosen), ip.nonce); err != nil {
		e.log.Warn("IKE_SA_INIT rejected", "peer", p.Remote.String(), "notify", wire.INVALID_SYNTAX.String(), "err", err)
		e.sendInitNotify(p, h, &wire.Notify{Type: wire.INVALID_SYNTAX})
		e.stats.rejected.Add(1)
		return
	}
	if !e.kex.reserve() {
		// The key exchange queue is full: drop, the initiator retransmits.
		e.stats.kexDropped.Add(1)
		return
	}
	e.mu.Lock()
	// Other read loops (ports, address families) may have added SAs
	// since the checks above; the limits hold exactly.
	if e.closed || e.initReqs[k] != nil || e.halfOpen >= e.cfg.maxHalfOpen || e.halfOpenBySrc[src] >= e.cfg.srcMaxHalfOpen {
		srcFull := e.halfOpenBySrc[src] >= e.cfg.srcMaxHalfOpen
		e.mu.Unlock()
		e.kex.unreserve()
		if srcFull {
			e.blockInit(p, "half-open SAs")
		}
		return
	}
	spir, err := e.newSPI(false)
	if err != nil {
		e.mu.Unlock()
		e.kex.unreserve()
		return
	}
	sa := newSA(e, false, p.Local, p.Remote)
	sa.spii, sa.spir, sa.prop = h.SPIi, spir, internProposal(chosen)
	e.countHalfOpen(sa, p.Remote)
	sa.kexQueued = true
	e.sas[spir] = sa
	e.initReqs[k] = sa
	e.mu.Unlock()
	sa.start(&initRequest{p: p, m: m, ip: ip, propNum: chosen.Number})
}

// initRequest is an IKE_SA_INIT request the engine parsed and screened:
// the new SA's goroutine answers it without parsing it again.
type initRequest struct {
	p  Packet
	m  *wire.Message
	ip initPayloads
	// propNum is the peer's number of the chosen proposal, echoed in the
	// response (the SA's shared copy has none, intern.go).
	propNum uint8
}

// handleInitRequest (SA side) computes and sends the IKE_SA_INIT response
// to the request the engine parsed (first), or resends it for a
// retransmitted request p.
func (sa *ikeSA) handleInitRequest(p Packet, first *initRequest) {
	if sa.initResp != nil || first == nil {
		if sa.initResp != nil && equalBytes(p.Data, sa.initReq) {
			sa.sendPackets([][]byte{sa.initResp})
		}
		return
	}
	m, ip := first.m, &first.ip
	fail := func(err error) {
		sa.log.Warn("IKE_SA_INIT failed", "err", err)
		sa.destroy(err)
	}
	// The key exchange runs in the engine's bounded pool (preauth.go);
	// its queue slot is given back as soon as it is done.
	var (
		pub, shared []byte
		keErr, err  error
	)
	runErr := sa.e.kex.run(sa.e.ctx, func() {
		var ke alg.KeyExchange
		if ke, keErr = sa.e.newKeyExchange(sa.prop.KE[0]); keErr == nil {
			pub, shared, err = ke.Respond(ip.ke.Data)
		}
	})
	defer wipe(shared) // keys derived from it (see secrets.go)
	sa.e.releaseKex(sa)
	if runErr != nil || keErr != nil {
		fail(cmp.Or(runErr, keErr))
		return
	}
	if err != nil {
		// An invalid public value (RFC 6989) is the peer's fault.
		sa.e.sendInitNotify(p, m.Header, &wire.Notify{Type: wire.INVALID_SYNTAX})
		fail(fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
		return
	}
	sa.ni = append([]byte(nil), ip.nonce...)
	sa.nr = make([]byte, sa.e.nonceLen())
	if err := sa.e.random(sa.nr); err != nil {
		fail(err)
		return
	}
	sa.initReq = append([]byte(nil), p.Data...)
	if err := sa.deriveKeys(shared); err != nil {
		fail(err)
		return
	}
	nat := detectNAT(sa.spii, 0, p.Local, p.Remote, ip.natSrc, ip.natDst)
	sa.natLocal, sa.natRemote = nat.LocalBehind, nat.RemoteBehind
	sa.ex.fragmentation(ip.frag)
	sa.peerRedirect = ip.redirectOK
	sa.peerInitialContact = ip.msInitialContact
	if ip.hashesSeen {
		sa.peerHashes = ip.hashes
	}
	src, dst := sa.ourNATSource(sa.spii, sa.spir, p.Local), natHash(sa.spii, sa.spir, p.Remote)
	payloads := []wire.Payload{
		listToWire(proposal.List{*sa.prop}, nil),
		&wire.KE{Group: wire.KEID(sa.prop.KE[0]), Data: pub},
		&wire.Nonce{Data: sa.nr},
		&wire.Notify{Type: wire.NAT_DETECTION_SOURCE_IP, Data: src[:]},
		&wire.Notify{Type: wire.NAT_DETECTION_DESTINATION_IP, Data: dst[:]},
	}
	payloads[0].(*wire.SA).Proposals[0].Number = first.propNum
	if ip.frag {
		payloads = append(payloads, &wire.Notify{Type: wire.IKEV2_FRAGMENTATION_SUPPORTED})
	}
	if ip.hashesSeen {
		payloads = append(payloads, &wire.Notify{Type: wire.SIGNATURE_HASH_ALGORITHMS, Data: hashNotifyData(ourHashAlgorithms)})
	}
	if ip.intermediate {
		// We support IKE_INTERMEDIATE (RFC 9242 section 3.1); it runs
		// only when additional key exchanges were negotiated.
		payloads = append(payloads, &wire.Notify{Type: wire.INTERMEDIATE_EXCHANGE_SUPPORTED})
	}
	if cr := sa.e.certReq(); cr != nil {
		payloads = append(payloads, cr)
	}
	resp := &wire.Message{
		Header:   wire.Header{SPIi: sa.spii, SPIr: sa.spir, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagResponse},
		Payloads: payloads,
	}
	b, err := resp.Append(nil)
	if err != nil {
		fail(err)
		return
	}
	sa.initResp = b
	sa.state = stateAuth
	sa.auth = &authTask{}
	if kes := addKEs(sa.prop); len(kes) > 0 {
		sa.auth.inter = &intermediate{kes: kes}
	}
	sa.ex.initAnswered()
	sa.halfOpenDeadline = time.Now().Add(sa.e.cfg.halfOpenTO)
	sa.logMessage("received", wire.IKE_SA_INIT, false, 0, m.Payloads, 0)
	sa.logMessage("sending", wire.IKE_SA_INIT, true, 0, payloads, 0)
	sa.sendPackets([][]byte{b})
}

// deriveKeys computes SKEYSEED and the IKE SA keys (RFC 7296 section 2.14)
// and builds the SK crypters.
func (sa *ikeSA) deriveKeys(shared []byte) error {
	prf, err := alg.NewPRF(sa.prop.PRF[0])
	if err != nil {
		return err
	}
	skeyseed := kdf.SKEYSEED(prf, sa.ni, sa.nr, shared)
	defer skeyseed.Wipe()
	return sa.deriveKeysFromSeed(prf, skeyseed)
}

// deriveKeysFromSeed computes the seven IKE SA keys from SKEYSEED with the
// SA's (new) PRF and builds the SK crypters (RFC 7296 sections 2.14, 2.18).
func (sa *ikeSA) deriveKeysFromSeed(prf alg.PRF, skeyseed []byte) error {
	encr, integ, encLen, integLen, err := keyLengths(*sa.prop)
	if err != nil {
		return err
	}
	keys, err := kdf.IKESAKeys(prf, skeyseed, sa.ni, sa.nr, spiBytes(sa.spii), spiBytes(sa.spir), encLen, integLen)
	if err != nil {
		return err
	}
	ci, err := newSKCrypter(encr.ID, int(encr.KeyLen), integ, keys.SKei, keys.SKai)
	if err != nil {
		return err
	}
	cr, err := newSKCrypter(encr.ID, int(encr.KeyLen), integ, keys.SKer, keys.SKar)
	if err != nil {
		return err
	}
	sa.prf, sa.keys = prf, keys
	if sa.weInitiated {
		sa.ex.useKeys(ci, cr)
	} else {
		sa.ex.useKeys(cr, ci)
	}
	sa.writeIKEKeyLog()
	return nil
}

// startInit sends (or resends, with a cookie or another KE group) our
// IKE_SA_INIT request.
func (sa *ikeSA) startInit(cookie []byte) {
	fail := func(err error) { sa.log.Warn("IKE_SA_INIT failed", "err", err); sa.destroy(err) }
	group := sa.initGroup
	if group == proposal.KENone {
		group = sa.cfg.Proposals[0].KE[0]
		sa.initGroup = group
	}
	if sa.kex == nil || sa.kex.Method() != group {
		kex, err := sa.e.newKeyExchange(group)
		if err != nil {
			fail(err)
			return
		}
		sa.kex = kex
	}
	pub, err := sa.kex.Public()
	if err != nil {
		fail(err)
		return
	}
	if sa.ni == nil {
		sa.ni = make([]byte, sa.e.nonceLen())
		if err := sa.e.random(sa.ni); err != nil {
			fail(err)
			return
		}
	}
	// Our KE method goes first so the responder can pick the proposal
	// that matches it (RFC 7296 section 1.2).
	props := sa.cfg.Proposals.Clone()
	for i := range props {
		if j := slices.Index(props[i].KE, group); j > 0 {
			props[i].KE = append([]proposal.KEID{group}, slices.Delete(props[i].KE, j, j+1)...)
		}
	}
	src, dst := sa.ourNATSource(sa.spii, 0, sa.local), natHash(sa.spii, 0, sa.remote)
	var ps []wire.Payload
	if cookie != nil {
		ps = append(ps, &wire.Notify{Type: wire.COOKIE, Data: cookie})
	}
	ps = append(ps,
		listToWire(props, nil),
		&wire.KE{Group: wire.KEID(group), Data: pub},
		&wire.Nonce{Data: sa.ni},
		&wire.Notify{Type: wire.NAT_DETECTION_SOURCE_IP, Data: src[:]},
		&wire.Notify{Type: wire.NAT_DETECTION_DESTINATION_IP, Data: dst[:]},
	)
	if !sa.cfg.DisableFragmentation {
		ps = append(ps, &wire.Notify{Type: wire.IKEV2_FRAGMENTATION_SUPPORTED})
	}
	ps = append(ps, &wire.Notify{Type: wire.SIGNATURE_HASH_ALGORITHMS, Data: hashNotifyData(ourHashAlgorithms)})
	if offersAddKE(sa.cfg.Proposals) {
		ps = append(ps, &wire.Notify{Type: wire.INTERMEDIATE_EXCHANGE_SUPPORTED})
	}
	if sa.redirectedFrom.IsValid() {
		ps = append(ps, &wire.Notify{Type: wire.REDIRECTED_FROM, Data: gwIdentity(sa.redirectedFrom)})
	} else {
		ps = append(ps, &wire.Notify{Type: wire.REDIRECT_SUPPORTED})
	}
	m := &wire.Message{Header: wire.Header{SPIi: sa.spii, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator}, Payloads: ps}
	b, err := m.Append(nil)
	if err != nil {
		fail(err)
		return
	}
	sa.initReq = b
	sa.ex.initSent([][]byte{b})
	sa.logMessage("sending", wire.IKE_SA_INIT, false, 0, ps, 1)
	sa.sendPackets([][]byte{b})
}

// handleInitResponse processes the responder's IKE_SA_INIT answer.
func (sa *ikeSA) handleInitResponse(p Packet, m *wire.Message) {
	if sa.state != stateInit || !sa.ex.initReplyTo(m) {
		return
	}
	ip := collectInit(m.Payloads)
	sa.logMessage("received", wire.IKE_SA_INIT, true, 0, m.Payloads, 0)
	fail := func(err error) {
		sa.log.Warn("IKE_SA_INIT failed", "err", err)
		sa.destroy(err)
	}
	switch {
	case ip.redirect != nil && ip.sa == nil:
		if err := sa.followRedirect(ip.redirect); err != nil {
			fail(err)
		}
		return
	case ip.cookie != nil && ip.sa == nil:
		if !sa.retryInit() {
			fail(fmt.Errorf("%w: too many COOKIE requests", ErrProtocol))
			return
		}
		sa.ex.initOver(false)
		sa.startInit(append([]byte(nil), ip.cookie...))
		return
	case ip.invalidKE != nil && ip.sa == nil:
		if len(ip.invalidKE.Data) != 2 {
			fail(fmt.Errorf("%w: malformed INVALID_KE_PAYLOAD", ErrProtocol))
			return
		}
		want := proposal.KEID(binary.BigEndian.Uint16(ip.invalidKE.Data))
		offered := slices.ContainsFunc(sa.cfg.Proposals, func(p proposal.Proposal) bool { return slices.Contains(p.KE, want) })
		if !sa.retryInit() || !offered || want == sa.initGroup {
			fail(&NotifyError{Type: wire.INVALID_KE_PAYLOAD, Remote: true, Data: ip.invalidKE.Data, Err: fmt.Errorf("responder wants %s", want)})
			return
		}
		sa.log.Info("responder asks for another key exchange method", "proposal", want.String())
		sa.initGroup = want
		sa.ex.initOver(false)
		sa.startInit(nil)
		return
	case ip.errNotify != nil && ip.sa == nil:
		fail(&NotifyError{Type: ip.errNotify.Type, Remote: true, Data: ip.errNotify.Data})
		return
	case ip.sa == nil || ip.ke == nil || len(ip.nonce) < minNonce || len(ip.nonce) > maxNonce || len(ip.sa.Proposals) != 1 || m.Header.SPIr == 0:
		fail(fmt.Errorf("%w: incomplete IKE_SA_INIT response", ErrProtocol))
		return
	}
	theirs := propFromWire(&ip.sa.Proposals[0])
	sel, err := proposal.Select(sa.cfg.Proposals, proposal.List{theirs}, proposal.SelectOptions{})
	if err != nil || len(sel.KE) != 1 || sel.KE[0] != sa.kex.Method() || proposal.KEID(ip.ke.Group) != sa.kex.Method() {
		fail(fmt.Errorf("%w: responder chose %s, which we did not offer with our KE %s", ErrProtocol, theirs, sa.kex.Method()))
		return
	}
	if err := checkNonce(prfOf(sel), ip.nonce); err != nil {
		fail(err)
		return
	}
	shared, err := sa.kex.Shared(ip.ke.Data)
	defer wipe(shared) // keys derived from it (see secrets.go)
	if err != nil {
		fail(fmt.Errorf("%w: responder KE: %v", ErrProtocol, err))
		return
	}
	sa.prop = internProposal(sel)
	sa.spir = m.Header.SPIr
	sa.nr = append([]byte(nil), ip.nonce...)
	sa.initResp = append([]byte(nil), p.Data...)
	if err := sa.deriveKeys(shared); err != nil {
		fail(err)
		return
	}
	sa.kex = nil
	nat := detectNAT(sa.spii, sa.spir, sa.local, sa.remote, ip.natSrc, ip.natDst)
	sa.natLocal, sa.natRemote = nat.LocalBehind, nat.RemoteBehind
	sa.ex.fragmentation(ip.frag && !sa.cfg.DisableFragmentation)
	if ip.hashesSeen {
		sa.peerHashes = ip.hashes
	}
	if nat.Any() || sa.e.cfg.forceEncap {
		// RFC 7296 section 2.23: float to the NAT-T port.
		_, natt := sa.e.conn.Ports()
		sa.local = netip.AddrPortFrom(sa.local.Addr(), natt)
		if sa.remote.Port() == PortIKE {
			sa.remote = netip.AddrPortFrom(sa.remote.Addr(), PortNATT)
		}
	}
	kes := addKEs(&sel)
	if len(kes) > 0 && !ip.intermediate {
		fail(fmt.Errorf("%w: responder chose additional key exchanges without announcing IKE_INTERMEDIATE", ErrProtocol))
		return
	}
	sa.ex.initOver(true)
	sa.state = stateAuth
	sa.auth = &authTask{}
	if len(kes) > 0 {
		sa.auth.inter = &intermediate{kes: kes}
		for i, ke := range kes {
			sa.queueRequest(intermediateRequest(sa, i, ke))
		}
	}
	sa.queueRequest(sa.taskRequest(wire.IKE_AUTH, sa.auth))
}

// maxInitRetries bounds COOKIE and INVALID_KE_PAYLOAD round trips.
const maxInitRetries = 3

// initiation is an initiator's IKE_SA_INIT in progress: its key
// exchange, the group it offered, COOKIE and INVALID_KE retries, and the
// redirects followed (RFC 5685).
type initiation struct {
	kex            alg.KeyExchange
	initGroup      proposal.KEID
	initRetries    int
	redirects      int
	redirectedFrom netip.Addr // the gateway that redirected us (REDIRECTED_FROM)
}

// retryInit counts a COOKIE or INVALID_KE_PAYLOAD round trip of our
// IKE_SA_INIT; false when there were more than maxInitRetries.
func (in *initiation) retryInit() bool {
	in.initRetries++
	return in.initRetries <= maxInitRetries
}

// redirectedBy notes a gateway's REDIRECT from gw (RFC 5685): the next
// IKE_SA_INIT starts afresh and names gw in REDIRECTED_FROM. It is false
// beyond maxRedirects.
func (in *initiation) redirectedBy(gw netip.Addr) bool {
	if in.redirects++; in.redirects > maxRedirects {
		return false
	}
	in.redirectedFrom = gw
	in.kex, in.initGroup, in.initRetries = nil, proposal.KENone, 0
	return true
}

// negotiated is what IKE_SA_INIT settled (RFC 7296 section 1.2): the
// proposal, the keys, the nonces and raw messages AUTH signs, and the
// features both sides announced.
type negotiated struct {
	prop       *proposal.Proposal // shared, immutable (intern.go)
	prf        alg.PRF
	keys       *kdf.IKEKeys
	ni, nr     []byte
	initReq    []byte // raw IKE_SA_INIT request (the initiator signs it)
	initResp   []byte // raw IKE_SA_INIT response (the responder signs it)
	peerHashes []uint16
	peerMOBIKE bool // MOBIKE negotiated: both sent MOBIKE_SUPPORTED (RFC 4555)
	redirected bool // we sent the peer elsewhere in IKE_AUTH
	// peerInitialContact: the peer said in IKE_SA_INIT that it holds no
	// other IKE SA with us (Windows' Vendor ID).
	peerInitialContact bool
	peerRedirect       bool // the peer announced REDIRECT_SUPPORTED (RFC 5685)
}

// forgetInitExchange drops what only the initial exchanges need once the
// IKE SA is established: the raw IKE_SA_INIT messages and nonces (signed
// in AUTH, keying the first CHILD SA) and SK_pi/SK_pr (AUTH only). The
// peer sent IKE_AUTH, so it had our IKE_SA_INIT response: a late copy of
// its request needs no answer (RFC 7296 section 2.1 asks for the response
// to the last request only). Idempotent; an idle SA keeps neither.
func (n *negotiated) forgetInitExchange() {
	if n.initReq == nil && n.initResp == nil && n.ni == nil && n.nr == nil {
		return
	}
	n.initReq, n.initResp, n.ni, n.nr = nil, nil, nil, nil
	if n.keys != nil {
		clear(n.keys.SKpi)
		clear(n.keys.SKpr)
		n.keys.SKpi, n.keys.SKpr = nil, nil
	}
}
