package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/goipsec/ipsec"
)

// devicePool gives every connection its own address, even when one user
// logs in from two devices. ipsec.Pool, like strongSwan's pools, returns
// the address an owner already holds (right for a client that
// reauthenticates make-before-break), but the owner is the EAP user
// name, and with one demo account a phone and a laptop would share an
// address and the second tunnel would fail. A second lease for an owner
// is therefore taken under a distinct owner name.
type devicePool struct {
	*ipsec.Pool
	mu  sync.Mutex
	seq uint64
}

func newDevicePool(prefix netip.Prefix) (*devicePool, error) {
	p, err := ipsec.NewPool(prefix)
	if err != nil {
		return nil, err
	}
	return &devicePool{Pool: p}, nil
}

// Acquire implements ipsec.AddressPool.
func (p *devicePool) Acquire(ctx context.Context, owner string, requested netip.Addr) (netip.Addr, error) {
	// One lock around the check and the lease, so two devices of one
	// user arriving together cannot both see "no lease yet".
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.Pool.Leases() {
		if o == owner {
			p.seq++
			owner = fmt.Sprintf("%s\x00device-%d", owner, p.seq)
			requested = netip.Addr{}
			break
		}
	}
	return p.Pool.Acquire(ctx, owner, requested)
}
