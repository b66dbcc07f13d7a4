package ike_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/ike"
)

// nasBackend is an eap.Backend that authenticates with a local Server
// (as a RADIUS server would) and keeps the NAS context of every call.
type nasBackend struct {
	users eap.ServerConfig
	mu    sync.Mutex
	seen  []eap.NAS
	none  int // calls without a NAS context
}

func (b *nasBackend) note(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if nas, ok := eap.NASFromContext(ctx); ok {
		b.seen = append(b.seen, nas)
	} else {
		b.none++
	}
}

func (b *nasBackend) Start(ctx context.Context, identity string) (eap.BackendConversation, error) {
	b.note(ctx)
	cfg := b.users
	cfg.SkipIdentity = true
	s, err := eap.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	first, err := s.Start(identity)
	if err != nil {
		return nil, err
	}
	return &nasConv{b: b, s: s, first: first}, nil
}

type nasConv struct {
	b     *nasBackend
	s     *eap.Server
	first []byte
}

func (c *nasConv) Exchange(ctx context.Context, resp []byte) ([]byte, eap.Result, error) {
	c.b.note(ctx)
	if out := c.first; out != nil {
		c.first = nil
		return out, eap.Result{}, nil
	}
	return c.s.ProcessContext(ctx, resp)
}

func (c *nasConv) Close() error { return c.s.Close() }

// TestEAPBackendNAS checks that a RADIUS-style eap.Backend learns, in
// every call, the client's outer address, the IKE SA, and the session's
// ID and NAS-Port, the same ones accounting reports.
func TestEAPBackendNAS(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		b := &nasBackend{users: eap.ServerConfig{Methods: []eap.Type{eap.TypeMSCHAPv2}, Users: respCfg.Remote.Users}}
		respCfg.Remote.Users, respCfg.Remote.EAPBackend = nil, b
		var acct acctRecorder
		p := newPair(t, respCfg, ike.WithAccounting(&acct, 0))
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial: %v", err)
		}
		gw := p.resp.SAs()
		if len(gw) != 1 || gw[0].EAPIdentity != "alice" {
			t.Fatalf("gateway SAs %+v", gw)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		acct.mu.Lock()
		defer acct.mu.Unlock()
		if b.none != 0 || len(b.seen) < 3 {
			t.Fatalf("%d backend calls with a NAS context, %d without", len(b.seen), b.none)
		}
		if len(acct.starts) != 1 {
			t.Fatalf("%d accounting Starts", len(acct.starts))
		}
		start := acct.starts[0]
		want := eap.NAS{
			ClientAddr: netip.AddrPortFrom(clientAddr, 500), LocalAddr: netip.AddrPortFrom(gwAddr, 500),
			SPIi: gw[0].SPIi, SPIr: gw[0].SPIr, SessionID: gw[0].SessionID, Port: start.NASPort,
		}
		for i, nas := range b.seen {
			if nas != want {
				t.Errorf("call %d: NAS %+v, want %+v", i, nas, want)
			}
		}
		if start.SessionID != want.SessionID || want.SessionID == 0 || want.Port == 0 {
			t.Errorf("accounting Start of session %d port %d, backend saw %+v", start.SessionID, start.NASPort, want)
		}
	})
}
