package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// headerLog records the exchange type and direction of every packet the
// network carries (the headers are in the clear, fragments included).
type headerLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *headerLog) filter(p *ike.Packet) bool {
	h, err := wire.ParseHeader(p.Data)
	if err == nil {
		kind := " request"
		if h.IsResponse() {
			kind = " response"
		}
		l.mu.Lock()
		l.seen = append(l.seen, h.Exchange.String()+kind)
		l.mu.Unlock()
	}
	return true
}

func (l *headerLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.seen {
		if x == s {
			n++
		}
	}
	return n
}

func ikeProposals(t testing.TB, s string) proposal.List {
	t.Helper()
	l, err := proposal.Parse(s, proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestIntermediateHandshake runs the initial exchanges with RFC 9370
// additional key exchanges in IKE_INTERMEDIATE (RFC 9242) between our
// initiator and responder: the IKE SA comes up with CHILD SA keys both
// sides agree on, the IKE_INTERMEDIATE exchanges ran once per
// additional key exchange, and a declined optional one runs none.
func TestIntermediateHandshake(t *testing.T) {
	cases := []struct {
		name, resp, init string
		exchanges        int // IKE_INTERMEDIATE request packets (a fragmented one counts its fragments)
		fragmented       bool
	}{
		{"x25519+mlkem768", "aes256gcm16-prfsha384-x25519-ke1_mlkem768", "aes256gcm16-prfsha384-x25519-ke1_mlkem768", 1, false},
		{"two additional", "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem1024", "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem1024", 2, true},
		{"classic additional", "aes128-sha256-ecp256-ke1_x25519", "aes128-sha256-ecp256-ke1_x25519", 1, false},
		// The initiator makes ADDKE1 optional; the responder does not
		// offer it, so none runs.
		{"optional declined", "aes256gcm16-prfsha384-x25519", "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_none", 0, false},
		// The responder makes it optional; the initiator insists.
		{"responder optional", "aes256gcm16-prfsha384-x25519-ke1_none-ke1_mlkem768", "aes256gcm16-prfsha384-x25519-ke1_mlkem768", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				initCfg.Proposals = ikeProposals(t, tc.init)
				p := newPair(t, respCfg, ike.WithProposals(ikeProposals(t, tc.resp)))
				var log headerLog
				p.net.SetFilter(log.filter)
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if info := sa.Info(); info.State != "ESTABLISHED" || len(info.Children) != 1 {
					t.Fatalf("initiator SA %+v", info)
				}
				checkCrossKeys(t, p.respDP, p.initDP)
				reqs, resps := log.count("IKE_INTERMEDIATE request"), log.count("IKE_INTERMEDIATE response")
				if tc.fragmented {
					if reqs <= tc.exchanges {
						t.Errorf("%d IKE_INTERMEDIATE request packets, want more than %d (ML-KEM-1024 fragmented)", reqs, tc.exchanges)
					}
				} else if reqs != tc.exchanges || resps != tc.exchanges {
					t.Errorf("IKE_INTERMEDIATE packets: %d requests, %d responses; want %d each (%v)", reqs, resps, tc.exchanges, log.seen)
				}
				if n := log.count("IKE_AUTH request"); n == 0 {
					t.Errorf("no IKE_AUTH")
				}
				if ups := p.resp.SAs(); len(ups) != 1 || ups[0].State != "ESTABLISHED" {
					t.Fatalf("responder SAs %+v", ups)
				}
				// The tunnel works after the key updates: a rekey of the
				// CHILD SA and of the IKE SA (single key exchange, see
				// ikeProposals) and a clean delete.
				if err := sa.Rekey(context.Background(), ike.RekeyIKE|ike.RekeyChildren); err != nil {
					t.Errorf("rekey: %v", err)
				}
				synctest.Wait()
				if ups := p.resp.SAs(); len(ups) != 1 || ups[0].State != "ESTABLISHED" || sa.Info().State != "ESTABLISHED" {
					t.Errorf("after rekey: responder SAs %+v, initiator %s", ups, sa.Info().State)
				}
				if err := sa.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if n := len(p.resp.SAs()); n != 0 {
					t.Errorf("responder still has %d SAs after Delete", n)
				}
			})
		})
	}
}

// TestIntermediateMismatch: an initiator insisting on an additional key
// exchange the responder does not offer gets NO_PROPOSAL_CHOSEN; a
// responder insisting on one from an initiator without IKE_INTERMEDIATE
// likewise.
func TestIntermediateMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		initCfg.Proposals = ikeProposals(t, "aes256gcm16-prfsha384-x25519-ke1_mlkem768")
		p := newPair(t, respCfg, ike.WithProposals(ikeProposals(t, "aes256gcm16-prfsha384-x25519-ke1_mlkem1024")))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		var ne *ike.NotifyError
		if !errors.As(err, &ne) || ne.Type != wire.NO_PROPOSAL_CHOSEN {
			t.Errorf("Dial = %v, want NO_PROPOSAL_CHOSEN", err)
		}
		initCfg.Proposals = ikeProposals(t, "aes256gcm16-prfsha384-x25519")
		_, err = p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if !errors.As(err, &ne) || ne.Type != wire.NO_PROPOSAL_CHOSEN {
			t.Errorf("Dial without additional KE = %v, want NO_PROPOSAL_CHOSEN", err)
		}
	})
}
