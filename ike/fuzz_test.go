package ike_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// FuzzResponderPacket throws arbitrary datagrams at a responder that has
// one established IKE SA: IKE_SA_INIT screening, cookie checks, SPI
// lookup, header and payload parsing must never panic, and the
// established SA must survive every input.
func FuzzResponderPacket(f *testing.F) {
	f.Add(spoofedInit(f))
	f.Add([]byte{})
	f.Add(make([]byte, 28))
	respCfg, initCfg := pskConfigs()
	n := iketest.NewNetwork(1)
	resp, err := ike.NewResponder(n.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)),
		ike.WithHalfOpenLimits(time.Second, 4, 8))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go resp.Serve(ctx)
	time.Sleep(20 * time.Millisecond)
	init, err := ike.NewInitiator(n.Endpoint(clientAddr))
	if err != nil {
		f.Fatal(err)
	}
	sa, err := init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
	if err != nil {
		f.Fatal(err)
	}
	info := sa.Info()
	// Seeds aimed at the established SA: its SPIs with garbage after.
	hdr := make([]byte, 28)
	for i := range 8 {
		hdr[i] = byte(info.SPIi >> (56 - 8*i))
		hdr[8+i] = byte(info.SPIr >> (56 - 8*i))
	}
	hdr[16], hdr[17], hdr[18], hdr[19], hdr[27] = 46, 0x20, 37, 0x08, 28
	f.Add(hdr)
	attacker := n.Endpoint(netip.MustParseAddr("203.0.113.9"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, port := range []uint16{500, 4500} {
			attacker.Send(ike.Packet{Data: data, Local: netip.AddrPortFrom(attacker.Addr(), port), Remote: netip.AddrPortFrom(gwAddr, port)})
		}
		if sa.Err() != nil {
			t.Fatalf("established SA died: %v", sa.Err())
		}
	})
}
