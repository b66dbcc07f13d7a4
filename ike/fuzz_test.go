package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
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

// FuzzAuthenticatedRequest sends arbitrary INFORMATIONAL and
// CREATE_CHILD_SA requests from an authenticated peer (the payloads are
// encrypted and integrity-protected with the SA's keys): Delete, MOBIKE,
// REDIRECT, rekey and CHILD SA payloads with any content must get an
// answer or a clean end of the SA, never a panic, and must leave the
// gateway serving new clients.
func FuzzAuthenticatedRequest(f *testing.F) {
	f.Add(byte(0), byte(wire.PayloadNotify), []byte{0, 0, 0, 8, 0, 0, 0x40, 0x10}) // UPDATE_SA_ADDRESSES
	f.Add(byte(0), byte(wire.PayloadDelete), []byte{0, 0, 0, 12, 3, 4, 0, 1, 1, 2, 3, 4})
	f.Add(byte(1), byte(wire.PayloadNotify), []byte{0, 0, 0, 12, 3, 4, 0x40, 0x09, 1, 2, 3, 4}) // REKEY_SA
	f.Add(byte(1), byte(wire.PayloadSA), []byte{0, 0, 0, 4})
	f.Add(byte(2), byte(wire.PayloadKE), []byte{0, 0, 0, 8, 0, 31, 0, 0})
	respCfg, initCfg := pskConfigs()
	respCfg.Pools = []ipsec.AddressPool{mustPool(f, "198.51.100.0/24")}
	initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
	n := iketest.NewNetwork(1)
	resp, err := ike.NewResponder(n.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go resp.Serve(ctx)
	time.Sleep(20 * time.Millisecond)
	init, err := ike.NewInitiator(n.Endpoint(clientAddr), ike.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		f.Fatal(err)
	}
	var sa *ike.SA
	f.Fuzz(func(t *testing.T, exch byte, first byte, raw []byte) {
		if sa == nil || sa.Err() != nil || sa.Info().State != "ESTABLISHED" {
			dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
			sa, err = init.Dial(dctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
			dcancel()
			if err != nil {
				t.Fatalf("the gateway no longer accepts clients: %v", err)
			}
		}
		x := wire.INFORMATIONAL
		switch exch % 3 {
		case 1:
			x = wire.CREATE_CHILD_SA
		case 2:
			x = wire.IKE_INTERMEDIATE // after IKE_AUTH: refused, the SA stays
		}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		defer rcancel()
		if err := sa.SendRawRequest(rctx, x, wire.PayloadType(first), raw); errors.Is(err, context.DeadlineExceeded) {
			// The hostile request ended or superseded the IKE SA at the
			// gateway (a Delete, an IKE rekey our side does not know
			// about): our view is stale. Drop it; the next input dials
			// again, which is the check that the gateway still serves.
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			sa.Close(cctx)
			ccancel()
			sa = nil
		}
	})
}

// FuzzIntermediateRequest sends arbitrary inner payloads in an
// IKE_INTERMEDIATE request (RFC 9242) under the keys of a half-open IKE
// SA that negotiated an additional ML-KEM key exchange (RFC 9370), as an
// initiator with the keys but no authentication could: the responder
// must answer or drop the SA, never panic, and keep serving new clients.
func FuzzIntermediateRequest(f *testing.F) {
	seed := func(ps ...wire.Payload) {
		b, err := (&wire.Message{Payloads: ps}).Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[16], b[wire.HeaderLen:])
	}
	seed(&wire.KE{Group: 36, Data: make([]byte, 1184)})
	seed(&wire.KE{Group: 36, Data: make([]byte, 7)})
	seed(&wire.KE{Group: 37, Data: make([]byte, 1568)})
	seed(&wire.Notify{Type: wire.ADDITIONAL_KEY_EXCHANGE, Data: []byte{1, 2}}, &wire.KE{Group: 36})
	const props = "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
	respCfg, initCfg := pskConfigs()
	l, err := proposal.Parse(props, proposal.ProtoIKE)
	if err != nil {
		f.Fatal(err)
	}
	initCfg.Proposals = l
	n := iketest.NewNetwork(1)
	var holding atomic.Bool
	// While holding, our initiator's own IKE_INTERMEDIATE requests are
	// lost, so the fuzzed one takes their message ID.
	n.SetFilter(func(p *ike.Packet) bool {
		h, err := wire.ParseHeader(p.Data)
		return err != nil || !holding.Load() || h.Exchange != wire.IKE_INTERMEDIATE || h.IsResponse()
	})
	resp, err := ike.NewResponder(n.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)), ike.WithProposals(l),
		ike.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go resp.Serve(ctx)
	time.Sleep(20 * time.Millisecond)
	init, err := ike.NewInitiator(n.Endpoint(clientAddr), ike.WithDataPlane(iketest.NewDataPlane()),
		ike.WithRetransmission(50*time.Millisecond, 1, 2))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first byte, raw []byte) {
		ps, err := wire.ParsePayloads(wire.PayloadType(first), raw)
		if err != nil {
			return
		}
		holding.Store(true)
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
		defer dcancel()
		dialed := make(chan struct{})
		go func() {
			if sa, err := init.Dial(dctx, netip.AddrPortFrom(gwAddr, 500), initCfg); err == nil {
				sa.Close(dctx)
			}
			close(dialed)
		}()
		// Wait (bounded) for the SA to be half-open: an empty
		// INFORMATIONAL, which the responder ignores before IKE_AUTH,
		// is the probe. Then the hostile request goes out.
		for i := 0; i < 200; i++ {
			if n, _ := init.SendHalfOpenRequest(dctx, wire.INFORMATIONAL, nil); n > 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		holding.Store(false)
		init.SendHalfOpenRequest(dctx, wire.IKE_INTERMEDIATE, ps)
		<-dialed
		vctx, vcancel := context.WithTimeout(ctx, 5*time.Second)
		defer vcancel()
		sa, err := init.Dial(vctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("the gateway no longer accepts clients: %v", err)
		}
		sa.Close(vctx)
	})
}
