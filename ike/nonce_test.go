package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// noncePair is a pair whose IKE SA uses PRF prf and whose nonce sizes the
// test sets at any time (0: the default).
func noncePair(t *testing.T, prf string) (p *pair, initCfg *ike.PeerConfig, respN, initN *atomic.Int32) {
	t.Helper()
	respN, initN = new(atomic.Int32), new(atomic.Int32)
	respCfg, initCfg := pskConfigs()
	p = newPair(t, respCfg, ike.WithNonceLen(respN))
	p.init.Close(context.Background())
	in, err := ike.NewInitiator(p.net.Endpoint(clientAddr), ike.WithDataPlane(p.initDP), ike.WithRand(iketest.NewRand(2)),
		ike.WithClock(func() time.Time { return wallClock }), ike.WithNonceLen(initN))
	if err != nil {
		t.Fatal(err)
	}
	p.init = in
	l, err := proposal.Parse("aes256gcm16-"+prf+"-curve25519", proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	initCfg.Proposals = l
	return p, initCfg, respN, initN
}

// TestNonceHalfPRFKeySize: RFC 7296 section 2.10 wants nonces of at least
// half the key size of the negotiated PRF: 32 bytes with
// PRF_HMAC_SHA2_512, whose key is 64 bytes. A 16-byte nonce, enough for
// PRF_HMAC_SHA2_256, is refused in IKE_SA_INIT by either role.
func TestNonceHalfPRFKeySize(t *testing.T) {
	dial := func(t *testing.T, prf string, respLen, initLen int32) error {
		p, initCfg, respN, initN := noncePair(t, prf)
		respN.Store(respLen)
		initN.Store(initLen)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err == nil {
			sa.Close(context.Background())
		}
		return err
	}
	t.Run("sha256 accepts 16 bytes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			if err := dial(t, "prfsha256", 16, 16); err != nil {
				t.Fatalf("Dial: %v", err)
			}
		})
	})
	t.Run("responder refuses a short Ni", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			err := dial(t, "prfsha512", 0, 16)
			var ne *ike.NotifyError
			if !errors.As(err, &ne) || ne.Type != wire.INVALID_SYNTAX || !ne.Remote {
				t.Fatalf("Dial with a 16-byte Ni and prfsha512: %v, want INVALID_SYNTAX from the gateway", err)
			}
		})
	})
	t.Run("initiator refuses a short Nr", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			err := dial(t, "prfsha512", 16, 0)
			if !errors.Is(err, ike.ErrProtocol) {
				t.Fatalf("Dial with a 16-byte Nr and prfsha512: %v, want ErrProtocol", err)
			}
		})
	})
}

// TestNonceHalfPRFKeySizeCreateChild: the same rule for CREATE_CHILD_SA
// (new CHILD SA, CHILD SA rekey, IKE SA rekey), both roles.
func TestNonceHalfPRFKeySizeCreateChild(t *testing.T) {
	for _, side := range []string{"initiator sends", "responder sends"} {
		t.Run(side, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, initCfg, respN, initN := noncePair(t, "prfsha512")
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				short := initN
				if side == "responder sends" {
					short = respN
				}
				short.Store(16)
				before := sa.Info()

				_, err = sa.AddChild(context.Background(), ike.ChildConfig{Name: "second",
					RemoteTS: []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))}})
				var ne *ike.NotifyError
				if side == "initiator sends" && !(errors.As(err, &ne) && ne.Type == wire.INVALID_SYNTAX && ne.Remote) {
					t.Errorf("AddChild with a 16-byte Ni: %v, want INVALID_SYNTAX from the gateway", err)
				}
				if side == "responder sends" && !errors.Is(err, ike.ErrProtocol) {
					t.Errorf("AddChild with a 16-byte Nr: %v, want ErrProtocol", err)
				}

				if err := sa.Rekey(context.Background(), ike.RekeyChildren); err != nil {
					t.Fatalf("Rekey: %v", err)
				}
				synctest.Wait()
				after := sa.Info()
				if len(after.Children) != 1 || after.Children[0].SPIIn != before.Children[0].SPIIn {
					t.Errorf("CHILD SA rekeyed with a 16-byte nonce: %+v -> %+v", before.Children, after.Children)
				}

				// With proper nonces the IKE SA works as before.
				short.Store(0)
				if _, err := sa.AddChild(context.Background(), ike.ChildConfig{Name: "third",
					RemoteTS: []esp.Selector{esp.PrefixSelector(netip.MustParsePrefix("198.51.100.0/24"))}}); err != nil {
					t.Errorf("AddChild with 32-byte nonces: %v", err)
				}

				short.Store(16)
				if err := sa.Rekey(context.Background(), ike.RekeyIKE); err != nil {
					t.Fatalf("Rekey: %v", err)
				}
				synctest.Wait()
				if after := sa.Info(); after.SPIi != before.SPIi || after.SPIr != before.SPIr {
					t.Errorf("IKE SA rekeyed with a 16-byte nonce and prfsha512")
				}
				sa.Close(context.Background())
			})
		})
	}
}
