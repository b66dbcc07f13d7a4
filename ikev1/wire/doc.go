// Package wire is the IKEv1 (ISAKMP, RFC 2408/2409) message codec: the
// header, every payload of RFC 2408 with the IPsec DOI of RFC 2407 (SA
// with nested proposals and transforms and their TV/TLV attributes, KE,
// ID, CERT, CR, HASH, SIG, NONCE, N, D, VID), NAT-D and NAT-OA in RFC 3947
// and draft numbering, the Attributes payload of the Transaction exchange
// (Mode Config, XAUTH) and the Cisco/racoon fragment payload.
//
// Parse decodes a message into typed payloads whose byte fields alias the
// input; an encrypted body stays in Message.Encrypted until the engine
// decrypts it and calls ParsePayloads. Message.Append encodes, computing
// Next and Length fields. Syntax errors are *ParseError values naming the
// byte offset and the payload; hostile input never panics. Which payload
// may appear in which exchange is the engine's business (package ikev1).
// Summary renders a message the way strongSwan logs it, so that logs of
// both sides read alike.
//
// Crypto encrypts and decrypts message bodies with the phase 1 cipher and
// the IVs of RFC 2409 Appendix B (phase 1 chain, one chain per message ID
// seeded from the last phase 1 block), moving an IV only when the engine
// confirms a message. SplitFragments and Reassembler implement IKE
// fragmentation as Cisco, racoon, Apple and strongSwan do it (payload 132).
// KnownVendorID names the vendor IDs real clients send.
//
// The package builds on internal/isakmp (header, chain walker, reader,
// builder) shared with the IKEv2 codec ike/wire, and imports only the
// standard library besides. Nothing here logs or prints key material.
package wire
