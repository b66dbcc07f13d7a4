package ike_test

import (
	"context"
	"errors"
	"fmt"
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

// TestIntermediateLossLadder drops each IKE_INTERMEDIATE packet of a
// handshake with two additional key exchanges once (requests and
// responses, each fragment of the fragmented ML-KEM-1024 request): the
// retransmissions must bring the handshake to the same keys.
func TestIntermediateLossLadder(t *testing.T) {
	const props = "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem1024"
	// The lossless run counts the IKE_INTERMEDIATE packets.
	total := 0
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		initCfg.Proposals = ikeProposals(t, props)
		p := newPair(t, respCfg, ike.WithProposals(ikeProposals(t, props)))
		var log headerLog
		p.net.SetFilter(log.filter)
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial: %v", err)
		}
		total = log.count("IKE_INTERMEDIATE request") + log.count("IKE_INTERMEDIATE response")
	})
	if total < 5 {
		t.Fatalf("%d IKE_INTERMEDIATE packets, want at least 5 (two exchanges, one request fragmented)", total)
	}
	for drop := range total {
		t.Run(fmt.Sprintf("drop-%d", drop), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				initCfg.Proposals = ikeProposals(t, props)
				p := newPair(t, respCfg, ike.WithProposals(ikeProposals(t, props)))
				var mu sync.Mutex
				seen, dropped := 0, ""
				p.net.SetFilter(func(pkt *ike.Packet) bool {
					h, err := wire.ParseHeader(pkt.Data)
					if err != nil || h.Exchange != wire.IKE_INTERMEDIATE {
						return true
					}
					mu.Lock()
					defer mu.Unlock()
					seen++
					if seen-1 == drop {
						dropped = fmt.Sprintf("mid %d response=%v", h.MessageID, h.IsResponse())
						return false
					}
					return true
				})
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("Dial with IKE_INTERMEDIATE packet %d dropped: %v", drop, err)
				}
				if dropped == "" {
					t.Fatalf("packet %d was not dropped", drop)
				}
				if sa.Info().State != "ESTABLISHED" {
					t.Fatalf("initiator SA %+v", sa.Info())
				}
				checkCrossKeys(t, p.respDP, p.initDP)
			})
		})
	}
}

// payloadBytes encodes ps as an inner chain: its first type and bytes.
func payloadBytes(t *testing.T, ps ...wire.Payload) (wire.PayloadType, []byte) {
	t.Helper()
	b, err := (&wire.Message{Payloads: ps}).Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return wire.PayloadType(b[16]), b[wire.HeaderLen:]
}

// TestIntermediateHostile plays an initiator that has the keys of
// IKE_SA_INIT but sends a bad IKE_INTERMEDIATE request, or IKE_AUTH
// before the additional key exchange: the responder answers with
// INVALID_SYNTAX and drops the half-open SA, the initiator gets a clear
// error, nothing panics, and the gateway still serves.
func TestIntermediateHostile(t *testing.T) {
	const props = "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
	cases := []struct {
		name  string
		exch  wire.ExchangeType
		inner []wire.Payload
	}{
		{"bad KE length", wire.IKE_INTERMEDIATE, []wire.Payload{&wire.KE{Group: 36, Data: make([]byte, 100)}}},
		{"empty KE", wire.IKE_INTERMEDIATE, []wire.Payload{&wire.KE{Group: 36}}},
		{"other KE method", wire.IKE_INTERMEDIATE, []wire.Payload{&wire.KE{Group: 37, Data: make([]byte, 1568)}}},
		{"no KE", wire.IKE_INTERMEDIATE, []wire.Payload{&wire.Notify{Type: wire.ADDITIONAL_KEY_EXCHANGE, Data: []byte{1}}}},
		{"two KE", wire.IKE_INTERMEDIATE, []wire.Payload{&wire.KE{Group: 36, Data: make([]byte, 1184)}, &wire.KE{Group: 36, Data: make([]byte, 1184)}}},
		{"IKE_AUTH first", wire.IKE_AUTH, []wire.Payload{&wire.ID{Type: wire.IDType(3), Data: []byte("alice@example.com")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				initCfg.Proposals = ikeProposals(t, props)
				p := newPair(t, respCfg, ike.WithProposals(ikeProposals(t, props)))
				var hold sync.Mutex
				holding := true
				// Our initiator's own IKE_INTERMEDIATE requests are lost:
				// the hostile one takes their message ID.
				p.net.SetFilter(func(pkt *ike.Packet) bool {
					h, err := wire.ParseHeader(pkt.Data)
					hold.Lock()
					defer hold.Unlock()
					return err != nil || !holding || h.Exchange != wire.IKE_INTERMEDIATE || h.IsResponse()
				})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				dialErr := make(chan error, 1)
				go func() {
					_, err := p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg)
					dialErr <- err
				}()
				synctest.Wait()
				hold.Lock()
				holding = false // the hostile request must pass
				hold.Unlock()
				n, err := p.init.SendHalfOpenRequest(ctx, tc.exch, tc.inner)
				if err != nil || n != 1 {
					t.Fatalf("SendHalfOpenRequest = %d, %v", n, err)
				}
				synctest.Wait()
				if sas := p.resp.SAs(); len(sas) != 0 {
					t.Errorf("responder keeps %d SAs after a hostile %s", len(sas), tc.exch)
				}
				if tc.exch == wire.IKE_INTERMEDIATE {
					// The response answers the initiator's request in
					// flight (same message ID): its INVALID_SYNTAX ends it.
					err := <-dialErr
					var ne *ike.NotifyError
					if !errors.As(err, &ne) || ne.Type != wire.INVALID_SYNTAX || !ne.Remote {
						t.Errorf("Dial = %v, want the responder's INVALID_SYNTAX", err)
					}
				} else {
					cancel()
					if err := <-dialErr; err == nil {
						t.Errorf("Dial succeeded after the responder dropped the SA")
					}
				}
				sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if err != nil {
					t.Fatalf("the gateway no longer serves: %v", err)
				}
				// After IKE_AUTH, an IKE_INTERMEDIATE request is refused
				// and the IKE SA stays.
				first, raw := payloadBytes(t, &wire.KE{Group: 36, Data: make([]byte, 1184)})
				if err := sa.SendRawRequest(context.Background(), wire.IKE_INTERMEDIATE, first, raw); err != nil {
					t.Errorf("SendRawRequest: %v", err)
				}
				synctest.Wait()
				if sas := p.resp.SAs(); len(sas) != 1 || sas[0].State != "ESTABLISHED" || sa.Err() != nil {
					t.Errorf("after an IKE_INTERMEDIATE on the established SA: responder %+v, initiator err %v", sas, sa.Err())
				}
			})
		})
	}
}
