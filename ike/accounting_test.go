package ike_test

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/internal/testnet"
)

// downRecorder keeps what the Down hooks reported.
type downRecorder struct {
	mu         sync.Mutex
	childDowns []ipsec.ChildSAInfo
	ikeDowns   []ipsec.IKESAInfo
}

func (r *downRecorder) hooks() *ike.Hooks {
	return &ike.Hooks{
		ChildDown: func(_ ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			r.mu.Lock()
			r.childDowns = append(r.childDowns, c)
			r.mu.Unlock()
		},
		IKEDown: func(info ipsec.IKESAInfo, _ error) {
			r.mu.Lock()
			r.ikeDowns = append(r.ikeDowns, info)
			r.mu.Unlock()
		},
	}
}

// send transmits n packets of size bytes from one data plane to the other
// and fails the test if one is lost.
func send(t *testing.T, from, to *iketest.DataPlane, n, size int) {
	t.Helper()
	for range n {
		if err := from.Transmit(to, 0, size); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCountersSurviveChildRekey is the case: 10,000 bytes in and
// 5,000 out through a CHILD SA, a rekey, 3,000 more in. The gateway's
// snapshot then shows 13,000/5,000, not only the new SA's 3,000/0, and
// when the client disconnects ChildDown and IKEDown carry those final
// counters, read before the SAs left the data plane.
func TestCountersSurviveChildRekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var rec downRecorder
		p := newPair(t, respCfg, ike.WithHooks(rec.hooks()))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		send(t, p.initDP, p.respDP, 10, 1000) // client -> gateway
		send(t, p.respDP, p.initDP, 5, 1000)  // gateway -> client
		before := p.resp.SAs()
		if len(before) != 1 || len(before[0].Children) != 1 {
			t.Fatalf("gateway SAs before the rekey: %+v", before)
		}
		if c := before[0].Children[0]; c.BytesIn != 10000 || c.BytesOut != 5000 || c.PacketsIn != 10 || c.PacketsOut != 5 {
			t.Fatalf("before the rekey: in %d bytes/%d packets, out %d/%d; want 10000/10, 5000/5", c.BytesIn, c.PacketsIn, c.BytesOut, c.PacketsOut)
		}
		if err := sa.Rekey(context.Background(), ike.RekeyChildren); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		send(t, p.initDP, p.respDP, 3, 1000)
		after := p.resp.SAs()
		if len(after) != 1 || len(after[0].Children) != 1 || after[0].Children[0].SPIIn == before[0].Children[0].SPIIn {
			t.Fatalf("gateway SAs after the rekey: %+v", after)
		}
		if c := after[0].Children[0]; c.BytesIn != 13000 || c.BytesOut != 5000 || c.PacketsIn != 13 || c.PacketsOut != 5 {
			t.Errorf("after the rekey: in %d bytes/%d packets, out %d/%d; want 13000/13, 5000/5", c.BytesIn, c.PacketsIn, c.BytesOut, c.PacketsOut)
		}
		if c := sa.Info().Children[0]; c.BytesIn != 5000 || c.BytesOut != 13000 {
			t.Errorf("client after the rekey: in %d, out %d; want 5000, 13000", c.BytesIn, c.BytesOut)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		// Two ChildDowns: the SA the rekey replaced, then the last one.
		if len(rec.childDowns) != 2 {
			t.Fatalf("%d ChildDown hooks, want 2: %+v", len(rec.childDowns), rec.childDowns)
		}
		if c := rec.childDowns[1]; c.BytesIn != 13000 || c.BytesOut != 5000 || c.PacketsIn != 13 || c.PacketsOut != 5 {
			t.Errorf("final ChildDown: in %d bytes/%d packets, out %d/%d; want 13000/13, 5000/5", c.BytesIn, c.PacketsIn, c.BytesOut, c.PacketsOut)
		}
		if len(rec.ikeDowns) != 1 || len(rec.ikeDowns[0].Children) != 1 {
			t.Fatalf("IKEDown hooks: %+v", rec.ikeDowns)
		}
		if c := rec.ikeDowns[0].Children[0]; c.BytesIn != 13000 || c.BytesOut != 5000 {
			t.Errorf("IKEDown's CHILD SA: in %d, out %d; want 13000, 5000", c.BytesIn, c.BytesOut)
		}
	})
}

// acctRecorder is an ike.Accounting that keeps every record.
type acctRecorder struct {
	mu                    sync.Mutex
	starts, interims, end []ike.AccountingRecord
}

func (r *acctRecorder) Start(rec ike.AccountingRecord) {
	r.mu.Lock()
	r.starts = append(r.starts, rec)
	r.mu.Unlock()
}

func (r *acctRecorder) Interim(rec ike.AccountingRecord) {
	r.mu.Lock()
	r.interims = append(r.interims, rec)
	r.mu.Unlock()
}

func (r *acctRecorder) Stop(rec ike.AccountingRecord) {
	r.mu.Lock()
	r.end = append(r.end, rec)
	r.mu.Unlock()
}

// TestAccountingThroughRekeys runs a session through 10 CHILD rekeys and
// 2 IKE rekeys with traffic both ways before, during and after each
// (over a network with delay, so packets also cross while old and new SAs
// overlap). The gateway's accounting Stop, its IKEDown and its final
// ChildDown equal the data plane's own totals to the byte and packet;
// the client's snapshot equals its data plane's; one SessionID runs from
// Start through every interim update, rekey event and hook to Stop; the
// interim updates come once a minute and never decrease.
func TestAccountingThroughRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var (
			acct       acctRecorder
			rec        downRecorder
			mu         sync.Mutex
			rekeys     []ike.RekeyEvent
			sessionIDs = map[uint64]bool{}
		)
		hooks := rec.hooks()
		childDown := hooks.ChildDown
		hooks.ChildDown = func(info ipsec.IKESAInfo, c ipsec.ChildSAInfo) {
			mu.Lock()
			sessionIDs[info.SessionID] = true
			mu.Unlock()
			childDown(info, c)
		}
		hooks.Rekeyed = func(ev ike.RekeyEvent) {
			mu.Lock()
			rekeys = append(rekeys, ev)
			sessionIDs[ev.IKE.SessionID] = true
			if ev.Scope == ike.RekeyIKE {
				sessionIDs[ev.OldIKE.SessionID] = true
			}
			mu.Unlock()
		}
		p := newPair(t, respCfg, ike.WithHooks(hooks), ike.WithAccounting(&acct, time.Minute))
		p.net.Delay = 50 * time.Millisecond
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := sa.Info()
		if first.SessionID == 0 {
			t.Fatal("no SessionID in the client's snapshot")
		}
		traffic := func(n int) {
			for i := range n {
				send(t, p.initDP, p.respDP, 1, 100+i*7)
				send(t, p.respDP, p.initDP, 1, 60+i*3)
				time.Sleep(20 * time.Millisecond)
			}
		}
		for i := range 10 {
			traffic(5)
			if err := sa.Rekey(context.Background(), ike.RekeyChildren); err != nil {
				t.Fatal(err)
			}
			traffic(10) // while the rekey is under way
			time.Sleep(time.Second)
			if i == 3 || i == 7 {
				if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
					t.Fatal(err)
				}
				traffic(10)
				time.Sleep(time.Second)
			}
			traffic(5)
			time.Sleep(30 * time.Second)
		}
		synctest.Wait()
		last := sa.Info()
		if last.SPIi == first.SPIi || len(last.Children) != 1 || last.Children[0].SPIIn == first.Children[0].SPIIn {
			t.Fatalf("not rekeyed: first %+v, last %+v", first, last)
		}
		if last.SessionID != first.SessionID {
			t.Errorf("client SessionID %d after the rekeys, %d before", last.SessionID, first.SessionID)
		}
		// The client's view equals its data plane's totals.
		cin, cout := p.initDP.Totals()
		if last.BytesIn != cin.Bytes || last.BytesOut != cout.Bytes || last.PacketsIn != cin.Packets || last.PacketsOut != cout.Packets {
			t.Errorf("client session counters in %d/%d out %d/%d, data plane in %d/%d out %d/%d",
				last.BytesIn, last.PacketsIn, last.BytesOut, last.PacketsOut, cin.Bytes, cin.Packets, cout.Bytes, cout.Packets)
		}
		if c := last.Children[0]; c.BytesIn != cin.Bytes || c.BytesOut != cout.Bytes {
			t.Errorf("client CHILD SA counters in %d out %d, data plane %d/%d", c.BytesIn, c.BytesOut, cin.Bytes, cout.Bytes)
		}
		gw := p.resp.SAs()
		if len(gw) != 1 {
			t.Fatalf("gateway SAs: %+v", gw)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the Delete reaches the gateway
		synctest.Wait()

		gin, gout := p.respDP.Totals()
		if gin.Bytes != cout.Bytes || gout.Bytes != cin.Bytes || gin.Packets == 0 {
			t.Errorf("packets were lost: client sent %d bytes, gateway received %d; gateway sent %d, client received %d", cout.Bytes, gin.Bytes, gout.Bytes, cin.Bytes)
		}
		want := func(what string, bi, bo, pi, po uint64) {
			t.Helper()
			if bi != gin.Bytes || bo != gout.Bytes || pi != gin.Packets || po != gout.Packets {
				t.Errorf("%s: in %d bytes/%d packets, out %d/%d; the data plane counted in %d/%d, out %d/%d",
					what, bi, pi, bo, po, gin.Bytes, gin.Packets, gout.Bytes, gout.Packets)
			}
		}
		acct.mu.Lock()
		defer acct.mu.Unlock()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		if len(acct.starts) != 1 || len(acct.end) != 1 {
			t.Fatalf("%d accounting Starts and %d Stops, want 1 each", len(acct.starts), len(acct.end))
		}
		stop := acct.end[0]
		want("accounting Stop", stop.Info.BytesIn, stop.Info.BytesOut, stop.Info.PacketsIn, stop.Info.PacketsOut)
		if stop.Err != nil {
			t.Errorf("Stop after a Delete: %v", stop.Err)
		}
		if len(rec.ikeDowns) != 1 {
			t.Fatalf("%d IKEDown hooks", len(rec.ikeDowns))
		}
		down := rec.ikeDowns[0]
		want("IKEDown", down.BytesIn, down.BytesOut, down.PacketsIn, down.PacketsOut)
		if len(down.Children) != 1 {
			t.Fatalf("IKEDown's CHILD SAs: %+v", down.Children)
		}
		c := down.Children[0]
		want("IKEDown's CHILD SA", c.BytesIn, c.BytesOut, c.PacketsIn, c.PacketsOut)
		// One ChildDown per rekeyed CHILD SA, then the last one's.
		if len(rec.childDowns) != 11 {
			t.Fatalf("%d ChildDown hooks, want 11", len(rec.childDowns))
		}
		c = rec.childDowns[10]
		want("final ChildDown", c.BytesIn, c.BytesOut, c.PacketsIn, c.PacketsOut)

		var childRekeys, ikeRekeys int
		for _, ev := range rekeys {
			switch ev.Scope {
			case ike.RekeyChildren:
				childRekeys++
				if ev.Child.SPIIn == ev.OldChild.SPIIn || ev.Child.SPIIn == 0 {
					t.Errorf("CHILD rekey event without a new SA: %+v", ev)
				}
			case ike.RekeyIKE:
				ikeRekeys++
				if ev.IKE.SPIi == ev.OldIKE.SPIi || len(ev.IKE.Children) != 1 {
					t.Errorf("IKE rekey event: new %+v, old %+v", ev.IKE, ev.OldIKE)
				}
			}
		}
		if childRekeys != 10 || ikeRekeys != 2 {
			t.Errorf("gateway saw %d CHILD and %d IKE rekey events, want 10 and 2", childRekeys, ikeRekeys)
		}

		id := acct.starts[0].SessionID
		sessionIDs[stop.SessionID] = true
		sessionIDs[down.SessionID] = true
		sessionIDs[stop.Info.SessionID] = true
		sessionIDs[gw[0].SessionID] = true
		if len(sessionIDs) != 1 || !sessionIDs[id] || id == 0 {
			t.Errorf("SessionIDs seen at the gateway: %v, want only %d", sessionIDs, id)
		}
		if acct.starts[0].NASPort == 0 || stop.NASPort != acct.starts[0].NASPort {
			t.Errorf("NAS-Port %d at Start, %d at Stop", acct.starts[0].NASPort, stop.NASPort)
		}
		// About 5.5 minutes: five interim updates, one a minute.
		if n := len(acct.interims); n < 5 || n > 6 {
			t.Errorf("%d interim updates in %v", n, stop.Time.Sub(stop.Started))
		}
		t.Logf("gateway: in %d bytes/%d packets, out %d/%d; %d interim updates; session %d, NAS-Port %d",
			gin.Bytes, gin.Packets, gout.Bytes, gout.Packets, len(acct.interims), id, stop.NASPort)
		prev := acct.starts[0]
		for _, r := range acct.interims {
			if r.SessionID != id {
				t.Errorf("interim update of session %d, want %d", r.SessionID, id)
			}
			if r.Time.Sub(prev.Time) < time.Minute {
				t.Errorf("interim updates %v apart", r.Time.Sub(prev.Time))
			}
			if r.Info.BytesIn < prev.Info.BytesIn || r.Info.BytesOut < prev.Info.BytesOut || r.Info.BytesIn > gin.Bytes {
				t.Errorf("interim counters %d/%d after %d/%d (final %d)", r.Info.BytesIn, r.Info.BytesOut, prev.Info.BytesIn, prev.Info.BytesOut, gin.Bytes)
			}
			prev = r
		}
	})
}

// TestSessionSurvivesReauthentication: a client that reauthenticates
// make before break (twice in 12 minutes) keeps its SessionID on both
// sides; the gateway reports one accounting Start, no Stop until the
// client leaves, and session counters that include the traffic of the
// replaced IKE SAs, equal to its data plane's totals.
func TestSessionSurvivesReauthentication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		initCfg.ReauthTime = 5 * time.Minute
		var acct acctRecorder
		p := newPair(t, respCfg, ike.WithAccounting(&acct, 0))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first, gwFirst := sa.Info(), p.resp.SAs()
		if len(gwFirst) != 1 {
			t.Fatalf("gateway SAs %+v", gwFirst)
		}
		for range 12 {
			send(t, p.initDP, p.respDP, 3, 500)
			send(t, p.respDP, p.initDP, 2, 300)
			time.Sleep(time.Minute)
		}
		synctest.Wait()
		now, gw := sa.Info(), p.resp.SAs()
		if now.SPIi == first.SPIi || len(gw) != 1 || gw[0].SPIi != now.SPIi {
			t.Fatalf("not reauthenticated: client %016x -> %016x, gateway %+v", first.SPIi, now.SPIi, gw)
		}
		if now.SessionID != first.SessionID {
			t.Errorf("client SessionID %d, was %d", now.SessionID, first.SessionID)
		}
		if gw[0].SessionID != gwFirst[0].SessionID {
			t.Errorf("gateway SessionID %d, was %d", gw[0].SessionID, gwFirst[0].SessionID)
		}
		in, out := p.respDP.Totals()
		if gw[0].BytesIn != in.Bytes || gw[0].BytesOut != out.Bytes || in.Bytes != 12*3*500 {
			t.Errorf("gateway session counters %d/%d, data plane %d/%d", gw[0].BytesIn, gw[0].BytesOut, in.Bytes, out.Bytes)
		}
		cin, cout := p.initDP.Totals()
		if now.BytesIn != cin.Bytes || now.BytesOut != cout.Bytes {
			t.Errorf("client session counters %d/%d, data plane %d/%d", now.BytesIn, now.BytesOut, cin.Bytes, cout.Bytes)
		}
		acct.mu.Lock()
		starts, stops := len(acct.starts), len(acct.end)
		acct.mu.Unlock()
		if starts != 1 || stops != 0 {
			t.Errorf("%d accounting Starts and %d Stops while the client stayed", starts, stops)
		}
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		acct.mu.Lock()
		defer acct.mu.Unlock()
		if len(acct.end) != 1 || acct.end[0].SessionID != gwFirst[0].SessionID || acct.end[0].Info.BytesIn != in.Bytes {
			for _, r := range acct.end {
				t.Logf("Stop: session %d, %d bytes in", r.SessionID, r.Info.BytesIn)
			}
			t.Errorf("%d accounting Stops, want one for session %d with %d bytes in", len(acct.end), gwFirst[0].SessionID, in.Bytes)
		}
	})
}

// TestCountersSurviveHardExpiry: the data plane removes both SAs of the
// gateway's CHILD SA at their hard lifetime (as the kernel and the
// userspace engine do by themselves); their traffic still counts, from
// the counters the expiry events carry, also when the second event
// arrives after the CHILD SA's Delete: the session's totals at IKEDown
// equal the data plane's, not only what was left to read.
func TestCountersSurviveHardExpiry(t *testing.T) {
	for seed := range 8 {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			var rec downRecorder
			var logs testnet.Buffer
			p := newPair(t, respCfg, ike.WithHooks(rec.hooks()), ike.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			defer func() {
				if t.Failed() {
					t.Log(logs.String())
				}
			}()
			p.net.Delay = time.Duration(seed) * time.Millisecond // the Delete races the second event or not
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			send(t, p.initDP, p.respDP, 7, 1000)
			send(t, p.respDP, p.initDP, 3, 500)
			// Both ESP SAs reach their hard lifetime together: the data
			// plane removes both, then reports them. (Expiring one after
			// the other let the gateway's reaction to the first, its
			// Delete, remove the second before the test expired it.)
			var deliver []func()
			for _, s := range p.respDP.SAs() {
				d, ok := p.respDP.ExpireLate(s.ID())
				if !ok {
					t.Fatalf("SA %s not installed", s.ID())
				}
				deliver = append(deliver, d)
			}
			if len(deliver) != 2 {
				t.Fatalf("%d ESP SAs installed, want 2", len(deliver))
			}
			for _, d := range deliver {
				d()
			}
			time.Sleep(5 * time.Second) // the gateway deletes the CHILD SA with the client
			synctest.Wait()
			if err := sa.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the gateway's IKEDown after its response
			synctest.Wait()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			in, out := p.respDP.Totals()
			if len(rec.ikeDowns) != 1 {
				t.Fatalf("%d IKEDown hooks", len(rec.ikeDowns))
			}
			if d := rec.ikeDowns[0]; d.BytesIn != in.Bytes || d.BytesOut != out.Bytes || d.PacketsIn != 7 || d.PacketsOut != 3 {
				t.Errorf("delay %d ms: IKEDown after a hard expiry: in %d bytes/%d packets, out %d/%d; want %d/7, %d/3", seed, d.BytesIn, d.PacketsIn, d.BytesOut, d.PacketsOut, in.Bytes, out.Bytes)
			}
		})
	}
}

// TestChildDownWaitsForLateExpiry: the data plane removes the gateway's
// outbound SA at its hard lifetime but reports it only later, after the
// inbound SA's expiry made the gateway delete the CHILD SA with the
// client. ChildDown still carries the outbound SA's final counters (from
// the late event): it waits for that event, a bounded time. An event
// that never comes delays ChildDown by that bound only.
func TestChildDownWaitsForLateExpiry(t *testing.T) {
	for _, late := range []bool{true, false} {
		name := map[bool]string{true: "event late", false: "event lost"}[late]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				var rec downRecorder
				p := newPair(t, respCfg, ike.WithHooks(rec.hooks()))
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatal(err)
				}
				send(t, p.initDP, p.respDP, 7, 1000)
				send(t, p.respDP, p.initDP, 3, 500)
				var in, out esp.SAID
				for _, s := range p.respDP.SAs() {
					if s.Dir == esp.DirIn {
						in = s.ID()
					} else {
						out = s.ID()
					}
				}
				deliver, ok := p.respDP.ExpireLate(out)
				if !ok || !p.respDP.Expire(in, true) {
					t.Fatal("gateway's ESP SAs not installed")
				}
				time.Sleep(time.Second) // the gateway deletes the CHILD SA with the client
				synctest.Wait()
				if n := len(p.respDP.SAs()) + len(p.initDP.SAs()); n != 0 {
					t.Fatalf("%d ESP SAs still installed after the Delete", n)
				}
				if late {
					deliver()
				}
				time.Sleep(10 * time.Second) // beyond the wait for a lost event
				synctest.Wait()
				rec.mu.Lock()
				downs := rec.childDowns
				rec.mu.Unlock()
				if len(downs) != 1 {
					t.Fatalf("%d ChildDown hooks, want 1", len(downs))
				}
				d := downs[0]
				wantOut, wantPktsOut := uint64(1500), uint64(3)
				if !late {
					wantOut, wantPktsOut = 0, 0 // never reported: unknowable
				}
				if d.BytesIn != 7000 || d.PacketsIn != 7 || d.BytesOut != wantOut || d.PacketsOut != wantPktsOut {
					t.Errorf("ChildDown: in %d bytes/%d packets, out %d/%d; want 7000/7, %d/%d", d.BytesIn, d.PacketsIn, d.BytesOut, d.PacketsOut, wantOut, wantPktsOut)
				}
				if err := sa.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if len(rec.ikeDowns) != 1 || len(rec.childDowns) != 1 {
					t.Fatalf("%d IKEDown and %d ChildDown hooks after Close, want 1 and 1", len(rec.ikeDowns), len(rec.childDowns))
				}
				if i := rec.ikeDowns[0]; i.BytesIn != 7000 || i.BytesOut != wantOut {
					t.Errorf("IKEDown: in %d, out %d; want 7000, %d", i.BytesIn, i.BytesOut, wantOut)
				}
			})
		})
	}
}
