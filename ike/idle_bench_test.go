package ike_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

// nullDataPlane accepts everything and keeps nothing, so that what an
// idle-SA benchmark measures is the IKE engine's memory, not a test
// double's tables (a real data plane's per-SA cost is the esp
// package's, measured there).
type nullDataPlane struct{ events chan esp.Event }

func (nullDataPlane) AddSA(context.Context, *esp.SA) error              { return nil }
func (nullDataPlane) UpdateSA(context.Context, esp.SAID, *esp.SA) error { return nil }
func (nullDataPlane) DeleteSA(context.Context, esp.SAID) error          { return nil }
func (nullDataPlane) AddPolicy(context.Context, esp.Policy) error       { return nil }
func (nullDataPlane) DeletePolicy(context.Context, esp.Policy) error    { return nil }
func (nullDataPlane) SAStats(esp.SAID) (esp.SAStats, error)             { return esp.SAStats{}, nil }
func (d nullDataPlane) Events() <-chan esp.Event                        { return d.events }
func (nullDataPlane) Close() error                                      { return nil }

// idleSAConfigs returns the responder's and initiator's configurations
// for auth ("psk" or "rsa2048").
func idleSAConfigs(b *testing.B, auth string) (resp, init *ike.PeerConfig) {
	b.Helper()
	resp, init = pskConfigs()
	if auth == "psk-vip" {
		// Every SA of the one identity leases a virtual address: the
		// per-identity bookkeeping must not grow with the identity's
		// SAs (the setups of the last SAs cost what the first did).
		pool, err := ipsec.NewPool(netip.MustParsePrefix("2001:db8:100::/112"))
		if err != nil {
			b.Fatal(err)
		}
		resp.Pools = []ipsec.AddressPool{pool}
		init.VirtualIPs = []netip.Addr{netip.IPv6Unspecified()}
	}
	if auth == "rsa2048" {
		pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com")
		if err != nil {
			b.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(pki.CA.Cert)
		resp.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key}
		resp.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		init.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER}, Key: pki.Client.Key}
		init.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
		init.LocalID = ipsec.Email("client@example.com")
	}
	return resp, init
}

// BenchmarkIdleSA measures what established, idle IKE SAs with one CHILD
// SA each cost the responder: n initiators' SAs are set up through the
// in-memory network, then the initiator is dropped without telling the
// responder (its packets are filtered), and after runtime.GC the
// responder's share of the heap and of the goroutines is divided by n.
// To see what an idle SA holds, IKE_IDLE_HEAPPROFILE names a file for a
// heap profile written while the SAs are up (its inuse_space; a finer
// -memprofilerate samples more of them):
//
//	IKE_IDLE_HEAPPROFILE=/tmp/idle.mem go test -run '^$' -bench 'BenchmarkIdleSA/psk/1000$' -benchtime 1x -memprofilerate 512 ./ike
//	go tool pprof -sample_index=inuse_space -top ike.test /tmp/idle.mem
//
// IKE_IDLE_CPUPROFILE names a file for a CPU profile of the second the
// SAs idle (idle-CPU-ms/s): what wakes up.
func BenchmarkIdleSA(b *testing.B) {
	for _, c := range []struct {
		auth string
		n    int
	}{{"psk", 1000}, {"psk", 10000}, {"psk-vip", 1000}, {"psk-vip", 10000}, {"rsa2048", 1000}} {
		b.Run(fmt.Sprintf("%s/%d", c.auth, c.n), func(b *testing.B) {
			respCfg, initCfg := idleSAConfigs(b, c.auth)
			props, err := proposal.Parse("aes128gcm16-prfsha256-curve25519", proposal.ProtoIKE)
			if err != nil {
				b.Fatal(err)
			}
			initCfg.Proposals = props
			for b.Loop() {
				r := idleSACost(b, respCfg, initCfg, props, c.n)
				b.ReportMetric(r.heap+r.stack, "B/SA")
				b.ReportMetric(r.heap, "heapB/SA")
				b.ReportMetric(r.stack, "stackB/SA")
				b.ReportMetric(r.goroutines, "goroutines/SA")
				b.ReportMetric(r.timers, "timers/SA")
				b.ReportMetric(r.idleCPU, "idle-CPU-ms/s")
				b.ReportMetric(r.heapLater, "heapB/SA-after-5min")
				b.ReportMetric(r.timersLater, "timers/SA-after-5min")
			}
		})
	}
}

// idleCost is what idle SAs cost the responder, per SA (heap and stack
// bytes, goroutines, armed timers) and in CPU time per second of wall
// time while they idle (idleInterval; the process's, mostly the runtime's).
type idleCost struct {
	heap, stack, goroutines, timers, idleCPU float64
	// heapLater and timersLater: the same once the SAs have dropped what
	// they keep for the peer's retransmissions (respCacheTTL, 5 minutes
	// after their last exchange; ExpireCachedResponses does it at once).
	heapLater, timersLater float64
}

// idleInterval is how long the SAs idle while the CPU is counted.
const idleInterval = time.Second

// idleSACost sets up n SAs and returns what they cost the responder.
func idleSACost(b *testing.B, respCfg, initCfg *ike.PeerConfig, props proposal.List, n int) idleCost {
	b.Helper()
	net := iketest.NewNetwork(1)
	resp, err := ike.NewResponder(net.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)),
		ike.WithDataPlane(nullDataPlane{make(chan esp.Event)}), ike.WithProposals(props),
		ike.WithHalfOpenLimits(ike.DefaultHalfOpenTimeout, 1<<20, 1<<20), ike.WithSourceLimits(1<<20, 1<<20),
		ike.WithIdentityLimits(ike.IdentityLimits{IKESAs: -1, Leases: -1}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { resp.Serve(ctx); close(served) }()
	defer func() { cancel(); <-served }()
	select {
	case <-resp.Ready():
	case <-time.After(5 * time.Second):
		b.Fatal("responder not serving")
	}
	init, err := ike.NewInitiator(net.Endpoint(clientAddr), ike.WithDataPlane(nullDataPlane{make(chan esp.Event)}))
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	b.StartTimer()
	gw := netip.AddrPortFrom(gwAddr, 500)
	for i := range n {
		if _, err := init.Dial(context.Background(), gw, initCfg); err != nil {
			b.Fatalf("SA %d: %v", i, err)
		}
	}
	b.StopTimer()
	if got := len(resp.SAs()); got != n {
		b.Fatalf("responder holds %d SAs, want %d", got, n)
	}
	// Drop the initiator's side without a Delete reaching the responder.
	net.SetFilter(func(p *ike.Packet) bool { return p.Local.Addr() != gwAddr }) // as the receiver sees it
	closeCtx, stop := context.WithCancel(context.Background())
	stop()
	init.Close(closeCtx)
	init = nil
	if got := len(resp.SAs()); got != n {
		b.Fatalf("responder holds %d SAs after the initiator left, want %d", got, n)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	if path := os.Getenv("IKE_IDLE_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	timers := resp.ArmedTimers()
	if path := os.Getenv("IKE_IDLE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuSeconds()
	time.Sleep(idleInterval)
	idleCPU := (cpuSeconds() - cpu0) * 1000 / idleInterval.Seconds()
	resp.ExpireCachedResponses()
	var later runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&later)
	timersLater := resp.ArmedTimers()
	b.StartTimer()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return idleCost{
		heap: per(after.HeapAlloc, before.HeapAlloc), stack: per(after.StackInuse, before.StackInuse),
		goroutines: float64(g1-g0) / float64(n), timers: float64(timers) / float64(n), idleCPU: idleCPU,
		heapLater: per(later.HeapAlloc, before.HeapAlloc), timersLater: float64(timersLater) / float64(n),
	}
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
