package ikev1

import (
	"context"
	"errors"
	"net"
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

// localAddrFor picks our source address towards remote (as the IKEv2
// engine does): the transport's address of that family, or the one the
// routing table chooses (found by connecting a UDP socket, which sends
// nothing).
func (e *engine) localAddrFor(remote netip.Addr) netip.Addr {
	if la, ok := e.conn.(interface{ LocalAddrs() []netip.AddrPort }); ok {
		for _, a := range la.LocalAddrs() {
			if a.Addr().Is4() == remote.Is4() && !a.Addr().IsUnspecified() {
				return a.Addr()
			}
		}
	}
	if c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, transport.PortIKE))); err == nil {
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	}
	if remote.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
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

// Dial runs phase 1 with the peer at remote (port 500 when zero) and the
// Quick Modes of cfg's IPsec SAs, and returns when the first IPsec SA is
// installed. Our address is the transport's of remote's family or, when
// it listens on a wildcard, the one the routing table picks. A failure,
// or ctx ending first, deletes the SA. The shape is that of
// ike.Initiator.Dial.
func (i *Initiator) Dial(ctx context.Context, remote netip.AddrPort, cfg *PeerConfig) (*SA, error) {
	if cfg == nil {
		return nil, errors.New("ikev1: Dial: nil PeerConfig")
	}
	c := *cfg
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.XAuth != nil && c.XAuth.User == "" {
		return nil, errors.New("ikev1: Dial: XAuth needs a User (and Password)")
	}
	if remote.Port() == 0 {
		remote = netip.AddrPortFrom(remote.Addr(), transport.PortIKE)
	}
	ikePort, _ := i.e.conn.Ports()
	local := netip.AddrPortFrom(i.e.localAddrFor(remote.Addr()), ikePort)
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

// DNS returns the DNS servers and domains (the default domain first,
// then the split-DNS ones) the gateway gave us with Mode Config; none
// without XAuth/Mode Config.
func (s *SA) DNS() (servers []netip.Addr, domains []string) {
	x := s.cur()
	x.do(func() {
		if x.xa == nil || x.xa.got == nil {
			return
		}
		l := x.xa.got
		servers = append(servers, l.DNS...)
		if l.DefaultDomain != "" {
			domains = append(domains, l.DefaultDomain)
		}
		domains = append(domains, l.SplitDNS...)
	})
	return servers, domains
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
