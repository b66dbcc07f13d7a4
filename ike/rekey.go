package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// rekeyJitter is the largest fraction by which a rekey is moved earlier,
// so that SAs created together (or both peers) do not rekey in lockstep
// (strongSwan's rand_time does the same).
const rekeyJitter = 10 // percent

// jittered returns d shortened by a random 0..10 %.
func (sa *ikeSA) jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	var b [2]byte
	sa.e.random(b[:])
	cut := time.Duration(binary.BigEndian.Uint16(b[:])) * (d * rekeyJitter / 100) / 65535
	return d - cut
}

// scheduleRekeys arms the IKE SA's and a new CHILD SA's rekey timers
// from the configuration.
func (sa *ikeSA) scheduleIKERekey() {
	if sa.cfg != nil && sa.cfg.RekeyTime > 0 {
		sa.rekeyAt = time.Now().Add(sa.jittered(sa.cfg.RekeyTime))
	}
}

func (sa *ikeSA) scheduleChildRekey(c *childSA) {
	cc := sa.childConfig()
	if cc.RekeyTime > 0 {
		c.rekeyAt = time.Now().Add(sa.jittered(cc.RekeyTime))
	}
}

// nextRekey returns the earliest rekey deadline of the SA and its
// children (zero: none).
func (sa *ikeSA) nextRekey() time.Time {
	next := sa.rekeyAt
	for _, c := range sa.children {
		for _, t := range []time.Time{c.rekeyAt, c.outDeadline} {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next
}

// rekeyDue starts the rekeys whose time has come.
func (sa *ikeSA) rekeyDue(now time.Time) {
	sa.activateDueOutbound(now)
	if sa.state != stateEstablished {
		return
	}
	if !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) {
		sa.rekeyAt = time.Time{}
		sa.queueRequest(sa.ikeRekeyRequest())
	}
	for _, c := range sa.children {
		if !c.rekeyAt.IsZero() && !now.Before(c.rekeyAt) {
			c.rekeyAt = time.Time{}
			sa.queueRequest(sa.childRekeyRequest(c))
		}
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

func (sa *ikeSA) hasChild(c *childSA) bool {
	for _, x := range sa.children {
		if x == c {
			return true
		}
	}
	return false
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
			c.removeOut(sa)
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
			c.remove(sa)
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			if f := sa.e.cfg.hooks.ChildDown; f != nil {
				f(sa.info(), sa.childInfo(c))
			}
			return
		}
	}
}

// ikeRekeyRecord is one of the CREATE_CHILD_SA exchanges that rekey an
// IKE SA: the new SA and the nonces, kept on the old SA until it is clear
// which new SA survives (RFC 7296 section 2.8.2).
type ikeRekeyRecord struct {
	ns      *ikeSA
	ni, nr  []byte
	done    bool // the exchange completed: ns has its keys
	started bool // ns runs on its own goroutine (or was handed over)
}

// rekeyedLinger is how long a superseded IKE SA waits for the peer's
// Delete before it is removed quietly.
const rekeyedLinger = 2 * time.Minute

// maxSuperseded bounds the IKE SAs one peer identity may have rekeyed
// without deleting them (a well-behaved peer deletes each at once): an
// authenticated peer must not pile up SAs, each with its goroutine, by
// rekeying in a loop. Further IKE rekeys get TEMPORARY_FAILURE.
const maxSuperseded = 8

// noteSuperseded counts sa as rekeyed by the peer and not yet deleted;
// destroy undoes it.
func (sa *ikeSA) noteSuperseded() {
	if sa.peerKey == "" || sa.countedSuperseded {
		return
	}
	sa.countedSuperseded = true
	e := sa.e
	e.mu.Lock()
	e.superseded[sa.peerKey]++
	e.mu.Unlock()
}

// tooManySuperseded reports whether the peer has reached maxSuperseded.
func (sa *ikeSA) tooManySuperseded() bool {
	if sa.peerKey == "" {
		return false
	}
	e := sa.e
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.superseded[sa.peerKey] >= maxSuperseded
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

// retryDelay is a short random wait before retrying an exchange the peer
// refused with TEMPORARY_FAILURE (RFC 7296 section 2.25): 2 to 6 seconds,
// random so that two peers do not collide again.
func (sa *ikeSA) retryDelay() time.Duration {
	var b [1]byte
	sa.e.random(b[:])
	return 2*time.Second + time.Duration(b[0])*4*time.Second/255
}

// resolveIKERekey finishes our IKE rekey once its exchange completed. If
// the peer rekeyed the same IKE SA at the same time (RFC 7296 section
// 2.8.2), three IKE SAs exist: the new one created by the exchange with
// the lowest of the four nonces is redundant and is deleted by the side
// that initiated that exchange; the other inherits the CHILD SAs, and its
// initiator deletes the old IKE SA.
func (sa *ikeSA) resolveIKERekey() {
	ours, theirs := sa.ikeRekeyOurs, sa.ikeRekeyPeer
	if ours == nil || !ours.done {
		return
	}
	sa.ikeRekeyOurs, sa.ikeRekeyPeer = nil, nil
	ours.started = true
	if theirs == nil {
		sa.handOver(ours.ns)
		sa.queueRequest(sa.deleteRekeyedRequest())
		return
	}
	theirs.started = true
	if bytes.Compare(lowerNonce(ours.ni, ours.nr), lowerNonce(theirs.ni, theirs.nr)) < 0 {
		sa.log.Info("IKE SA rekey collision: ours is redundant", "ike_sa", sa.name(), "redundant_ike_sa", ours.ns.name())
		sa.handOver(theirs.ns)
		sa.lingerUntil = time.Now().Add(rekeyedLinger) // the peer deletes it
		sa.startRedundant(ours.ns, true)
		return
	}
	sa.log.Info("IKE SA rekey collision: the peer's is redundant", "ike_sa", sa.name(), "redundant_ike_sa", theirs.ns.name())
	sa.handOver(ours.ns)
	sa.startRedundant(theirs.ns, false)
	sa.queueRequest(sa.deleteRekeyedRequest())
}

// adoptPeerRekey hands over to the IKE SA the peer created, when our own
// rekey of a collision failed or the peer deleted the old SA without
// noticing the collision (RFC 7296 section 2.8.2, last paragraph).
func (sa *ikeSA) adoptPeerRekey() {
	theirs := sa.ikeRekeyPeer
	sa.ikeRekeyPeer = nil
	if theirs == nil || sa.rekeyed {
		return
	}
	theirs.started = true
	sa.handOver(theirs.ns)
	sa.lingerUntil = time.Now().Add(rekeyedLinger)
}

// startRedundant runs the new IKE SA that lost a rekey collision until it
// is deleted: by us (sendDelete) or by the peer. It carries no CHILD SAs
// and its end is not reported as the peer going away.
func (sa *ikeSA) startRedundant(ns *ikeSA, sendDelete bool) {
	ns.continueSession(sa)
	ns.cfg, ns.localID, ns.remoteID = sa.cfg, sa.localID, sa.remoteID
	ns.cfgLent = true
	sa.joinSession(ns)
	ns.natLocal, ns.natRemote, ns.fragOK = sa.natLocal, sa.natRemote, sa.fragOK
	ns.state, ns.establishedAt, ns.log = stateEstablished, sa.e.cfg.now(), sa.log
	ns.rekeyed = true
	ns.lingerUntil = time.Now().Add(rekeyedLinger)
	if sendDelete {
		ns.queueRequest(ns.deleteRekeyedRequest())
	}
	ns.start(nil)
}

// deleteRekeyedRequest deletes an IKE SA whose successor took over.
func (sa *ikeSA) deleteRekeyedRequest() *request {
	return &request{exchange: wire.INFORMATIONAL,
		build: func() ([]wire.Payload, error) {
			return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(proposal.ProtoIKE)}}, nil
		},
		onReply: func(*wire.Message, []wire.Payload) error { sa.destroy(nil); return nil }}
}

// handOver moves everything the peer authenticated from sa to the new IKE
// SA ns of a rekey and starts ns. Requests queued on sa that concern CHILD
// SAs follow them: a due CHILD rekey happens on ns at once, a pending
// CHILD delete is sent there; the IKE SA's own queued requests are moot.
func (sa *ikeSA) handOver(ns *ikeSA) {
	sa.joinSession(ns) // first: passIdentity makes ns visible to other SAs
	ns.cfg, ns.localID, ns.remoteID = sa.cfg, sa.localID, sa.remoteID
	ns.cfgLent, sa.cfgLent = sa.cfgLent, true
	ns.eapIdentity, ns.eapUser, ns.fixedAddrs = sa.eapIdentity, sa.eapUser, sa.fixedAddrs
	ns.natLocal, ns.natRemote, ns.fragOK, ns.peerHashes, ns.peerMOBIKE = sa.natLocal, sa.natRemote, sa.fragOK, sa.peerHashes, sa.peerMOBIKE
	ns.peerRedirect = sa.peerRedirect
	ns.children, sa.children = sa.children, nil
	ns.leases, sa.leases = sa.leases, nil
	ns.vips, ns.dns, ns.dnsDomains, ns.subnets = sa.vips, sa.dns, sa.dnsDomains, sa.subnets
	ns.state, ns.establishedAt = stateEstablished, sa.e.cfg.now()
	ns.log = sa.log
	ns.lastRecv = time.Now()
	if ns.cfg.DPDDelay > 0 {
		ns.dpdAt = ns.lastRecv.Add(ns.cfg.DPDDelay)
	}
	ns.scheduleIKERekey()
	ns.reauthAt = sa.reauthAt
	sa.reauthAt = time.Time{}
	if ns.peerKey = sa.peerKey; ns.peerKey != "" {
		sa.e.established(ns) // ns takes its place among the peer's SAs
	}
	sa.e.passIdentity(sa, ns)
	sa.rekeyed = true
	sa.rekeyAt = time.Time{}
	if sa.handle != nil {
		sa.handle.cur.Store(ns)
		ns.handle, sa.handle = sa.handle, nil
	}
	queued := sa.queue
	sa.queue = nil
	for _, r := range queued {
		switch r.kind {
		case reqChildRekey:
			if ns.hasChild(r.child) {
				r.child.rekeyAt = time.Now()
			}
		case reqChildDelete:
			if ns.hasChild(r.child) {
				ns.queue = append(ns.queue, ns.deleteChildRequest(r.child))
			}
		default:
			if r.abort != nil {
				r.abort(fmt.Errorf("%w: the IKE SA was rekeyed; try again", ErrClosed))
			}
		}
	}
	ns.sess.takeOwnership(ns)
	sa.ikeRekeyed(ns)
	ns.start(nil)
	sa.log.Info("IKE SA rekeyed", "ike_sa", sa.name(), "new_ike_sa", ns.name(), "proposal", ns.prop.String())
}

// rekeyRecord is one completed rekey of a CHILD SA: the new SA and the
// nonces of the exchange that made it.
type rekeyRecord struct {
	child  *childSA
	ni, nr []byte
}

// noteRekeyByPeer records that the peer rekeyed old into c. If we are
// rekeying old ourselves, this is a collision (RFC 7296 section 2.8.1).
func (sa *ikeSA) noteRekeyByPeer(old, c *childSA, ni, nr []byte) {
	old.peerRekey = &rekeyRecord{child: c, ni: append([]byte(nil), ni...), nr: nr}
	sa.resolveCollision(old)
}

// resolveCollision settles a simultaneous rekey of old once both new CHILD
// SAs exist (RFC 7296 section 2.8.1): the one created by the exchange with
// the lowest of the four nonces is redundant and is deleted by the side
// that initiated that exchange. If it is ours we delete it; if it is the
// peer's, the peer will.
func (sa *ikeSA) resolveCollision(old *childSA) {
	ours, theirs := old.ourRekey, old.peerRekey
	if ours == nil || theirs == nil {
		return
	}
	old.ourRekey = nil
	if bytes.Compare(lowerNonce(ours.ni, ours.nr), lowerNonce(theirs.ni, theirs.nr)) < 0 {
		sa.log.Info("CHILD SA rekey collision: ours is redundant", "child_sa", ours.child.name, "spi_in", fmt.Sprintf("%08x", ours.child.spiIn))
		sa.queueRequest(sa.deleteChildRequest(ours.child))
	} else {
		sa.log.Info("CHILD SA rekey collision: the peer's is redundant", "child_sa", theirs.child.name, "spi_in", fmt.Sprintf("%08x", theirs.child.spiIn))
	}
}

func lowerNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) < 0 {
		return a
	}
	return b
}

// RekeyScope says what Rekey renews.
type RekeyScope uint8

// Rekey scopes; they combine with |.
const (
	// RekeyIKE rekeys the IKE SA (RFC 7296 section 1.3.2).
	RekeyIKE RekeyScope = 1 << iota
	// RekeyChildren rekeys every CHILD SA (section 1.3.3).
	RekeyChildren
)

// rekeyNow queues the rekeys of scope on the SA goroutine; it reports
// whether anything was started.
func (sa *ikeSA) rekeyNow(scope RekeyScope) bool {
	if sa.state != stateEstablished || sa.rekeyed {
		return false
	}
	started := false
	if scope&RekeyChildren != 0 {
		for _, c := range sa.children {
			if c.peerRekey == nil && c.ourRekey == nil && !sa.childRekeyQueued(c) {
				c.rekeyAt = time.Time{}
				sa.queueRequest(sa.childRekeyRequest(c))
				started = true
			}
		}
	}
	if scope&RekeyIKE != 0 && !sa.ikeRekeyQueued() {
		sa.rekeyAt = time.Time{}
		sa.queueRequest(sa.ikeRekeyRequest())
		started = true
	}
	return started
}

// childRekeyQueued reports whether a rekey of c is queued or in flight.
func (sa *ikeSA) childRekeyQueued(c *childSA) bool {
	for _, r := range append([]*request{sa.pending}, sa.queue...) {
		if r != nil && r.kind == reqChildRekey && r.child == c {
			return true
		}
	}
	return false
}

// ikeRekeyQueued reports whether a rekey of the IKE SA is queued or in
// flight.
func (sa *ikeSA) ikeRekeyQueued() bool {
	for _, r := range append([]*request{sa.pending}, sa.queue...) {
		if r != nil && r.kind == reqIKERekey {
			return true
		}
	}
	return false
}
