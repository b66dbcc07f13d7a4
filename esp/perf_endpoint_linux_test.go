//go:build linux

package esp

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/transport"
	"golang.zx2c4.com/wireguard/tun"
)

// TestPerfEndpoint is not a test but the tunnel endpoint that
// scripts/perf-tunnel.sh runs in each namespace (the helper-process
// pattern of os/exec's tests): it creates a TUN device and a userspace
// engine with one static SA pair and serves until SIGTERM or
// ESP_PERF_SECONDS pass. It does nothing unless ESP_PERF_ENDPOINT=1.
//
//	ESP_PERF_TUN      TUN device name
//	ESP_PERF_LOCAL    outer local address     ESP_PERF_PEER  outer peer address
//	ESP_PERF_INNER    inner local prefix      ESP_PERF_PEER_INNER  inner peer prefix
//	ESP_PERF_SPI_OUT, ESP_PERF_SPI_IN, ESP_PERF_KEY_OUT, ESP_PERF_KEY_IN (hex, AES-GCM-128 key+salt)
//	ESP_PERF_ENCAP=1  ESP in UDP on port 4500 (else raw ESP)
//	ESP_PERF_TRANSPORT=1  with ESP_PERF_ENCAP=1: port 4500 is read by the
//	                  IKE transport (transport.ListenUDP, SetESPBatchHandler,
//	                  HandleUDPBatch) as in examples/responder, not by the engine;
//	                  ESP_PERF_TRANSPORT=single: the same with SetESPHandler and
//	                  HandleUDP, one packet at a time (the path before batching)
func TestPerfEndpoint(t *testing.T) {
	if os.Getenv("ESP_PERF_ENDPOINT") != "1" {
		t.Skip("helper process for scripts/perf-tunnel.sh; set ESP_PERF_ENDPOINT=1")
	}
	env := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s not set", k)
		}
		return v
	}
	local, peer := netip.MustParseAddr(env("ESP_PERF_LOCAL")), netip.MustParseAddr(env("ESP_PERF_PEER"))
	inner, peerInner := netip.MustParsePrefix(env("ESP_PERF_INNER")), netip.MustParsePrefix(env("ESP_PERF_PEER_INNER"))
	spiOut, _ := strconv.ParseUint(env("ESP_PERF_SPI_OUT"), 0, 32)
	spiIn, _ := strconv.ParseUint(env("ESP_PERF_SPI_IN"), 0, 32)
	keyOut, err1 := hex.DecodeString(env("ESP_PERF_KEY_OUT"))
	keyIn, err2 := hex.DecodeString(env("ESP_PERF_KEY_IN"))
	if err1 != nil || err2 != nil {
		t.Fatal("bad key hex")
	}
	secs, _ := strconv.Atoi(os.Getenv("ESP_PERF_SECONDS"))
	if secs <= 0 {
		secs = 300
	}
	port := uint16(0)
	if os.Getenv("ESP_PERF_ENCAP") == "1" {
		port = 4500
	}
	dev, err := tun.CreateTUN(env("ESP_PERF_TUN"), 1400)
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithRawESP()}
	var conn *net.UDPConn
	var tr *transport.Transport
	viaTransport := os.Getenv("ESP_PERF_TRANSPORT")
	if port != 0 && (viaTransport == "1" || viaTransport == "single") {
		tr, err = transport.ListenUDP(context.Background(), transport.WithListenAddrs(local), transport.WithPorts(transport.PortIKE, int(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		opts = nil
		for _, c := range tr.NATTConns() {
			opts = append(opts, WithUDPSendConn(c))
		}
	} else if port != 0 {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, port)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		opts = []Option{WithUDPConn(conn)}
	}
	u, err := NewUserspace(dev, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	switch {
	case tr != nil && viaTransport == "single":
		tr.SetESPHandler(func(pkt []byte, _, from netip.AddrPort) { _ = u.HandleUDP(pkt, from) })
		defer func() { t.Logf("transport stats: %+v", tr.Stats()) }()
	case tr != nil:
		tr.SetESPBatchHandler(func(pkts [][]byte, from []netip.AddrPort) { _ = u.HandleUDPBatch(pkts, from) })
		defer func() { t.Logf("transport stats: %+v", tr.Stats()) }()
	}
	ctx := context.Background()
	lAP, pAP := netip.AddrPortFrom(local, port), netip.AddrPortFrom(peer, port)
	for _, sa := range []*SA{
		{SPI: uint32(spiOut), Dir: DirOut, Src: lAP, Dst: pAP, EncrKey: keyOut},
		{SPI: uint32(spiIn), Dir: DirIn, Src: pAP, Dst: lAP, EncrKey: keyIn},
	} {
		sa.Encr, sa.EncrKeyBits, sa.ReqID = proposal.EncrAESGCM16, 128, 1
		if err := u.AddSA(ctx, sa); err != nil {
			t.Fatal(err)
		}
	}
	l, r := PrefixSelector(inner), PrefixSelector(peerInner)
	for _, p := range []Policy{{Dir: DirOut, Src: l, Dst: r, ReqID: 1}, {Dir: DirIn, Src: r, Dst: l, ReqID: 1}} {
		if err := u.AddPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(time.Duration(secs) * time.Second):
	}
	t.Logf("stats: %+v", u.Stats())
}
