// Command responder is goipsec's reference VPN server: an IKEv2 gateway
// that the built-in clients of iOS, macOS, Windows and Android connect to
// with a user name and password (EAP-MSCHAPv2), over the userspace ESP
// data plane on a TUN device. It is written against the public API only,
// so it doubles as the largest example of it.
//
// Start it as root; with no configuration it runs on the built-in one:
//
//	go run ./examples/responder                # as root
//
// On first start it creates, in its state directory (-state, default
// /var/lib/goipsec-responder), a demo CA and a server certificate that
// every native client accepts (RSA-2048; the server name and addresses in
// the SAN both as iPAddress and dNSName; EKUs serverAuth and
// ikeIntermediate; 800 days, below Apple's 825-day limit), and a demo
// user "demo" with a random password (file demo-user, mode 0600). It
// then prints how to connect: the server address, the user and password
// (on the first start; later starts point to the file) and the CA
// certificate to install on the client (ca.pem).
//
// The server name is -name, or the host name when it is a fully
// qualified DNS name, or the first non-loopback address. Clients get
// addresses from an IPv4 and an IPv6 pool (10.10.10.0/24 and
// fd0a:7e57:10::/112 by default; the first address of each is the
// server's inside address on the TUN device) and the DNS servers of the
// configuration. The IKE proposals accept every built-in client, which
// includes MODP-1024 for Windows' defaults; a warning says so at start.
//
// Everything is configurable in a YAML file:
//
//	responder init -state DIR          # writes DIR/responder.yaml (commented) and the demo PKI
//	responder -config DIR/responder.yaml -state DIR
//
// The file covers the listen addresses, server name, certificate and key
// (PEM), users, pools, DNS servers, split-DNS domains, pushed subnets,
// proposals (strongSwan keywords), the TUN device, the log level and a
// key log for Wireshark. Unknown keys and invalid values stop the start
// with one line naming the key, before any socket or device exists.
// Flags override the file: -name, -listen, -pool, -dns, -masquerade, -tun,
// -log-level.
//
// Client profiles: every start writes, for each user, into
// STATE/profiles (no passwords in them; the clients ask):
//
//   - USER.mobileconfig for iPhone, iPad and Mac: the CA as a trusted
//     root and an IKEv2 VPN with EAP, pinned to AES-256, SHA2-256 and DH
//     group 14, which the responder accepts;
//   - USER.ps1 for Windows: imports the CA, Add-VpnConnection (IKEv2,
//     EAP-MSCHAPv2) and Set-VpnConnectionIPsecConfiguration with the same
//     suite, so Windows does not fall back to MODP-1024;
//   - USER.sswan for the strongSwan Android app, with the CA embedded.
//
// To make one by hand, elsewhere, or an Apple profile with the password:
//
//	responder export apple|windows|android --user demo [-state DIR] [-config FILE] [-name NAME] [-o FILE] [-include-password]
//
// Give export the same -config, -name and -listen as the server, so the
// profile names the same server.
//
// The connected clients, like swanctl --list-sas (through a Unix socket
// in the state directory, mode 0600):
//
//	responder status [-state DIR] [-json]
//
// Whether the server certificate suits every client (SAN holds the name
// and addresses, serverAuth and ikeIntermediate, RSA-2048 or more, at
// most 825 days, CN = server name for Windows), which is also logged at
// start:
//
//	responder lint [-config FILE] [-state DIR] [-name NAME] [-listen ADDRS] [-cert FILE]
//
// Clients reach the server's inside addresses. To let them reach the
// Internet through the server, name the uplink:
//
//	go run ./examples/responder -masquerade eth0
//
// (forward.masquerade in the file): the responder turns on IP
// forwarding and masquerades the pools on eth0 in an nftables table of
// its own ("goipsec_responder", with TCP MSS clamping), and restores
// both when it stops. Without it, a warning at start says when the
// kernel does not forward.
//
// SIGINT or SIGTERM stops it gracefully: every client gets a Delete, then
// the TUN device and its routes, the nftables table and the forwarding
// settings are removed.
package main
