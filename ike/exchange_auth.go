package ike

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// peerLookupTimeout bounds the embedder's PeerLookup.
const peerLookupTimeout = 10 * time.Second

// authPayloads collects what IKE_AUTH messages carry.
type authPayloads struct {
	idi, idr       *wire.ID
	certs          [][]byte
	certReq        bool
	auth           *wire.Auth
	sa             *wire.SA
	tsi, tsr       *wire.TS
	cp             *wire.CP
	eap            *wire.EAP
	initialContact bool
	transport      bool
	mobike         bool
	redirect       *wire.Notify
	authLifetime   time.Duration // AUTH_LIFETIME (RFC 4478), from a responder
	errNotify      *wire.Notify
}

func collectAuth(ps []wire.Payload) authPayloads {
	var ap authPayloads
	for _, p := range ps {
		switch p := p.(type) {
		case *wire.ID:
			if p.Responder {
				ap.idr = p
			} else {
				ap.idi = p
			}
		case *wire.Cert:
			if p.Encoding == wire.CertX509Signature {
				ap.certs = append(ap.certs, p.Data)
			}
		case *wire.CertReq:
			ap.certReq = true
		case *wire.Auth:
			ap.auth = p
		case *wire.SA:
			ap.sa = p
		case *wire.TS:
			if p.Responder {
				ap.tsr = p
			} else {
				ap.tsi = p
			}
		case *wire.CP:
			ap.cp = p
		case *wire.EAP:
			ap.eap = p
		case *wire.Notify:
			switch p.Type {
			case wire.INITIAL_CONTACT:
				ap.initialContact = true
			case wire.USE_TRANSPORT_MODE:
				ap.transport = true
			case wire.MOBIKE_SUPPORTED:
				ap.mobike = true
			case wire.REDIRECT:
				ap.redirect = p
			case wire.AUTH_LIFETIME:
				if len(p.Data) == 4 {
					ap.authLifetime = time.Duration(binary.BigEndian.Uint32(p.Data)) * time.Second
				}
			default:
				if p.Type.IsError() && ap.errNotify == nil {
					ap.errNotify = p
				}
			}
		}
	}
	return ap
}

// idBody is the part of an ID payload that AUTH covers: type, three
// reserved bytes, data (RFC 7296 section 2.15).
func idBody(t ipsec.IDType, data []byte) []byte {
	return append([]byte{byte(t), 0, 0, 0}, data...)
}

func idFromWire(id *wire.ID) ipsec.Identity {
	return ipsec.Identity{Type: ipsec.IDType(id.Type), Data: append([]byte(nil), id.Data...)}
}

// ourIdentity is the configured identity, or our address.
func (sa *ikeSA) ourIdentity() ipsec.Identity {
	if !sa.cfg.LocalID.IsZero() {
		return sa.cfg.LocalID
	}
	return ipsec.AddrID(sa.local.Addr())
}

// localAuth computes our AUTH payload over octets (RFC 7296 section 2.15).
func (sa *ikeSA) localAuth(octets []byte) (*wire.Auth, error) {
	switch sa.cfg.Local.Method {
	case AuthPSK:
		return &wire.Auth{Method: wire.AuthSharedKey, Data: sharedKeyAuth(sa.prf, sa.cfg.Local.PSK, octets)}, nil
	case AuthPubkey:
		m, data, err := sign(sa.cfg.Local.Key, octets, sa.peerHashes, lockedReader{&sa.e.randMu, sa.e.cfg.rand})
		if err != nil {
			return nil, err
		}
		return &wire.Auth{Method: wire.AuthMethod(m), Data: data}, nil
	}
	return nil, fmt.Errorf("ike: local authentication %v cannot produce AUTH here", sa.cfg.Local.Method)
}

// verifyPeerAuth checks the peer's AUTH payload and, for certificates,
// the chain and the binding of the identity to the certificate.
func (sa *ikeSA) verifyPeerAuth(ap *authPayloads, id ipsec.Identity, octets []byte) error {
	if ap.auth == nil {
		return fmt.Errorf("%w: no AUTH payload", ErrAuthFailed)
	}
	if !sa.cfg.RemoteID.IsZero() && !sa.cfg.RemoteID.Equal(id) {
		return fmt.Errorf("%w: identity %s is not the configured %s", ErrAuthFailed, id, sa.cfg.RemoteID)
	}
	switch sa.cfg.Remote.Method {
	case AuthPSK:
		if ap.auth.Method != wire.AuthSharedKey {
			return fmt.Errorf("%w: peer used %s, we expect a pre-shared key", ErrAuthFailed, ap.auth.Method)
		}
		want := sharedKeyAuth(sa.prf, sa.cfg.Remote.PSK, octets)
		if subtle.ConstantTimeCompare(want, ap.auth.Data) != 1 {
			return fmt.Errorf("%w: pre-shared key mismatch", ErrAuthFailed)
		}
		return nil
	case AuthPubkey:
		if len(ap.certs) == 0 {
			return fmt.Errorf("%w: no certificate from the peer", ErrAuthFailed)
		}
		chain, err := verifyPeerCert(ap.certs[0], ap.certs[1:], sa.cfg.Remote.CAs, sa.e.cfg.now())
		if err != nil {
			return err
		}
		leaf := chain[0]
		if !certMatchesID(leaf, id) {
			return fmt.Errorf("%w: identity %s not found in certificate %q", ErrAuthFailed, id, leaf.Subject.String())
		}
		if sa.weInitiated {
			if err := sa.checkGatewayCert(leaf); err != nil {
				return err
			}
		}
		if err := verify(uint8(ap.auth.Method), ap.auth.Data, leaf.PublicKey, octets); err != nil {
			return err
		}
		if f := sa.cfg.Remote.VerifyCertificate; f != nil {
			if err := f(id, chain); err != nil {
				return fmt.Errorf("%w: certificate %q (serial %x): %w", ErrAuthFailed, leaf.Subject.String(), leaf.SerialNumber, err)
			}
		}
		sa.auth.chain = chain
		return nil
	}
	return fmt.Errorf("%w: peer authentication %v not available", ErrAuthFailed, sa.cfg.Remote.Method)
}

// checkGatewayCert is what an initiator demands of the gateway's
// certificate beyond the chain: an EKU for servers (unless
// Remote.AllowAnyEKU) and, without a configured RemoteID, the address we
// dialed among its names, so that another certificate of the same CA
// cannot pass for the gateway.
func (pa *peerAuth) checkGatewayCert(leaf *x509.Certificate) error {
	if !pa.cfg.Remote.AllowAnyEKU {
		if err := gatewayEKU(leaf); err != nil {
			return err
		}
	}
	if gw := pa.cfg.gatewayID; pa.cfg.RemoteID.IsZero() && !gw.IsZero() && !certMatchesID(leaf, gw) {
		return fmt.Errorf("%w: gateway certificate %q does not name %s, the address we connected to (set PeerConfig.RemoteID to the identity the gateway proves)", ErrAuthFailed, leaf.Subject.String(), gw)
	}
	return nil
}

// certPayloads returns our CERT payloads (leaf first) per the policy.
func (pa *peerAuth) certPayloads(peerAsked bool) []wire.Payload {
	if pa.cfg.Local.Method != AuthPubkey {
		return nil
	}
	switch pa.cfg.SendCert {
	case SendCertNever:
		return nil
	case SendCertIfAsked:
		if !peerAsked {
			return nil
		}
	}
	var out []wire.Payload
	for _, der := range pa.cfg.Local.Certificates {
		out = append(out, &wire.Cert{Encoding: wire.CertX509Signature, Data: der})
	}
	return out
}

// peerMethod says how a peer authenticates from its AUTH payload (nil:
// it wants EAP).
func peerMethod(a *wire.Auth) AuthMethod {
	switch {
	case a == nil:
		return AuthEAP
	case a.Method == wire.AuthSharedKey:
		return AuthPSK
	default:
		return AuthPubkey
	}
}

// authTask is the IKE_AUTH exchange in progress, both roles, with EAP
// (exchange_eap.go) and Hooks.Authorize (authorize.go). It holds its own
// state from the end of IKE_SA_INIT until the IKE SA is established or
// ends: the EAP conversation, what the hook is told (the peer's verified
// chain, the EAP method that succeeded), the request waiting for the
// hook's answer, and whether a response announced MOBIKE. The IKE SA
// keeps only the results (peerAuth, leaseState). As initiator it is also
// the task of our first IKE_AUTH request (build, reply); the EAP rounds
// after it are eapRound tasks.
type authTask struct {
	eap        *eapState
	chain      []*x509.Certificate // the peer's verified chain (AuthPubkey)
	eapMethod  eap.Type            // the EAP method that succeeded
	awaiting   *pendingAuthz       // the request waiting for Hooks.Authorize
	mobikeSeen bool                // an IKE_AUTH response announced MOBIKE_SUPPORTED
	// inter: the additional key exchanges in IKE_INTERMEDIATE before
	// IKE_AUTH (RFC 9370) and the IntAuth that AUTH covers (RFC 9242);
	// nil when none were negotiated.
	inter *intermediate
}

// sawMOBIKE reports whether an IKE_AUTH response announced MOBIKE (false
// for t nil).
func (t *authTask) sawMOBIKE() bool { return t != nil && t.mobikeSeen }

// endEAP closes the EAP conversation, which succeeded or failed.
func (t *authTask) endEAP() {
	if t.eap != nil {
		t.eap.close()
		t.eap = nil
	}
}

// end releases what IKE_AUTH holds (t may be nil: none in progress).
func (t *authTask) end() {
	if t == nil {
		return
	}
	t.endEAP()
	t.chain, t.awaiting = nil, nil
	if in := t.inter; in != nil {
		in.intAuthI.Wipe()
		in.intAuthR.Wipe()
		wipe(in.shared)
		t.inter = nil
	}
}

// respond is the responder's IKE_AUTH (RFC 7296 section 1.2): it answers
// the peer's requests until the peer is authenticated (t is nil outside
// IKE_AUTH).
func (t *authTask) respond(sa *ikeSA, inner []wire.Payload) ([]wire.Payload, error) {
	if t == nil || sa.state != stateAuth {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_AUTH in state %s", ErrProtocol, sa.state))
	}
	if t.eap != nil {
		return t.continueEAP(sa, inner)
	}
	ap := collectAuth(inner)
	if ap.idi == nil {
		return nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: IKE_AUTH without IDi", ErrProtocol))
	}
	sa.remoteID = idFromWire(ap.idi)
	sa.log = sa.log.With("remote_id", sa.remoteID.String())
	q := PeerQuery{Local: sa.local, Remote: sa.remote, RemoteID: sa.remoteID}
	if ap.idr != nil {
		q.LocalID = idFromWire(ap.idr)
	}
	q.RemoteMethod = peerMethod(ap.auth)
	if len(ap.certs) > 0 {
		// Unverified here; only used to choose a configuration.
		q.RemoteCertificate, _ = x509.ParseCertificate(ap.certs[0])
	}
	if sa.e.cfg.peers == nil {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, ErrNoPeerConfig)
	}
	ctx, cancel := context.WithTimeout(sa.e.ctx, peerLookupTimeout)
	cfg, err := sa.e.cfg.peers(ctx, q)
	cancel()
	if err == nil && cfg == nil {
		err = ErrNoPeerConfig
	}
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		sa.log.Warn("no peer configuration", "err", err)
		sa.alert(AlertPeerConfigMissing, err, fmt.Sprintf("no configuration for IDi %s, IDr %s", q.RemoteID, q.LocalID))
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	sa.setCfg(cfg)
	if err := sa.refusePeerIKEProposals(); err != nil {
		return nil, err
	}
	if ap.auth == nil {
		return t.startEAP(sa, &ap)
	}
	if sa.cfg.Remote.Method == AuthEAP {
		err := fmt.Errorf("%w: peer authenticates with %s, but %q expects EAP", ErrAuthFailed, ap.auth.Method, sa.cfg.Name)
		sa.alert(AlertAuthFailed, err, err.Error())
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	octets := signedOctets(sa.prf, sa.initReq, sa.nr, sa.keys.SKpi, idBody(ipsec.IDType(ap.idi.Type), ap.idi.Data), sa.auth.interState().intAuthData())
	if err := sa.verifyPeerAuth(&ap, sa.remoteID, octets); err != nil {
		sa.log.Warn("peer authentication failed", "notify", wire.AUTHENTICATION_FAILED.String(), "err", err)
		sa.alert(AlertAuthFailed, err, err.Error())
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	return sa.authorize(sa.cfg.Remote.Method, func() ([]wire.Payload, error) {
		if err := sa.uniqueCheck(); err != nil {
			return nil, err
		}
		if err := sa.admitIdentity(&ap); err != nil {
			return nil, err
		}
		return sa.completeAuth(&ap)
	})
}

// completeAuth builds the final IKE_AUTH response once the peer is
// authenticated: our identity and AUTH, the configuration reply, the
// first CHILD SA.
func (sa *ikeSA) completeAuth(ap *authPayloads) ([]wire.Payload, error) {
	sa.localID = sa.ourIdentity()
	octets := signedOctets(sa.prf, sa.initResp, sa.ni, sa.keys.SKpr, idBody(sa.localID.Type, sa.localID.Data), sa.auth.interState().intAuthData())
	auth, err := sa.localAuth(octets)
	if err != nil {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	resp := []wire.Payload{&wire.ID{Responder: true, Type: wire.IDType(sa.localID.Type), Data: sa.localID.Data}}
	resp = append(resp, sa.certPayloads(ap.certReq)...)
	resp = append(resp, auth)
	rest, err := sa.finishAuth(ap)
	return append(resp, rest...), err
}

// finishAuth completes IKE_AUTH for an authenticated peer: the
// configuration reply and the first CHILD SA (from the payloads of the
// first IKE_AUTH request when EAP took several round trips).
func (sa *ikeSA) finishAuth(ap *authPayloads) ([]wire.Payload, error) {
	if !sa.weInitiated {
		sa.cfg.wipeSecrets() // both AUTH payloads are done; reauthentication is a new lookup
		if !sa.cfgLent {
			sa.cfg, sa.cfgLent = sa.e.configs.share(sa.cfg), true
		}
	}
	if n := sa.redirectOnAuth(); n != nil {
		sa.e.forgetIdentity(sa) // it holds nothing here
		return []wire.Payload{n}, nil
	}
	var resp []wire.Payload
	if !sa.weInitiated && ap.mobike && !sa.cfg.DisableMOBIKE {
		resp = append(resp, &wire.Notify{Type: wire.MOBIKE_SUPPORTED})
	}
	if !sa.weInitiated && sa.cfg.ReauthTime > 0 {
		// RFC 4478: ask the client to reauthenticate in time.
		resp = append(resp, &wire.Notify{Type: wire.AUTH_LIFETIME, Data: binary.BigEndian.AppendUint32(nil, uint32(sa.cfg.ReauthTime/time.Second))})
	}
	if ap.cp != nil && ap.cp.Type == wire.CFG_REQUEST {
		cp, err := sa.assignConfig(ap.cp)
		if err != nil {
			// RFC 7296 section 3.15.4: the IKE SA may stand without a
			// CHILD SA when no address can be given.
			resp = append(resp, &wire.Notify{Type: wire.INTERNAL_ADDRESS_FAILURE})
			sa.establish(ap)
			return resp, nil
		}
		resp = append(resp, cp)
	}
	sa.establish(ap)
	c, childPayloads, err := sa.respondChild(ap.sa, ap.tsi, ap.tsr, ap.transport, true)
	if err == nil {
		err = sa.childKeys(c, sa.ni, sa.nr, nil)
	}
	if err == nil {
		err = sa.installChild(c)
		if err != nil {
			err = notifyErr(wire.TEMPORARY_FAILURE, err)
		}
	}
	var ne *NotifyError
	switch {
	case err == nil:
		sa.children = append(sa.children, c)
		resp = append(resp, childPayloads...)
		sa.childUp(c)
	case errors.As(err, &ne):
		// RFC 7296 section 1.2: the CHILD SA fails, the IKE SA stands.
		sa.log.Warn("CHILD SA not created", "notify", ne.Type.String(), "err", err)
		if ne.Type != wire.NO_PROPOSAL_CHOSEN { // respondChild alerted with the explanation
			sa.alert(AlertChildFailed, err, fmt.Sprintf("CHILD SA refused with %s: %v", ne.Type, err))
		}
		resp = append(resp, &wire.Notify{Type: ne.Type, Data: ne.Data})
	default:
		sa.log.Warn("CHILD SA not created", "err", err)
		sa.alert(AlertChildFailed, err, fmt.Sprintf("CHILD SA refused with NO_PROPOSAL_CHOSEN: %v", err))
		resp = append(resp, &wire.Notify{Type: wire.NO_PROPOSAL_CHOSEN})
	}
	return resp, nil
}

// identityKey names the authenticated peer for uniqueness: its IKE
// identity and, with EAP, the EAP identity (Windows' IKE identity is just
// its address).
func (pa *peerAuth) identityKey() string {
	return pa.remoteID.String() + "|" + pa.eapIdentity
}

// uniqueCheck enforces UniqueKeep before a new IKE SA is established.
func (sa *ikeSA) uniqueCheck() error {
	if sa.weInitiated || sa.cfg.Unique != UniqueKeep {
		return nil
	}
	if others := sa.e.samePeer(sa.identityKey(), sa); len(others) > 0 {
		err := fmt.Errorf("%w: %s already has an IKE SA and the policy keeps it", ErrAuthFailed, sa.identityKey())
		sa.alert(AlertAuthFailed, err, err.Error())
		return notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	return nil
}

// establish marks the IKE SA up: half-open accounting ends, hooks fire,
// INITIAL_CONTACT (or UniqueReplace) removes older SAs of the same peer.
func (sa *ikeSA) establish(ap *authPayloads) {
	if !sa.weInitiated {
		sa.peerKey = sa.identityKey()
	}
	sa.state = stateEstablished
	sa.establishedAt = sa.e.cfg.now()
	sa.halfOpenDeadline = time.Time{}
	// MOBIKE (RFC 4555) is on when both sides announced it; as initiator
	// the announcement may have come in any IKE_AUTH response (EAP).
	sa.peerMOBIKE = (sa.auth.sawMOBIKE() || ap != nil && ap.mobike) && !sa.cfg.DisableMOBIKE
	sa.auth.end() // IKE_AUTH is over: only its results stay (peerAuth)
	sa.auth = nil
	sa.e.established(sa)
	sa.startLiveness(time.Now(), sa.cfg.DPDDelay)
	sa.scheduleIKERekey()
	sa.scheduleReauth()
	if sa.weInitiated && ap != nil && ap.authLifetime > 0 {
		// The gateway wants us to reauthenticate within its lifetime
		// (RFC 4478): start at 80-90 % of it.
		at := time.Now().Add(sa.jittered(ap.authLifetime * 9 / 10))
		if sa.reauthAt.IsZero() || at.Before(sa.reauthAt) {
			sa.reauthAt = at
		}
		sa.log.Info("gateway limits the authentication lifetime", "lifetime", ap.authLifetime.String())
	}
	if sa.reauthOf != nil {
		sa.reauthDone()
	}
	sa.log.Info("IKE SA established", "ike_sa", sa.name(), "proposal", sa.prop.String(), "local", sa.local.String())
	if !sa.weInitiated && ((ap != nil && ap.initialContact) || sa.peerInitialContact || sa.cfg.Unique == UniqueReplace) {
		for _, other := range sa.e.samePeer(sa.peerKey, sa) {
			other.closeIfPeer(sa.peerKey, sa)
		}
	}
	sa.resumeSession()
	sa.sessionUp()
	if f := sa.e.cfg.hooks.IKEUp; f != nil {
		f(sa.info())
	}
}

// closeIfPeer deletes this SA (silently: INITIAL_CONTACT says the peer
// lost its state) when it belongs to the same remote identity.
func (sa *ikeSA) closeIfPeer(key string, newer *ikeSA) {
	go sa.do(context.Background(), func() {
		if sa.state == stateEstablished && !sa.weInitiated && sa.peerKey == key {
			sa.log.Info("replaced by a new IKE SA after INITIAL_CONTACT", "ike_sa", sa.name(), "by", newer.name())
			sa.destroy(nil)
		}
	})
}

func (sa *ikeSA) childUp(c *childSA) {
	sa.scheduleChildRekey(c)
	sa.log.Info("CHILD SA established", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn), "spi_out", fmt.Sprintf("%08x", c.spiOut), "proposal", c.prop.String())
	if f := sa.e.cfg.hooks.ChildUp; f != nil {
		f(sa.info(), c.info())
	}
}

// assignConfig answers a CFG_REQUEST: virtual addresses from the pools
// (or the user's fixed ones), DNS servers, split-DNS domains and subnets
// (RFC 7296 section 3.15, RFC 8598).
func (sa *ikeSA) assignConfig(req *wire.CP) (*wire.CP, error) {
	want4, want6 := false, false
	var req4, req6 netip.Addr
	for _, a := range req.Attributes {
		switch a.Type {
		case wire.INTERNAL_IP4_ADDRESS:
			want4 = true
			if len(a.Value) == 4 {
				req4 = netip.AddrFrom4([4]byte(a.Value))
			}
		case wire.INTERNAL_IP6_ADDRESS:
			want6 = true
			if len(a.Value) == 17 {
				req6 = netip.AddrFrom16([16]byte(a.Value[:16]))
			}
		}
	}
	reply := &wire.CP{Type: wire.CFG_REPLY}
	owner := sa.owner()
	ctx, cancel := context.WithTimeout(sa.e.ctx, peerLookupTimeout)
	defer cancel()
	got4, got6 := false, false
	if sa.eapUser != nil {
		for _, a := range sa.eapUser.Addresses {
			if a.Is4() && want4 && !got4 {
				got4 = true
				reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP4_ADDRESS, Value: a.AsSlice()})
				sa.fixedAddrs = append(sa.fixedAddrs, a)
			} else if a.Is6() && want6 && !got6 {
				got6 = true
				reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP6_ADDRESS, Value: append(a.AsSlice(), 128)})
				sa.fixedAddrs = append(sa.fixedAddrs, a)
			}
		}
	}
	for _, pool := range sa.cfg.Pools {
		is6 := pool.Prefix().Addr().Is6()
		if (is6 && (!want6 || got6)) || (!is6 && (!want4 || got4)) {
			continue
		}
		requested := req4
		if is6 {
			requested = req6
		}
		if requested.IsUnspecified() {
			requested = netip.Addr{}
		}
		if !sa.leaseAllowed(is6, requested) {
			continue
		}
		addr, err := pool.Acquire(ctx, owner, requested)
		if err != nil {
			sa.log.Warn("address pool", "err", err)
			continue
		}
		if !sa.noteLease(addr) {
			pool.Release(addr)
			continue
		}
		sa.leases = append(sa.leases, lease{pool: pool, addr: addr})
		if is6 {
			got6 = true
			reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP6_ADDRESS, Value: append(addr.AsSlice(), 128)})
		} else {
			got4 = true
			reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP4_ADDRESS, Value: addr.AsSlice()})
		}
	}
	if (want4 || want6) && !got4 && !got6 && len(sa.cfg.Pools) > 0 {
		return nil, errors.New("ike: no virtual address available")
	}
	for _, d := range sa.cfg.DNS {
		t := wire.INTERNAL_IP4_DNS
		if d.Is6() {
			t = wire.INTERNAL_IP6_DNS
		}
		reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: t, Value: d.AsSlice()})
	}
	for _, dom := range sa.cfg.DNSDomains {
		reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_DNS_DOMAIN, Value: []byte(dom)})
	}
	for _, s := range sa.cfg.Subnets {
		if s.Addr().Is4() {
			m := net4Mask(s.Bits())
			reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP4_SUBNET, Value: append(s.Masked().Addr().AsSlice(), m[:]...)})
		} else {
			reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP6_SUBNET, Value: append(s.Masked().Addr().AsSlice(), byte(s.Bits()))})
		}
	}
	return reply, nil
}

func net4Mask(bits int) [4]byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], ^uint32(0)<<(32-bits))
	if bits == 0 {
		m = [4]byte{}
	}
	return m
}

// --- initiator ---

// build is the initiator's first IKE_AUTH request.
func (t *authTask) build(sa *ikeSA) ([]wire.Payload, error) {
	cfg := sa.cfg
	sa.localID = sa.ourIdentity()
	ps := []wire.Payload{&wire.ID{Type: wire.IDType(sa.localID.Type), Data: sa.localID.Data}}
	ps = append(ps, sa.certPayloads(true)...)
	if cr := sa.e.certReq(); cr != nil && cfg.Remote.Method == AuthPubkey {
		ps = append(ps, cr)
	}
	if !sa.e.hasOtherSA(sa) {
		// RFC 7296 section 2.4: only when we hold no other IKE SA with
		// this peer, or the peer would drop those.
		ps = append(ps, &wire.Notify{Type: wire.INITIAL_CONTACT})
	}
	if !cfg.DisableMOBIKE {
		ps = append(ps, &wire.Notify{Type: wire.MOBIKE_SUPPORTED})
	}
	if !cfg.RemoteID.IsZero() {
		ps = append(ps, &wire.ID{Responder: true, Type: wire.IDType(cfg.RemoteID.Type), Data: cfg.RemoteID.Data})
	}
	if cfg.Local.Method != AuthEAP {
		// Without AUTH the gateway starts EAP (RFC 7296 section 2.16).
		octets := signedOctets(sa.prf, sa.initReq, sa.nr, sa.keys.SKpi, idBody(sa.localID.Type, sa.localID.Data), sa.auth.interState().intAuthData())
		auth, err := sa.localAuth(octets)
		if err != nil {
			return nil, err
		}
		ps = append(ps, auth)
	}
	if len(cfg.VirtualIPs) > 0 {
		cp := &wire.CP{Type: wire.CFG_REQUEST}
		for _, a := range cfg.VirtualIPs {
			if a.Is4() {
				v := []byte(nil)
				if !a.IsUnspecified() {
					v = a.AsSlice()
				}
				cp.Attributes = append(cp.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP4_ADDRESS, Value: v}, wire.CPAttribute{Type: wire.INTERNAL_IP4_DNS})
			} else {
				v := []byte(nil)
				if !a.IsUnspecified() {
					v = append(a.AsSlice(), 128)
				}
				cp.Attributes = append(cp.Attributes, wire.CPAttribute{Type: wire.INTERNAL_IP6_ADDRESS, Value: v}, wire.CPAttribute{Type: wire.INTERNAL_IP6_DNS})
			}
		}
		ps = append(ps, cp)
	}
	c, childPayloads, err := sa.proposeChild()
	if err != nil {
		return nil, err
	}
	sa.children = append(sa.children, c)
	return append(ps, childPayloads...), nil
}

// proposeChild builds SA, TSi, TSr for a CHILD SA we initiate in
// IKE_AUTH. The child is kept pending until the response completes it.
func (sa *ikeSA) proposeChild() (*childSA, []wire.Payload, error) {
	cc := sa.childConfig()
	spi, err := sa.newChildSPI()
	if err != nil {
		return nil, nil, err
	}
	props := cc.proposals()
	// KE transforms have no place in IKE_AUTH (RFC 7296 section 1.2):
	// the first CHILD SA's keys come from the IKE SA.
	stripped := make(proposal.List, len(props))
	for i, p := range props {
		p = p.Clone()
		p.KE = nil
		stripped[i] = p
	}
	local := cc.LocalTS
	if len(local) == 0 {
		if len(sa.cfg.VirtualIPs) > 0 {
			// Ask for everything of the families we request; the
			// gateway narrows it to the address it assigns.
			for _, a := range sa.cfg.VirtualIPs {
				local = append(local, esp.AnySelector(a.Is4()))
			}
		} else {
			local = []esp.Selector{hostSelector(sa.local.Addr())}
		}
	}
	remote := cc.RemoteTS
	if len(remote) == 0 {
		remote = anyTS
	}
	c := &childSA{name: cc.Name, reqid: sa.e.newReqID(), spiIn: spi, localTS: local, remoteTS: remote, initiator: true, prop: noProposal}
	if cc.Mode == esp.ModeTransport {
		c.mode = esp.ModeTransport
	}
	payloads := []wire.Payload{listToWire(stripped, binary.BigEndian.AppendUint32(nil, spi)), tsToWire(local, false), tsToWire(remote, true)}
	if c.mode == esp.ModeTransport {
		payloads = append([]wire.Payload{&wire.Notify{Type: wire.USE_TRANSPORT_MODE}}, payloads...)
	}
	return c, payloads, nil
}

// reply handles the gateway's first IKE_AUTH response: it completes
// IKE_AUTH or starts EAP.
func (t *authTask) reply(sa *ikeSA, inner []wire.Payload) error {
	ap := collectAuth(inner)
	t.mobikeSeen = t.mobikeSeen || ap.mobike
	fail := func(err error) error {
		sa.log.Warn("IKE_AUTH failed", "err", err)
		sa.destroy(err)
		return err
	}
	if ap.idr == nil || ap.auth == nil {
		if ap.errNotify != nil {
			return fail(&NotifyError{Type: ap.errNotify.Type, Remote: true, Data: ap.errNotify.Data})
		}
		return fail(fmt.Errorf("%w: IKE_AUTH response without IDr or AUTH", ErrProtocol))
	}
	sa.remoteID = idFromWire(ap.idr)
	octets := signedOctets(sa.prf, sa.initResp, sa.ni, sa.keys.SKpr, idBody(ipsec.IDType(ap.idr.Type), ap.idr.Data), sa.auth.interState().intAuthData())
	if err := sa.verifyPeerAuth(&ap, sa.remoteID, octets); err != nil {
		sa.alert(AlertAuthFailed, err, err.Error())
		return fail(err)
	}
	if sa.cfg.Local.Method == AuthEAP {
		if ap.eap == nil {
			return fail(fmt.Errorf("%w: gateway did not start EAP", ErrProtocol))
		}
		return t.startPeerEAP(sa, ap.eap.Data)
	}
	return sa.finishInitiatorAuth(&ap)
}

// finishInitiatorAuth applies the configuration reply and installs the
// first CHILD SA once the gateway is authenticated.
func (sa *ikeSA) finishInitiatorAuth(ap *authPayloads) error {
	if ap.redirect != nil {
		return sa.followAuthRedirect(ap.redirect)
	}
	if ap.cp != nil && ap.cp.Type == wire.CFG_REPLY {
		for _, a := range ap.cp.Attributes {
			switch {
			case a.Type == wire.INTERNAL_IP4_ADDRESS && len(a.Value) == 4:
				sa.vips = append(sa.vips, netip.AddrFrom4([4]byte(a.Value)))
			case a.Type == wire.INTERNAL_IP6_ADDRESS && len(a.Value) == 17:
				sa.vips = append(sa.vips, netip.AddrFrom16([16]byte(a.Value[:16])))
			case (a.Type == wire.INTERNAL_IP4_DNS && len(a.Value) == 4) || (a.Type == wire.INTERNAL_IP6_DNS && len(a.Value) == 16):
				d, _ := netip.AddrFromSlice(a.Value)
				sa.dns = append(sa.dns, d)
			case a.Type == wire.INTERNAL_DNS_DOMAIN:
				sa.dnsDomains = append(sa.dnsDomains, string(a.Value))
			case a.Type == wire.INTERNAL_IP4_SUBNET && len(a.Value) == 8:
				// Address and netmask (RFC 7296 section 3.15.1).
				ones, bits := net.IPMask(a.Value[4:]).Size()
				if bits == 32 {
					sa.subnets = append(sa.subnets, netip.PrefixFrom(netip.AddrFrom4([4]byte(a.Value[:4])), ones).Masked())
				}
			case a.Type == wire.INTERNAL_IP6_SUBNET && len(a.Value) == 17 && a.Value[16] <= 128:
				sa.subnets = append(sa.subnets, netip.PrefixFrom(netip.AddrFrom16([16]byte(a.Value[:16])), int(a.Value[16])).Masked())
			}
		}
	}
	sa.establish(ap)
	if len(sa.children) == 0 {
		sa.dialResult(nil)
		return nil
	}
	c := sa.children[0]
	if err := sa.completeChild(c, ap, sa.ni, sa.nr, nil, true); err != nil {
		sa.children = sa.children[:0]
		sa.log.Warn("CHILD SA not created", "err", err)
	} else {
		sa.childUp(c)
	}
	sa.dialResult(nil)
	return nil
}

// completeChild checks the responder's choice for a CHILD SA we proposed
// and installs it.
func (sa *ikeSA) completeChild(c *childSA, ap *authPayloads, ni, nr []byte, secrets [][]byte, skipKE bool) error {
	if ap.sa == nil || ap.tsi == nil || ap.tsr == nil {
		if ap.errNotify != nil {
			return &NotifyError{Type: ap.errNotify.Type, Remote: true}
		}
		return fmt.Errorf("%w: no CHILD SA in the response", ErrProtocol)
	}
	if len(ap.sa.Proposals) != 1 {
		return fmt.Errorf("%w: responder chose %d proposals", ErrProtocol, len(ap.sa.Proposals))
	}
	theirs := propFromWire(&ap.sa.Proposals[0])
	// skipKE in IKE_AUTH, where KE transforms play no part (RFC 7296
	// section 1.2); in a rekey the responder's choice may carry one.
	ours := c.offered
	if ours == nil {
		ours = sa.childConfig().proposals()
	}
	sel, err := proposal.Select(ours, proposal.List{theirs}, proposal.SelectOptions{SkipKE: skipKE})
	if err != nil || len(theirs.SPI) != 4 {
		return fmt.Errorf("%w: responder chose a proposal we did not offer: %s", ErrProtocol, theirs)
	}
	c.prop = internProposal(sel)
	c.spiOut = binary.BigEndian.Uint32(theirs.SPI)
	c.localTS = narrow(tsFromWire(ap.tsi), c.localTS)
	c.remoteTS = narrow(tsFromWire(ap.tsr), c.remoteTS)
	if len(c.localTS) == 0 || len(c.remoteTS) == 0 {
		return fmt.Errorf("%w: responder's traffic selectors are outside ours", ErrProtocol)
	}
	if ap.transport != (c.mode == esp.ModeTransport) {
		c.mode = esp.ModeTunnel
		if ap.transport {
			return fmt.Errorf("%w: transport mode not requested", ErrProtocol)
		}
	}
	if err := sa.childKeys(c, ni, nr, secrets); err != nil {
		return err
	}
	return sa.installChild(c)
}

// dialResult reports the outcome to a waiting Dial once.
func (lp *loop) dialResult(err error) {
	if lp.dialDone != nil {
		select {
		case lp.dialDone <- err:
		default:
		}
	}
}

// leaseState is what the configuration exchange gave: as responder the
// leases from the pools, as initiator our virtual addresses, DNS servers,
// split-DNS domains and pushed subnets.
type leaseState struct {
	leases     []lease
	vips       []netip.Addr   // ours, as initiator
	dns        []netip.Addr   // DNS servers the gateway gave us
	dnsDomains []string       // split-DNS domains (RFC 8598) the gateway gave us
	subnets    []netip.Prefix // INTERNAL_IP4/6_SUBNET the gateway sent us
}

// releaseLeases gives the addresses leased to the peer back to their
// pools.
func (ls *leaseState) releaseLeases() {
	for _, l := range ls.leases {
		l.pool.Release(l.addr)
	}
	ls.leases = nil
}

// virtualIPs are the virtual addresses of the SA: those leased to the
// peer (responder) and ours (initiator).
func (ls *leaseState) virtualIPs() []netip.Addr {
	var out []netip.Addr
	for _, l := range ls.leases {
		out = append(out, l.addr)
	}
	return append(out, ls.vips...)
}

// peerAuth is the authentication of the peer (IKE_AUTH, EAP, RFC 7296
// sections 2.15 and 2.16, Hooks.Authorize) and the configuration chosen
// for it.
type peerAuth struct {
	cfg         *PeerConfig
	cfgLent     bool // cfg is another IKE SA's (a rekey handed it over or shares it): not ours to wipe
	localID     ipsec.Identity
	remoteID    ipsec.Identity
	eapIdentity string
	eapUser     *ipsec.User
	fixedAddrs  []netip.Addr // per-user addresses given instead of a lease
	peerKey     string       // identity key for uniqueness (responder, once authenticated)
	capKey      string       // identity counted in engine.caps (responder), see IdentityLimits
}
