// Package xfrm implements esp.DataPlane on the Linux kernel's IPsec stack
// (XFRM) through netlink, so that the kernel encrypts and forwards the
// traffic of the CHILD SAs the IKE engines negotiate.
//
// A DataPlane installs one XFRM state per esp.SA and one XFRM policy per
// esp.Policy (plus a forward policy for inbound ones, which gateways need
// to route decrypted client traffic on), listens on the XFRM multicast
// groups for expire and acquire messages and turns them into esp.Events.
//
// # Mapping
//
//   - Algorithms: the proposal IDs map to the kernel's crypto names
//     (rfc4106(gcm(aes)), rfc4309(ccm(aes)), rfc7539esp(chacha20,poly1305),
//     rfc4543(gcm(aes)), cbc(aes), rfc3686(ctr(aes)), cbc(des3_ede),
//     ecb(cipher_null), cbc(camellia); hmac(sha256) with the RFC 4868
//     truncation of 128 bits, never the legacy 96 of XFRMA_ALG_AUTH).
//     Keys carry the AEAD salt or CTR nonce at their end, as esp.SA does.
//   - Anti-replay: windows above 32 packets and ESN use
//     XFRMA_REPLAY_ESN_VAL (bitmap mode), up to 4096 packets.
//   - UDP encapsulation (RFC 3948): UDP_ENCAP_ESPINUDP with the SA's ports.
//     The IKE socket on port 4500 must be switched with EnableUDPEncap
//     (DataPlane.UseTransport does it for an ike.Transport) so the kernel takes
//     the ESP packets out of it. Afterwards the socket
//     still receives IKE packets, WITH their four-byte non-ESP marker (the
//     kernel does not strip it), while NAT keepalives (0xFF) and ESP
//     packets never reach userspace: this was checked in the test VM
//     (TestKernelUDPEncapSocket).
//   - IKE sockets bypass IPsec: EnableUDPEncap (and BypassSocket, for the
//     port 500 socket) install per-socket allow policies. Without them a
//     transport-mode policy between the two hosts (L2TP/IPsec) catches the
//     IKE packets and the ESP-in-UDP packets themselves, whose policy
//     check runs on the socket before decapsulation: transport mode with
//     NAT-T then carries no traffic at all (seen in the VM before the fix).
//   - Tunnel-mode states carry XFRM_STATE_AF_UNSPEC, so IPv6 may run inside
//     an IPv4 tunnel and vice versa.
//   - Policy templates: an outbound policy sends through the newest
//     outbound SA of its ReqID. XFRM needs the outer addresses and mode of
//     that SA in the template, and esp.Policy does not carry them, so the
//     data plane fills them in from the SAs it holds and updates the
//     policies whenever the newest outbound SA of a ReqID changes (rekey,
//     UpdateSA for MOBIKE). Inbound and forward templates use wildcard
//     addresses and match any SA of the ReqID.
//   - UpdateSA: port and lifetime changes go through XFRM_MSG_UPDSA; a
//     change of outer address or of encapsulation, which XFRM cannot
//     update in place, replaces the state and carries over its sequence
//     numbers, replay bitmap and counters (XFRM_MSG_NEWAE), so the peer's
//     replay window keeps accepting our packets after a MOBIKE move.
//
// # With the IKE engine
//
// An embedder (a gateway) runs package ike on this data plane in four
// steps:
//
//  1. dp, err := xfrm.New(xfrm.WithReqIDRange(...), xfrm.WithRemoveStale(),
//     ...) and tr, err := ike.ListenUDP(ctx, ...), in either order.
//  2. dp.UseTransport(tr) switches the NAT-T sockets to ESP-in-UDP
//     decapsulation (EnableUDPEncap), exempts the IKE sockets from IPsec
//     policies and sends NAT keepalives on them. It must come before the
//     first client: ESP that reaches a socket not yet switched goes to
//     userspace and is lost.
//  3. ike.NewResponder(tr, ike.WithDataPlane(dp), ...), then Serve. No
//     ESP handler is set on the transport: the kernel takes ESP in UDP
//     out of the socket, and raw ESP never reaches it.
//  4. The client pools need a route (any device: a dummy device, the
//     uplink, or an xfrm interface with WithIfID or a ChildConfig.IfID):
//     the XFRM output policy applies to packets the kernel has routed.
//     dp.Close after Serve returned removes whatever the engine left.
//
// TestKernelIKEv2 runs exactly this in the test VM against our initiator
// on the userspace data plane: pings both ways with raw ESP and with ESP
// in UDP, CHILD SA rekeys (by time, and by the kernel's soft packet limit
// through its expire event), and no state or policy after Delete.
//
// # Ownership and coexistence
//
// The data plane only ever removes what it installed: Close deletes the
// states and policies in its registry. Several data planes (several
// tunnels, overlapping client address ranges) coexist when each gets its
// own XFRM interface ID (WithIfID, the modern way: route traffic into the
// matching xfrm interface) or mark (WithMark). WithReqIDRange reserves
// request IDs.
//
// Within one data plane, single SAs and policies may carry their own
// interface ID (esp.SA.IfID, esp.Policy.IfID; the IKE engine copies
// ike.ChildConfig.IfID into them), like strongSwan's per-connection
// if_id_in/if_id_out: a gateway whose site-to-site peers have identical
// traffic selectors (two sites behind 10.0.0.0/24) gives each peer an ID
// and an xfrm interface, and the kernel keeps their policies apart. The
// IDs must be declared with WithIfIDRange (AddSA and AddPolicy refuse
// others); 0 selects the default of WithIfID. The data plane's set of IDs
// is that default plus the range: expire and acquire events on them are
// its own, and with WithRemoveStale, New deletes states and policies left
// behind by a previous process that carry one of them, the same mark and
// a request ID of the range, so a restarted gateway starts clean without
// touching anything else on the machine. (Untagged state, if_id 0 without
// a mark or request ID range, is never taken for stale.)
// TestKernelPerSAIfID shows two such peers in the test VM: policies read
// back on their IDs, packets routed into each peer's xfrm interface leave
// through that peer's SA, and Close removes both.
//
// # Limits
//
// XFRM selectors are prefixes with one port or all ports. An address range
// that is not a prefix becomes several kernel policies (at most 64); a
// port range other than one port or all is rejected (ErrSelector) rather
// than widened.
// The mark belongs to the data plane, not to each SA (interface IDs can be
// per SA, see above). One ID is used in both directions: strongSwan's
// separate if_id_in and if_id_out are not modelled, and the embedder
// creates the xfrm interfaces and routes (the data plane does not), so
// %unique-style IDs per client need the embedder to pick IDs of the range.
// The 6.1 kernel sends no NAT keepalives: with WithNATKeepalive or
// UseTransport the data plane sends them on the IKE socket of the peer's
// address family for SAs with esp.SA.NATKeepalive; without it
// the flag is ignored. Tests of this package
// run inside a Debian kernel under qemu (GOIPSEC_VMTEST=1, see
// scripts/vmtest).
package xfrm
