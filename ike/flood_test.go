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

	"github.com/goipsec/ipsec/ike"
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
		attacker.SetIKEv2Handler(func(pkt ike.Packet) {
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
