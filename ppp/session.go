package ppp

import (
	"errors"
	"sync"
)

// Errors returned by Session methods.
var (
	// ErrNotOpen is returned by WriteIP before the network control protocol
	// of the packet's family opened.
	ErrNotOpen = errors.New("ppp: network protocol not open")
	// ErrClosed is returned after the session ended.
	ErrClosed = errors.New("ppp: session closed")
)

// Session is the server side of one PPP link. Its methods are safe for
// concurrent use.
type Session struct {
	link Link
	cfg  Config
	mu   sync.Mutex
}

// NewSession starts the server side of a PPP link over link: it sends the
// first LCP Configure-Request.
func NewSession(link Link, cfg *Config) (*Session, error) {
	if link == nil || cfg == nil {
		return nil, errors.New("ppp: NewSession: nil link or config")
	}
	return &Session{link: link, cfg: *cfg}, nil
}

// HandleFrame processes one frame from the client, starting at the PPP
// protocol field. frame may be reused by the caller after return.
func (s *Session) HandleFrame(frame []byte) {}

// Close ends the session: LCP Terminate-Request, the pool lease released,
// OnDown called.
func (s *Session) Close() {}

// WriteIP sends an IPv4 or IPv6 packet to the client.
func (s *Session) WriteIP(pkt []byte) error { return ErrNotOpen }

// Info returns a snapshot of the session.
func (s *Session) Info() SessionInfo { return SessionInfo{} }
