// Package eap implements the Extensible Authentication Protocol (RFC 3748)
// as IKEv2 uses it inside IKE_AUTH (RFC 7296 section 2.16): the server
// (authenticator) and the peer side of Identity, Notification, legacy NAK,
// MD5-Challenge, GTC, EAP-MSCHAPv2 (RFC 2759, draft-kamath-pppext-eap-
// mschapv2, MSK per RFC 3079) and EAP-TLS (RFC 5216, RFC 9190 for TLS 1.3,
// on crypto/tls), plus the credential pieces they need: NTHash, ParseUsers,
// LookupUser over an ipsec.UserStore, CertVerifier for client certificates
// and the Backend seam for a remote (RADIUS) server.
//
// # The seam with an IKE engine
//
// Server and Peer are byte-in/byte-out state machines. They know nothing
// of IKE, do no I/O, log nothing and are driven by the goroutine that owns
// the IKE SA. The engine moves the EAP payload's content in and out:
//
//	// Responder, IKE_AUTH request without AUTH from a client that wants EAP:
//	s, err := eap.NewServer(eap.ServerConfig{
//		Methods: []eap.Type{eap.TypeMSCHAPv2, eap.TypeTLS}, // first is proposed
//		Users:   users,                                      // ipsec.UserStore
//		TLS:     tlsConfig, Certs: &eap.CertVerifier{Roots: clientCAs},
//	})
//	req, err := s.Start(idi) // EAP-Request/Identity (or the method, with SkipIdentity)
//	// reply: IDr, CERT, AUTH, EAP(req)
//
//	// every following IKE_AUTH request carries EAP(resp):
//	out, res, err := s.Process(resp)
//	switch {
//	case errors.Is(err, eap.ErrDiscarded): // stale response: resend s.Pending()
//	case res.Status == eap.StatusContinue: // reply with EAP(out)
//	case res.Status == eap.StatusSuccess:  // reply with EAP(out); expect AUTH over res.MSK
//		// (or SK_pi/SK_pr when res.MSK is nil: MD5, GTC); res.User holds
//		// fixed addresses for the CP reply.
//	case res.Status == eap.StatusFailure:  // reply with EAP(out), then
//		// AUTHENTICATION_FAILED; log err (never contains secrets).
//	}
//	defer s.Close() // always: EAP-TLS holds a handshake goroutine
//
// The initiator mirrors it with a Peer: every EAP payload from the
// gateway goes through p.Process; a non-nil response goes back in the next
// IKE_AUTH request; at StatusSuccess res.MSK signs our AUTH.
//
// # Behaviour worth knowing
//
//   - Method choice: the server proposes Methods[0]; a peer that NAKs it
//     gets the first other configured method it listed (Windows NAKs TLS
//     and asks for MSCHAPv2). A NAK after a method started ends the
//     conversation.
//   - MSCHAPv2 user names: Windows sends "DOMAIN\user". The challenge hash
//     uses "user" (RFC 2759 section 8.2, as strongSwan does); the store is
//     asked for "DOMAIN\user" first, then "user" (LookupUser), so a
//     store can admit one domain or any. Result.Identity keeps the name as
//     sent; Result.User is the account found.
//   - Unknown users and wrong passwords look the same on the wire and
//     cost the same work; only the error returned to the caller tells
//     them apart. A failed MSCHAPv2 login gets EAP-Failure at once, as
//     strongSwan does (Windows and strongSwan clients do not answer an
//     R=0 Failure-Request); ServerConfig.MSCHAPv2FailureRequest sends
//     RFC 2759's "E=691 R=0 C=... V=3" Failure-Request first. Our peer
//     answers a Failure-Request with a Failure-Response.
//   - MSCHAPv2 MSK (64 octets): MasterReceiveKey||MasterSendKey (server
//     view; the client's send then receive key) || 32 zero octets, as
//     strongSwan, hostapd and Windows use it for IKEv2 AUTH.
//   - EAP-TLS: fragments of TLSFragmentSize (1000) with L/M flags and
//     acknowledgements; reassembly is bounded by TLSMaxMessage (64 KiB).
//     TLS 1.2 MSK = PRF(master, "client EAP encryption", randoms)[:64];
//     TLS 1.3 MSK = exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D,
//     128)[:64], and the server ends the handshake with the one-octet
//     0x00 protected success indication before EAP-Success (RFC 9190
//     section 2.5). No session resumption. TLS 1.2 without Extended Master
//     Secret (strongSwan 5.x clients) gets its keys from the master
//     secret crypto/tls reports through its key log, since Go's exporter
//     refuses such sessions.
//     The client certificate must chain to CertVerifier.Roots (or
//     TLS.ClientCAs) and name the EAP identity in its CN (what Windows
//     sends), an e-mail or a DNS SAN.
//   - Identifiers: the server discards responses that do not answer the
//     outstanding request (ErrDiscarded, RFC 3748 section 4.1) and offers
//     Pending() for retransmission; the peer answers a repeated request
//     with the identical cached response.
//   - Malformed responses end the conversation with EAP-Failure instead of
//     being silently dropped: inside IKE they arrive integrity-protected
//     from the authenticated IKE peer, so they come from a broken client,
//     not an attacker on the path, and a prompt failure beats a timeout.
//     The peer, which cannot send Failure, drops malformed requests.
//   - Limits: MaxRounds requests per conversation, identities up to 253
//     octets, every length checked before use.
//   - Secrets: Result and Packet render without key material or packet
//     data; passwords, NT hashes and MSKs never enter errors.
//
// # Goroutines
//
// crypto/tls has no event-driven API for TLS 1.2, so EAP-TLS runs the
// handshake on one internal goroutine in lock step with Process (it only
// runs between a Process call and its return). It ends when the handshake
// ends, when Close is called, or when an abandoned Server/Peer is
// garbage-collected.
package eap
