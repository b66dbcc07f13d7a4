package ike_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
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
