package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/goipsec/ipsec/ike/wire"
)

// Per-identity limits of a responder (IdentityLimits). strongSwan has no
// direct equivalent (its uniqueness policy knows one SA or any number):
// these bound what one account holds so that a leaked password or a
// misbehaving client cannot drain a virtual-address pool or pile up IKE
// SAs that others then lack.
const (
	// DefaultIdentityIKESAs is how many established IKE SAs one identity
	// may hold: a user's phone, laptop and tablet with room to spare.
	DefaultIdentityIKESAs = 4
	// DefaultIdentityLeases is how many virtual addresses of one address
	// family one identity may hold from the pools.
	DefaultIdentityLeases = 4
)

// ErrIdentityLimit is the cause behind refusals for an identity that
// reached its IdentityLimits: errors.Is finds it in Alert.Err.
var ErrIdentityLimit = errors.New("ike: per-identity limit reached")

// IdentityLimits caps, per authenticated identity, what a responder hands
// out: the EAP identity for EAP clients (Windows' IKE identity is just its
// address), the IKE identity (IDi) otherwise, the same owner the address
// pools see. In both fields 0 means "the default" and a negative value
// means unlimited: for WithIdentityLimits the default is
// DefaultIdentityIKESAs / DefaultIdentityLeases, for PeerConfig.Limits it
// is what the engine was given.
//
// An identity beyond IKESAs gets AUTHENTICATION_FAILED for its IKE_AUTH
// (the only IKE_AUTH error every client reports and that leaves no IKE SA
// behind; the refusal comes after the peer proved who it is, so it tells
// an attacker nothing). An identity beyond Leases gets
// INTERNAL_ADDRESS_FAILURE for that address family, as RFC 7296 section
// 3.15.4 prescribes for an address that cannot be assigned: the IKE SA is
// still created, without a CHILD SA when no family got an address, just
// as when the pool is exhausted (FAILED_CP_REQUIRED would wrongly tell the
// client it sent no configuration request). Both raise an Alert of kind
// AlertIdentityLimit naming the identity and the limit.
//
// What counts: established IKE SAs (rekeyed ones pass their place to the
// successor; an IKE SA redirected in IKE_AUTH counts nothing) and distinct
// leased addresses (an address the identity already holds, such as the one
// a make-before-break reauthentication asks for again, counts once).
// IKE SAs the new one replaces (INITIAL_CONTACT, UniqueReplace) do not
// count against it, and neither does one IKE SA of the identity from the
// same peer address, the one a make-before-break reauthentication
// replaces: an identity may so briefly hold IKESAs+1 IKE SAs, never more.
// Counts are released whenever an IKE SA ends, whatever ends it.
type IdentityLimits struct {
	// IKESAs is the number of established IKE SAs per identity.
	IKESAs int
	// Leases is the number of pool addresses per identity and address
	// family.
	Leases int
}

// effective returns the limits for a PeerConfig's limits p: p's own, else
// the engine's e, else the defaults; negative values stay (unlimited).
func effectiveLimits(p, e IdentityLimits) IdentityLimits {
	pick := func(peer, engine, def int) int {
		switch {
		case peer != 0:
			return peer
		case engine != 0:
			return engine
		}
		return def
	}
	return IdentityLimits{IKESAs: pick(p.IKESAs, e.IKESAs, DefaultIdentityIKESAs), Leases: pick(p.Leases, e.Leases, DefaultIdentityLeases)}
}

// capEntry is one counted IKE SA of an identity, kept in engine.caps
// under engine.mu (the SA's own fields belong to its goroutine).
type capEntry struct {
	peerKey string       // the uniqueness key (IKE and EAP identity)
	from    netip.Addr   // the peer's address when it authenticated
	leases  []netip.Addr // pool addresses it holds
	// replaces are the identity's older IKE SAs this one is about to
	// replace (INITIAL_CONTACT, UniqueReplace, reauthentication): their
	// addresses do not count against its own either.
	replaces map[*ikeSA]bool
}

// owner is the identity that limits and address pools count: the EAP
// identity, else the IKE identity.
func (pa *peerAuth) owner() string {
	if pa.eapIdentity != "" {
		return pa.eapIdentity
	}
	return pa.remoteID.String()
}

func (sa *ikeSA) limits() IdentityLimits {
	return effectiveLimits(sa.cfg.Limits, sa.e.cfg.limits)
}

// limitAlert reports a refusal for the limit named what.
func (sa *ikeSA) limitAlert(notify wire.NotifyType, what string, held, limit int) error {
	err := fmt.Errorf("%w: identity %q holds %d %s (limit %d)", ErrIdentityLimit, sa.owner(), held, what, limit)
	sa.log.Warn("per-identity limit reached", "identity", sa.owner(), "limit", limit, "what", what, "notify", notify.String())
	sa.alert(AlertIdentityLimit, err, err.Error())
	return err
}

// admitIdentity counts the authenticated peer's new IKE SA against its
// identity's limit, or refuses it with AUTHENTICATION_FAILED. ap is the
// first IKE_AUTH request (INITIAL_CONTACT). Check and count happen under
// one lock, so concurrent logins of one identity cannot both take the
// last place.
func (sa *ikeSA) admitIdentity(ap *authPayloads) error {
	if sa.weInitiated || sa.capKey != "" {
		return nil
	}
	key, peerKey, from := sa.owner(), sa.identityKey(), sa.remote.Addr()
	// establish deletes these older SAs of the same peer.
	replaces := ap.initialContact || sa.peerInitialContact || sa.cfg.Unique == UniqueReplace
	lim := sa.limits()
	limit := lim.IKESAs
	e := sa.e
	e.mu.Lock()
	held, grace := 0, false
	var discounted map[*ikeSA]bool
	// Without limits nothing is counted: the identity's other SAs are
	// not looked at (a shared identity may hold very many).
	if limit >= 0 || lim.Leases >= 0 {
		for o, c := range e.caps[key] {
			switch {
			case replaces && c.peerKey == peerKey:
				discounted = setAdd(discounted, o)
			case !grace && c.from == from:
				grace = true // the SA a reauthentication replaces
				discounted = setAdd(discounted, o)
			default:
				held++
			}
		}
	}
	if limit >= 0 && held >= limit {
		e.mu.Unlock()
		err := sa.limitAlert(wire.AUTHENTICATION_FAILED, "IKE SAs", held, limit)
		return notifyErr(wire.AUTHENTICATION_FAILED, fmt.Errorf("%w: %w", ErrAuthFailed, err))
	}
	if e.caps[key] == nil {
		e.caps[key] = map[*ikeSA]*capEntry{}
	}
	e.caps[key][sa] = &capEntry{peerKey: peerKey, from: from, replaces: discounted}
	if len(discounted) > 0 {
		e.replacing[key]++
	}
	e.mu.Unlock()
	sa.capKey = key
	return nil
}

// forgetIdentity stops counting sa (redirected in IKE_AUTH, or ended);
// the caller holds no lock.
func (e *engine) forgetIdentity(sa *ikeSA) {
	e.mu.Lock()
	e.uncountLocked(sa)
	e.mu.Unlock()
	sa.capKey = ""
}

// uncountLocked removes sa's entry; e.mu is held.
func (e *engine) uncountLocked(sa *ikeSA) {
	if sa.capKey == "" {
		return
	}
	m := e.caps[sa.capKey]
	if m == nil {
		return
	}
	if c := m[sa]; c != nil {
		for _, a := range c.leases {
			e.unhold(a, sa)
		}
		if len(c.replaces) > 0 {
			e.noLongerReplacing(sa.capKey)
		}
	}
	delete(m, sa)
	if e.replacing[sa.capKey] > 0 {
		for _, c := range m {
			if c.replaces[sa] {
				delete(c.replaces, sa)
				if len(c.replaces) == 0 {
					e.noLongerReplacing(sa.capKey)
				}
			}
		}
	}
	if len(m) == 0 {
		delete(e.caps, sa.capKey)
	}
}

// noLongerReplacing notes that one entry of key discounts no SA any more.
func (e *engine) noLongerReplacing(key string) {
	if e.replacing[key]--; e.replacing[key] <= 0 {
		delete(e.replacing, key)
	}
}

// unhold removes sa from the holders of a.
func (e *engine) unhold(a netip.Addr, sa *ikeSA) {
	l := slices.DeleteFunc(e.holders[a], func(o *ikeSA) bool { return o == sa })
	if len(l) == 0 {
		delete(e.holders, a)
	} else {
		e.holders[a] = l
	}
}

// setAdd adds x to the set m, making it when nil.
func setAdd[K comparable](m map[K]bool, x K) map[K]bool {
	if m == nil {
		m = map[K]bool{}
	}
	m[x] = true
	return m
}

// passIdentity moves old's place (and the leases it holds) to ns, its
// successor after an IKE rekey: a rekey never meets the limit.
func (e *engine) passIdentity(old, ns *ikeSA) {
	if old.capKey == "" {
		return
	}
	e.mu.Lock()
	if m := e.caps[old.capKey]; m != nil {
		if c := m[old]; c != nil {
			delete(m, old)
			m[ns] = c
			for _, a := range c.leases {
				for i, o := range e.holders[a] {
					if o == old {
						e.holders[a][i] = ns
					}
				}
			}
		}
		if e.replacing[old.capKey] > 0 {
			for _, c := range m {
				if c.replaces[old] {
					delete(c.replaces, old)
					c.replaces[ns] = true
				}
			}
		}
	}
	e.mu.Unlock()
	ns.capKey, old.capKey = old.capKey, ""
}

// heldLocked returns the distinct pool addresses of family is6 that the
// identity key holds, not counting those of the SAs self replaces (self
// nil: all); e.mu is held.
func (e *engine) heldLocked(key string, is6 bool, self *ikeSA) map[netip.Addr]bool {
	held := map[netip.Addr]bool{}
	var skip map[*ikeSA]bool
	if c := e.caps[key][self]; c != nil {
		skip = c.replaces
	}
	for o, c := range e.caps[key] {
		if skip[o] {
			continue
		}
		for _, a := range c.leases {
			if a.Is6() == is6 {
				held[a] = true
			}
		}
	}
	return held
}

// leaseAllowed tells, before asking the pool, whether the identity may
// take another address of the family; an address it already holds is
// always allowed (it counts once).
func (sa *ikeSA) leaseAllowed(is6 bool, requested netip.Addr) bool {
	limit := sa.limits().Leases
	if sa.capKey == "" || limit < 0 {
		return true
	}
	sa.e.mu.Lock()
	held := sa.e.heldLocked(sa.capKey, is6, sa)
	sa.e.mu.Unlock()
	if requested.IsValid() && held[requested] || len(held) < limit {
		return true
	}
	sa.limitAlert(wire.INTERNAL_ADDRESS_FAILURE, familyName(is6)+" addresses", len(held), limit)
	return false
}

// noteLease counts a leased address for the identity, or reports false
// when it would pass the limit (a concurrent login of the identity took
// the last place since leaseAllowed): the caller releases it then.
func (sa *ikeSA) noteLease(addr netip.Addr) bool {
	if sa.capKey == "" {
		return true
	}
	limit := sa.limits().Leases
	e := sa.e
	e.mu.Lock()
	var held map[netip.Addr]bool
	ok := limit < 0 // unlimited: the identity's other SAs are not looked at
	if !ok {
		held = e.heldLocked(sa.capKey, addr.Is6(), sa)
		ok = held[addr] || len(held) < limit
	}
	if c := e.caps[sa.capKey][sa]; ok && c != nil {
		c.leases = append(c.leases, addr)
		e.holders[addr] = append(e.holders[addr], sa)
	}
	e.mu.Unlock()
	if !ok {
		sa.limitAlert(wire.INTERNAL_ADDRESS_FAILURE, familyName(addr.Is6())+" addresses", len(held), limit)
	}
	return ok
}

func familyName(is6 bool) string {
	if is6 {
		return "IPv6"
	}
	return "IPv4"
}

// identityUsage returns, per identity, the counted IKE SAs and distinct
// IPv4 and IPv6 leases.
func (e *engine) identityUsage() map[string][3]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][3]int{}
	for key, m := range e.caps {
		out[key] = [3]int{len(m), len(e.heldLocked(key, false, nil)), len(e.heldLocked(key, true, nil))}
	}
	return out
}
