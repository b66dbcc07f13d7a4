package esp

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// wheelLoad is how many SAs the housekeeping wheel holds.
func (u *Userspace) wheelLoad() int {
	u.hk.mu.Lock()
	defer u.hk.mu.Unlock()
	n := 0
	for _, l := range u.hk.slots {
		n += len(l)
	}
	return n
}

// newWheelEngine is an engine with a clock the test moves. Its own
// housekeeping ticks every second too, with the same clock: a tick the
// test calls may find its work done already, so the tests wait for
// outcomes rather than count per call.
func newWheelEngine(t testing.TB, now *atomic.Int64) *Userspace {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUserspace(newNullTUN(), WithUDPSendConn(c), WithHousekeepingInterval(time.Second),
		WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func wheelSA(spi uint32, lt Lifetime) *SA {
	return &SA{SPI: spi, Dir: DirOut, Src: netip.MustParseAddrPort("127.0.0.1:4500"), Dst: netip.MustParseAddrPort("127.0.0.1:4501"),
		Encr: testSuites[0].encr, EncrKeyBits: 128, EncrKey: make([]byte, 20), ReqID: spi, Lifetime: lt}
}

// TestHousekeepingVisitsOnlyDueSAs: SAs without lifetimes or keepalives
// are not in the wheel at all; those with lifetimes leave it when their
// time comes (soft, then hard), and removed SAs leave it at once.
func TestHousekeepingVisitsOnlyDueSAs(t *testing.T) {
	var now atomic.Int64
	t0 := time.Unix(1_700_000_000, 0)
	now.Store(t0.UnixNano())
	u := newWheelEngine(t, &now)
	ctx := context.Background()
	for i := range 100 {
		if err := u.AddSA(ctx, wheelSA(0x1000+uint32(i), Lifetime{})); err != nil {
			t.Fatal(err)
		}
	}
	lt := Lifetime{Soft: Limits{Time: 50 * time.Minute}, Hard: Limits{Time: time.Hour}}
	for i := range 10 {
		if err := u.AddSA(ctx, wheelSA(0x2000+uint32(i), lt)); err != nil {
			t.Fatal(err)
		}
	}
	if n := u.wheelLoad(); n != 10 {
		t.Fatalf("wheel holds %d SAs, want the 10 with lifetimes", n)
	}
	tickAt := func(d time.Duration) {
		now.Store(t0.Add(d).UnixNano())
		u.tick(t0.Add(d))
	}
	tickAt(time.Second)
	if n := u.wheelLoad(); n != 10 {
		t.Fatalf("after a tick the wheel holds %d SAs, want 10", n)
	}
	if err := u.DeleteSA(ctx, SAID{SPI: 0x2009, Dir: DirOut, Dst: netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if n := u.wheelLoad(); n != 9 {
		t.Fatalf("after a delete the wheel holds %d SAs, want 9", n)
	}
	soft, hard := 0, 0
	// await collects expiry events until soft and hard reach the wanted
	// counts (or 5 s pass), then checks them and the wheel.
	await := func(when string, wantSoft, wantHard, wantWheel, wantSAs int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for soft < wantSoft || hard < wantHard {
			select {
			case ev := <-u.Events():
				switch ev.Kind {
				case EventSoftExpire:
					soft++
				case EventHardExpire:
					hard++
				}
			case <-deadline:
				t.Fatalf("%s: %d soft and %d hard expiries, want %d and %d", when, soft, hard, wantSoft, wantHard)
			}
		}
		for range 500 {
			u.mu.RLock()
			left := len(u.t.out)
			u.mu.RUnlock()
			if u.wheelLoad() == wantWheel && left == wantSAs {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		u.mu.RLock()
		left := len(u.t.out)
		u.mu.RUnlock()
		if n := u.wheelLoad(); n != wantWheel || left != wantSAs || soft != wantSoft || hard != wantHard {
			t.Errorf("%s: wheel %d (want %d), SAs %d (want %d), soft %d (want %d), hard %d (want %d)",
				when, n, wantWheel, left, wantSAs, soft, wantSoft, hard, wantHard)
		}
	}
	tickAt(50*time.Minute + time.Second)
	await("at 50 minutes", 9, 0, 9, 109)
	tickAt(time.Hour + time.Second)
	await("at an hour", 9, 9, 0, 100)
}

// BenchmarkHousekeepingTick: one tick of an engine holding 100,000
// outbound SAs with lifetimes an hour away, none due.
func BenchmarkHousekeepingTick(b *testing.B) {
	var now atomic.Int64
	t0 := time.Unix(1_700_000_000, 0)
	now.Store(t0.UnixNano())
	u := newWheelEngine(b, &now)
	lt := Lifetime{Soft: Limits{Time: 50 * time.Minute}, Hard: Limits{Time: time.Hour}}
	for i := range 100_000 {
		if err := u.AddSA(context.Background(), wheelSA(0x10000+uint32(i), lt)); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Second
	for b.Loop() {
		d += time.Second
		u.tick(t0.Add(d % (40 * time.Minute)))
	}
}
