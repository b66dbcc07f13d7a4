// Package ipsec is the root of goipsec, a Go SDK for building IKE/IPsec VPN
// gateways and clients that the operating systems' native clients (Apple
// iOS/macOS, Windows, Android strongSwan, Linux NetworkManager, L2TP/IPsec)
// connect to without extra software.
//
// The root package holds only the vocabulary shared by the IKE engines
// (IKEv2 and IKEv1) and the embedder: identities, the address-pool and user-credential
// interfaces, and SA information snapshots. It imports nothing but the
// standard library.
//
// # Package map
//
// Dependencies point down this list; internal/depcheck enforces it, and
// internal/doccheck fails on an undocumented exported name or a public
// package without an Example.
//
//	ipsec (root)          shared vocabulary types; stdlib only
//	proposal              IANA transform registries, strongSwan-style keywords,
//	                      RFC 7296 proposal selection with mismatch explanations,
//	                      native client profiles and default proposal sets
//	internal/isakmp       generic ISAKMP header, payload-chain walker, byte
//	                      cursor and builder shared by IKEv1 and IKEv2 codecs
//	internal/isakmp/capture  IKE messages from pcap and pcapng files, for codec tests
//	internal/alg          transform IDs to constructors: AEADs, ciphers with
//	                      integrity, PRFs, key exchanges (MODP, ECP, X25519,
//	                      X448, ML-KEM)
//	internal/kdf          prf+, SKEYSEED and KEYMAT (IKEv2); SKEYID and KEYMAT (IKEv1)
//	internal/sockio       recvmmsg batch reader, packet info, socket buffers and
//	                      drop counts shared by transport and esp
//	internal/nftmatch     nftables rule expressions built match by match (as nft
//	                      generates them), shared by the example programs
//	esp                   SA and policy types, the DataPlane interface, the
//	                      userspace ESP engine (TUN + UDP), replay window
//	eap                   EAP method state machines, credential backends
//	radius                RADIUS client: EAP over RADIUS (an eap.Backend),
//	                      PAP/CHAP/MS-CHAPv2 checks, reply attributes,
//	                      accounting queue, failover; DAE server (RFC 5176)
//	xauth                 IKEv1 XAuth and Mode Config (with Cisco Unity
//	                      attributes) state machines over Attributes payloads
//	transport             the UDP sockets of IKE shared by every engine of a
//	                      process: routes messages by version, SPI and role
//	ike, ike/wire         IKEv2 engine and its message codec
//	ikev1, ikev1/wire     IKEv1 engine (Main, Aggressive, Quick Mode, DPD,
//	                      NAT-T, fragmentation) and its ISAKMP codec
//	xfrm                  esp.DataPlane on the Linux kernel's XFRM (netlink)
//	l2tp, ppp             L2TP v2 LNS (RFC 2661) and the server side of PPP
//	                      (LCP, PAP/CHAP/MS-CHAPv2, IPCP, IPV6CP) over bytes:
//	                      L2TP/IPsec in one process, no kernel PPP
//	internal/mschapv2     MS-CHAPv2 primitives shared by eap and ppp
//	esp/esptest, ike/iketest  test doubles
//	internal/testnet      test networks of Linux namespaces (veth, NAT router)
//	internal/testpki      throw-away CA, server and client certificates for tests
//	internal/strongswan   real strongSwan peers in namespaces: the interop harness
//	internal/vmclient     real VPN clients with kernel ESP in the test VM
//	internal/depcheck, internal/doccheck  tests of the layering and the docs
//	examples/...          runnable programs: responder, roadwarrior, proposalcheck
//
// README.md says what works today and what it was tested against.
package ipsec
