// Command roadwarrior is goipsec's VPN client: an IKEv2 initiator that
// connects to a gateway (the responder example, strongSwan, or any IKEv2
// VPN server), or with -ike v1 to a "Cisco IPSec" gateway, puts the virtual IPv4 and IPv6 addresses it is given on a
// TUN device, routes through it and applies the gateway's DNS servers,
// over the userspace ESP data plane. It is written against the public API
// only.
//
// Run it as root:
//
//	roadwarrior -server vpn.example.com -auth eap -user alice -password-file pw -ca ca.pem
//	roadwarrior -server 192.0.2.1 -auth psk -psk-file psk -id client@example.com -remote-id vpn.example.com
//	roadwarrior -server vpn.example.com:500 -auth cert -cert me.pem -key me.key -ca ca.pem -split 10.0.0.0/8,fd00::/8
//	roadwarrior -server vpn.example.com -auth eap -user alice -password-file pw -kill-switch -allow-lan
//
// Authentication (-auth):
//   - psk: a pre-shared key from -psk-file (or -psk, which other users
//     can see in ps), used in both directions;
//   - cert: our certificate chain (-cert, PEM) and key (-key, PEM PKCS#8,
//     PKCS#1 or SEC 1); the gateway proves itself with a certificate
//     chaining to -ca (default: the system roots);
//   - eap: EAP-MSCHAPv2 with -user and the password in -password-file;
//     the gateway authenticates with a certificate, as for cert.
//
// Cisco IPSec (-ike v1, IKEv1 with XAuth and Mode Config, as Apple's
// built-in client and racoon; gateways: examples/responder's ikev1
// section, strongSwan, Cisco ASA and others):
//
//	roadwarrior -server vpn.example.com -ike v1 -auth psk -group Sales -group-secret-file group -user alice -password-file pw
//	roadwarrior -server 192.0.2.1 -ike v1 -auth psk -group-secret-file group -user alice -password-file pw
//	roadwarrior -server vpn.example.com -ike v1 -auth cert -cert me.pem -key me.key -ca ca.pem -user alice -password-file pw
//
// Phase 1 authenticates the group: with -group, Aggressive Mode with the
// group name as our identity (KEY_ID) and the group secret from
// -group-secret-file (its hash travels in the clear: prefer Main Mode
// when the gateway allows it); without -group, Main Mode with that secret
// (a blank group name); or, -auth cert, Main Mode with our certificate and
// the gateway's chaining to -ca. Then the gateway asks for the user's
// name and password (XAuth, -user and -password-file) and hands out one
// virtual IPv4 address (Mode Config), for which the IPsec SA is set up:
// to the networks the gateway lists (Cisco Unity split-include), which
// are then routed through the tunnel, or to everything (IPv4 only: IPv6
// keeps the normal routes, -kill-switch drops it). -split, -dpd,
// -kill-switch and the retransmission and backoff flags work as for
// IKEv2; roaming does not (IKEv1 has no MOBIKE: after a move, dead peer
// detection ends the SA and roadwarrior connects again). The gateway's
// DNS servers are not applied yet (the "DNS" of the tunnel-up line stays
// empty). A refused login (wrong password, group secret or certificate)
// or a gateway that is not -remote-id ends roadwarrior with status 1 and
// the reason, instead of trying the same credentials again.
//
// -id sets our identity in strongSwan's syntax (an address, user@host,
// a name, "CN=..." or "@#hex"; default: the certificate's first e-mail
// or DNS subjectAltName, else its subject DN, for cert; the user name for
// eap; for psk the address we connect from, kept for the SA's life even
// when it moves). -remote-id is the identity the gateway must prove (default:
// the -server host name when it is a name; for an address, a gateway
// authenticating by certificate may send any identity its certificate
// holds, but the certificate must contain the address, as an iPAddress or
// dNSName subjectAltName). A gateway certificate must also carry the
// serverAuth or ikeIntermediate extended key usage, so that no client
// certificate of the same CA passes for the gateway.
//
// Once the tunnel is up it prints one line:
//
//	tunnel up: gateway 192.0.2.1:4500, IKE aes256-sha256-modp2048, ESP aes256gcm16, virtual IPs [198.51.100.65 2001:db8:100:1::1], routes everything via goipsec-rw0, DNS [198.51.100.53 2001:db8:100::53]
//	tunnel down: ike: peer did not respond
//
// Routing: with -split only the listed prefixes go through the tunnel.
// Without it, a gateway that pushes subnets (INTERNAL_IP4/6_SUBNET, as
// the responder example's subnets setting does) gets exactly those, plus
// what narrower traffic selectors add: a split tunnel. Otherwise what the
// gateway's traffic selectors cover: for the usual
// 0.0.0.0/0 and ::/0 everything (0.0.0.0/1, 128.0.0.0/1, ::/1 and
// 8000::/1 on the TUN device, for each family with a virtual address, so
// the default routes stay untouched, plus a host route to the gateway
// over its current path so IKE and ESP do not loop into the tunnel), or
// the subnets a split-tunnel gateway narrowed them to. The DNS servers
// (and search domains) are printed, and written to -resolv FILE when
// given; the previous content comes back when the tunnel goes.
//
// Roaming: while the tunnel is up, roadwarrior watches the host's
// addresses and routes (netlink). When the address the SA uses goes away
// or the route to the gateway now starts from another local address (a
// new uplink: Wi-Fi to cable or cellular), it first moves the gateway's
// host route (full tunnel) to the best remaining uplink, then moves the
// SA to the new source address: with MOBIKE (RFC 4555; strongSwan and the
// responder example offer it) the IKE and CHILD SAs keep their keys and
// the gateway learns the new address; without it the SA is
// reauthenticated from there. After any reauthentication (this one, or
// one the gateway starts) virtual addresses, routes and DNS servers that
// changed are applied anew, with a new "tunnel up" line. It prints
//
//	tunnel moved: local 203.0.113.2 (was 192.0.2.130)
//
// When the SA ends (deleted by the gateway, or dead peer detection every
// -dpd, default 30 s, got no answer: -retransmit-timeout 4 s growing by
// 1.8 for -retransmit-tries 5, about 165 s as in strongSwan) or a
// connection attempt fails, roadwarrior removes the addresses, routes
// and DNS, prints "tunnel down: CAUSE" and tries
// again after 1 s, doubling the wait up to -max-backoff (60 s). SIGINT or
// SIGTERM deletes the SA (an IKE Delete to the gateway), removes the
// routes, the resolv.conf changes and the TUN device (-tun, default
// goipsec-rw0) and exits 0. Bad flags exit 2 with one line naming the
// flag; a failed set-up (no root, no TUN) or addresses and routes that
// cannot be applied exit 1.
//
// While the tunnel is down, traffic takes the normal routes again, so name
// lookups and the reconnection itself work; unless -kill-switch is given:
// then an nftables table of our own (inet goipsec_rw_ and the TUN name,
// goipsec_rw_goipsec_rw0 by default; output and forward hooks; set
// through netlink in one atomic batch, no nft command needed) drops everything that would leave outside the tunnel for as
// long as roadwarrior runs, also between reconnection attempts. Let out
// are loopback, the TUN device, IKE (UDP to the -server port, 500 and
// 4500) and ESP to the gateway's addresses, DHCP and IPv6 neighbour
// discovery, and with -allow-lan the private, link-local and multicast
// ranges (10/8, 172.16/12, 192.168/16, 169.254/16, 224/4, fc00::/7,
// fe80::/10, ff00::/8). A -server name is resolved before the table goes
// on; later lookups that the table blocks fall back to the last address.
// With a split tunnel the kill switch leaves only the tunnel's
// destinations (and -allow-lan) reachable. The table is removed on every
// exit, also after a failed start; one left by a killed run (SIGKILL) is
// replaced at the next start, or removed with `nft delete table inet
// goipsec_rw_goipsec_rw0`.
//
// Logs (log/slog text, level -log-level) go to standard error; they never
// contain keys or passwords.
//
// -pprof 127.0.0.1:6060 serves Go's runtime profiles (/debug/pprof/: CPU,
// heap, goroutines) on that loopback address, as the responder's
// metrics_pprof does: where the client's CPU goes while traffic flows
// (scripts/perf PPROF=1 saves both ends' CPU profiles of each tunnel run).
package main
