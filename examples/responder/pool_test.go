package main

import (
	"context"
	"net/netip"
	"sync"
	"testing"
)

func TestDevicePoolSameUserTwoDevices(t *testing.T) {
	ctx := context.Background()
	p, err := newDevicePool(netip.MustParsePrefix("198.51.100.64/29"))
	if err != nil {
		t.Fatal(err)
	}
	phone, err := p.Acquire(ctx, "demo", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	laptop, err := p.Acquire(ctx, "demo", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if phone == laptop {
		t.Fatalf("two devices of one user share %v", phone)
	}
	// A device asking for the other's address does not get it.
	third, err := p.Acquire(ctx, "demo", phone)
	if err != nil || third == phone || third == laptop {
		t.Errorf("third device got %v (%v)", third, err)
	}
	p.Release(phone)
	p.Release(laptop)
	p.Release(third)
	if n := len(p.Leases()); n != 0 {
		t.Errorf("%d leases left after release", n)
	}
	// With nothing held, a user gets its sticky address back.
	again, err := p.Acquire(ctx, "demo", netip.Addr{})
	if err != nil || again != phone {
		t.Errorf("after release: %v, want the sticky %v (%v)", again, phone, err)
	}
}

func TestDevicePoolConcurrent(t *testing.T) {
	ctx := context.Background()
	p, err := newDevicePool(netip.MustParsePrefix("2001:db8:100:1::/120"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	got := make([]netip.Addr, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := p.Acquire(ctx, "demo", netip.Addr{})
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, a := range got {
		if seen[a] {
			t.Errorf("%v handed out twice", a)
		}
		seen[a] = true
	}
}
