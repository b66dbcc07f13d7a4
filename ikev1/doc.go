// Package ikev1 is the IKEv1 engine (ISAKMP, RFC 2408 and 2409): the
// protocol of Apple's "Cisco IPSec" client and of every L2TP/IPsec client
// (macOS, iOS, Windows, Android).
//
// # Start here
//
// A Responder answers Main Mode and Aggressive Mode (pre-shared keys, RSA
// and ECDSA signatures with X.509 certificates), then Quick Mode for the
// IPsec SAs, which go into any esp.DataPlane (the userspace engine or the
// Linux kernel through package xfrm). An Initiator runs the same
// exchanges from the other side. Both share the UDP ports 500 and 4500
// with the IKEv2 engines of package ike through package transport, which
// routes each message by its version:
//
//	tr, _ := transport.ListenUDP(ctx)            // or ike.ListenUDP
//	v2, _ := ike.NewResponder(tr, ...)           // IKEv2 clients
//	v1, _ := ikev1.NewResponder(tr,              // IKEv1 clients, same ports
//		ikev1.WithPeers(lookup), ikev1.WithDataPlane(dp))
//
// What the engine does:
//   - phase 1: Main Mode (identities encrypted; with a PSK the key is
//     looked up by the peer's address, PeerQuery has no identity yet) and
//     Aggressive Mode (refused unless PeerConfig.AllowAggressive: with a
//     PSK its hash can be attacked offline, so it is logged and raised as
//     AlertWeakMode), lifetimes, INITIAL-CONTACT, the vendor IDs of NAT-T
//     (RFC 3947 and drafts 02/03), DPD and IKE fragmentation;
//   - NAT traversal: NAT-D in the RFC or the drafts' numbering, the move
//     to port 4500, UDP-encapsulated modes 3/4 or 61443/61444, NAT-OA;
//   - Quick Mode: tunnel and transport mode, PFS, lifetimes with
//     RESPONDER-LIFETIME, ID payloads as selectors (subnets, ranges,
//     protocol and port such as udp/1701), several per ISAKMP SA, the
//     commit bit answered with CONNECTED;
//   - Informational: Delete of ISAKMP and IPsec SAs, DPD (RFC 3706),
//     error notifications; retransmission of our last message;
//   - hooks and snapshots with the types of the IKEv2 engine
//     (ipsec.IKESAInfo with Version 1), so one status page or accounting
//     backend serves both.
//
// XAuth and Mode Config (the Transaction exchange) are not part of this
// package yet.
package ikev1
