package ipsec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// AddressPool hands out virtual addresses to remote-access clients (IKEv2
// configuration payload, IKEv1 Mode Config). Both engines and any number of
// IKE SAs share one pool, so implementations must be safe for concurrent
// use.
type AddressPool interface {
	// Acquire leases an address of the pool's family to owner (usually the
	// peer's authenticated identity, so a reconnecting client gets its
	// previous address back). requested is the address the client asked
	// for, or the zero Addr; it is honoured when free.
	Acquire(ctx context.Context, owner string, requested netip.Addr) (netip.Addr, error)
	// Release returns a leased address. Releasing an address that is not
	// leased is a no-op.
	Release(addr netip.Addr)
	// Prefix returns the range the pool hands out addresses from; its
	// address family is the pool's family. The engines ask for it when
	// the pool is configured and refuse a configuration whose pool
	// returns an invalid prefix. They use it to pick the pool for a
	// client's IPv4 or IPv6 request, and to keep the pool's addresses out
	// of the traffic selectors of peers without a virtual address, so no
	// peer can claim another client's virtual address. It must not change
	// while the pool is in use.
	Prefix() netip.Prefix
}

// ErrPoolExhausted is returned by Acquire when no address is free.
var ErrPoolExhausted = errors.New("ipsec: address pool exhausted")

// Pool is an in-memory AddressPool over one prefix. The network address
// (and for IPv4 the broadcast address) is never handed out, matching
// strongSwan's CIDR pools. Leases are sticky: an owner's last address is
// remembered after release and given back to it while no one else holds it.
// An owner that asks for the very address it holds gets it again
// (counted: it stays leased until every Acquire is released), which keeps
// a client's address across make-before-break reauthentication.
type Pool struct {
	prefix netip.Prefix
	first  netip.Addr
	last   netip.Addr
	size   uint64

	mu       sync.Mutex
	leases   map[netip.Addr]string // address -> current owner
	refs     map[netip.Addr]int    // leases of one owner on one address (reauthentication overlaps)
	previous map[string]netip.Addr // owner -> last address it held
	sticky   map[netip.Addr]string // the inverse of previous
	reserved map[netip.Addr]bool
	next     netip.Addr // where the search for a never-used address goes on
}

// maxPoolBits bounds the host part we reason about; larger IPv6 prefixes
// are still accepted but only their first 2^32 addresses are used.
const maxPoolBits = 32

// NewPool returns a pool over prefix, which must have room for at least one
// client address.
func NewPool(prefix netip.Prefix) (*Pool, error) {
	if !prefix.IsValid() {
		return nil, fmt.Errorf("ipsec: pool: invalid prefix")
	}
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits > maxPoolBits {
		hostBits = maxPoolBits
	}
	size := uint64(1) << hostBits
	first := prefix.Addr().Next() // skip the network address
	usable := size - 1
	if prefix.Addr().Is4() && hostBits > 1 {
		usable-- // and the IPv4 broadcast address
	}
	if hostBits == 0 || usable == 0 || !first.IsValid() {
		return nil, fmt.Errorf("ipsec: pool %s has no usable address", prefix)
	}
	last := addrAdd(first, usable-1)
	return &Pool{
		prefix: prefix, first: first, last: last, size: usable,
		leases: map[netip.Addr]string{}, refs: map[netip.Addr]int{}, previous: map[string]netip.Addr{}, sticky: map[netip.Addr]string{},
		reserved: map[netip.Addr]bool{}, next: first,
	}, nil
}

// Prefix implements AddressPool: the (masked) prefix given to NewPool.
func (p *Pool) Prefix() netip.Prefix { return p.prefix }

// Reserve keeps addr from ever being leased (for example the gateway's own
// inside address). It reports whether addr lies in the pool.
func (p *Pool) Reserve(addr netip.Addr) bool {
	if !p.contains(addr) {
		return false
	}
	p.mu.Lock()
	p.reserved[addr] = true
	p.mu.Unlock()
	return true
}

func (p *Pool) contains(a netip.Addr) bool {
	return a.IsValid() && p.prefix.Contains(a) && a.Compare(p.first) >= 0 && a.Compare(p.last) <= 0
}

func (p *Pool) free(a netip.Addr) bool {
	_, leased := p.leases[a]
	return p.contains(a) && !leased && !p.reserved[a]
}

// Acquire implements AddressPool.
func (p *Pool) Acquire(ctx context.Context, owner string, requested netip.Addr) (netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// An owner that asks for the address it holds (a client
	// reauthenticating make-before-break names its current address) gets
	// it again. One asking for any address while holding one is a second
	// device of the same user and gets another address.
	if requested.IsValid() && p.leases[requested] == owner {
		p.refs[requested]++
		return requested, nil
	}
	pick := func(a netip.Addr) netip.Addr {
		p.leases[a] = owner
		p.refs[a] = 1
		if old, ok := p.previous[owner]; ok {
			delete(p.sticky, old)
		}
		if other, ok := p.sticky[a]; ok {
			delete(p.previous, other) // a's old owner loses its claim
		}
		p.previous[owner] = a
		p.sticky[a] = owner
		return a
	}
	if prev, ok := p.previous[owner]; ok && p.free(prev) {
		return pick(prev), nil
	}
	if p.free(requested) {
		return pick(requested), nil
	}
	// Prefer addresses never handed out, so sticky leases survive as long
	// as possible; then any free one.
	a := p.next
	for range min(p.size, 1<<20) {
		if !a.IsValid() || a.Compare(p.last) > 0 {
			a = p.first
		}
		if _, claimed := p.sticky[a]; p.free(a) && !claimed {
			p.next = a.Next()
			return pick(a), nil
		}
		a = a.Next()
	}
	for a := p.first; a.IsValid() && a.Compare(p.last) <= 0; a = a.Next() {
		if p.free(a) {
			return pick(a), nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s", ErrPoolExhausted, p.prefix)
}

// addrAdd returns a+n within a's family (n is below 2^32, see maxPoolBits).
func addrAdd(a netip.Addr, n uint64) netip.Addr {
	b := a.As16()
	carry := n
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	r := netip.AddrFrom16(b)
	if a.Is4() {
		return r.Unmap()
	}
	return r
}

// Release implements AddressPool.
func (p *Pool) Release(addr netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs[addr]--; p.refs[addr] > 0 {
		return
	}
	delete(p.refs, addr)
	delete(p.leases, addr)
}

// Leases returns a snapshot of the current leases, address to owner.
func (p *Pool) Leases() map[netip.Addr]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[netip.Addr]string, len(p.leases))
	for a, o := range p.leases {
		out[a] = o
	}
	return out
}
