package ike

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/proposal"
)

// Initiator sets up IKE SAs to gateways (RFC 7296 section 1.2, the
// initiator side).
type Initiator struct {
	e *engine
}

// NewInitiator returns an initiator sending through conn (a *Transport,
// usually shared with a Responder).
func NewInitiator(conn Conn, opts ...Option) (*Initiator, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if conn == nil {
		return nil, errors.New("ike: NewInitiator: nil transport")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// One place for an initiator's IKE proposals: the PeerConfig it dials
	// with, used in IKE_SA_INIT and in every rekey of that IKE SA.
	if cfg.proposalsSet {
		return nil, errors.New("ike: WithProposals: an initiator offers the IKE proposals of the PeerConfig it dials (PeerConfig.Proposals); WithProposals is for NewResponder")
	}
	if cfg.preferPeer {
		return nil, errors.New("ike: WithPreferPeerProposals: an initiator follows PeerConfig.PreferPeerProposals; WithPreferPeerProposals is for NewResponder")
	}
	if err := cfg.checkInitiatorOptions(); err != nil {
		return nil, err
	}
	e := newEngine(conn, cfg, false)
	if err := e.register(e.receive); err != nil {
		return nil, err
	}
	return &Initiator{e: e}, nil
}

// Dial establishes an IKE SA and its first CHILD SA with the gateway at
// remote (port 500 unless given) and returns when IKE_AUTH completed, or
// with the error that prevented it (a *NotifyError from the gateway,
// ErrAuthFailed, ErrTimeout, ctx's error).
func (in *Initiator) Dial(ctx context.Context, remote netip.AddrPort, cfg *PeerConfig) (*SA, error) {
	if cfg == nil {
		return nil, errors.New("ike: Dial: nil PeerConfig")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Local.Method == AuthEAP && cfg.Remote.Method != AuthPubkey {
		return nil, fmt.Errorf("ike: PeerConfig %q: Remote.Method: with EAP the gateway must prove itself with a certificate", cfg.Name)
	}
	if remote.Port() == 0 {
		remote = netip.AddrPortFrom(remote.Addr(), PortIKE)
	}
	e := in.e
	ikePort, _ := e.conn.Ports()
	local := netip.AddrPortFrom(e.localAddrFor(remote.Addr()), ikePort)
	sa := newSA(e, true, local, remote)
	sa.setCfg(cfg)
	if sa.cfg.Proposals == nil {
		sa.cfg.Proposals = proposal.CompatibleIKE()
	}
	if sa.cfg.RemoteID.IsZero() && sa.cfg.Remote.Method == AuthPubkey {
		sa.cfg.gatewayID = ipsec.AddrID(remote.Addr().Unmap())
	}
	done := make(chan error, 1)
	sa.dialDone = done
	h := &SA{done: make(chan struct{})}
	sa.handle = h
	h.cur.Store(sa)
	if err := e.registerInitiator(sa); err != nil {
		return nil, err
	}
	sa.start(nil)
	if err := sa.do(ctx, func() { sa.startInit(nil) }); err != nil && !errors.Is(err, ErrClosed) {
		return nil, err
	}
	// A redirect after authentication hands the Dial to another IKE SA:
	// wait on the channel and return the handle, which move with it.
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return h, nil
	case <-ctx.Done():
		h.sa().closeAsync(true)
		return nil, ctx.Err()
	}
}

// localAddrFor picks our source address towards remote: the transport's
// address of that family, or, when it listens on a wildcard, the one the
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
	if c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, PortIKE))); err == nil {
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	}
	if remote.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// Close deletes every SA of the initiator and stops it.
func (in *Initiator) Close(ctx context.Context) error { return in.e.shutdown(ctx) }
