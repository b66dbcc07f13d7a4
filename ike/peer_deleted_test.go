package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// endCauses are the sentinels an SA handle's end error is told apart by.
var endCauses = []error{ike.ErrPeerDeleted, ike.ErrTimeout, ike.ErrAuthFailed, ike.ErrClosed}

// checkEndCause asserts that err matches want (nil: err is nil) and none
// of the other causes.
func checkEndCause(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v, want nil", what, err)
		}
		return
	}
	for _, c := range endCauses {
		if got := errors.Is(err, c); got != (c == want) {
			t.Errorf("%s: %v: errors.Is(%v) = %v", what, err, c, got)
		}
	}
}

// waitDone waits (in virtual time) until sa ends.
func waitDone(t *testing.T, sa *ike.SA) {
	t.Helper()
	select {
	case <-sa.Done():
	case <-time.After(10 * time.Minute):
		t.Fatal("the SA did not end")
	}
}

// The handle of an IKE SA tells why it ended: the gateway's Delete
// (ErrPeerDeleted), our own Close (nil), a dead gateway (ErrTimeout), and
// a refused authentication is Dial's ErrAuthFailed, none of them another.
func TestSAEndCause(t *testing.T) {
	t.Run("peer delete", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			var downs []error
			p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{IKEDown: func(_ ipsec.IKESAInfo, err error) { downs = append(downs, err) }}))
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sa.Err(); err != nil {
				t.Fatalf("Err of a live SA: %v", err)
			}
			if err := p.resp.Terminate(context.Background(), p.resp.SAs()[0].SessionID); err != nil {
				t.Fatal(err)
			}
			waitDone(t, sa)
			checkEndCause(t, "after the gateway's Delete", sa.Err(), ike.ErrPeerDeleted)
			if len(downs) != 1 || !errors.Is(downs[0], ike.ErrTerminated) {
				t.Errorf("gateway's IKEDown %v, want ErrTerminated", downs)
			}
		})
	})
	t.Run("peer delete after IKE rekey", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			p := newPair(t, respCfg)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if err := sa.Err(); err != nil {
				t.Fatalf("Err after our IKE rekey (the gateway deleted the old SA): %v", err)
			}
			if err := p.resp.Terminate(context.Background(), p.resp.SAs()[0].SessionID); err != nil {
				t.Fatal(err)
			}
			waitDone(t, sa)
			checkEndCause(t, "after the gateway's Delete of the rekeyed SA", sa.Err(), ike.ErrPeerDeleted)
		})
	})
	t.Run("local close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			var downs []error
			p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{IKEDown: func(_ ipsec.IKESAInfo, err error) { downs = append(downs, err) }}))
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sa.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			checkEndCause(t, "after our Close", sa.Err(), nil)
			// The peer's Delete is orderly for the hooks: nil.
			if len(downs) != 1 || downs[0] != nil {
				t.Errorf("gateway's IKEDown %v, want one nil", downs)
			}
		})
	})
	t.Run("dead peer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			initCfg.DPDDelay = 30 * time.Second
			p := newPair(t, respCfg)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				t.Fatal(err)
			}
			p.net.SetFilter(func(pkt *ike.Packet) bool { return pkt.Remote.Addr() != gwAddr })
			waitDone(t, sa)
			checkEndCause(t, "after the gateway went silent", sa.Err(), ike.ErrTimeout)
		})
	})
	t.Run("auth failure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			respCfg, initCfg := pskConfigs()
			initCfg.Local.PSK = ipsec.Secret("not the right key at all 12345")
			p := newPair(t, respCfg)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if sa != nil {
				t.Fatalf("Dial returned an SA with a wrong PSK")
			}
			checkEndCause(t, "Dial with a wrong PSK", err, ike.ErrAuthFailed)
		})
	})
}
