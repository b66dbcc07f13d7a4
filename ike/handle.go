package ike

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/goipsec/ipsec"
)

// SA is a handle on an IKE SA we initiated. It follows the SA through
// rekeys: after an IKE rekey it refers to the new IKE SA.
type SA struct {
	cur  atomic.Pointer[ikeSA]
	done chan struct{}
	err  error // why it ended; written before done is closed
}

func (s *SA) sa() *ikeSA { return s.cur.Load() }

// Info returns a snapshot of the SA.
func (s *SA) Info() ipsec.IKESAInfo {
	var info ipsec.IKESAInfo
	sa := s.sa()
	if err := sa.do(context.Background(), func() { info = sa.info() }); err != nil {
		return ipsec.IKESAInfo{Version: 2, State: stateDead.String(), SPIi: sa.spii, SPIr: sa.spir}
	}
	return info
}

// DNS returns the DNS servers and search domains the gateway sent.
func (s *SA) DNS() (servers []netip.Addr, domains []string) {
	sa := s.sa()
	sa.do(context.Background(), func() {
		servers = slices.Clone(sa.dns)
		domains = slices.Clone(sa.dnsDomains)
	})
	return servers, domains
}

// Subnets returns the networks the gateway announced as reachable through
// it (INTERNAL_IP4_SUBNET and INTERNAL_IP6_SUBNET, RFC 7296 section
// 3.15.1): a client routes them into the tunnel for a split tunnel.
func (s *SA) Subnets() []netip.Prefix {
	sa := s.sa()
	var out []netip.Prefix
	sa.do(context.Background(), func() { out = slices.Clone(sa.subnets) })
	return out
}

// Done is closed when the SA is gone (not when it is rekeyed).
func (s *SA) Done() <-chan struct{} { return s.done }

// Err returns why the SA ended: nil while it is up and after our own
// Close, ErrPeerDeleted when the gateway deleted it, ErrTimeout when the
// gateway stopped answering, ErrClosed when the Initiator was closed.
func (s *SA) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close deletes the SA, telling the gateway, and waits until it is gone.
func (s *SA) Close(ctx context.Context) error {
	for {
		sa := s.sa()
		if err := sa.do(ctx, func() { sa.startDelete(true, nil) }); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-s.done:
			return nil
		case <-sa.done:
			// That IKE SA was rekeyed away meanwhile: delete the new one.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AddChild negotiates an additional CHILD SA under this IKE SA with
// CREATE_CHILD_SA (RFC 7296 section 1.3.1), for other traffic selectors
// (a second subnet, a host-to-host transport SA) or other proposals; PFS
// applies when cc.Proposals carry a KE method. The zero cc.LocalTS means
// our virtual addresses (or our address), the zero cc.RemoteTS everything.
// It returns the CHILD SA once installed, or the gateway's refusal (a
// *NotifyError such as TS_UNACCEPTABLE or NO_ADDITIONAL_SAS).
func (s *SA) AddChild(ctx context.Context, cc ChildConfig) (ipsec.ChildSAInfo, error) {
	sa := s.sa()
	done := make(chan childResult, 1)
	if err := sa.do(ctx, func() { sa.queueRequest(sa.createChildRequest(cc, done)) }); err != nil {
		return ipsec.ChildSAInfo{}, err
	}
	select {
	case r := <-done:
		return r.info, r.err
	case <-sa.done:
		return ipsec.ChildSAInfo{}, fmt.Errorf("%w: the IKE SA ended", ErrClosed)
	case <-ctx.Done():
		return ipsec.ChildSAInfo{}, ctx.Err()
	}
}

// Migrate moves the IKE SA and its CHILD SAs to our local address local
// (the unspecified address: whatever the routing table picks towards the
// gateway). Call it when the address in use went away or another network
// became preferable, Wi-Fi to cellular for example. With MOBIKE (RFC 4555)
// negotiated, an UPDATE_SA_ADDRESSES exchange from the new address moves
// both sides without new keys and Migrate returns when it is done;
// without MOBIKE the SA is reauthenticated from the new address (make
// before break) and Migrate returns once that has started.
func (s *SA) Migrate(ctx context.Context, local netip.Addr) error {
	sa := s.sa()
	done := make(chan error, 1)
	var err error
	if e := sa.do(ctx, func() {
		if sa.state != stateEstablished {
			err = fmt.Errorf("%w: IKE SA %s is not established", ErrClosed, sa.name())
			return
		}
		if !local.IsValid() || local.IsUnspecified() {
			local = sa.e.localAddrFor(sa.remote.Addr())
		}
		if !sa.peerMOBIKE {
			sa.log.Info("no MOBIKE with this gateway: reauthenticating from the new address", "local", local.String())
			sa.startReauthFrom(local, sa.remote.Addr())
			done <- nil
			return
		}
		sa.queueRequest(sa.migrateRequest(local, done))
	}); e != nil {
		return e
	}
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-sa.done:
		return fmt.Errorf("%w: the IKE SA ended during the move", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rekey starts rekeying the IKE SA and/or its CHILD SAs now, like
// `swanctl --rekey`, without waiting for the exchanges; the handle
// follows the new IKE SA. Traffic continues through the old SAs until the
// new ones are installed (make before break).
func (s *SA) Rekey(ctx context.Context, scope RekeyScope) error {
	sa := s.sa()
	ok := false
	if err := sa.do(ctx, func() { ok = sa.rekeyNow(scope) }); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: IKE SA %s is not established", ErrClosed, sa.name())
	}
	return nil
}
