// Package ike is the IKEv2 engine (RFC 7296) of goipsec: a UDP transport
// shared with IKEv1 and ESP-in-UDP, a Responder for gateways and an
// Initiator for clients.
//
// # Start here
//
// A gateway: ListenUDP opens UDP 500 and 4500; NewResponder on that
// transport with WithPeers (StaticPeers of one or more PeerConfig: who we
// are, how each side authenticates, address pools, DNS, CHILD SA
// selectors) and WithDataPlane (esp.NewUserspace or the kernel's, package
// xfrm); then Serve until the context ends. Hooks report SAs coming up
// and down and Alerts explain refused peers; Responder.SAs and Stats are
// snapshots for status pages. See ExampleNewResponder.
//
// A client: NewInitiator on a transport (its own ListenUDP, or the
// gateway's for site-to-site), then Initiator.Dial with a PeerConfig; the
// returned SA follows rekeys and reports its virtual IPs and DNS servers.
// See ExampleInitiator_Dial.
//
// Errors: Dial and the hooks return errors that errors.Is classifies with
// this package's sentinels (ErrAuthFailed, ErrNoProposalChosen,
// ErrTSUnacceptable, ErrTimeout, ...) whichever side refused; a
// *NotifyError tells the notification and the side. SA.Err tells why a
// client's IKE SA ended: ErrPeerDeleted when the gateway deleted it, nil
// after our own Close.
//
// Tests: package ike/iketest runs a responder and an initiator over an
// in-memory network, with a recording data plane and a fixed random
// source; its Example is a complete handshake in a few lines.
//
// # Transport
//
// ListenUDP owns UDP 500 and 4500 on IPv4 and IPv6 and sorts what arrives:
// IKE messages to the engines registered on it, ESP in UDP (RFC 3948) to
// the data plane, NAT keepalives dropped. One transport serves every
// engine of a process: a Responder and any number of Initiators (a
// site-to-site gateway answers its peers and dials them on the same
// ports), and an IKEv1 engine through the PacketHandler interface. Its
// Router sends each message to the engine that claimed the message's SPI
// in its role (our SPIi in SAs we initiated, our SPIr in SAs we
// answered) and the requests that open an IKE SA to the responder of
// their version. The engines talk to any Conn, so ike/iketest can run
// them over an in-memory network, which routes the same way. Engines
// sharing a data plane share its CHILD SA ReqIDs, so their policies never
// mix.
//
// # Engine
//
// Each IKE SA is owned by its event loop: packets, commands and the expiry
// of its one timer (the earliest of retransmission, half-open timeout,
// DPD, rekey and the like) wait in a small mailbox, and a goroutine drains
// them, one at a time per SA, and exits when none is left. The plan in
// DESIGN.md section 3 had one goroutine per SA blocked in select; an idle
// SA then cost a goroutine stack (4-5 KB) and channel buffers allocated up
// front (6 KB for the inbox), which issue 20's 100,000 idle SAs per
// process cannot afford. Now an idle SA holds no goroutine, no timer unless
// a deadline is set (a time.AfterFunc, which needs no goroutine while it
// waits), no SK cipher (rebuilt from the keys for the next message), no
// fragment reassembler, and nothing of the initial exchanges once
// established; only the response to the peer's last request stays cached
// (RFC 7296 section 2.1). BenchmarkIdleSA measures what is left. Requests are
// answered from a cache when retransmitted (RFC 7296 section 2.1) and
// our own requests are retransmitted with exponential backoff (4 s, x1.8,
// 5 times by default, like strongSwan). Messages above the path MTU are
// split into RFC 7383 fragments when both sides support it.
//
// A responder screens IKE_SA_INIT requests before it keeps any state:
// proposal selection (with an operator-readable explanation on mismatch),
// INVALID_KE_PAYLOAD, and COOKIE (RFC 7296 section 2.6) once more than a
// threshold of SAs are half open. What an unauthenticated peer can cost it
// is bounded per source (an IPv4 address or IPv6 /64) as well: cookies
// from a few half-open SAs on and drops beyond a few more
// (WithSourceLimits, strongSwan's cookie_threshold_ip and
// block_threshold), drops for a while after repeated IKE_AUTH failures
// (WithAuthFailureLimit), a bounded queue and worker pool for the
// Diffie-Hellman work (WithKeyExchangeLimits), and rate-limited, size-bounded
// explanations and warnings for refused proposals; Stats counts the drops.
//
//	Initiator                                 Responder
//	HDR, SAi1, KEi, Ni, N(NAT_DETECTION_*)  -->
//	                                        <--  HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*)
//	    (NAT found: both move to port 4500; ESP is UDP-encapsulated)
//	HDR, SK {IDi, [CERT], [IDr], AUTH,
//	         [CP(REQUEST)], SAi2, TSi, TSr} -->
//	                                        <--  HDR, SK {IDr, [CERT], AUTH,
//	                                                      [CP(REPLY)], SAr2, TSi, TSr}
//
// With EAP (RFC 7296 section 2.16) the initiator leaves out AUTH, the
// responder answers with its certificate, AUTH and the first EAP request,
// and IKE_AUTH goes on until EAP succeeds; both AUTH payloads are then
// computed over the EAP MSK.
//
// Proposals are configured in one place per role. A responder's IKE
// proposals are WithProposals: IKE_SA_INIT is answered before the peer
// has named itself, so no PeerConfig can apply yet, and the same list
// governs every IKE SA rekey in both directions; a PeerConfig with
// Proposals is refused in IKE_AUTH (AUTHENTICATION_FAILED and an Alert
// naming the negotiated transforms it lacks) instead of being silently
// ignored. An initiator's IKE proposals are the PeerConfig it dials with,
// for IKE_SA_INIT and all rekeys; NewInitiator refuses WithProposals. ESP
// proposals are ChildConfig.Proposals in both roles, for the CHILD SA of
// IKE_AUTH, additional CHILD SAs and their rekeys.
//
// Authentication: pre-shared keys, certificates with RSA (PKCS#1 v1.5 with
// SHA-1, method 1, for peers that do not announce RFC 7427 hash
// algorithms, which is what Apple and Windows need), ECDSA (RFC 4754) and
// RFC 7427 digital signatures (RSA, RSA-PSS, ECDSA, Ed25519); EAP through
// package eap (MSCHAPv2, TLS, MD5, GTC, a RADIUS seam). Our initiator
// takes a gateway's certificate only with a server EKU (serverAuth or
// ikeIntermediate; RemoteAuth.AllowAnyEKU relaxes it) and, without a
// PeerConfig.RemoteID, only when it names the address dialed, so no other
// certificate of the same CA passes for the gateway.
// RemoteAuth.VerifyCertificate adds the embedder's checks (revocation,
// user lists) on the verified chain, in either role.
//
// CHILD SAs: traffic selectors are narrowed to what the configuration
// allows (a remote-access client to its virtual addresses); ESP proposals
// with and without PFS; transport mode on request; additional and rekeyed
// CHILD SAs through CREATE_CHILD_SA (make before break: the new SA pair
// takes over the policies, the old one lives until the peer deletes it);
// the IKE SA rekeyed by the peer moves its CHILD SAs to the new IKE SA.
// Everything is installed into an esp.DataPlane: the userspace engine or
// the kernel.
//
// # Lifecycle
//
// Rekeying (RFC 7296 sections 1.3.2, 1.3.3) in both roles, timed with
// 0-10 % jitter or driven by the data plane's soft expiry (bytes, packets)
// and forced with SA.Rekey / Responder.Rekey: CHILD SAs make before
// break (a rekey responder installs its new outbound SA only when the old
// one is deleted, and an SA being deleted stops sending at once, so no
// packet is lost), with or without PFS; the IKE SA moves its CHILD SAs,
// leases and the Dial handle to the new one. Simultaneous rekeys of a
// CHILD SA or the IKE SA (sections 2.8.1, 2.8.2) are settled by the nonce
// rule, including the case only one side notices; exchanges that would
// cross an IKE rekey get TEMPORARY_FAILURE and are retried after 2-6 s.
//
// Reauthentication (section 2.8.3): the client reauthenticates make before
// break (keeping its virtual address); a gateway never starts one (that
// breaks macOS) but announces PeerConfig.ReauthTime with AUTH_LIFETIME
// (RFC 4478) and deletes clients that let it pass. DPD probes only when
// neither IKE nor ESP arrived for DPDDelay. MOBIKE (RFC 4555) in both
// roles: SA.Migrate moves a client to a new address, a gateway follows
// UPDATE_SA_ADDRESSES after a COOKIE2 return routability check. REDIRECT
// (RFC 5685) at IKE_SA_INIT (WithRedirect), after authentication in
// IKE_AUTH (WithRedirectOnAuth) and for established SAs
// (Responder.Redirect); our initiator follows all three. INITIAL_CONTACT
// and PeerConfig.Unique decide what happens to older SAs of an identity;
// WithIdentityLimits (and PeerConfig.Limits) caps the IKE SAs and pool
// addresses one identity holds (default 4 each).
//
// A responder registers with its transport in NewResponder and holds what
// arrives until Serve, so a peer sending right after `go srv.Serve(ctx)`
// loses nothing; Ready tells when Serve accepts. Shutdown drains (no new
// IKE SAs, a Delete to every peer, waiting for the answers until its ctx
// ends), Close ends at once. Every IKE SA carries a SessionID
// (ipsec.IKESAInfo) that survives rekeys and reauthentication; a gateway
// ends a session with Responder.Terminate (by that ID),
// TerminateMatching, or TerminateUser after removing a revoked account
// from its user store; IKEDown then reports ErrTerminated.
//
// Additional CHILD SAs on the application's request: SA.AddChild (a
// gateway accepts at most 32 per IKE SA, then NO_ADDITIONAL_SAS).
// Gateways that accept certificate clients send CERTREQ
// (WithCertificateRequests), which Windows and strongSwan clients need.
//
// Hybrid post-quantum IKE SAs: IKE proposals with additional key exchanges
// ("aes256gcm16-prfsha384-x25519-ke1_mlkem768", RFC 9370) run one
// IKE_INTERMEDIATE exchange (RFC 9242) per additional method before
// IKE_AUTH, both roles, fragmented where large (ML-KEM-1024), with the
// keys updated after each and AUTH covering the IntAuth of those
// exchanges. Not yet: additional key exchanges in CREATE_CHILD_SA
// (IKE_FOLLOWUP_KE, RFC 9370 section 2.2.4): rekeys of the IKE and CHILD
// SAs leave ADDKE transforms out of what they offer and accept, so a
// peer that insists on them there gets NO_PROPOSAL_CHOSEN. IKEv1 is
// package ikev1.
//
// # Sessions and accounting
//
// Every IKE SA belongs to a session, named by ipsec.IKESAInfo.SessionID
// in every snapshot and hook: IKE and CHILD rekeys and our client's
// reauthentication keep it, so it is the handle for "this user's
// connection" (unique per engine, never reused). Traffic counters are
// read from the data plane before an ESP SA leaves it and carried over
// rekeys: ChildSAInfo counts a CHILD SA and those it replaced, IKESAInfo
// the whole session, ChildDown and IKEDown carry the final counters.
// Hooks.Rekeyed reports each rekey. WithAccounting reports each session's
// start, interim updates (from the SA's own timer, at most one per
// interval) and stop to an Accounting, e.g. a RADIUS accounting client;
// an eap.Backend finds the same SessionID and NAS-Port in its context
// (eap.NASFromContext). A gateway continues the session of a client
// that reauthenticates make before break with the virtual address it
// holds; without one, a reauthentication cannot be told from a second
// login and starts a new session there.
//
// # Logging and keys
//
// Silent by default; WithLogger gives one debug line per message in
// strongSwan's summary form ("IKE_AUTH request 1 [ IDi AUTH SA TSi TSr ]"),
// SA state changes at info level and peer-caused failures as warnings,
// with the keys ike_sa, peer, exchange, mid, child_sa, spi_in, spi_out,
// proposal, notify and err. No key, PSK or password is ever logged;
// WithKeyLogWriter writes Wireshark's decryption tables on purpose.
package ike

// Files, for contributors (not part of the package documentation). An
// IKE SA (ikeSA, sa.go) is made of parts, each a type with the code that
// touches only it; what spans parts stays on ikeSA. The exchanger is a
// named part (sa.ex) that the SA's code asks, never writes. An exchange
// in progress holds its state in its task: IKE_AUTH's authTask (sa.auth,
// only while IKE_AUTH runs), the requests we initiate (exchangeTask:
// newChildTask, childRekeyTask, ikeRekeyTask, eapRound; INFORMATIONAL's
// are closures over the SA). One line per file, what it owns:
//
//	doc.go             this package documentation and file map
//	engine.go          the engine: transport registration, SPIs, dispatch, the saTable, shutdown
//	transport.go       aliases of package transport's names (ListenUDP, Transport, Conn, Packet, Router, Role)
//	sa.go              ikeSA and its parts; loop (the event loop: mailbox, drain, one timer),
//	                   destroy, the snapshot
//	exchange.go        exchanger (message IDs, window, queue, cached responses, SK/SKF
//	                   sealing and opening, fragments, retransmission), exchangeTask, and
//	                   the dispatch of requests and responses to the exchanges
//	sk_crypter.go      skCrypter: an SK cipher built from its keys while the SA is busy
//	exchange_init.go   IKE_SA_INIT, both roles: initiation, negotiated (keys, nonces, features);
//	                   its message IDs, request in flight and keys set through the exchanger
//	exchange_auth.go   IKE_AUTH, both roles, as a task with its state (authTask: respond,
//	                   build, reply), and the configuration payload; its results on the
//	                   SA: peerAuth, leaseState
//	exchange_intermediate.go  IKE_INTERMEDIATE (RFC 9242) with the additional key
//	                   exchanges of RFC 9370 before IKE_AUTH, both roles: intermediate
//	                   (on the authTask: methods, IntAuth chains), intermediateTask
//	exchange_eap.go    EAP inside IKE_AUTH, both roles, on the authTask (eapState); the
//	                   initiator's later rounds as eapRound tasks
//	exchange_child.go  CREATE_CHILD_SA, both roles: the responder; the initiator's tasks
//	                   (newChildTask, childRekeyTask, ikeRekeyTask); its state on the SA
//	                   (childExchange); rekey collisions of CHILD and IKE SAs
//	informational.go   INFORMATIONAL, both roles, with its state (informational): liveness,
//	                   Deletes of CHILD SAs and of the IKE SA, the peer's requests
//	mobike.go          MOBIKE (RFC 4555): address updates, return routability
//	redirect.go        REDIRECT (RFC 5685) at IKE_SA_INIT, in IKE_AUTH and for established SAs
//	rekey.go           rekey timers, the old IKE SA's Delete, hand-over (renewal), Rekey
//	reauth.go          reauthentication, make before break, and AUTH_LIFETIME
//	child.go           CHILD SAs: selectors and narrowing, ESP selection, installing,
//	                   moving and removing them through their handle
//	child_plane.go     childPlane, a CHILD SA's handle on the data plane: its ESP SAs and
//	                   policies, their counters
//	dpevents.go        data plane events (soft and hard expiry) to the SA owning the CHILD SA
//	accounting.go      traffic counters over rekeys, the ledger of late expiries (held
//	                   ChildDowns), rekey events, the Accounting interface
//	session.go         sessions: SessionID, NAS-Port, a reauthenticating client's session
//	terminate.go       ending sessions (Responder.Terminate and friends)
//	natd.go            NAT detection (RFC 7296 section 2.23) and the path (addresses, NAT state)
//	preauth.go         pre-authentication limits per source, key exchange pool (admission)
//	cookie.go          COOKIE (RFC 7296 section 2.6): the secret, making and checking cookies
//	nonce.go           our nonces and the checks of the peer's
//	auth.go            AUTH payloads: PSK, RSA, ECDSA, RFC 7427 signatures; ErrAuthFailed
//	cert.go            verifying peer certificates, gateway EKU, identity in certificate
//	authorize.go       Hooks.Authorize: AuthRequest, AuthDecision, its goroutine, the
//	                   IKE_AUTH request waiting for it
//	identity_caps.go   per-identity limits (IdentityLimits): IKE SAs and leases an identity holds
//	proposals.go       IKE and ESP proposals between package proposal and ike/wire
//	intern.go          one shared immutable copy of each negotiated proposal and of each peer configuration of established responder SAs
//	secrets.go         wiping key material and secrets when an SA ends
//	keylog.go          WithKeyLogWriter: Wireshark's IKEv2 and ESP decryption tables
//	config.go          PeerConfig, ChildConfig, LocalAuth, RemoteAuth, PeerLookup, StaticPeers
//	hooks.go           Hooks, Alert, AlertKind
//	errors.go          NotifyError and the exported sentinel errors
//	options.go         every Option and the engine's configuration
//	options_role.go    options refused by the other role's constructor
//	responder.go       Responder and all its methods
//	initiator.go       Initiator and all its methods
//	handle.go          SA, the Dial handle, and all its methods
