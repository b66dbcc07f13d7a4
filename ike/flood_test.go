package ike_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// spoofedInit builds a well-formed IKE_SA_INIT request with a fresh SPI,
// the kind a flood sends (RFC 7296 section 2.6).
func spoofedInit(t testing.TB) []byte {
	var spi [8]byte
	rand.Read(spi[:])
	pub := make([]byte, 32)
	rand.Read(pub)
	nonce := make([]byte, 32)
	rand.Read(nonce)
	m := &wire.Message{
		Header: wire.Header{SPIi: binary.BigEndian.Uint64(spi[:]) | 1, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: 1, Transforms: []wire.Transform{
				{Type: 1, ID: 20, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
				{Type: 2, ID: 5}, {Type: 4, ID: 31},
			}}}},
			&wire.KE{Group: 31, Data: pub},
			&wire.Nonce{Data: nonce},
		},
	}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// TestFloodTurnsOnCookies sends 10,000 spoofed IKE_SA_INIT requests over
// loopback while a legitimate client connects: the responder keeps at
// most the cookie threshold of half-open SAs, answers the rest with
// cookies, stays within a memory bound, and the client gets through.
func TestFloodTurnsOnCookies(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test skipped in -short mode")
	}
	ctx := context.Background()
	lo := netip.MustParseAddr("127.0.0.1")
	trR, err := ike.ListenUDP(ctx, ike.WithListenAddrs(lo), ike.WithPorts(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer trR.Close()
	trI, err := ike.ListenUDP(ctx, ike.WithListenAddrs(lo), ike.WithPorts(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer trI.Close()
	respCfg, initCfg := pskConfigs()
	const threshold = 50
	resp, err := ike.NewResponder(trR, ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithHalfOpenLimits(30*time.Second, threshold, 1000))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { resp.Serve(sctx); close(served) }()
	defer func() { cancel(); <-served }()
	time.Sleep(50 * time.Millisecond)
	init, err := ike.NewInitiator(trI)
	if err != nil {
		t.Fatal(err)
	}
	defer init.Close(ctx)

	before := heapMB()
	ikePort, _ := trR.Ports()
	target := net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, ikePort))
	attacker, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	// Drain the cookies the responder sends back so the socket never
	// pushes back on it.
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := attacker.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	dialErr := make(chan error, 1)
	const flood = 10000
	for i := range flood {
		if _, err := attacker.WriteToUDP(spoofedInit(t), target); err != nil {
			t.Fatal(err)
		}
		if i == flood/2 {
			go func() {
				dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
				defer dcancel()
				sa, err := init.Dial(dctx, netip.AddrPortFrom(lo, ikePort), initCfg)
				if err == nil {
					sa.Close(dctx)
				}
				dialErr <- err
			}()
		}
	}
	if err := <-dialErr; err != nil {
		t.Fatalf("legitimate client failed during the flood: %v", err)
	}
	st := resp.Stats()
	if st.HalfOpen > threshold+1 {
		t.Errorf("%d half-open SAs, threshold %d", st.HalfOpen, threshold)
	}
	// The kernel drops what the socket buffer cannot hold; of what
	// reached the responder, everything beyond the threshold (and the
	// client's own few messages) must have been answered with a cookie.
	received := trR.Stats().IKEv2
	if received < flood/10 || st.CookiesSent+threshold+10 < received {
		t.Errorf("%d requests received, %d cookies sent, threshold %d", received, st.CookiesSent, threshold)
	}
	grown := heapMB() - before
	t.Logf("flood: %d requests sent, %d received, %d cookies, %d half-open, %d dropped/rejected, heap +%.1f MiB", flood, received, st.CookiesSent, st.HalfOpen, st.Dropped+st.Rejected, grown)
	if grown > 64 {
		t.Errorf("heap grew by %.1f MiB during the flood", grown)
	}
}

// cookieFlooder is an attacker at one address that answers cookies: it
// sends IKE_SA_INIT requests with fresh SPIs and repeats each with the
// COOKIE the responder demands, the way a real client would, so the
// global cookie threshold does not stop it (RFC 7296 section 2.6).
type cookieFlooder struct {
	ep  *iketest.Endpoint
	gw  netip.AddrPort
	reg *ike.Registration // its receiver on ep

	mu      sync.Mutex
	cookies map[uint64][]byte // by SPIi
}

// allPackets is a PacketHandler taking every IKEv2 message of an
// endpoint: as its only engine and the responder, it gets the messages no
// SPI claim matches, and it claims none.
type allPackets func(ike.Packet)

func (allPackets) IKEVersion() int             { return 2 }
func (allPackets) Responder() bool             { return true }
func (f allPackets) HandlePacket(p ike.Packet) { f(p) }

// listenAll makes f the receiver of every IKEv2 message reaching ep.
func listenAll(ep *iketest.Endpoint, f func(ike.Packet)) *ike.Registration {
	reg, err := ep.Register(allPackets(f))
	if err != nil {
		panic(err) // one receiver per endpoint in these tests
	}
	return reg
}

func newCookieFlooder(ep *iketest.Endpoint, gw netip.AddrPort) *cookieFlooder {
	f := &cookieFlooder{ep: ep, gw: gw, cookies: map[uint64][]byte{}}
	f.reg = listenAll(ep, func(p ike.Packet) {
		m, err := wire.Parse(p.Data)
		if err != nil || len(m.Payloads) == 0 {
			return
		}
		if n, ok := m.Payloads[0].(*wire.Notify); ok && n.Type == wire.COOKIE {
			f.mu.Lock()
			f.cookies[m.Header.SPIi] = append([]byte(nil), n.Data...)
			f.mu.Unlock()
		}
	})
	return f
}

// request builds the IKE_SA_INIT request with SPI spi (x25519, AES-GCM),
// with cookie first if not nil.
func (f *cookieFlooder) request(t testing.TB, spi uint64, cookie []byte) []byte {
	pub := make([]byte, 32)
	binary.BigEndian.PutUint64(pub, spi)
	pub[31] = 0x40 // no low-order point
	nonce := make([]byte, 32)
	binary.BigEndian.PutUint64(nonce[8:], spi)
	ps := []wire.Payload{
		&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: 1, Transforms: []wire.Transform{
			{Type: 1, ID: 20, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
			{Type: 2, ID: 5}, {Type: 4, ID: 31},
		}}}},
		&wire.KE{Group: 31, Data: pub},
		&wire.Nonce{Data: nonce},
	}
	if cookie != nil {
		ps = append([]wire.Payload{&wire.Notify{Type: wire.COOKIE, Data: cookie}}, ps...)
	}
	m := &wire.Message{Header: wire.Header{SPIi: spi, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator}, Payloads: ps}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send sends the request of spi and, if the responder wants a cookie,
// the request again with it. The in-memory network delivers
// synchronously, so a cookie has arrived when Send returns.
func (f *cookieFlooder) send(t testing.TB, spi uint64) {
	local := netip.AddrPortFrom(f.ep.Addr(), 500)
	f.ep.Send(ike.Packet{Data: f.request(t, spi, nil), Local: local, Remote: f.gw})
	f.mu.Lock()
	c := f.cookies[spi]
	delete(f.cookies, spi)
	f.mu.Unlock()
	if c != nil {
		f.ep.Send(ike.Packet{Data: f.request(t, spi, c), Local: local, Remote: f.gw})
	}
}

// halfOpenFrom counts the responder's SAs with a peer at addr that are
// not established.
func halfOpenFrom(r *ike.Responder, addr netip.Addr) int {
	n := 0
	for _, info := range r.SAs() {
		if info.Remote.Addr() == addr && info.State != "ESTABLISHED" {
			n++
		}
	}
	return n
}

// TestCookieEchoingFloodFromOneSource: an attacker behind a NAT
// address answers every cookie and floods IKE_SA_INIT requests, while a
// client at another address connects. The per-source limit keeps the
// attacker's address at DefaultSourceMaxHalfOpen half-open SAs (the
// rest is dropped and counted), so the client gets through at once,
// without a retransmission; before, the attacker took every one of the
// responder's half-open slots. A second client behind the same NAT
// address gets through once the attacker's half-open SAs time out.
func TestCookieEchoingFloodFromOneSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		const maxHalfOpen, halfOpenTO = 1000, 30 * time.Second
		p := newPair(t, respCfg, ike.WithHalfOpenLimits(halfOpenTO, 100, maxHalfOpen))
		natPub := netip.MustParseAddr("198.51.100.7")
		floodPriv, samePriv := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
		p.net.NAT(floodPriv, natPub)
		p.net.NAT(samePriv, natPub)
		gw := netip.AddrPortFrom(gwAddr, 500)
		fl := newCookieFlooder(p.net.Endpoint(floodPriv), gw)

		const flood = 3 * maxHalfOpen / 2
		type result struct {
			err     error
			elapsed time.Duration
		}
		other := make(chan result, 1)
		for i := range flood {
			fl.send(t, uint64(0x1000+i))
			if i == maxHalfOpen+100 {
				// Without a per-source limit the table is full by now.
				go func() {
					start := time.Now()
					_, err := p.init.Dial(context.Background(), gw, initCfg)
					other <- result{err, time.Since(start)}
				}()
			}
		}
		r := <-other
		if r.err != nil {
			t.Fatalf("client at another address: %v", r.err)
		}
		if r.elapsed >= ike.DefaultRetransmitTimeout {
			t.Errorf("client at another address needed %v (a retransmission): its first IKE_SA_INIT was refused", r.elapsed)
		}
		st := p.resp.Stats()
		if got := halfOpenFrom(p.resp, natPub); got != ike.DefaultSourceMaxHalfOpen {
			t.Errorf("%d half-open SAs from the flooding address, want the per-source limit %d", got, ike.DefaultSourceMaxHalfOpen)
		}
		if st.HalfOpen != ike.DefaultSourceMaxHalfOpen {
			t.Errorf("stats: %d half-open SAs, want %d", st.HalfOpen, ike.DefaultSourceMaxHalfOpen)
		}
		// Every request after the limit is dropped; cookies were
		// demanded from the per-source cookie threshold on.
		if want := uint64(flood - ike.DefaultSourceMaxHalfOpen); st.Blocked < want {
			t.Errorf("stats: %d requests blocked, want at least %d (%v)", st.Blocked, want, st)
		}
		if st.CookiesSent < ike.DefaultSourceMaxHalfOpen-ike.DefaultSourceCookieThreshold {
			t.Errorf("stats: %d cookies sent below the per-source limit (%v)", st.CookiesSent, st)
		}

		// A client behind the same NAT address is refused while the
		// attacker's half-open SAs live and gets through after they
		// time out (its retransmissions carry it past the timeout).
		same, err := ike.NewInitiator(p.net.Endpoint(samePriv), ike.WithRand(iketest.NewRand(3)))
		if err != nil {
			t.Fatal(err)
		}
		defer same.Close(context.Background())
		blocked := st.Blocked
		start := time.Now()
		sameCfg := *initCfg
		sameCfg.LocalID = ipsec.Email("bob@example.com")
		if _, err := same.Dial(context.Background(), gw, &sameCfg); err != nil {
			t.Fatalf("client behind the attacker's address after the half-open timeout: %v", err)
		}
		if d := time.Since(start); d < halfOpenTO {
			t.Errorf("client behind the attacker's address got through after %v, before the attacker's SAs timed out", d)
		}
		if got := p.resp.Stats().Blocked; got == blocked {
			t.Error("the same-address client's first requests were not blocked")
		}
		if got := halfOpenFrom(p.resp, natPub); got != 0 {
			t.Errorf("%d half-open SAs from the NAT address remain", got)
		}
	})
}

// TestAuthFailureLimitPerSource: after the configured number of failed
// IKE_AUTH attempts from an address, that address's IKE_SA_INIT requests
// are dropped until the window has passed, even with the right key;
// another address is not affected. Before the limit existed, password
// guessing from one address was limited only by its round trips.
func TestAuthFailureLimitPerSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		const failures, window = 3, time.Minute
		p := newPair(t, respCfg, ike.WithAuthFailureLimit(failures, window))
		gw := netip.AddrPortFrom(gwAddr, 500)
		bad := *initCfg
		bad.Local.PSK = ipsec.Secret("a guess that is not the key 1234")
		for i := range failures {
			if _, err := p.init.Dial(context.Background(), gw, &bad); !errors.Is(err, &ike.NotifyError{Type: wire.AUTHENTICATION_FAILED, Remote: true}) {
				t.Fatalf("guess %d: %v, want AUTHENTICATION_FAILED", i+1, err)
			}
		}
		if st := p.resp.Stats(); st.Blocked != 0 {
			t.Fatalf("blocked %d before the limit was reached", st.Blocked)
		}
		lastFailure := time.Now()

		// Another address connects at once.
		other, err := ike.NewInitiator(p.net.Endpoint(netip.MustParseAddr("192.0.2.3")), ike.WithRand(iketest.NewRand(3)))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(context.Background())
		start := time.Now()
		otherCfg := *initCfg
		otherCfg.LocalID = ipsec.Email("bob@example.com")
		if _, err := other.Dial(context.Background(), gw, &otherCfg); err != nil {
			t.Fatalf("client at another address: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("client at another address took %v", d)
		}

		// The guessing address, now with the right key, waits out the
		// window: its IKE_SA_INIT requests are dropped until then and a
		// retransmission gets through after.
		if _, err := p.init.Dial(context.Background(), gw, initCfg); err != nil {
			t.Fatalf("right key after the window: %v", err)
		}
		if d := time.Since(lastFailure); d < window {
			t.Errorf("the guessing address got through %v after its last failure, within the %v window", d, window)
		}
		if st := p.resp.Stats(); st.Blocked == 0 {
			t.Errorf("no request counted as blocked: %v", st)
		}
	})
}

// lineCounter is an io.Writer that counts log lines containing a string.
type lineCounter struct {
	mu    sync.Mutex
	match string
	lines []string
}

func (c *lineCounter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := string(b); strings.Contains(s, c.match) {
		c.lines = append(c.lines, s)
	}
	return len(b), nil
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// TestHostileProposalsReportBounded: a burst of IKE_SA_INIT requests
// with 64 KB SA payloads that match nothing. Each still gets
// NO_PROPOSAL_CHOSEN and an Alert, but the explanations (built on the
// socket read loop) and the warnings are rate-limited, and an
// explanation's size is bounded; after a quiet second explanations and
// warnings resume, the warning saying how many were suppressed.
func TestHostileProposalsReportBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, _ := pskConfigs()
		var mu sync.Mutex
		var alerts []ike.Alert
		logged := &lineCounter{match: "IKE proposal mismatch"}
		p := newPair(t, respCfg,
			ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { mu.Lock(); alerts = append(alerts, a); mu.Unlock() }}),
			ike.WithLogger(slog.New(slog.NewTextHandler(logged, nil))))
		attacker := p.net.Endpoint(netip.MustParseAddr("203.0.113.66"))
		var answers []string
		listenAll(attacker, func(pkt ike.Packet) {
			if m, err := wire.Parse(pkt.Data); err == nil {
				answers = append(answers, m.Summary())
			}
		})
		msgs := [][]byte{hostileInit(t, 255), hostileInit(t, 31)}
		send := func(i int) {
			attacker.Send(ike.Packet{Data: msgs[i%2], Local: netip.AddrPortFrom(attacker.Addr(), 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
		}
		const burst = 60
		for i := range burst {
			send(i)
		}
		explained := func() (n int) {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range alerts {
				if strings.Contains(a.Detail, "closest peer proposal") {
					n++
				}
			}
			return n
		}
		mu.Lock()
		if len(alerts) != burst {
			t.Fatalf("%d alerts for %d refused requests", len(alerts), burst)
		}
		for i, a := range alerts {
			if a.Kind != ike.AlertProposalMismatch || a.Detail == "" || !errors.Is(a.Err, proposal.ErrNoMatch) {
				t.Fatalf("alert %d: %v %q %v", i, a.Kind, a.Detail, a.Err)
			}
			if len(a.Detail) > 32<<10 {
				t.Errorf("alert %d: explanation of %d bytes", i, len(a.Detail))
			}
		}
		mu.Unlock()
		if len(answers) != burst || answers[0] != "IKE_SA_INIT response 0 [ N(NO_PROP) ]" {
			t.Errorf("%d answers, first %q", len(answers), answers[0])
		}
		n, l := explained(), logged.count()
		if n == 0 || n > burst/4 {
			t.Errorf("%d of %d alerts carry an explanation; want a few, the rest suppressed", n, burst)
		}
		if l == 0 || l > burst/4 {
			t.Errorf("%d warnings for %d refused requests; want a few", l, burst)
		}
		time.Sleep(2 * time.Second)
		send(0)
		if explained() != n+1 || logged.count() != l+1 {
			t.Errorf("after a quiet second: %d explanations (was %d), %d warnings (was %d)", explained(), n, logged.count(), l)
		}
		if last := logged.lines[len(logged.lines)-1]; !strings.Contains(last, fmt.Sprintf("suppressed=%d", burst-l)) {
			t.Errorf("warning after the burst does not count the suppressed ones: %s", last)
		}
	})
}

// TestKeyExchangeQueueBounded: while the key exchange workers are busy
// (held here, as a flood of MODP-3072 requests would keep them), the
// read loop admits requests up to the queue size, drops and counts the
// rest, and still answers other sources at once. Once the workers are
// free, every admitted request gets its IKE_SA_INIT response.
func TestKeyExchangeQueueBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, _ := pskConfigs()
		const queue, sources = 4, 10
		p := newPair(t, respCfg, ike.WithKeyExchangeLimits(1, queue))
		release := p.resp.HoldKeyExchanges()
		gw := netip.AddrPortFrom(gwAddr, 500)
		var mu sync.Mutex
		answers := map[netip.Addr][]string{}
		listen := func(ep *iketest.Endpoint) {
			listenAll(ep, func(pkt ike.Packet) {
				if m, err := wire.Parse(pkt.Data); err == nil {
					mu.Lock()
					answers[ep.Addr()] = append(answers[ep.Addr()], m.Summary())
					mu.Unlock()
				}
			})
		}
		var fl *cookieFlooder // for its request builder
		for i := range sources {
			ep := p.net.Endpoint(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}))
			fl = newCookieFlooder(ep, gw)
			fl.reg.Close() // listen receives instead
			listen(ep)
			fl.send(t, uint64(0x100+i))
		}
		st := p.resp.Stats()
		if st.HalfOpen != queue || st.KeyExchangeDropped != sources-queue {
			t.Errorf("with the workers busy: %d half-open, %d key exchanges dropped; want %d and %d (%v)", st.HalfOpen, st.KeyExchangeDropped, queue, sources-queue, st)
		}
		synctest.Wait()
		mu.Lock()
		for addr, a := range answers {
			t.Errorf("%s answered before a worker was free: %q", addr, a)
		}
		mu.Unlock()

		// The read loop still answers another source synchronously:
		// its proposal (MODP-768) is refused.
		other := p.net.Endpoint(netip.MustParseAddr("203.0.113.99"))
		listen(other)
		m, err := wire.Parse(fl.request(t, 0x999, nil))
		if err != nil {
			t.Fatal(err)
		}
		m.Payloads[0].(*wire.SA).Proposals[0].Transforms[2].ID = 1
		m.Payloads[1].(*wire.KE).Group = 1
		req, _ := m.Append(nil)
		other.Send(ike.Packet{Data: req, Local: netip.AddrPortFrom(other.Addr(), 500), Remote: gw})
		mu.Lock()
		if a := answers[other.Addr()]; len(a) != 1 || a[0] != "IKE_SA_INIT response 0 [ N(NO_PROP) ]" {
			t.Errorf("another source got %q while the key exchanges wait", a)
		}
		delete(answers, other.Addr())
		mu.Unlock()

		release()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		done := 0
		for _, a := range answers {
			if len(a) == 1 && strings.HasPrefix(a[0], "IKE_SA_INIT response 0 [ SA KE No") {
				done++
			}
		}
		if done != queue || len(answers) != queue {
			t.Errorf("%d IKE_SA_INIT responses after the workers were freed, want %d: %v", done, queue, answers)
		}
		// The queue is free again.
		if st := p.resp.Stats(); st.HalfOpen != queue {
			t.Errorf("half-open %d", st.HalfOpen)
		}
		ep := p.net.Endpoint(netip.MustParseAddr("203.0.113.100"))
		newCookieFlooder(ep, gw).send(t, 0x555)
		if st := p.resp.Stats(); st.HalfOpen != queue+1 || st.KeyExchangeDropped != sources-queue {
			t.Errorf("after the queue drained: %v", st)
		}
	})
}
