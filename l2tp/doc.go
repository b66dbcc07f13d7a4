// Package l2tp implements an L2TP version 2 LNS (RFC 2661), the server
// side of the L2TP/IPsec clients built into macOS, iOS, Windows and
// Android, without kernel PPP or xl2tpd.
//
// # Where it sits
//
//	ESP (transport, udp/1701) -> Server.HandleDatagram -> Session -> FrameHandler.HandleFrame (ppp)
//	ppp -> Session.WriteFrame -> PacketConn.WriteTo(peer) -> ESP
//
// The embedder hands every decrypted UDP/1701 datagram to
// Server.HandleDatagram with the Peer it came from (on the userspace data
// plane Peer.Key is the IPsec SA's ReqID, which keeps two clients behind
// one NAT apart) and sends what the server writes to its PacketConn. On
// the kernel data plane the kernel decrypts and UDPConn reads a socket
// bound to port 1701. When a session is established (ICCN) the server
// calls Config.NewSession, whose FrameHandler (a ppp.Session) gets the
// PPP frames; *Session is the PPP link back.
//
//	srv, err := l2tp.NewServer(l2tp.NewUDPConn(udp1701), l2tp.Config{
//		NewSession: func(s *l2tp.Session) (l2tp.FrameHandler, error) {
//			return ppp.NewSession(s, pppConfig)
//		},
//	})
//	go l2tp.NewUDPConn(udp1701).Serve(ctx, srv)
//	...
//	srv.ClosePeer(reqID) // the client's IPsec SA died
//	srv.Close()          // StopCCN to everyone
//
// # What the clients send and what we do
//
//	LAC                                LNS (this package)
//	SCCRQ (Host Name, Tunnel ID, RWS) ->
//	                                  <- SCCRP (our Tunnel ID, RWS, Challenge*, Challenge Response*)
//	SCCCN (Challenge Response*)       ->
//	                                  <- ZLB (at once: Android waits for it)
//	ICRQ (Session ID, Call Serial)    ->
//	                                  <- ICRP (our Session ID)
//	ICCN (Connect Speed, Framing)     ->
//	                                  <- ZLB (at once), Config.NewSession
//	data: PPP frames both ways; HELLO when idle; CDN and StopCCN either way
//
// Apple sends its Host Name with a trailing NUL (removed), no Bearer or
// Firmware AVPs and supports neither tunnel authentication nor hidden
// AVPs; Windows sends empty Bearer Capabilities, Firmware Revision and
// RWS 8 from port 1701; Android's mtpd sends Host Name "anonymous", RWS 1
// and a Challenge when an "L2TP secret" is set. Optional AVPs a client
// leaves out are not required; AVPs we do not use are not checked.
//
// Control messages are delivered reliably and in order (RFC 2661 section
// 5.8): our receive window (Config.ReceiveWindow) queues messages that
// arrive early, copies of accepted messages are dropped and acknowledged
// again, every accepted message is acknowledged (a ZLB unless a reply
// carries the ack); we send within the peer's window and retransmit after
// 1, 2, 4, 8, 8 ... seconds, and after Config.MaxRetransmits the tunnel
// is torn down. A retransmitted SCCRQ (same peer, same Assigned Tunnel
// ID) does not make a second tunnel.
//
// With Config.Secret, SCCRP carries a Challenge and SCCCN must answer it
// (MD5 over the message type, the secret and the challenge); a peer's
// Challenge is answered in SCCRP; a wrong or missing answer gets StopCCN
// result 4. Without a secret a peer that challenges is refused the same
// way. Hidden AVPs (section 4.3) are revealed with the secret; without
// one they are a *ParseError. With Config.HideAVPs we hide the AVPs of
// every message after SCCRP (xl2tpd cannot reveal hidden AVPs in SCCRP).
//
// An unknown AVP with the M bit clears the session (CDN) or the tunnel
// (StopCCN) with result 2, error 8 (RFC 2661 section 4.1); an unknown
// optional AVP is ignored; an unknown message type clears the tunnel when
// its Message Type AVP has the M bit. Every malformed header or AVP is a
// *ParseError (errors.As) with the offset, the AVP type and a sentinel
// (errors.Is: ErrShort, ErrLength, ErrHiddenNoSecret ...).
//
// Data messages are accepted with or without the L, S and O bits and
// with or without the FF 03 address and control bytes; we send them with
// FF 03 and with sequence numbers when the peer asked (Sequencing
// Required in ICCN) or sequences its own.
//
// # Limits
//
// Config.MaxTunnels (half-open ones included), MaxTunnelsPerPeer (per
// peer address and Key, so one client cannot take every tunnel),
// MaxSessions and MaxSessionsPerTunnel bound the tables; a tunnel waiting for SCCCN or a
// session waiting for ICCN is dropped after Config.HalfOpenTimeout; the
// out-of-order queue holds at most ReceiveWindow messages, the send queue
// 32. Datagrams from another address or Key than the tunnel's peer are
// dropped. The tunnel secret never appears in logs, errors or String.
//
// # Concurrency
//
// Everything is safe for concurrent use. One mutex guards the tables;
// datagrams are sent and NewSession, HandleFrame and Close are called
// after it is released, so a FrameHandler may call Session.WriteFrame
// from inside HandleFrame. Timers (retransmission, HELLO, half-open) run
// on their own goroutines; tests run them in testing/synctest bubbles.
package l2tp
