package ikev1_test

import (
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
)

// TestKernelCountersInInitiatorInfo is the host-side half of what the
// kernel suite (kernel_vm_test.go) asserts of our initiator: SA.Info()
// carries the data plane's current counters (there the kernel's), not
// those of the moment the SA's goroutine last handled an event. It runs
// anywhere, on the in-memory network and fake data plane.
func TestKernelCountersInInitiatorInfo(t *testing.T) {
	gwChild := ikev1.ChildConfig{Name: "net", LocalTS: []esp.Selector{sel("10.1.0.0/16")}, RemoteTS: []esp.Selector{sel("10.9.0.5/32")}}
	p := newPair(t, pskLookup("secret-c", false, gwChild), false)
	cfg := &ikev1.PeerConfig{Name: "cl", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("secret-c"), DPDDelay: -1,
		Children: []ikev1.ChildConfig{{Name: "net", LocalTS: []esp.Selector{sel("10.9.0.5/32")}, RemoteTS: []esp.Selector{sel("10.1.0.0/16")}}}}
	sa, err := p.dial(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p.gwEv.childUpCh, "responder's ChildUp")
	if c := sa.Info().Children; len(c) != 1 || c[0].PacketsIn != 0 || c[0].PacketsOut != 0 {
		t.Fatalf("initiator's IPsec SAs before any traffic: %+v", c)
	}
	for range 3 {
		if err := p.clDP.Transmit(p.gwDP, 0, 100); err != nil {
			t.Fatalf("client to gateway: %v", err)
		}
		if err := p.gwDP.Transmit(p.clDP, 0, 50); err != nil {
			t.Fatalf("gateway to client: %v", err)
		}
	}
	info := sa.Info()
	if len(info.Children) != 1 {
		t.Fatalf("initiator's info: %+v", info)
	}
	c := info.Children[0]
	if c.PacketsOut != 3 || c.BytesOut != 300 || c.PacketsIn != 3 || c.BytesIn != 150 {
		t.Errorf("initiator's IPsec SA counters: %d/%d packets, %d/%d bytes in/out; want 3/3 packets, 150/300 bytes",
			c.PacketsIn, c.PacketsOut, c.BytesIn, c.BytesOut)
	}
}
