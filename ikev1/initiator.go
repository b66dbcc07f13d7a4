package ikev1

import (
	"context"
	"errors"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/transport"
)

// Initiator starts IKEv1 SAs: phase 1 (Main or Aggressive Mode) and a
// Quick Mode for the configuration's first IPsec SA.
type Initiator struct {
	e *engine
}

// NewInitiator registers an initiator on conn.
func NewInitiator(conn transport.Conn, opts ...Option) (*Initiator, error) {
	e, err := newEngine(conn, false, opts)
	if err != nil {
		return nil, err
	}
	return &Initiator{e: e}, nil
}

// Close deletes the initiator's SAs and unregisters it.
func (i *Initiator) Close() error {
	i.e.close()
	return nil
}

// SA is a handle on an ISAKMP SA we initiated.
type SA struct {
	sa *isakmpSA
}

// Dial runs phase 1 with the peer at remote (from our address local; its
// port selects the socket: the IKE port, normally) and the Quick Mode of
// cfg's first IPsec SA, and returns when the IPsec SA is installed. A
// failure, or ctx ending first, deletes the SA.
func (i *Initiator) Dial(ctx context.Context, local, remote netip.AddrPort, cfg *PeerConfig) (*SA, error) {
	if cfg == nil {
		return nil, errors.New("ikev1: Dial: nil PeerConfig")
	}
	c := *cfg
	if err := c.validate(); err != nil {
		return nil, err
	}
	sa, err := i.e.newInitiatorSA(local, remote, &c)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	sa.waiters = append(sa.waiters, done)
	i.e.start(sa)
	select {
	case err := <-done:
		if err != nil {
			sa.closeAndWait()
			return nil, err
		}
		return &SA{sa: sa}, nil
	case <-ctx.Done():
		sa.closeAndWait()
		return nil, ctx.Err()
	}
}

// cur is the ISAKMP SA the handle stands for now: the newest one of a
// chain of re-authentications.
func (s *SA) cur() *isakmpSA {
	x := s.sa
	for n := x.next.Load(); n != nil; n = x.next.Load() {
		x = n
	}
	return x
}

// Info returns a snapshot of the SA (after a re-authentication, of the
// ISAKMP SA that replaced it: the SessionID stays), with the data plane's
// current counters. It waits for the SA's goroutine, so a hook must not
// call it (hooks get the snapshot as their argument).
func (s *SA) Info() ipsec.IKESAInfo {
	x := s.cur()
	// The published snapshot dates from the SA's last event; the
	// counters change without one. An ended SA keeps its final one.
	x.do(x.publish)
	in := x.snap.Load()
	if in == nil {
		return ipsec.IKESAInfo{}
	}
	return *in
}

// Done is closed when the SA has ended.
func (s *SA) Done() <-chan struct{} { return s.cur().done }

// Err is why the SA ended (ErrPeerDeleted, ErrDeadPeer, ErrExpired, ...),
// nil while it lives or after Close.
func (s *SA) Err() error {
	x := s.cur()
	select {
	case <-x.done:
		return x.endErr
	default:
		return nil
	}
}

// Close deletes the SA and its IPsec SAs, telling the peer.
func (s *SA) Close() error {
	s.cur().closeAndWait()
	return nil
}
