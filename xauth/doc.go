// Package xauth implements what IKEv1 remote-access clients do after Phase
// 1, inside the Transaction exchange (exchange type 6): Extended
// Authentication (XAuth, draft-beaulieu-ike-xauth-02) of a user name and
// password, and Mode Config (draft-dukes-ike-mode-cfg-02) with the Cisco
// Unity attributes, both roles. This is what the iPhone's and Mac's
// built-in "Cisco IPSec" VPN (racoon) speaks.
//
// # The seam with the IKEv1 engine
//
// Like package eap, everything here is a state machine or a pure function
// over Attributes payloads: no I/O, no logging, no goroutines, no
// knowledge of ISAKMP SAs. A Message is the payload's content (CFG type,
// Identifier, attributes); the engine converts it to and from its codec's
// payload, or moves the payload body through Parse and Append. xauth does
// not import the engine's codec.
//
//	// Gateway, after Main or Aggressive Mode with an XAuth auth method:
//	s, err := xauth.NewServer(xauth.ServerConfig{Users: users})
//	req, err := s.Start()        // send in a Transaction exchange
//	out, res, err := s.Process(xauth.ContextWithNAS(ctx, nas), in)
//	switch {
//	case errors.Is(err, xauth.ErrDiscarded): // retransmission: resend s.Pending()
//	case res.Status == xauth.StatusContinue:  // send out (a retry REQUEST or the SET)
//	case res.Status == xauth.StatusSuccess:   // ACKed STATUS OK: res.User is the account
//	case res.Status == xauth.StatusFailure:   // delete the ISAKMP SA; log res.Err
//	}
//
//	// then the client's Mode Config REQUEST (pull):
//	r, err := xauth.ParseRequest(in)  // r.IP4: an address it wants back
//	reply, err := xauth.Reply(in, &xauth.Lease{IP4: leased, DNS: dns, ...})
//	// or push: set, err := xauth.Set(id, lease); xauth.CheckAck(set, ack)
//
// Our initiator mirrors it: a Client answers REQUESTs and ACKs the SET;
// NewRequest(id, AppleRequest...) asks for the configuration; ParseLease
// reads the REPLY or a pushed SET (answered with Ack).
//
// # Behaviour worth knowing
//
//   - The gateway's REQUEST carries XAUTH_TYPE generic as a basic
//     attribute, then empty XAUTH_USER_NAME and XAUTH_USER_PASSWORD and,
//     if configured, an XAUTH_MESSAGE. racoon echoes XAUTH_TYPE and
//     rejects it as a variable attribute; strongSwan leaves it out
//     (ServerConfig.OmitType).
//   - A wrong password gets a new REQUEST with a new Identifier and the
//     retry message, up to MaxAttempts (3) REQUESTs, then SET(XAUTH_STATUS
//     FAIL). Unknown users and wrong passwords look the same on the wire.
//     A backend outage fails at once.
//   - XAuth types other than generic (RADIUS-CHAP, OTP, S/KEY) and token
//     prompts (XAUTH_PASSCODE answers, XAUTH_NEXT_PIN, XAUTH_ANSWER) end
//     the exchange with an *UnsupportedError (errors.Is ErrUnsupported);
//     our Client answers XAUTH_PASSCODE with the password, as racoon does.
//   - Credentials: an ipsec.UserStore (names as sent, then without a
//     "DOMAIN\" prefix, the rule of eap.LookupUser) with a clear password,
//     compared in constant time; or a Backend (RADIUS later) that gets the
//     NAS information through the context. Passwords never appear in
//     errors, Result, Message or Attribute strings; the Server wipes its
//     copy after the check, the Client after the status.
//   - Mode Config REPLY: every attribute the client asked for that the
//     Lease has, in the order asked; flags (UNITY_SAVE_PASSWD, UNITY_PFS)
//     as basic attributes, as racoon's own gateway sends them. Lengths are
//     the ones racoon checks: 4 octets for IPv4 address, mask, DNS, NBNS
//     and ADDRESS_EXPIRY, 16 for IPv6 addresses, text without a
//     terminating NUL, UNITY_SPLIT_INCLUDE and UNITY_LOCAL_LAN as 14-octet
//     entries (address, mask, then zero protocol and ports, as strongSwan
//     sends them), nothing after the last attribute. racoon requires
//     INTERNAL_IP4_ADDRESS; Reply fails with ErrNoAddress rather than
//     send a reply without an address.
//   - UNITY_SPLITDNS_NAME and UNITY_BACKUP_SERVERS are one comma-separated
//     text each (racoon's own gateway joins split DNS names with commas).
//   - Parsing is bounded: at most MaxAttributes attributes per payload,
//     names and passwords within RADIUS limits, text from the gateway cut
//     and stripped of control characters before the caller sees it.
package xauth
