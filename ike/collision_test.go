package ike_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testnet"
)

// traffic sends one simulated ESP packet each way every interval through
// the SAs the data planes would use, and counts what the other side could
// not decrypt.
type traffic struct {
	sent, lost atomic.Int64
	mu         sync.Mutex
	firstLoss  string
	stop       chan struct{}
	done       chan struct{}
}

func startTraffic(p *pair, every time.Duration) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			select {
			case <-tr.stop:
				return
			case <-time.After(every):
			}
			for _, dir := range []struct {
				from, to *iketest.DataPlane
				name     string
			}{{p.initDP, p.respDP, "client->gateway"}, {p.respDP, p.initDP, "gateway->client"}} {
				tr.sent.Add(1)
				if err := dir.from.Transmit(dir.to, 0, 100); err != nil {
					tr.lost.Add(1)
					tr.mu.Lock()
					if tr.firstLoss == "" {
						tr.firstLoss = dir.name + " at " + time.Now().Format(time.TimeOnly) + ": " + err.Error()
					}
					tr.mu.Unlock()
				}
			}
		}
	}()
	return tr
}

// finish stops the traffic and fails the test if a packet was lost.
func (tr *traffic) finish(t *testing.T) {
	t.Helper()
	close(tr.stop)
	<-tr.done
	if tr.sent.Load() == 0 {
		t.Fatal("no traffic was sent")
	}
	if n := tr.lost.Load(); n != 0 {
		t.Errorf("%d of %d packets lost; first: %s", n, tr.sent.Load(), tr.firstLoss)
	}
}

// checkOneSA checks that both sides hold exactly one IKE SA, the same,
// which the handle refers to, with one CHILD SA pair whose keys match.
func checkOneSA(t *testing.T, p *pair, sa *ike.SA) ipsec.IKESAInfo {
	t.Helper()
	info := sa.Info()
	if info.State != "ESTABLISHED" {
		t.Fatalf("handle's IKE SA is %s", info.State)
	}
	got := p.resp.SAs()
	if len(got) != 1 || got[0].SPIi != info.SPIi || got[0].SPIr != info.SPIr {
		t.Fatalf("responder has %d IKE SAs %+v; the initiator's is %016x/%016x", len(got), got, info.SPIi, info.SPIr)
	}
	if len(info.Children) != 1 || len(got[0].Children) != 1 {
		t.Fatalf("CHILD SAs: initiator %+v, responder %+v", info.Children, got[0].Children)
	}
	checkCrossKeys(t, p.respDP, p.initDP)
	return info
}

// collisionPair connects a pair whose responder logs into logs and draws
// its randomness from seed (which decides whose nonces are lower).
func collisionPair(t *testing.T, seed byte, logs *testnet.Buffer, hooks *ike.Hooks) (*pair, *ike.SA) {
	respCfg, initCfg := pskConfigs()
	initCfg.Children = []ike.ChildConfig{{Name: "net"}}
	p := newPair(t, respCfg, ike.WithRand(iketest.NewRand(seed)), ike.WithHooks(hooks),
		ike.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, sa
}

func all(ipsec.IKESAInfo) bool { return true }

// TestIKERekeyCollision has both peers rekey the IKE SA at the same moment
// over a network with a one-second delay, so that each receives the
// other's request while its own is outstanding (RFC 7296 section 2.8.2).
// Over several seeds both outcomes occur: the responder's new SA is
// redundant, or the initiator's. Afterwards there is one IKE SA on each
// side, new, holding the CHILD SA, and no packet was lost meanwhile.
func TestIKERekeyCollision(t *testing.T) {
	outcomes := map[string]int{}
	for seed := byte(10); seed < 18; seed++ { // not 2: the initiator draws from NewRand(2)
		synctest.Test(t, func(t *testing.T) {
			var logs testnet.Buffer
			var ikeDowns atomic.Int32
			p, sa := collisionPair(t, seed, &logs, &ike.Hooks{IKEDown: func(ipsec.IKESAInfo, error) { ikeDowns.Add(1) }})
			p.net.Delay = time.Second
			before := sa.Info()
			tr := startTraffic(p, 100*time.Millisecond)
			time.Sleep(2 * time.Second)
			if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
				t.Fatal(err)
			}
			if n := p.resp.Rekey(context.Background(), ike.RekeyIKE, all); n != 1 {
				t.Fatalf("responder started %d rekeys", n)
			}
			time.Sleep(20 * time.Second)
			synctest.Wait()
			tr.finish(t)
			after := checkOneSA(t, p, sa)
			if after.SPIi == before.SPIi {
				t.Error("the IKE SA was not rekeyed")
			}
			if after.Children[0].SPIIn != before.Children[0].SPIIn {
				t.Error("an IKE rekey changed the CHILD SA")
			}
			if n := ikeDowns.Load(); n != 0 {
				t.Errorf("%d IKEDown hooks", n)
			}
			l := logs.String()
			switch {
			case strings.Contains(l, "IKE SA rekey collision: ours is redundant"):
				outcomes["responder's redundant"]++
			case strings.Contains(l, "IKE SA rekey collision: the peer's is redundant"):
				outcomes["initiator's redundant"]++
			default:
				t.Fatalf("no collision resolved; responder log:\n%s", l)
			}
			if err := sa.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second) // the Delete crosses the slow network
			synctest.Wait()
			if n := len(p.respDP.SAs()) + len(p.initDP.SAs()) + len(p.resp.SAs()); n != 0 {
				t.Errorf("seed %d: SAs left after Delete: gateway data plane %d, client data plane %d, gateway IKE SAs %+v", seed, len(p.respDP.SAs()), len(p.initDP.SAs()), p.resp.SAs())
				t.Log(logs.String())
			}
		})
	}
	if len(outcomes) != 2 {
		t.Errorf("outcomes over 8 seeds: %v; want both sides' SA redundant at least once", outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestIKERekeyCollisionSeenByOneSide covers the case where one peer
// completes its rekey before it sees the other's request (RFC 7296
// section 2.8.2, last paragraph): the first transmission of one side's
// request is lost, so the other side's rekey finishes first. The late
// side must adopt the peer's new SA (on its Delete of the old one, or on
// TEMPORARY_FAILURE) and forget its own.
func TestIKERekeyCollisionSeenByOneSide(t *testing.T) {
	for _, late := range []netip.Addr{clientAddr, gwAddr} {
		t.Run("late="+late.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs testnet.Buffer
				p, sa := collisionPair(t, 3, &logs, nil)
				p.net.Delay = 500 * time.Millisecond
				before := sa.Info()
				var dropped atomic.Bool
				p.net.SetFilter(func(pkt *ike.Packet) bool {
					m, err := wire.Parse(pkt.Data)
					if err != nil || m.Header.Exchange != wire.CREATE_CHILD_SA || m.Header.IsResponse() || pkt.Remote.Addr() != late {
						return true
					}
					return !dropped.CompareAndSwap(false, true)
				})
				tr := startTraffic(p, 100*time.Millisecond)
				time.Sleep(time.Second)
				if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
					t.Fatal(err)
				}
				p.resp.Rekey(context.Background(), ike.RekeyIKE, all)
				time.Sleep(30 * time.Second)
				synctest.Wait()
				tr.finish(t)
				if !dropped.Load() {
					t.Fatal("no request was dropped: the test did not exercise the case")
				}
				after := checkOneSA(t, p, sa)
				if after.SPIi == before.SPIi {
					t.Error("the IKE SA was not rekeyed")
				}
				l := logs.String()
				if late == gwAddr && !strings.Contains(l, "without seeing ours") && !strings.Contains(l, "TEMPORARY_FAILURE") {
					t.Errorf("the gateway neither adopted the client's rekey on its Delete nor was refused:\n%s", l)
				}
				if late == clientAddr && strings.Contains(l, "collision detected") {
					t.Error("the gateway saw the client's request before finishing its own rekey: the test did not exercise the case")
				}
			})
		})
	}
}

// TestIKEAndChildRekeyCross has the initiator rekey the IKE SA while the
// responder rekeys the CHILD SA: each side refuses the other's request
// with TEMPORARY_FAILURE while its own is outstanding (RFC 7296 section
// 2.25), retries after a short random delay, and both rekeys complete
// without losing traffic or leaving a CHILD SA on the old IKE SA.
func TestIKEAndChildRekeyCross(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testnet.Buffer
		p, sa := collisionPair(t, 5, &logs, nil)
		p.net.Delay = time.Second
		before := sa.Info()
		tr := startTraffic(p, 100*time.Millisecond)
		time.Sleep(time.Second)
		if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
			t.Fatal(err)
		}
		if n := p.resp.Rekey(context.Background(), ike.RekeyChildren, all); n != 1 {
			t.Fatalf("responder started %d rekeys", n)
		}
		time.Sleep(40 * time.Second)
		synctest.Wait()
		tr.finish(t)
		after := checkOneSA(t, p, sa)
		if after.SPIi == before.SPIi {
			t.Error("the IKE SA was not rekeyed")
		}
		if after.Children[0].SPIIn == before.Children[0].SPIIn {
			t.Error("the CHILD SA was not rekeyed")
		}
		if !strings.Contains(logs.String(), "TEMPORARY_FAILURE") {
			t.Error("no TEMPORARY_FAILURE: the requests did not cross")
		}
	})
}

// TestRekeyAPI checks the errors of SA.Rekey on a closed SA.
func TestRekeyAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testnet.Buffer
		_, sa := collisionPair(t, 1, &logs, nil)
		if err := sa.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := sa.Rekey(context.Background(), ike.RekeyIKE|ike.RekeyChildren); !errors.Is(err, ike.ErrClosed) {
			t.Errorf("Rekey of a closed SA: %v, want ErrClosed", err)
		}
	})
}

// TestRekeysFor24Hours runs one tunnel for a virtual day in which both
// peers rekey the CHILD SA (every 20 minutes, minus jitter) and the IKE SA
// (every hour) on their own timers over a network with 300 ms delay, with
// a packet each way every 2 seconds through the SAs the data planes would
// use. No packet may be lost, collisions must resolve, and at the end
// there is one IKE SA and one CHILD SA pair with matching keys.
func TestRekeysFor24Hours(t *testing.T) {
	if testing.Short() {
		t.Skip("long in -short mode")
	}
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		for _, c := range []*ike.PeerConfig{respCfg, initCfg} {
			c.RekeyTime = time.Hour
			c.Children = []ike.ChildConfig{{Name: "net", RekeyTime: 20 * time.Minute}}
		}
		initCfg.RekeyTime = 61 * time.Minute // not in lockstep with the gateway
		var logs testnet.Buffer
		var ikeDowns, childUps atomic.Int32
		p := newPair(t, respCfg, ike.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), ike.WithHooks(&ike.Hooks{
			IKEDown: func(ipsec.IKESAInfo, error) { ikeDowns.Add(1) },
			ChildUp: func(ipsec.IKESAInfo, ipsec.ChildSAInfo) { childUps.Add(1) },
		}))
		p.net.Delay = 300 * time.Millisecond
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := sa.Info()
		tr := startTraffic(p, 2*time.Second)
		maxSAs := 0
		for range 24 * 60 {
			time.Sleep(time.Minute)
			maxSAs = max(maxSAs, len(p.respDP.SAs()), len(p.initDP.SAs()))
		}
		synctest.Wait()
		if tr.lost.Load() > 0 {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "T"+tr.firstLoss[len("gateway->client at "):][:4]) {
					t.Log(line)
				}
			}
		}
		tr.finish(t)
		last := checkOneSA(t, p, sa)
		if last.SPIi == first.SPIi || last.Children[0].SPIIn == first.Children[0].SPIIn {
			t.Error("SAs were not rekeyed")
		}
		// Each side rekeys the CHILD SA about 3 times an hour.
		if n := childUps.Load(); n < 24*3 {
			t.Errorf("the gateway saw %d CHILD SAs in 24 hours", n)
		}
		if n := ikeDowns.Load(); n != 0 {
			t.Errorf("%d IKEDown hooks", n)
		}
		if maxSAs > 6 {
			t.Errorf("up to %d ESP SAs on one side", maxSAs)
		}
		l := logs.String()
		t.Logf("packets: %d; CHILD SAs at the gateway: %d; IKE rekeys seen by the gateway: %d; collisions: %d; max ESP SAs: %d",
			tr.sent.Load(), childUps.Load(), strings.Count(l, "IKE SA rekeyed"), strings.Count(l, "collision"), maxSAs)
	})
}

// TestSupersededIKESAsBounded has a peer that rekeys its IKE SA in a loop
// without ever deleting the old ones (its Deletes are lost): the gateway
// keeps at most maxSuperseded (8) of them, refuses further IKE rekeys
// with TEMPORARY_FAILURE, and accepts them again once the old SAs are
// gone (they linger at most 2 minutes).
func TestSupersededIKESAsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testnet.Buffer
		p, sa := collisionPair(t, 20, &logs, nil)
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			m, err := wire.Parse(pkt.Data)
			return err != nil || pkt.Remote.Addr() != clientAddr || m.Header.Exchange != wire.INFORMATIONAL || m.Header.IsResponse()
		})
		most := 0
		for range 15 {
			sa.Rekey(context.Background(), ike.RekeyIKE)
			time.Sleep(3 * time.Second)
			most = max(most, len(p.resp.SAs()))
		}
		if most > 9 {
			t.Errorf("the gateway held %d IKE SAs of one peer", most)
		}
		if !strings.Contains(logs.String(), "refusing IKE rekey") {
			t.Error("no IKE rekey was refused")
		}
		p.net.SetFilter(nil) // the peer behaves again
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if n := len(p.resp.SAs()); n != 1 {
			t.Errorf("%d gateway SAs after the superseded ones expired", n)
		}
		before := sa.Info().SPIi
		if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if sa.Info().SPIi == before {
			t.Error("IKE rekeys still refused after the superseded SAs expired")
		}
		t.Logf("most IKE SAs at the gateway: %d", most)
	})
}
