package ike_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
)

// TestInformationalBeforeAuthIgnored: a peer that completed IKE_SA_INIT
// (it has the keys) but not IKE_AUTH sends an INFORMATIONAL Delete of the
// IKE SA with the message ID of its IKE_AUTH. The gateway must neither
// act on it nor answer it: the half-open SA stays, and the IKE_AUTH that
// follows with that message ID completes normally (RFC 7296 section 1.4:
// INFORMATIONAL exchanges only after the initial exchanges).
func TestInformationalBeforeAuthIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		var holdAuth atomic.Bool
		var answers atomic.Int32
		holdAuth.Store(true)
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			h, err := wire.ParseHeader(pkt.Data)
			if err != nil {
				return true
			}
			if h.Exchange == wire.INFORMATIONAL && h.IsResponse() {
				answers.Add(1)
			}
			return !(holdAuth.Load() && h.Exchange == wire.IKE_AUTH)
		})
		type result struct {
			sa  *ike.SA
			err error
		}
		dialed := make(chan result, 1)
		go func() {
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			dialed <- result{sa, err}
		}()
		synctest.Wait() // IKE_SA_INIT done, IKE_AUTH held back
		if got := p.resp.SAs(); len(got) != 1 || got[0].State != "AUTHENTICATING" {
			t.Fatalf("responder SAs before the INFORMATIONAL: %+v", got)
		}
		sent, err := p.init.SendHalfOpenRequest(context.Background(), wire.INFORMATIONAL,
			[]wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(1)}, &wire.Notify{Type: wire.REDIRECT, Data: []byte{1, 4, 198, 51, 100, 7}}})
		if err != nil || sent != 1 {
			t.Fatalf("SendHalfOpenRequest: %d, %v", sent, err)
		}
		synctest.Wait()
		if got := p.resp.SAs(); len(got) != 1 || got[0].State != "AUTHENTICATING" {
			t.Fatalf("responder SAs after an unauthenticated Delete: %+v", got)
		}
		if n := answers.Load(); n != 0 {
			t.Errorf("the gateway answered %d unauthenticated INFORMATIONAL requests", n)
		}
		holdAuth.Store(false) // the IKE_AUTH retransmission gets through
		r := <-dialed
		if r.err != nil {
			t.Fatalf("Dial after the refused INFORMATIONAL: %v", r.err)
		}
		if got := p.resp.SAs(); len(got) != 1 || got[0].State != "ESTABLISHED" {
			t.Fatalf("responder SAs after IKE_AUTH: %+v", got)
		}
		r.sa.Close(context.Background())
	})
}
