package l2tp

import (
	"io"
	"log/slog"
	"net/netip"
	"time"

	ipsec "github.com/goipsec/ipsec"
)

// Peer is where a datagram came from or goes to.
type Peer struct {
	// Addr is the peer's address and port as we see them (behind a NAT:
	// the NAT's public address).
	Addr netip.AddrPort
	// Local is our address and port (port 1701).
	Local netip.AddrPort
	// Key separates peers that share Addr: the IPsec SA's ReqID on the
	// userspace data plane (two clients behind one NAT, both on port
	// 1701); 0 over plain UDP.
	Key uint32
}

// PacketConn sends L2TP datagrams. *UDPConn implements it for plain UDP;
// the userspace ESP data plane implements it with esp.Userspace.SendUDP.
type PacketConn interface {
	// WriteTo sends one datagram. b is not retained after the call.
	WriteTo(b []byte, to Peer) error
}

// FrameHandler receives the PPP frames of one established session.
// *ppp.Session implements it.
type FrameHandler interface {
	// HandleFrame is one PPP frame starting at the PPP protocol field
	// (l2tp strips the FF 03 address and control bytes). frame may be
	// reused by the caller after the call returns.
	HandleFrame(frame []byte)
	// Close says the session ended (CDN, StopCCN, peer gone, server
	// closed). It is called once.
	Close()
}

// Config configures a Server. The zero value of every field has a useful
// default (see defaults.go).
type Config struct {
	// HostName is sent in the Host Name AVP of SCCRP (default "goipsec").
	HostName string
	// Secret is the tunnel secret: tunnel authentication (RFC 2661
	// section 5.1.1) and hidden AVPs (section 4.3). Empty: no tunnel
	// authentication; a peer that sends a Challenge is refused and hidden
	// AVPs are a parse error.
	Secret ipsec.Secret
	// HideAVPs hides the AVPs we send that may be hidden (needs Secret).
	HideAVPs bool
	// ReceiveWindow is our Receive Window Size AVP: how many control
	// messages we queue out of order (default 8).
	ReceiveWindow uint16
	// HelloInterval is how long a tunnel may be idle before we send HELLO
	// (default 60 s).
	HelloInterval time.Duration
	// RetransmitTimeout is the first retransmission timeout of a control
	// message; it doubles up to 8 s (default 1 s).
	RetransmitTimeout time.Duration
	// MaxRetransmits is how many times a control message is retransmitted
	// before the tunnel is torn down (default 5).
	MaxRetransmits int
	// MaxTunnels limits the number of tunnels, half-open ones included
	// (default 1024).
	MaxTunnels int
	// MaxTunnelsPerPeer limits the tunnels of one peer address (any
	// port) and Key, so one client cannot take every tunnel (default 16;
	// clients behind one NAT on the kernel data plane share an address).
	MaxTunnelsPerPeer int
	// MaxSessions limits the number of sessions of the whole server
	// (default 1024).
	MaxSessions int
	// MaxSessionsPerTunnel limits the sessions of one tunnel (default 8).
	MaxSessionsPerTunnel int
	// HalfOpenTimeout bounds how long a tunnel (or session) may wait for
	// SCCCN (ICCN) (default 30 s).
	HalfOpenTimeout time.Duration
	// NewSession is called when a session is established (ICCN), without
	// locks held, so it may call s.WriteFrame. An error ends the session
	// with CDN. Nil: every session is refused.
	NewSession func(s *Session) (FrameHandler, error)
	// Logger receives tunnel and session events (default: discard).
	Logger *slog.Logger
	// Rand is the source of tunnel and session IDs, challenges and
	// Random Vectors (default crypto/rand).
	Rand io.Reader
}

// TunnelInfo is a snapshot of one tunnel (control connection).
type TunnelInfo struct {
	// Peer is the tunnel's peer.
	Peer Peer
	// LocalID is our Assigned Tunnel ID, RemoteID the peer's.
	LocalID, RemoteID uint16
	// HostName and Vendor are the peer's Host Name and Vendor Name AVPs
	// (a trailing NUL removed).
	HostName, Vendor string
	// State is "wait-ctl-conn", "established" or "closing".
	State string
	// PeerWindow is the peer's Receive Window Size.
	PeerWindow uint16
	// Authenticated says tunnel authentication succeeded.
	Authenticated bool
	// Created is when the SCCRQ arrived.
	Created time.Time
	// Sessions are the tunnel's sessions.
	Sessions []SessionInfo
}

// SessionInfo is a snapshot of one session.
type SessionInfo struct {
	// Peer is the tunnel's peer.
	Peer Peer
	// TunnelID and RemoteTunnelID are our and the peer's tunnel IDs.
	TunnelID, RemoteTunnelID uint16
	// LocalID is our Assigned Session ID, RemoteID the peer's.
	LocalID, RemoteID uint16
	// HostName is the tunnel peer's Host Name.
	HostName string
	// CallSerial is the peer's Call Serial Number.
	CallSerial uint32
	// TxConnectSpeed is the peer's (Tx) Connect Speed in bit/s.
	TxConnectSpeed uint32
	// Sequencing says data messages carry sequence numbers.
	Sequencing bool
	// State is "wait-connect", "established" or "closed".
	State string
	// FramesIn, FramesOut, BytesIn and BytesOut count PPP frames.
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// Established is when ICCN arrived.
	Established time.Time
}

// Stats are the server's counters.
type Stats struct {
	// Tunnels and Sessions are the current numbers.
	Tunnels, Sessions int
	// TunnelsOpened and SessionsOpened count established ones.
	TunnelsOpened, SessionsOpened uint64
	// Datagrams counts what HandleDatagram got; Malformed those that did
	// not parse; Dropped those parsed but dropped (unknown tunnel or
	// session, out of window, limits, wrong peer).
	Datagrams, Malformed, Dropped uint64
	// Retransmits counts control messages sent again; TimedOut the
	// tunnels torn down because the peer stopped acknowledging.
	Retransmits, TimedOut uint64
	// Refused counts tunnels and sessions refused (limits, authentication).
	Refused uint64
}
