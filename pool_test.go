package ipsec

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
)

func TestPoolFirstAddressesMatchStrongSwan(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ prefix, first, last string }{
		{"198.51.100.64/26", "198.51.100.65", "198.51.100.126"},
		{"2001:db8:100:1::/120", "2001:db8:100:1::1", "2001:db8:100:1::ff"},
	} {
		p, err := NewPool(netip.MustParsePrefix(c.prefix))
		if err != nil {
			t.Fatal(err)
		}
		a, err := p.Acquire(ctx, "alice", netip.Addr{})
		if err != nil || a.String() != c.first {
			t.Errorf("%s: first lease %v, %v; want %s", c.prefix, a, err, c.first)
		}
		if p.last.String() != c.last {
			t.Errorf("%s: last = %s, want %s", c.prefix, p.last, c.last)
		}
	}
}

func TestPoolStickyAndExhaustion(t *testing.T) {
	ctx := context.Background()
	p, err := NewPool(netip.MustParsePrefix("192.0.2.0/29")) // .1 - .6
	if err != nil {
		t.Fatal(err)
	}
	if !p.Reserve(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("Reserve inside the pool failed")
	}
	if p.Reserve(netip.MustParseAddr("198.51.100.1")) {
		t.Fatal("Reserve outside the pool succeeded")
	}
	alice, _ := p.Acquire(ctx, "alice", netip.Addr{})
	if alice.String() != "192.0.2.2" {
		t.Fatalf("alice got %v", alice)
	}
	bob, _ := p.Acquire(ctx, "bob", netip.MustParseAddr("192.0.2.5"))
	if bob.String() != "192.0.2.5" {
		t.Fatalf("bob's request not honoured: %v", bob)
	}
	p.Release(alice)
	// Carol must not take alice's remembered address while others are free.
	carol, _ := p.Acquire(ctx, "carol", netip.Addr{})
	if carol == alice {
		t.Fatalf("carol took alice's sticky address %v", carol)
	}
	again, _ := p.Acquire(ctx, "alice", netip.Addr{})
	if again != alice {
		t.Fatalf("alice got %v back, want %v", again, alice)
	}
	// Fill the rest: .3 (carol), .4, .6 remain -> two more, then exhausted.
	for _, o := range []string{"d", "e"} {
		if _, err := p.Acquire(ctx, o, netip.Addr{}); err != nil {
			t.Fatalf("%s: %v", o, err)
		}
	}
	if _, err := p.Acquire(ctx, "f", netip.Addr{}); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("full pool: err = %v", err)
	}
	if n := len(p.Leases()); n != 5 {
		t.Fatalf("%d leases, want 5", n)
	}
	// A freed sticky address goes to someone else once nothing else is free.
	p.Release(bob)
	f, err := p.Acquire(ctx, "f", netip.Addr{})
	if err != nil || f != bob {
		t.Fatalf("f got %v, %v; want bob's old %v", f, err, bob)
	}
	if b2, _ := p.Acquire(ctx, "bob", netip.Addr{}); b2.IsValid() {
		t.Fatalf("bob got %v from a full pool", b2)
	}
}

func TestPoolRejectsTinyAndInvalid(t *testing.T) {
	for _, s := range []string{"192.0.2.1/32", "2001:db8::1/128"} {
		if _, err := NewPool(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("NewPool(%s) succeeded", s)
		}
	}
	if _, err := NewPool(netip.Prefix{}); err == nil {
		t.Error("NewPool(zero) succeeded")
	}
	if p, err := NewPool(netip.MustParsePrefix("192.0.2.0/31")); err != nil || p.size != 1 {
		t.Errorf("/31: %v size %v", err, p)
	}
}

func TestPoolConcurrent(t *testing.T) {
	ctx := context.Background()
	p, _ := NewPool(netip.MustParsePrefix("2001:db8::/112"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				a, err := p.Acquire(ctx, string(rune('a'+i))+string(rune(j)), netip.Addr{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[a] {
					t.Errorf("address %v leased twice", a)
				}
				seen[a] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(p.Leases()) != 400 {
		t.Errorf("%d leases, want 400", len(p.Leases()))
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := NewUsers(User{Name: "alice", Password: Secret("pw")}, User{Name: "mallory", Password: Secret("x"), Disabled: true})
	u, err := s.LookupUser(ctx, "alice")
	if err != nil || string(u.Password) != "pw" {
		t.Fatalf("alice: %v %v", u, err)
	}
	u.Password[0] = 'X' // the copy must not alias the store
	u2, _ := s.LookupUser(ctx, "alice")
	if string(u2.Password) != "pw" {
		t.Error("LookupUser returned aliased secret")
	}
	for _, n := range []string{"bob", "mallory"} {
		if _, err := s.LookupUser(ctx, n); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("%s: err = %v", n, err)
		}
	}
	s.Delete("alice")
	if _, err := s.LookupUser(ctx, "alice"); !errors.Is(err, ErrUnknownUser) {
		t.Error("deleted user still found")
	}
}

func TestPoolSameOwnerTwice(t *testing.T) {
	ctx := context.Background()
	p, _ := NewPool(netip.MustParsePrefix("192.0.2.0/29"))
	a, _ := p.Acquire(ctx, "alice", netip.Addr{})
	other, _ := p.Acquire(ctx, "alice", netip.Addr{}) // a second device
	if other == a {
		t.Fatalf("second device of alice got the same address %v", a)
	}
	p.Release(other)
	b, err := p.Acquire(ctx, "alice", a) // reauthentication asks for its address
	if err != nil || b != a {
		t.Fatalf("second lease %v, %v; want %v", b, err, a)
	}
	p.Release(a)
	if _, held := p.Leases()[a]; !held {
		t.Fatal("address freed while the second lease holds it")
	}
	p.Release(a)
	if _, held := p.Leases()[a]; held {
		t.Fatal("address still leased after both releases")
	}
	p.Release(a) // extra release: no effect, no negative count
	c, _ := p.Acquire(ctx, "bob", a)
	if c != a {
		t.Errorf("freed address not given to bob: %v", c)
	}
}
