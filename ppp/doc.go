// Package ppp is the server side of one PPP link (RFC 1661) as an L2TP
// network server runs it: LCP, authentication (PAP, CHAP-MD5, MS-CHAPv2),
// IPCP with DNS (RFC 1332, RFC 1877) and IPV6CP (RFC 5072), over frames that
// start at the PPP protocol field (the L2TP data channel strips the HDLC
// address and control octets FF 03).
//
// A Session needs no kernel PPP: the IP packets the client sends are handed
// to Config.DeliverIP, and Session.WriteIP sends packets to the client.
// Frames come in through Session.HandleFrame and go out through Link.
//
// The automaton follows RFC 1661 section 4 for every control protocol (LCP,
// IPCP, IPV6CP): the states Initial to Opened, the Restart timer with
// Max-Configure and Max-Terminate, Configure-Nak loops bounded by
// Max-Failure. Nothing but LCP and the authentication protocol is accepted
// before authentication succeeded; IP packets only after the network
// control protocol of their family opened, and only from the address the
// client was given.
//
// CCP (MPPE, RFC 1962 and RFC 3078) is declined with an LCP
// Protocol-Reject, which is what pppd does as a server with "noccp" (the
// configuration every L2TP/IPsec guide uses): noccp clears CCP's
// enabled_flag, and pppd's get_input answers frames of a disabled protocol
// with lcp_sprotrej once the authentication phase is over (before it, they
// are discarded; so are they here). Clients that merely offer MPPE
// (Android's pppd without noccp, Windows, macOS) then continue without it,
// which is safe because IPsec already encrypts the L2TP traffic; a client
// configured to require MPPE gives up with its own clean error ("MPPE
// required but peer negotiation failed"). A Configure-Reject of every CCP
// option was the alternative; it keeps CCP in the negotiation for nothing
// and is not what the servers these clients are tested against do.
//
// Apple's private protocol ACSCP (0x8235) gets a Protocol-Reject like any
// protocol this package does not know, and the link stays up.
//
// Secrets (passwords, NT hashes, challenges' answers) never appear in logs,
// errors or String output.
package ppp
