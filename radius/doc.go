// Package radius is a RADIUS client for a VPN gateway (a NAS): EAP over
// RADIUS as an eap.Backend (RFC 3579), password checks for the methods
// where the gateway holds the challenge (PAP, CHAP-MD5, MS-CHAPv2 for
// XAuth and PPP), reply attributes decoded into a Reply, accounting
// from a bounded queue (RFC 2866, RFC 2869), and a Dynamic
// Authorization server for Disconnect- and CoA-Requests (RFC 5176).
//
// # Codec
//
// Parse, EncodeRequest and EncodeResponse are a small zero-reflection
// codec in the style of ike/wire: packets are bounded to 4096 octets
// (RFC 2865 section 3), every malformed packet is a *ParseError, and
// attribute values alias the parsed buffer. VerifyRequest and
// VerifyResponse check the Request/Response Authenticator and the
// Message-Authenticator (HMAC-MD5, RFC 3579 section 3.2). HidePassword,
// EncryptSalted and DecryptSalted are the User-Password, MS-MPPE key and
// Tunnel-Password ciphers (RFC 2865 section 5.2, RFC 2548 section
// 2.4.2, RFC 2868 section 3.5). SplitEAP and JoinEAP handle EAP-Message
// fragments.
//
// We wrote the codec instead of taking layeh.com/radius (v0.0.0-
// 20231213, its last release). That library has attribute dictionaries
// (generated code for RFC 2865/2866/2869/3162/5176 and Microsoft's
// vendor attributes), EAP-Message concatenation, MS-MPPE salt
// decryption and the 4096-octet bound; but its packet encoder neither
// computes nor checks Message-Authenticator (RFC 3579, and the
// Blast-RADIUS defence), its client talks to one server per call with
// a socket per exchange (no failover, dead-server hold-down or
// Identifier management) and there is no accounting queue or DAE
// duplicate cache. Those missing parts are most of this package; the
// dictionary part is a few dozen constants, so the dependency would buy
// little and add generated, reflection-free but allocation-heavy
// attribute code.
//
// # Client
//
// A Client talks to several servers in order. A server that does not
// answer within its Timeout after Retries retransmissions (the same
// packet, same Identifier and Authenticator) is marked dead for
// DeadTime and the next one is tried; after the hold-down it is tried
// again. One UDP socket per server holds up to 256 outstanding
// requests (the Identifier space); more wait for a free Identifier as
// long as their context allows. Responses are checked against the
// request (Identifier, source address and port, code, Response
// Authenticator, Message-Authenticator when present or required) and
// anything else is dropped and counted in Stats.
//
// Every Access-Request carries a Message-Authenticator and the NAS
// attributes: NAS-Identifier, NAS-IP-Address or NAS-IPv6-Address,
// NAS-Port, NAS-Port-Type Virtual, Called-Station-Id,
// Calling-Station-Id, Service-Type Framed-User, Framed-Protocol and
// Acct-Session-Id, from ClientConfig and from the eap.NAS an IKE engine
// attaches to the context (eap.NASFromContext).
//
// # EAP
//
// EAPBackend relays EAP conversations: EAP-Message in fragments of 253
// octets, State echoed, Access-Challenge to the next EAP-Request,
// Access-Accept to EAP-Success with the MSK = MS-MPPE-Recv-Key ||
// MS-MPPE-Send-Key (64 octets for IKEv2), Access-Reject to
// EAP-Failure. eap.Result carries the user's fixed addresses and groups
// in Result.User; the rest of the Access-Accept (Session-Timeout,
// Class, Framed-Pool, ...) reaches the embedder through
// EAPBackend.OnAccept.
//
// # Groups
//
// RADIUS has no standard group attribute. Reply.Groups returns the
// labels servers use for it in practice: every Filter-Id, then every
// printable Class value (FreeRADIUS and NPS policies commonly set one
// of them to a group name). An Authorize hook compares them with the
// names it knows; binary Class cookies are skipped.
//
// # Secrets
//
// Shared secrets, passwords and MPPE keys are ipsec.Secret values, which
// print as "<redacted>"; no log line, error or String method of this
// package contains one.
package radius
