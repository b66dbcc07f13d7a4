package ike_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
)

// countInitRequests counts the IKE_SA_INIT requests on the network.
func countInitRequests(n *iketest.Network) *atomic.Int32 {
	var c atomic.Int32
	n.SetFilter(func(p *ike.Packet) bool {
		if h, err := wire.ParseHeader(p.Data); err == nil && h.Exchange == wire.IKE_SA_INIT && !h.IsResponse() {
			c.Add(1)
		}
		return true
	})
	return &c
}

// A client that sends right after `go Serve` must not lose its first
// IKE_SA_INIT: before the fix the responder registered with the transport
// inside Serve, the request was dropped unclaimed and the client got its
// answer only after a retransmission.
func TestFirstPacketRightAfterGoServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		net := iketest.NewNetwork(1)
		inits := countInitRequests(net)
		resp, err := ike.NewResponder(net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithRand(iketest.NewRand(1)))
		if err != nil {
			t.Fatal(err)
		}
		init, err := ike.NewInitiator(net.Endpoint(clientAddr), ike.WithRand(iketest.NewRand(2)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- resp.Serve(ctx) }()
		start := time.Now()
		sa, err := init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if n := inits.Load(); n != 1 {
			t.Errorf("%d IKE_SA_INIT requests, want 1: the first was lost", n)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Dial took %v of virtual time, want none (no retransmission)", d)
		}
		select {
		case <-resp.Ready():
		default:
			t.Error("Ready not closed while Serve answers")
		}
		sa.Close(context.Background())
		cancel()
		if err := <-served; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
	})
}

// The same over real UDP sockets on loopback, ten times: the transport
// counts packets that found no handler.
func TestFirstPacketRightAfterGoServeUDP(t *testing.T) {
	respCfg, initCfg := pskConfigs()
	lo := netip.MustParseAddr("127.0.0.1")
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		gw, err := ike.ListenUDP(ctx, ike.WithListenAddrs(lo), ike.WithPorts(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		cl, err := ike.ListenUDP(ctx, ike.WithListenAddrs(lo), ike.WithPorts(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ike.NewResponder(gw, ike.WithPeers(ike.StaticPeers(respCfg)))
		if err != nil {
			t.Fatal(err)
		}
		init, err := ike.NewInitiator(cl)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- resp.Serve(ctx) }()
		port, _ := gw.Ports()
		sa, err := init.Dial(ctx, netip.AddrPortFrom(lo, port), initCfg)
		if err != nil {
			t.Fatalf("run %d: Dial: %v", i, err)
		}
		if st := gw.Stats(); st.Unclaimed != 0 {
			t.Errorf("run %d: %d packets reached the gateway before the responder took them", i, st.Unclaimed)
		}
		sa.Close(ctx)
		init.Close(ctx)
		cancel()
		<-served
		gw.Close()
		cl.Close()
	}
}

func TestServeTwiceAndReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, _ := pskConfigs()
		resp, err := ike.NewResponder(iketest.NewNetwork(1).Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-resp.Ready():
			t.Fatal("Ready closed before Serve")
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- resp.Serve(ctx) }()
		<-resp.Ready()
		if err := resp.Serve(ctx); err == nil {
			t.Error("a second Serve returned nil")
		}
		cancel()
		<-served
	})
}

// dialClients dials n clients (at 192.0.2.10, .11, ...) to the pair's
// gateway with initCfg, each with its own identity (c0@example.com, ...)
// unless initCfg uses EAP.
func dialClients(t *testing.T, p *pair, initCfg *ike.PeerConfig, n int) []*ike.SA {
	t.Helper()
	var out []*ike.SA
	for i := range n {
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
		in, err := ike.NewInitiator(p.net.Endpoint(addr), ike.WithRand(iketest.NewRand(byte(10+i))), ike.WithClock(func() time.Time { return wallClock }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(context.Background()) })
		cfg := *initCfg
		if cfg.Local.Method != ike.AuthEAP {
			cfg.LocalID = ipsec.Email(fmt.Sprintf("c%d@example.com", i))
		}
		sa, err := in.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &cfg)
		if err != nil {
			t.Fatalf("client %d: Dial: %v", i, err)
		}
		out = append(out, sa)
	}
	return out
}

// ikeDownRecorder collects IKEDown calls.
type ikeDownRecorder struct {
	mu    sync.Mutex
	downs map[uint64]error
	n     int
}

func (d *ikeDownRecorder) hooks() *ike.Hooks {
	d.downs = map[uint64]error{}
	return &ike.Hooks{IKEDown: func(info ipsec.IKESAInfo, err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.downs[info.SessionID] = err
		d.n++
	}}
}

func (d *ikeDownRecorder) get() (map[uint64]error, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[uint64]error{}
	for k, v := range d.downs {
		m[k] = v
	}
	return m, d.n
}

// Shutdown stops accepting, deletes every IKE SA telling the peer (which
// answers), and Serve returns ErrClosed.
func TestShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var rec ikeDownRecorder
		p := newPair(t, respCfg, ike.WithHooks(rec.hooks()))
		sas := dialClients(t, p, initCfg, 3)
		if n := len(p.resp.SAs()); n != 3 {
			t.Fatalf("%d SAs, want 3", n)
		}
		var deletes atomic.Int32 // the clients' goroutines send their answers
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			if h, err := wire.ParseHeader(pkt.Data); err == nil && h.Exchange == wire.INFORMATIONAL {
				deletes.Add(1)
			}
			return true
		})
		if err := p.resp.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		synctest.Wait() // the clients destroy their SAs after their answers
		if n := deletes.Load(); n != 6 {
			t.Errorf("%d INFORMATIONAL messages, want 3 Deletes and 3 answers", n)
		}
		for i, sa := range sas {
			select {
			case <-sa.Done():
			default:
				t.Errorf("client %d still has its IKE SA", i)
			}
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d SAs after Shutdown", n)
		}
		if n := len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d ESP SAs left in the data plane", n)
		}
		if _, n := rec.get(); n != 3 {
			t.Errorf("%d IKEDown calls, want 3", n)
		}
		<-p.serveStopped
		// No new IKE SAs.
		in, _ := ike.NewInitiator(p.net.Endpoint(netip.MustParseAddr("192.0.2.50")), ike.WithRetransmission(time.Second, 1, 1))
		defer in.Close(context.Background())
		if _, err := in.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err == nil {
			t.Error("Dial after Shutdown succeeded")
		}
		if err := p.resp.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
}

// Serve returns ErrClosed after Shutdown and Close.
func TestServeReturnsErrClosed(t *testing.T) {
	for _, name := range []string{"Shutdown", "Close"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				net := iketest.NewNetwork(1)
				resp, err := ike.NewResponder(net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithDataPlane(iketest.NewDataPlane()))
				if err != nil {
					t.Fatal(err)
				}
				served := make(chan error, 1)
				go func() { served <- resp.Serve(context.Background()) }()
				in, _ := ike.NewInitiator(net.Endpoint(clientAddr))
				defer in.Close(context.Background())
				sa, err := in.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if name == "Shutdown" {
					err = resp.Shutdown(context.Background())
				} else {
					err = resp.Close()
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("%s took %v", name, d)
				}
				if err := <-served; !errors.Is(err, ike.ErrClosed) {
					t.Errorf("Serve returned %v, want ErrClosed", err)
				}
				synctest.Wait()
				select {
				case <-sa.Done():
				default:
					t.Error("the client was not told")
				}
			})
		})
	}
}

// Shutdown with a peer that never answers its Delete returns when ctx
// ends, with ctx's error, and the SA is gone anyway.
func TestShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		p.net.SetFilter(func(*ike.Packet) bool { return false }) // the peer is gone
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := p.resp.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Shutdown took %v, want the 1s of its ctx", d)
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d SAs after Shutdown", n)
		}
		if n := len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d ESP SAs left", n)
		}
	})
}

// dropRekeys makes the pair's network drop CREATE_CHILD_SA messages, so an
// IKE rekey the gateway starts stays unanswered: its new IKE SA is
// reserved in the table but never runs.
func dropRekeys(p *pair) {
	p.net.SetFilter(func(pkt *ike.Packet) bool {
		h, _ := wire.ParseHeader(pkt.Data)
		return h.Exchange != wire.CREATE_CHILD_SA
	})
}

// SAs, Shutdown and Terminate skip the IKE SA a pending rekey reserved:
// a command sent to it waited until the rekey completed, forever when it
// failed.
func TestSAsDuringUnansweredIKERekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		dropRekeys(p)
		if n := p.resp.Rekey(context.Background(), ike.RekeyIKE, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
			t.Fatalf("%d rekeys started", n)
		}
		synctest.Wait()
		got := make(chan []ipsec.IKESAInfo)
		go func() { got <- p.resp.SAs() }()
		var sas []ipsec.IKESAInfo
		select {
		case sas = <-got:
		case <-time.After(10 * time.Minute):
			t.Fatal("SAs() hangs during an unanswered IKE rekey")
		}
		if len(sas) != 1 {
			t.Fatalf("%d SAs, want the one being rekeyed", len(sas))
		}
		// The Delete waits behind the unanswered rekey (window size 1),
		// so the SA goes after Terminate's short wait, untold.
		start := time.Now()
		if err := p.resp.Terminate(context.Background(), sas[0].SessionID); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Terminate took %v, want its 5 s wait", d)
		}
		if n := len(p.resp.SAs()) + len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d IKE and ESP SAs after Terminate", n)
		}
		sa.Close(context.Background())
	})
}

func TestShutdownDuringUnansweredIKERekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		dropRekeys(p)
		p.resp.Rekey(context.Background(), ike.RekeyIKE, func(ipsec.IKESAInfo) bool { return true })
		synctest.Wait()
		start := time.Now()
		if err := p.resp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Shutdown took %v", d)
		}
		if n := len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d ESP SAs left", n)
		}
	})
}

// What arrives before Serve is held within bounds: 64 messages here, the
// rest dropped and counted.
func TestEarlyPacketsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, _ := pskConfigs()
		net := iketest.NewNetwork(1)
		resp, err := ike.NewResponder(net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)))
		if err != nil {
			t.Fatal(err)
		}
		from := net.Endpoint(clientAddr)
		msg := make([]byte, 28) // an IKEv2 header of an unknown SA
		msg[0], msg[8], msg[17], msg[18] = 1, 1, 0x20, byte(wire.INFORMATIONAL)
		for range 100 {
			from.Send(ike.Packet{Data: msg, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
		}
		if d := resp.Stats().Dropped; d != 36 {
			t.Errorf("%d dropped before Serve, want the 36 beyond the 64 held", d)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go resp.Serve(ctx)
		<-resp.Ready()
		if d := resp.Stats().Dropped; d != 100 {
			t.Errorf("%d dropped after Serve, want all 100 (the held ones belong to no SA)", d)
		}
	})
}
