package ike

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/ike/wire"
)

// eapState is an EAP conversation inside IKE_AUTH (RFC 7296 section 2.16).
type eapState struct {
	server *eap.Server
	peer   *eap.Peer
	first  authPayloads // the first IKE_AUTH request: CP, SA, TS for the end
	msk    []byte       // set at EAP-Success
	done   bool         // EAP succeeded; AUTH over the MSK comes next
}

func (s *eapState) close() {
	if s.server != nil {
		s.server.Close()
	}
	if s.peer != nil {
		s.peer.Close()
	}
	clear(s.msk)
}

// serverConfig builds the EAP server configuration of a peer config.
func (sa *ikeSA) eapServerConfig() eap.ServerConfig {
	r := sa.cfg.Remote
	methods := r.EAPMethods
	if len(methods) == 0 {
		methods = []eap.Type{eap.TypeMSCHAPv2}
		if r.EAPTLS != nil {
			methods = append(methods, eap.TypeTLS)
		}
	}
	return eap.ServerConfig{
		Methods: methods, Users: r.Users, TLS: r.EAPTLS, Certs: r.EAPCerts, Backend: r.EAPBackend,
		SkipIdentity: r.EAPSkipIdentity, Rand: lockedReader{&sa.e.randMu, sa.e.cfg.rand}, Now: sa.e.cfg.now,
	}
}

// startEAP answers the first IKE_AUTH request of a client that wants EAP
// (no AUTH payload): our identity, certificate and AUTH, and the first EAP
// request.
func (t *authTask) startEAP(sa *ikeSA, ap *authPayloads) ([]wire.Payload, error) {
	if sa.cfg.Remote.Method != AuthEAP {
		err := fmt.Errorf("%w: peer requests EAP, but %q expects %v", ErrAuthFailed, sa.cfg.Name, sa.cfg.Remote.Method)
		sa.alert(AlertAuthFailed, err, err.Error())
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	srv, err := eap.NewServer(sa.eapServerConfig())
	if err != nil {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	hint := ""
	switch sa.remoteID.Type {
	case ipsec.IDFQDN, ipsec.IDRFC822Addr:
		hint = string(sa.remoteID.Data)
	}
	req, err := srv.StartContext(sa.nasContext(), hint)
	if err != nil {
		srv.Close()
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	t.eap = &eapState{server: srv, first: *ap}
	sa.localID = sa.ourIdentity()
	octets := signedOctets(sa.prf, sa.initResp, sa.ni, sa.keys.SKpr, idBody(sa.localID.Type, sa.localID.Data), sa.auth.interState().intAuthData())
	auth, err := sa.localAuth(octets)
	if err != nil {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	resp := []wire.Payload{&wire.ID{Responder: true, Type: wire.IDType(sa.localID.Type), Data: sa.localID.Data}}
	// Clients verify the gateway by certificate during EAP; iOS sends no
	// CERTREQ yet needs it, so SendCertIfAsked does not apply here.
	if sa.cfg.SendCert != SendCertNever {
		resp = append(resp, sa.certPayloads(true)...)
	}
	return append(resp, auth, &wire.EAP{Data: req}), nil
}

// continueEAP handles the IKE_AUTH requests after the first: EAP responses,
// then the AUTH payload computed over the MSK.
func (t *authTask) continueEAP(sa *ikeSA, inner []wire.Payload) ([]wire.Payload, error) {
	ap := collectAuth(inner)
	st := t.eap
	if st.done {
		return t.finishEAP(sa, &ap)
	}
	if ap.eap == nil {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, fmt.Errorf("%w: IKE_AUTH without EAP payload during EAP", ErrProtocol))
	}
	out, res, err := st.server.ProcessContext(sa.nasContext(), ap.eap.Data)
	switch {
	case errors.Is(err, eap.ErrDiscarded):
		// A response to an older request: repeat the outstanding one.
		return []wire.Payload{&wire.EAP{Data: st.server.Pending()}}, nil
	case res.Status == eap.StatusContinue && err == nil:
		return []wire.Payload{&wire.EAP{Data: out}}, nil
	case res.Status == eap.StatusSuccess:
		st.done = true
		st.msk = append([]byte(nil), res.MSK...)
		sa.e.noteSecret("msk", st.msk)
		sa.e.noteSecret("msk", res.MSK)
		wipe(res.MSK) // the EAP machine's copy; ours is wiped by close
		wipe(res.EMSK)
		sa.eapIdentity = res.Identity
		sa.eapUser = res.User
		t.eapMethod = res.Method
		sa.log.Info("EAP authentication succeeded", "method", res.Method.String(), "eap_identity", res.Identity)
		return []wire.Payload{&wire.EAP{Data: out}}, nil
	}
	if err == nil {
		err = res.Err
	}
	err = fmt.Errorf("%w: EAP: %v", ErrAuthFailed, err)
	sa.log.Warn("EAP authentication failed", "notify", wire.AUTHENTICATION_FAILED.String(), "err", err)
	sa.alert(AlertAuthFailed, err, err.Error())
	resp := []wire.Payload{}
	if out != nil {
		resp = append(resp, &wire.EAP{Data: out})
	}
	resp = append(resp, &wire.Notify{Type: wire.AUTHENTICATION_FAILED})
	return resp, notifyErr(wire.AUTHENTICATION_FAILED, err)
}

// eapAuthKey is the key of the final AUTH payloads: the MSK, or SK_pi /
// SK_pr for methods without one (RFC 7296 section 2.16).
func (st *eapState) authKey(sk []byte) []byte {
	if len(st.msk) > 0 {
		return st.msk
	}
	return sk
}

// finishEAP checks the client's AUTH over the MSK and completes IKE_AUTH
// with the configuration and the CHILD SA of the first request.
func (t *authTask) finishEAP(sa *ikeSA, ap *authPayloads) ([]wire.Payload, error) {
	st := t.eap
	if ap.auth == nil || ap.auth.Method != wire.AuthSharedKey {
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, fmt.Errorf("%w: no AUTH over the EAP MSK", ErrAuthFailed))
	}
	first := &st.first
	octets := signedOctets(sa.prf, sa.initReq, sa.nr, sa.keys.SKpi, idBody(ipsec.IDType(first.idi.Type), first.idi.Data), sa.auth.interState().intAuthData())
	want := sharedKeyAuth(sa.prf, st.authKey(sa.keys.SKpi), octets)
	if subtle.ConstantTimeCompare(want, ap.auth.Data) != 1 {
		err := fmt.Errorf("%w: AUTH over the EAP MSK does not verify", ErrAuthFailed)
		sa.alert(AlertAuthFailed, err, err.Error())
		return nil, notifyErr(wire.AUTHENTICATION_FAILED, err)
	}
	return sa.authorize(AuthEAP, func() ([]wire.Payload, error) {
		if err := sa.uniqueCheck(); err != nil {
			return nil, err
		}
		if err := sa.admitIdentity(&st.first); err != nil {
			return nil, err
		}
		respOctets := signedOctets(sa.prf, sa.initResp, sa.ni, sa.keys.SKpr, idBody(sa.localID.Type, sa.localID.Data), sa.auth.interState().intAuthData())
		auth := &wire.Auth{Method: wire.AuthSharedKey, Data: sharedKeyAuth(sa.prf, st.authKey(sa.keys.SKpr), respOctets)}
		t.endEAP()
		rest, err := sa.finishAuth(first)
		return append([]wire.Payload{auth}, rest...), err
	})
}

// --- initiator side ---

// startPeerEAP answers the gateway's first EAP request (the gateway has
// already proven itself with its certificate).
func (t *authTask) startPeerEAP(sa *ikeSA, req []byte) error {
	t.eap = &eapState{peer: eap.NewPeer(eap.PeerConfig{
		Identity: sa.cfg.Local.EAPIdentity, Password: sa.cfg.Local.EAPPassword,
		Rand: lockedReader{&sa.e.randMu, sa.e.cfg.rand}, Now: sa.e.cfg.now,
	})}
	return t.peerEAPStep(sa, req)
}

// peerEAPStep feeds one EAP request to our peer machine and sends what it
// answers, or, at EAP-Success, our AUTH over the MSK.
func (t *authTask) peerEAPStep(sa *ikeSA, req []byte) error {
	st := t.eap
	resp, res, err := st.peer.Process(req)
	switch {
	case err == nil && res.Status == eap.StatusContinue && resp != nil:
		sa.queueRequest(sa.taskRequest(wire.IKE_AUTH, eapRound{&wire.EAP{Data: resp}}))
		return nil
	case res.Status == eap.StatusSuccess:
		st.done = true
		st.msk = append([]byte(nil), res.MSK...)
		sa.e.noteSecret("msk", st.msk)
		sa.e.noteSecret("msk", res.MSK)
		wipe(res.MSK) // the EAP machine's copy; ours is wiped by close
		wipe(res.EMSK)
		sa.eapIdentity = sa.cfg.Local.EAPIdentity
		octets := signedOctets(sa.prf, sa.initReq, sa.nr, sa.keys.SKpi, idBody(sa.localID.Type, sa.localID.Data), sa.auth.interState().intAuthData())
		auth := &wire.Auth{Method: wire.AuthSharedKey, Data: sharedKeyAuth(sa.prf, st.authKey(sa.keys.SKpi), octets)}
		sa.queueRequest(sa.taskRequest(wire.IKE_AUTH, eapRound{auth}))
		return nil
	}
	if err == nil {
		err = res.Err
	}
	if err == nil {
		err = errors.New("EAP ended without success")
	}
	err = fmt.Errorf("%w: EAP: %v", ErrAuthFailed, err)
	sa.log.Warn("EAP failed", "err", err)
	sa.destroy(err)
	return err
}

// eapRound is one IKE_AUTH exchange of ours after the first, during and
// after EAP (the initiator's side): the request carries its payload (EAP,
// or AUTH over the MSK at the end), the gateway's answer goes to the
// conversation in the IKE SA's authTask.
type eapRound [1]wire.Payload

func (r eapRound) build(*ikeSA) ([]wire.Payload, error) { return r[:], nil }

// reply handles the gateway's answers during and after EAP.
func (r eapRound) reply(sa *ikeSA, inner []wire.Payload) error {
	ap := collectAuth(inner)
	t := sa.auth
	if t == nil || t.eap == nil {
		return nil
	}
	t.mobikeSeen = t.mobikeSeen || ap.mobike
	st := t.eap
	if ap.errNotify != nil && !(st.done && ap.auth != nil && childOnlyError(ap.errNotify.Type)) {
		err := &NotifyError{Type: ap.errNotify.Type, Remote: true}
		sa.destroy(err)
		return err
	}
	if !st.done {
		if ap.eap == nil {
			err := fmt.Errorf("%w: no EAP payload during EAP", ErrProtocol)
			sa.destroy(err)
			return err
		}
		return t.peerEAPStep(sa, ap.eap.Data)
	}
	if ap.auth == nil || ap.auth.Method != wire.AuthSharedKey {
		err := fmt.Errorf("%w: gateway sent no AUTH over the MSK", ErrAuthFailed)
		sa.destroy(err)
		return err
	}
	octets := signedOctets(sa.prf, sa.initResp, sa.ni, sa.keys.SKpr, idBody(sa.remoteID.Type, sa.remoteID.Data), sa.auth.interState().intAuthData())
	if subtle.ConstantTimeCompare(sharedKeyAuth(sa.prf, st.authKey(sa.keys.SKpr), octets), ap.auth.Data) != 1 {
		err := fmt.Errorf("%w: gateway's AUTH over the MSK does not verify", ErrAuthFailed)
		sa.alert(AlertAuthFailed, err, err.Error())
		sa.destroy(err)
		return err
	}
	t.endEAP()
	return sa.finishInitiatorAuth(&ap)
}

// childOnlyError reports whether an error notify in the last IKE_AUTH
// response refuses only the CHILD SA (or the virtual address): the IKE SA
// is still created (RFC 7296 sections 1.2 and 3.15.4), as with AUTH
// methods other than EAP and in strongSwan.
func childOnlyError(t wire.NotifyType) bool {
	switch t {
	case wire.NO_PROPOSAL_CHOSEN, wire.SINGLE_PAIR_REQUIRED, wire.NO_ADDITIONAL_SAS, wire.INTERNAL_ADDRESS_FAILURE,
		wire.FAILED_CP_REQUIRED, wire.TS_UNACCEPTABLE, wire.INVALID_SELECTORS, wire.TEMPORARY_FAILURE:
		return true
	}
	return false
}
