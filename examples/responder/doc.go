// Command responder is goipsec's reference VPN server: an IKEv2 gateway
// that the built-in clients of iOS, macOS, Windows and Android and
// strongSwan on Linux connect to with a user name and password
// (EAP-MSCHAPv2), a client certificate or a pre-shared key, over the
// userspace ESP data plane on a TUN device or the kernel's (XFRM). It is
// written against the public API only, so it doubles as the largest
// example of it.
//
// Start it as root (it keeps only CAP_NET_ADMIN once set up, see
// Privileges below); with no configuration it runs on the built-in one:
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
// (PEM files, or one PKCS#12 file with server.pkcs12 and
// server.pkcs12_password), users, CAs for client certificates
// (client_cas) and their revocation (client_certs), PSK peers (psk_peers:
// identity and key, inline or from a file; keys are never logged;
// no_virtual_ip for a peer that uses its own address instead of one from
// the pools: every other client must request a virtual IP and gets
// FAILED_CP_REQUIRED otherwise), pools, DNS servers, split-DNS domains,
// pushed subnets, per-group pools and subnets for EAP users (groups,
// users[].groups; applied by an ike Hooks.Authorize once EAP tells who
// the user is), proposals (strongSwan keywords), the data plane
// (dataplane: userspace or kernel), the TUN device, the Prometheus
// metrics address (metrics), the log level and a key log for Wireshark.
// Unknown keys and invalid values stop the start with one line naming
// the key, before any socket, device or state file exists. Flags
// override the file: -name, -listen, -pool, -dns, -masquerade,
// -isolate-clients, -tun, -dataplane, -metrics, -log-level, -user.
//
// IKEv1 clients are answered on the same ports, data plane and server
// identity (the ikev1: section; package ikev1 on the same transport,
// which routes each message by its version): Main Mode with a pre-shared
// key, chosen by the client's address ("*" for every address; without
// ikev1.psks a demo key in the state directory, file demo-ikev1-psk,
// printed on the start that created it), or with RSA/ECDSA signatures
// (the server certificate; client certificates of the client CAs, with
// the demo PKI those `export --auth cert` issues), then Quick Mode in
// tunnel mode between the server's side (ikev1.subnets, else subnets,
// else everything) and the clients' own inside networks
// (ikev1.client_subnets, routed into the tunnel, never inside the pools;
// without them a client's own outer address). Aggressive Mode is
// answered only with ikev1.allow_aggressive, by identity (e.g.
// keyid:GroupName), with a warning: its PSK hash can be attacked
// offline.
//
// L2TP/IPsec clients (the L2TP client built into macOS, iOS, Windows and
// Android; the l2tp: section, on by default) use the same Main Mode key
// (or certificates), then transport mode for udp/1701 from any client
// port; the L2TP tunnel and its PPP session run in this process (package
// l2tp and ppp: no xl2tpd, pppd or kernel PPP). The user logs in with
// MS-CHAPv2 (l2tp.auth: CHAP and PAP too) as one of users:, gets an
// address of the IPv4 pool and the dns: servers (IPCP), and its packets
// go through a TUN device of their own (l2tp.device, goipsec0l by
// default) with a /32 route per client. On the userspace data plane the
// decrypted datagrams go straight to the L2TP server with the IPsec SA
// they came through, so two clients behind one NAT, both on port 1701,
// work; on the kernel plane the L2TP server reads a udp/1701 socket that
// the nftables table lets only IPsec-protected datagrams reach, and of
// two such clients only one works (the kernel's policies cannot tell
// them apart). `export apple --type l2tp` and `export windows --type
// l2tp` write the profiles (the Windows script also shows the registry
// value Windows needs for a server behind a NAT); status lists each L2TP
// session (user, address, tunnel) under its IKEv1 SA.
//
// "Cisco IPSec" clients (Apple's built-in IKEv1 client, which proposes
// the XAuth phase 1 methods) are served from the same configuration as
// the IKEv2 ones (ikev1.xauth, on by default): after phase 1 (the group
// key, or the server certificate and a client certificate) the user logs
// in with XAuth against users: (the EAP users), then pulls a virtual
// address from the same pools (one address space: an IKEv1 and an IKEv2
// client never get the same address), the dns: servers and dns_domains
// (Mode Config; the server's subnets as split-include when set), and
// its tunnel runs from that address only. A group name on the client
// means Aggressive Mode with the group as KEY_ID: ikev1.group_name (with
// allow_aggressive, warned about at start) and ikev1.group_secret, else
// the demo key; a blank group name means Main Mode with the key of the
// client's address (psks, group_secret or the demo key). status shows
// such a client's user (XAuth: [...]) and virtual address, and
// `export apple --type ikev1` writes its profile.
//
// One server identity serves every kind of client: the responder has
// one configuration for EAP clients, one for certificate clients and
// one per PSK peer, all with the same local identity and certificate,
// and the library picks by how the client's IKE_AUTH authenticates (no
// AUTH payload: EAP; AUTH with a signature: certificate; AUTH with a
// shared key: PSK, selected by the peer's identity). Certificate
// clients are accepted when their certificate chains to client_cas, or,
// with the demo PKI, to the demo CA; their identity (IDi) must be in the
// certificate's SAN or be its subject DN (ID_DER_ASN1_DN, as Windows
// sends it with a machine certificate). The IKE_SA_INIT response then
// carries a certificate request (CERTREQ) naming exactly these CAs:
// Windows picks its machine certificate by it, and strongSwan clients
// on their default send_cert = ifasked send their certificate only when
// asked. Certificates export issues are valid for 800 days (at most
// 825). client_certs revokes them: a CRL signed by the client CA
// (client_certs.crl, PEM or DER; its signature is checked at start) and
// a file of revoked serial numbers (client_certs.revoked_serials), read
// again on SIGHUP (a file that fails then is logged, the previous lists
// stay); a revoked certificate gets AUTHENTICATION_FAILED and counts as
// an authentication failure. client_certs.require_user accepts only
// certificates whose identity is one of the configured users. The files
// must stay readable by the user the responder runs as.
//
// Client profiles: every start writes, for each user, into
// STATE/profiles (no passwords in them; the clients ask):
//
//   - USER.mobileconfig for iPhone, iPad and Mac: the CA as a trusted
//     root and an IKEv2 VPN with EAP, pinned to AES-256, SHA2-256 and DH
//     group 14, which the responder accepts;
//   - USER.ps1 for Windows: imports the CA, Add-VpnConnection (IKEv2,
//     EAP-MSCHAPv2) and Set-VpnConnectionIPsecConfiguration with
//     AES-256, SHA2-256 and group 14 (PFS2048 on rekeys), so Windows does
//     not fall back to MODP-1024;
//   - USER.sswan for the strongSwan Android app, with the CA embedded.
//
// To make one by hand, elsewhere, or an Apple profile with the password:
//
//	responder export apple|windows|android|linux --user demo [-state DIR] [-config FILE] [-name NAME] [-o FILE] [-include-password]
//
// Give export the same -config, -name and -listen as the server, so the
// profile names the same server. export linux writes a directory laid
// out like /etc/swanctl (conf.d/goipsec.conf, the CA in x509ca/) for
// strongSwan's swanctl: copy it over /etc/swanctl, then
// `swanctl --load-all && swanctl --initiate --child goipsec`.
//
// Certificate clients: with --auth cert, export issues the user a
// client certificate from the demo CA (RSA-2048, EKU clientAuth, CN and
// SAN = the user name: an e-mail address for names with @, a DNS name
// otherwise; kept in STATE/clients and reused) and delivers it as
// PKCS#12 with a random password that export prints (or, with
// -include-password, puts into the profile):
//
//	responder export apple --auth cert --user alice@example.com   # .mobileconfig with a com.apple.security.pkcs12 payload, no EAP
//	responder export apple --type ikev1 --user demo             # "Cisco IPSec": group name and secret, XAuth user (USER-ikev1.mobileconfig)
//	responder export apple --type l2tp --user demo              # L2TP/IPsec: the IKEv1 key and the PPP user (USER-l2tp.mobileconfig)
//	responder export windows --type l2tp --user demo            # L2TP/IPsec: Add-VpnConnection -TunnelType L2tp (USER-l2tp.ps1)
//	responder export windows --auth cert --user pc.example.com    # .ps1 importing the PKCS#12 as machine certificate
//	responder export android --auth cert --user phone.example.com  # .sswan of type ikev2-cert with the PKCS#12 embedded
//	responder export linux --auth cert --user laptop.example.com  # swanctl directory with certificate and key, plus USER.p12
//	responder export linux --auth psk --user box.example.com -config FILE  # swanctl directory for the psk_peers entry with that id
//
// The PKCS#12 for apple, windows and android uses 3DES and an
// HMAC-SHA-1 MAC, the format iOS, macOS, Windows and Android all import;
// the one beside the Linux configuration PBES2/AES-256 with an
// HMAC-SHA-256 MAC (see pkcs12.go). server.pkcs12 takes both, also the
// files OpenSSL 3 writes by default. The Windows script
// (run it elevated) imports the CA into LocalMachine\Root and the
// PKCS#12 into LocalMachine\My, asking for its password (or taking it
// as -Password, a SecureString; embedded only with -include-password),
// then creates the connection with Add-VpnConnection
// -AuthenticationMethod MachineCertificate and the EAP script's cipher
// suite. Windows authenticates as the certificate's subject DN
// (CN=NAME,O=goipsec responder), which export prints as the identity;
// the certificate carries the clientAuth EKU Windows requires. The Linux
// configuration has no send_cert: strongSwan's default answers the
// server's certificate request.
//
// The connected clients, like swanctl --list-sas (through a Unix socket
// in the state directory, mode 0600):
//
//	responder status [-state DIR] [-json]
//
// Ending a session (kicking a user, a revoked account): by the #N (#v1-N
// for IKEv1, whose sessions are numbered apart) that status shows, a session number that stays through rekeys and
// reauthentication, or every session of a user. The client is told with
// a Delete; its addresses go back to the pool. Users are read at start,
// and revocation lists apply to new logins: to revoke an account, remove
// it from the configuration (or revoke its certificate) and end its
// running sessions with -user.
//
//	responder terminate [-state DIR] ID | v1-ID | -user NAME
//
// Whether the server certificate suits every client (SAN holds the name
// and addresses, serverAuth and ikeIntermediate, RSA-2048 or more, at
// most 825 days, CN = server name for Windows), which is also logged at
// start:
//
//	responder lint [-config FILE] [-state DIR] [-name NAME] [-listen ADDRS] [-cert FILE]
//
// With a radius: section lint also sends every RADIUS server an
// Access-Request for a made-up user: a Reject counts as an answer, no
// valid answer (server down, blocked, or another shared secret) as a
// finding.
//
// # RADIUS
//
// The radius: section hands the passwords to the company's RADIUS
// servers: eap relays the IKEv2 clients' EAP conversations (the Identity
// round stays local), xauth and ppp check the Cisco IPSec and L2TP
// passwords (PAP, CHAP-MD5, MS-CHAPv2 with our challenge), accounting
// reports IKEv2 sessions (Start, Interim-Update, Stop with cumulative
// counters; Class echoed), and dae ends sessions on a Disconnect-Request.
// Framed-IP-Address is the client's address, Filter-Id and Class values
// are its groups, Session-Timeout ends an IKEv2 EAP session. Secrets come
// from files (secret_file) and are never logged.
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
// The table's forward chain passes the pools' traffic (from or to a
// pool) and, for each family whose forwarding the responder turned on
// itself (masquerade, kernel data plane), drops every other forwarded
// packet: the sysctl is host-wide, but the host becomes a router for the
// clients only. A host that forwarded before keeps forwarding what its
// own rules allow (nftables drops in any table are final, so the table
// can only add drops). With forward.isolate_clients: true (or
// -isolate-clients) traffic from one client to another is dropped too;
// each client still reaches the server and, with masquerade, the
// Internet. The table goes to the kernel through netlink
// (github.com/google/nftables) in one atomic batch, replacing one a
// killed run left behind; no nft command is needed (nft list table inet
// goipsec_responder shows it).
//
// Privileges: the responder starts as root, or as any user holding
// CAP_NET_ADMIN and CAP_NET_BIND_SERVICE. Once the sockets, the device,
// the nftables table and the control socket exist, every thread keeps
// CAP_NET_ADMIN only (effective and permitted; the bounding set too
// when it may change it) and sets no_new_privs, so a bug exploited
// afterwards acts neither as root nor with any other capability: no
// file access beyond the owner's, no setuid, no module loading, no new
// sockets on ports below 1024, no raw sockets. CAP_NET_ADMIN stays
// because the kernel data plane installs XFRM states and policies for
// every CHILD SA, and the stop removes the dummy device, the nftables
// table (through netlink) and restores the forwarding
// sysctls. A capability is a property of each thread, and Go runs
// goroutines on many: the drop is one system call on all threads
// (libcap's psx: syscall.AllThreadsSyscall without cgo, its own signal
// round with cgo), read back from /proc/self/task/*/status; the log
// says "privileges dropped". Nothing is re-bound or re-read after the
// start (no reload), so nothing else is needed.
//
// With user: NAME (or -user NAME) it also becomes that unprivileged
// user then (primary group only), keeping CAP_NET_ADMIN through the
// switch (PR_SET_KEEPCAPS) and in the ambient set. The state directory stays root's: everything in it was
// read or written before the switch, and a user that could write there
// could plant files for the next start as root; only the control socket
// stays behind at stop, and the next start replaces it. An unknown user
// fails the start with one line.
//
// goipsec-responder.service beside this file runs it under systemd as
// the unprivileged user goipsec with CAP_NET_ADMIN and
// CAP_NET_BIND_SERVICE as ambient capabilities (the responder drops
// the second once bound), NoNewPrivileges, ProtectSystem=strict, its
// state in StateDirectory=, /dev/net/tun as the only device, address
// families AF_INET, AF_INET6, AF_NETLINK and AF_UNIX, and the
// @system-service system calls; its comments say how to install it and
// why /proc/sys stays writable (the forwarding sysctls).
//
// Kernel data plane: with dataplane: kernel (or -dataplane kernel) the
// Linux kernel processes ESP through XFRM states and policies, and the
// NAT-T sockets hand ESP in UDP to it. There is no TUN device: the
// server's inside addresses sit on a dummy device (tun.name) and IP
// forwarding is turned on for the pools' families (restored at stop),
// confined to the pools' traffic by the nftables table.
// The start probes the kernel with one ESP state first; a kernel
// without ESP support (modules esp4/esp6), or a system other than
// Linux, fails the start with one line naming dataplane and the reason.
//
// Metrics: with metrics: 127.0.0.1:9100 (or -metrics), GET /metrics
// answers in the Prometheus text format: goipsec_ike_sas{state},
// goipsec_ike_sas_half_open, goipsec_child_sas{state},
// goipsec_esp_bytes{direction} and goipsec_esp_packets{direction} (of
// the CHILD SAs that exist now, each with the traffic of those it replaced
// by rekeying), goipsec_rekeys_total{scope}, goipsec_auth_failures_total,
// goipsec_alerts_total{kind}, goipsec_ike_sa_init_rejected_total,
// goipsec_ike_cookies_sent_total, goipsec_ike_packets_dropped_total,
// goipsec_pool_addresses_leased{pool} and goipsec_pool_addresses{pool}.
//
// SIGINT or SIGTERM stops it gracefully: every client gets a Delete, then
// the TUN device and its routes (or the kernel's states, policies and
// the dummy device), the nftables table and the forwarding settings are
// removed.
package main
