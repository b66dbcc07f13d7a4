package l2tp

import "errors"

// Server is an L2TP LNS (RFC 2661). It is safe for concurrent use.
type Server struct {
	conn PacketConn
	cfg  Config
}

// NewServer makes a server that sends through conn.
func NewServer(conn PacketConn, cfg Config) (*Server, error) {
	if conn == nil {
		return nil, errors.New("l2tp: NewServer: nil PacketConn")
	}
	return &Server{conn: conn, cfg: cfg}, nil
}

// HandleDatagram processes one L2TP datagram from a peer. b may be reused
// by the caller after the call returns.
func (s *Server) HandleDatagram(b []byte, from Peer) {}

// ClosePeer drops every tunnel of the peers with this Key (the IPsec SA
// with this ReqID died) without sending StopCCN.
func (s *Server) ClosePeer(key uint32) {}

// Close sends StopCCN to every tunnel, waits a bounded time for the
// acknowledgements and closes every session.
func (s *Server) Close() error { return nil }

// Tunnels returns a snapshot of every tunnel.
func (s *Server) Tunnels() []TunnelInfo { return nil }

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return Stats{} }

// Session is one L2TP session (one PPP link). *Session implements the
// Link interface of package ppp.
type Session struct{}

// WriteFrame sends one PPP frame starting at the protocol field; l2tp adds
// the FF 03 address and control bytes.
func (s *Session) WriteFrame(frame []byte) error { return errors.New("l2tp: not implemented") }

// Info returns a snapshot of the session.
func (s *Session) Info() SessionInfo { return SessionInfo{} }

// Close ends the session with CDN.
func (s *Session) Close() {}
