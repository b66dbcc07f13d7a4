package ikev1_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/transport"
)

// The hostile-input tests run both engines in a synctest bubble on an
// in-memory network: synctest.Wait returns once every goroutine of the
// bubble is blocked, i.e. the engines processed what was sent, and the
// bubble fails the test if a goroutine outlives it (a leak).

var attackerAddr = netip.MustParseAddr("203.0.113.66")

// fastIKE and fastESP keep the handshakes of the hostile tests and fuzz
// targets cheap (ECP-256 instead of MODP-2048), with CBC+HMAC so the
// keys can also be checked by tshark.
var (
	fastIKE = mustProposals("aes128-sha256-ecp256", proposal.ProtoIKE)
	fastESP = mustProposals("aes128-sha256", proposal.ProtoESP)
)

func mustProposals(s string, p proposal.Protocol) proposal.List {
	l, err := proposal.Parse(s, p)
	if err != nil {
		panic(err)
	}
	return l
}

// gwChildren is the responder's IPsec SA configuration of these tests.
var gwChildren = []ikev1.ChildConfig{{Name: "net", Proposals: fastESP, LocalTS: []esp.Selector{sel("10.1.0.0/16")}, RemoteTS: []esp.Selector{sel("10.9.0.0/16")}}}

// fastLookup accepts every peer with the PSK "k", Main and Aggressive Mode.
func fastLookup(_ context.Context, _ ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
	return &ikev1.PeerConfig{Name: "gw", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), AllowAggressive: true, Proposals: fastIKE,
		DPDDelay: -1, Children: gwChildren}, nil
}

// fastClient is a client configuration that fastLookup accepts; host is
// the last byte of its inner address.
func fastClient(id string, host byte, mode ikev1.Mode) *ikev1.PeerConfig {
	inner := netip.AddrFrom4([4]byte{10, 9, 0, host})
	return &ikev1.PeerConfig{Name: "cl", Auth: ikev1.AuthPSK, PSK: ipsec.Secret("k"), Mode: mode, LocalID: ipsec.FQDN(id), Proposals: fastIKE,
		DPDDelay: -1, Children: []ikev1.ChildConfig{{Name: "net", Proposals: fastESP,
			LocalTS: []esp.Selector{esp.PrefixSelector(netip.PrefixFrom(inner, 32))}, RemoteTS: []esp.Selector{sel("10.1.0.0/16")}}}}
}

// wirePkt is a message seen on the network.
type wirePkt struct {
	data     []byte
	from, to netip.AddrPort
}

// tap records every message on a network and can alter or drop them.
type tap struct {
	mu    sync.Mutex
	pkts  []wirePkt
	alter func(p *ike.Packet) bool // under mu; false drops the packet
}

func newTap(n *iketest.Network) *tap {
	tp := &tap{}
	n.SetFilter(func(p *ike.Packet) bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		tp.pkts = append(tp.pkts, wirePkt{data: bytes.Clone(p.Data), from: p.Remote, to: p.Local})
		if tp.alter != nil {
			return tp.alter(p)
		}
		return true
	})
	return tp
}

// sent returns the recorded messages from addr.
func (tp *tap) sent(from netip.Addr) []wirePkt {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []wirePkt
	for _, p := range tp.pkts {
		if p.from.Addr() == from {
			out = append(out, p)
		}
	}
	return out
}

// rawPeer is a host that sends whatever bytes to the gateway and records
// the IKEv1 messages it gets back.
type rawPeer struct {
	ep   *iketest.Endpoint
	addr netip.AddrPort
	mu   sync.Mutex
	got  [][]byte
}

func newRawPeer(t testing.TB, n *iketest.Network, addr netip.Addr) *rawPeer {
	t.Helper()
	r := &rawPeer{ep: n.Endpoint(addr), addr: netip.AddrPortFrom(addr, 500)}
	reg, err := r.ep.Register(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return r
}

func (r *rawPeer) IKEVersion() int { return 1 }
func (r *rawPeer) Responder() bool { return true }
func (r *rawPeer) HandlePacket(p transport.Packet) {
	r.mu.Lock()
	r.got = append(r.got, p.Data)
	r.mu.Unlock()
}

func (r *rawPeer) send(b []byte) {
	r.ep.Send(ike.Packet{Data: b, Local: r.addr, Remote: netip.AddrPortFrom(gwAddr, 500)})
}

func (r *rawPeer) replies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

// newHostilePair is newPair with the cheap proposals of these tests,
// more responder options, and loggers that stay silent.
func newHostilePair(t testing.TB, lookup ikev1.PeerLookup, respOpts ...ikev1.Option) *pair {
	t.Helper()
	p := &pair{net: iketest.NewNetwork(1), gwDP: iketest.NewDataPlane(), clDP: iketest.NewDataPlane(), gwEv: newEvents(), clEv: newEvents()}
	p.gw, p.cl = p.net.Endpoint(gwAddr), p.net.Endpoint(clientAddr)
	quiet := quietLogger()
	opts := append([]ikev1.Option{ikev1.WithPeers(lookup), ikev1.WithLogger(quiet), ikev1.WithDataPlane(p.gwDP), ikev1.WithHooks(p.gwEv.hooks()),
		ikev1.WithRand(iketest.NewRand(1))}, respOpts...)
	var err error
	if p.resp, err = ikev1.NewResponder(p.gw, opts...); err != nil {
		t.Fatal(err)
	}
	if p.init, err = ikev1.NewInitiator(p.cl, ikev1.WithLogger(quiet), ikev1.WithDataPlane(p.clDP), ikev1.WithHooks(p.clEv.hooks()), ikev1.WithRand(iketest.NewRand(2))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.init.Close(); p.resp.Close() })
	return p
}

// quietLogger discards, unless IKEV1_DEBUG is set: then it logs to
// stderr.
func quietLogger() *slog.Logger {
	if os.Getenv("IKEV1_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// dialFrom runs a handshake from the initiator (whose endpoint is local)
// to the gateway.
func dialFrom(init *ikev1.Initiator, local netip.Addr, cfg *ikev1.PeerConfig) (*ikev1.SA, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), cfg)
}

// counts reads the responder's hook counters.
func (ev *events) counts() (up, down, childUp, childDown int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.up), len(ev.down), len(ev.childUp), len(ev.childDown)
}

// checkTraffic sends a packet each way through the IPsec SAs of the pair.
func checkTraffic(t testing.TB, p *pair) {
	t.Helper()
	if err := p.clDP.Transmit(p.gwDP, 0, 64); err != nil {
		t.Fatalf("client to gateway: %v", err)
	}
	if err := p.gwDP.Transmit(p.clDP, 0, 64); err != nil {
		t.Fatalf("gateway to client: %v", err)
	}
}

// TestHostileReplay replays every message of a finished handshake, in
// Main and Aggressive Mode, to the side that received it: each must be
// answered with the reply that side sent the first time, or dropped;
// none may set up a second ISAKMP or IPsec SA.
func TestHostileReplay(t *testing.T) {
	for _, mode := range []ikev1.Mode{ikev1.MainMode, ikev1.AggressiveMode} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHostilePair(t, fastLookup)
				tp := newTap(p.net)
				sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, mode))
				if err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				checkTraffic(t, p)
				fromClient, fromGW := tp.sent(clientAddr), tp.sent(gwAddr)
				var gwSent, clSent [][]byte
				for _, m := range fromGW {
					gwSent = append(gwSent, m.data)
				}
				for _, m := range fromClient {
					clSent = append(clSent, m.data)
				}
				replay := func(to *iketest.Endpoint, m wirePkt, sentBefore [][]byte, from netip.Addr) {
					before := len(tp.sent(from))
					// The replay comes from the original sender's host.
					src := p.cl
					if to == p.cl {
						src = p.gw
					}
					src.Send(ike.Packet{Data: m.data, Local: m.from, Remote: m.to})
					synctest.Wait()
					for _, ans := range tp.sent(from)[before:] {
						h, _ := wire.ParseHeader(ans.data)
						if h.Exchange == wire.Informational {
							continue // a notify refusing it is fine
						}
						if !containsBytes(sentBefore, ans.data) {
							t.Errorf("replayed %s message (mid %08x) got an answer that was never sent before (%s)", exchangeOf(m.data), midOf(m.data), exchangeOf(ans.data))
						}
					}
				}
				for range 2 { // replayed twice: the cached answer must not change
					for _, m := range fromClient {
						replay(p.gw, m, gwSent, gwAddr)
					}
					for _, m := range fromGW {
						replay(p.cl, m, clSent, clientAddr)
					}
				}
				synctest.Wait()
				if up, down, childUp, childDown := p.gwEv.counts(); up != 1 || down != 0 || childUp != 1 || childDown != 0 {
					t.Errorf("responder hooks after replays: %d IKEUp, %d IKEDown, %d ChildUp, %d ChildDown; want 1, 0, 1, 0", up, down, childUp, childDown)
				}
				if up, down, childUp, childDown := p.clEv.counts(); up != 1 || down != 0 || childUp != 1 || childDown != 0 {
					t.Errorf("initiator hooks after replays: %d IKEUp, %d IKEDown, %d ChildUp, %d ChildDown; want 1, 0, 1, 0", up, down, childUp, childDown)
				}
				if n, half, quick := p.resp.CountsForTest(); n != 1 || half != 0 || quick != 0 {
					t.Errorf("responder holds %d ISAKMP SAs (%d half-open, %d Quick Modes running), want 1, 0, 0", n, half, quick)
				}
				if n := len(p.gwDP.SAs()); n != 2 {
					t.Errorf("responder's data plane holds %d SAs, want 2", n)
				}
				checkTraffic(t, p)
				if sa.Err() != nil {
					t.Errorf("initiator's SA ended: %v", sa.Err())
				}
			})
		})
	}
}

func containsBytes(set [][]byte, b []byte) bool {
	for _, x := range set {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

func exchangeOf(b []byte) wire.ExchangeType {
	h, _ := wire.ParseHeader(b)
	return h.Exchange
}

func midOf(b []byte) uint32 {
	h, _ := wire.ParseHeader(b)
	return h.MessageID
}

// TestHostileCaptures replays the IKEv1 messages of the shared captures
// (real clients' and servers' messages, with cookies we never issued)
// against our responder, in order and each one many times: nothing
// panics, state stays within the half-open limit and goes after the
// phase 1 timeout, and a good client still gets in.
func TestHostileCaptures(t *testing.T) {
	files, err := filepath.Glob("wire/testdata/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures under wire/testdata: %v", err)
	}
	files = append(files, "wire/testdata/ipsec.cap")
	var msgs [][]byte
	for _, f := range files {
		ps, err := capture.ReadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range ps {
			if len(p.Payload) > 17 && p.Payload[17]>>4 == 1 {
				msgs = append(msgs, p.Payload)
			}
		}
	}
	if len(msgs) < 30 {
		t.Fatalf("only %d IKEv1 messages in the captures", len(msgs))
	}
	const limit = 8
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup, ikev1.WithHalfOpenLimit(limit))
		raw := newRawPeer(t, p.net, attackerAddr)
		for round := range 3 {
			for _, m := range msgs {
				raw.send(bytes.Clone(m))
				synctest.Wait()
				if n, half, _ := p.resp.CountsForTest(); n > limit || half > limit {
					t.Fatalf("round %d: responder holds %d SAs, %d half-open (limit %d)", round, n, half, limit)
				}
			}
		}
		if len(raw.replies()) == 0 {
			t.Error("the responder answered none of the captured first messages")
		}
		if len(p.gwEv.up) != 0 {
			t.Errorf("captured messages established an SA: %+v", p.gwEv.up)
		}
		time.Sleep(31 * time.Second) // the phase 1 timeout
		synctest.Wait()
		if n, half, _ := p.resp.CountsForTest(); n != 0 || half != 0 {
			t.Errorf("after the phase 1 timeout the responder holds %d SAs, %d half-open", n, half)
		}
		if _, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode)); err != nil {
			t.Fatalf("good client after the replays: %v", err)
		}
		synctest.Wait() // the responder installs its IPsec SA on HASH(3)
		checkTraffic(t, p)
	})
}

// firstMessage is a Main Mode message 1 from cookie cky offering what
// fastLookup accepts.
func firstMessage(cky uint64) []byte {
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], cky)
	attrs := []wire.Attribute{wire.TV(wire.AttrEncryption, 7), wire.TV(wire.AttrKeyLength, 128), wire.TV(wire.AttrHash, 4),
		wire.TV(wire.AttrAuthMethod, 1), wire.TV(wire.AttrGroupDesc, 19), wire.TV(wire.AttrLifeType, 1), wire.Num(wire.AttrLifeDuration, 3600)}
	m := &wire.Message{Header: wire.Header{ICookie: c, Version: 0x10, Exchange: wire.IdentityProtection}, Payloads: []wire.Payload{
		&wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoISAKMP,
			Transforms: []wire.Transform{{Number: 1, ID: wire.KeyIKE, Attributes: attrs}}}}}}}
	b, err := m.Append(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// TestHostileFlood sends first messages from many addresses: the
// responder keeps at most the half-open limit, its memory stays bounded,
// and once the flood's SAs time out a good client gets in.
func TestHostileFlood(t *testing.T) {
	const limit, flood = 50, 5000
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup, ikev1.WithHalfOpenLimit(limit))
		var peers []*rawPeer
		for i := range 100 {
			peers = append(peers, newRawPeer(t, p.net, netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i)})))
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range flood {
			peers[i%len(peers)].send(firstMessage(uint64(i + 1)))
			if i%100 == 99 {
				synctest.Wait()
				if n, half, _ := p.resp.CountsForTest(); n > limit || half > limit {
					t.Fatalf("after %d messages: %d SAs, %d half-open (limit %d)", i+1, n, half, limit)
				}
			}
		}
		synctest.Wait()
		runtime.GC()
		runtime.ReadMemStats(&after)
		answered := 0
		for _, r := range peers {
			answered += len(r.replies())
		}
		if answered != limit {
			t.Errorf("%d answers to %d first messages, want one to each of the %d within the half-open limit", answered, flood, limit)
		}
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
			t.Errorf("heap grew by %d bytes during the flood", grew)
		}
		// While the flood holds the limit, a client waits; after the
		// phase 1 timeout it gets in.
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if n, half, _ := p.resp.CountsForTest(); n != 0 || half != 0 {
			t.Errorf("after the phase 1 timeout the responder holds %d SAs, %d half-open", n, half)
		}
		if _, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode)); err != nil {
			t.Fatalf("good client after the flood: %v", err)
		}
		synctest.Wait() // the responder installs its IPsec SA on HASH(3)
		checkTraffic(t, p)
	})
}

// TestHostileGarbledEncrypted garbles and truncates the initiator's
// encrypted messages on the wire (Quick Mode message 3, an
// Informational) and sends the originals after them: the garbage is
// dropped without moving the responder's IV chain, so the originals
// still decrypt and complete the exchange.
func TestHostileGarbledEncrypted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		var held []wirePkt
		qm := 0
		tp.mu.Lock()
		tp.alter = func(pk *ike.Packet) bool {
			h, err := wire.ParseHeader(pk.Data)
			if err != nil || pk.Remote.Addr() != clientAddr || h.Exchange != wire.QuickMode {
				return true
			}
			if qm++; qm == 2 { // message 3: held back
				held = append(held, wirePkt{data: bytes.Clone(pk.Data), from: pk.Remote, to: pk.Local})
				return false
			}
			return true
		}
		tp.mu.Unlock()
		sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		tp.mu.Lock()
		tp.alter = nil
		tp.mu.Unlock()
		if len(held) != 1 {
			t.Fatalf("held %d Quick Mode messages 3", len(held))
		}
		if _, _, childUp, _ := p.gwEv.counts(); childUp != 0 {
			t.Fatalf("responder's IPsec SA up without HASH(3)")
		}
		orig := held[0]
		send := func(b []byte) {
			p.cl.Send(ike.Packet{Data: b, Local: orig.from, Remote: orig.to})
			synctest.Wait()
		}
		for _, bad := range garbled(orig.data) {
			send(bad)
		}
		if _, _, childUp, _ := p.gwEv.counts(); childUp != 0 {
			t.Fatalf("garbled HASH(3) accepted")
		}
		send(orig.data)
		if _, _, childUp, _ := p.gwEv.counts(); childUp != 1 {
			t.Fatalf("responder's IPsec SA not up after the good HASH(3) followed garbage: %d ChildUp", childUp)
		}
		checkTraffic(t, p)

		// An Informational (the Delete of the ISAKMP SA), garbled first.
		tp.mu.Lock()
		var del []wirePkt
		tp.alter = func(pk *ike.Packet) bool {
			if h, err := wire.ParseHeader(pk.Data); err == nil && pk.Remote.Addr() == clientAddr && h.Exchange == wire.Informational {
				del = append(del, wirePkt{data: bytes.Clone(pk.Data), from: pk.Remote, to: pk.Local})
				return false
			}
			return true
		}
		tp.mu.Unlock()
		sa.Close()
		synctest.Wait()
		tp.mu.Lock()
		tp.alter = nil
		tp.mu.Unlock()
		if len(del) == 0 {
			t.Fatal("no Delete captured")
		}
		for _, d := range del {
			for _, bad := range garbled(d.data) {
				send(bad)
			}
		}
		if _, down, _, _ := p.gwEv.counts(); down != 0 {
			t.Fatalf("a garbled Delete ended the responder's SA")
		}
		for _, d := range del {
			send(d.data)
		}
		if _, down, _, _ := p.gwEv.counts(); down != 1 {
			t.Fatalf("the good Delete after garbage did not end the responder's SA")
		}
	})
}

// garbled returns corrupted copies of an encrypted message: truncated to
// its first block and off a block boundary, its last block before the
// padding and its first block
// flipped, its length field lying, its body empty, its first payload
// type changed.
func garbled(m []byte) [][]byte {
	var out [][]byte
	mut := func(f func(b []byte) []byte) { out = append(out, f(bytes.Clone(m))) }
	fixLen := func(b []byte) []byte { binary.BigEndian.PutUint32(b[24:], uint32(len(b))); return b }
	mut(func(b []byte) []byte { return fixLen(b[:28+16]) }) // cut to its first block (a cut padding block would be no garbage)
	mut(func(b []byte) []byte { return fixLen(b[:len(b)-5]) })
	mut(func(b []byte) []byte { return b[:len(b)-7] })            // length field lies
	mut(func(b []byte) []byte { b[len(b)-17] ^= 0x55; return b }) // the last block may be all padding: flip the one before
	mut(func(b []byte) []byte { b[28] ^= 0x80; return b })
	mut(func(b []byte) []byte { return fixLen(b[:28]) })
	mut(func(b []byte) []byte { b[16] = byte(wire.PayloadNonce); return b })
	return out
}

// TestHostileQuickModeBadHash sends Quick Mode messages 1 with a wrong
// HASH(1) on an established SA (encrypted with the right keys, so they
// decrypt): the responder answers nothing and keeps no state, and a good
// Quick Mode under the same message ID still works afterwards.
func TestHostileQuickModeBadHash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		var qm1 []byte
		tp.mu.Lock()
		tp.alter = func(pk *ike.Packet) bool {
			if h, err := wire.ParseHeader(pk.Data); err == nil && pk.Remote.Addr() == clientAddr && h.Exchange == wire.QuickMode && qm1 == nil {
				qm1 = bytes.Clone(pk.Data)
			}
			return true
		}
		tp.mu.Unlock()
		sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ckyI, ckyR := sa.CookiesForTest()
		// The body of a Quick Mode request: SA and nonce as a real one
		// has (the client's first one, re-encoded).
		body := quickBody(t, sa, qm1)
		const mid = 0x7a7a7a7a
		before := len(tp.sent(gwAddr))
		for _, h := range [][]byte{make([]byte, 32), bytes.Repeat([]byte{0xff}, 32), make([]byte, 20), nil} {
			msg := hashedMessage(ckyI, ckyR, wire.QuickMode, mid, h, body)
			enc, ok := sa.SealForTest(msg)
			if !ok {
				t.Fatal("SealForTest failed")
			}
			p.cl.Send(ike.Packet{Data: enc, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
			synctest.Wait()
		}
		if n := len(tp.sent(gwAddr)) - before; n != 0 {
			t.Errorf("responder sent %d messages answering Quick Modes with a wrong HASH(1)", n)
		}
		if _, _, quick := p.resp.CountsForTest(); quick != 0 {
			t.Errorf("responder keeps %d Quick Modes after wrong HASH(1)s", quick)
		}
		// The real HASH(1) under the same message ID.
		h := sa.HashForTest(midBytes(mid), body[1:])
		enc, _ := sa.SealForTest(hashedMessage(ckyI, ckyR, wire.QuickMode, mid, h, body))
		p.cl.Send(ike.Packet{Data: enc, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
		synctest.Wait()
		if n := len(tp.sent(gwAddr)) - before; n != 1 {
			t.Errorf("responder sent %d messages to a good Quick Mode message 1 after bad ones, want 1", n)
		}
		if _, _, quick := p.resp.CountsForTest(); quick != 1 {
			t.Errorf("responder runs %d Quick Modes, want 1", quick)
		}
	})
}

func midBytes(mid uint32) []byte { return binary.BigEndian.AppendUint32(nil, mid) }

// hashedMessage is the plaintext of an encrypted message: HDR, HASH(h),
// then body (a payload chain whose first payload type is body[0], the
// chain itself from body[1:]).
func hashedMessage(ckyI, ckyR [8]byte, ex wire.ExchangeType, mid uint32, h, body []byte) []byte {
	next := byte(0)
	var chain []byte
	if len(body) > 0 {
		next, chain = body[0], body[1:]
	}
	b := make([]byte, 28, 28+4+len(h)+len(chain))
	copy(b, ckyI[:])
	copy(b[8:], ckyR[:])
	b[16], b[17], b[18] = byte(wire.PayloadHASH), 0x10, byte(ex)
	binary.BigEndian.PutUint32(b[20:], mid)
	b = append(b, next, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(h)))
	b = append(b, h...)
	b = append(b, chain...)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	return b
}

// quickBody returns the payloads after HASH of a Quick Mode request like
// the one the client sent (first byte: the type of the first payload):
// a new request, taken from the plaintext of the client's, with SA and
// nonce and IDs.
func quickBody(t testing.TB, sa *ikev1.SA, qm1 []byte) []byte {
	t.Helper()
	info := sa.Info()
	if len(info.Children) == 0 || qm1 == nil {
		t.Fatal("no IPsec SA or no Quick Mode captured")
	}
	m := &wire.Message{Payloads: []wire.Payload{
		&wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoIPsecESP, SPI: []byte{0xca, 0xfe, 0, 1},
			Transforms: []wire.Transform{{Number: 1, ID: 12 /* ESP_AES */, Attributes: []wire.Attribute{wire.TV(wire.AttrSALifeType, 1), wire.Num(wire.AttrSALifeDuration, 3600),
				wire.TV(wire.AttrEncapsulation, uint16(wire.EncapTunnel)), wire.TV(wire.AttrAuthAlgorithm, 5), wire.TV(wire.AttrIPsecKeyLength, 128)}}}}}},
		&wire.Nonce{Data: bytes.Repeat([]byte{0x4e}, 32)},
		wire.IDFromPrefix(netip.MustParsePrefix("10.9.0.5/32"), 0, 0),
		wire.IDFromPrefix(netip.MustParsePrefix("10.1.0.0/16"), 0, 0),
	}}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{b[16]}, b[28:]...)
}

// TestHostileInitialContact: a second client with another identity,
// behind the same NAT address as the first, sends INITIAL-CONTACT (our
// initiator always does on a first contact): the first client's SAs
// stay. The same identity from the same address replaces its old SA.
func TestHostileInitialContact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pair{net: iketest.NewNetwork(1), gwDP: iketest.NewDataPlane(), gwEv: newEvents()}
		p.gw = p.net.Endpoint(gwAddr)
		quiet := quietLogger()
		var err error
		if p.resp, err = ikev1.NewResponder(p.gw, ikev1.WithPeers(fastLookup), ikev1.WithLogger(quiet), ikev1.WithDataPlane(p.gwDP),
			ikev1.WithHooks(p.gwEv.hooks()), ikev1.WithRand(iketest.NewRand(1))); err != nil {
			t.Fatal(err)
		}
		defer p.resp.Close()
		client := func(private string, seed byte) (*ikev1.Initiator, netip.Addr) {
			a := netip.MustParseAddr(private)
			p.net.Endpoint(a)
			p.net.NAT(a, clientAddr)
			in, err := ikev1.NewInitiator(p.net.Endpoint(a), ikev1.WithLogger(quiet), ikev1.WithDataPlane(iketest.NewDataPlane()), ikev1.WithRand(iketest.NewRand(seed)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Close() })
			return in, a
		}
		alice, aAddr := client("10.0.0.2", 10)
		bob, bAddr := client("10.0.0.3", 11)
		saA, err := dialFrom(alice, aAddr, fastClient("alice.example", 2, ikev1.MainMode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dialFrom(bob, bAddr, fastClient("bob.example", 3, ikev1.MainMode)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, down, _, childDown := p.gwEv.counts(); down != 0 || childDown != 0 {
			t.Fatalf("bob's INITIAL-CONTACT ended %d ISAKMP and %d IPsec SAs of alice", down, childDown)
		}
		if n := len(p.resp.SAs()); n != 2 {
			t.Fatalf("responder holds %d SAs, want alice's and bob's", n)
		}
		if saA.Err() != nil {
			t.Fatalf("alice's SA ended: %v", saA.Err())
		}
		// Alice restarts (a new initiator, the same identity and
		// address): her INITIAL-CONTACT ends her old SA, not bob's.
		alice2, _ := client("10.0.0.2", 12)
		if _, err := dialFrom(alice2, aAddr, fastClient("alice.example", 2, ikev1.MainMode)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		sas := p.resp.SAs()
		ids := map[string]int{}
		for _, s := range sas {
			ids[s.RemoteID.String()]++
		}
		if len(sas) != 2 || ids[ipsec.FQDN("alice.example").String()] != 1 || ids[ipsec.FQDN("bob.example").String()] != 1 {
			t.Errorf("after alice's restart the responder holds %v, want one SA each of alice and bob", ids)
		}
	})
}

// TestHostileExchangeStateBounded: a peer that sends many authentic
// Informational exchanges (R-U-THERE, each under a new message ID, as
// DPD does every 30 s for the life of an SA) does not make the SA's
// memory of past exchanges grow without bound.
func TestHostileExchangeStateBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ckyI, ckyR := sa.CookiesForTest()
		cookies := append(ckyI[:], ckyR[:]...)
		before := len(tp.sent(gwAddr))
		const n = 500
		for i := range n {
			m := &wire.Message{Payloads: []wire.Payload{&wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: cookies,
				NotifyType: wire.R_U_THERE, Data: binary.BigEndian.AppendUint32(nil, uint32(i+1))}}}
			b, err := m.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			body := append([]byte{b[16]}, b[28:]...)
			mid := uint32(0x10000 + i)
			enc, ok := sa.SealForTest(hashedMessage(ckyI, ckyR, wire.Informational, mid, sa.HashForTest(midBytes(mid), body[1:]), body))
			if !ok {
				t.Fatal("SealForTest failed")
			}
			p.cl.Send(ike.Packet{Data: enc, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
			synctest.Wait()
		}
		if acks := len(tp.sent(gwAddr)) - before; acks != n {
			t.Fatalf("responder answered %d of %d R-U-THEREs", acks, n)
		}
		if lastIn, out := p.resp.RememberedForTest(); lastIn > 64 || out > 64 {
			t.Errorf("after %d Informational exchanges the responder remembers %d received and %d sent messages", n, lastIn, out)
		}
		checkTraffic(t, p)
	})
}

// TestHostileTruncatedPhase1 sends truncated copies of the client's Main
// Mode message 5 (the first encrypted one) before the real one: a body
// that is no whole number of cipher blocks is no sign of a wrong PSK, so
// it is dropped and the handshake completes with the real message.
func TestHostileTruncatedPhase1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		var held []wirePkt
		tp.mu.Lock()
		tp.alter = func(pk *ike.Packet) bool {
			h, err := wire.ParseHeader(pk.Data)
			if err == nil && pk.Remote.Addr() == clientAddr && h.Exchange == wire.IdentityProtection && h.Flags&wire.FlagEncryption != 0 && len(held) == 0 {
				held = append(held, wirePkt{data: bytes.Clone(pk.Data), from: pk.Remote, to: pk.Local})
				return false
			}
			return true
		}
		tp.mu.Unlock()
		done := make(chan error, 1)
		go func() {
			_, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
			done <- err
		}()
		synctest.Wait()
		tp.mu.Lock()
		tp.alter = nil
		tp.mu.Unlock()
		if len(held) != 1 {
			t.Fatalf("held %d Main Mode messages 5", len(held))
		}
		m := held[0]
		for _, cut := range []int{1, 5, 15} {
			b := bytes.Clone(m.data[:len(m.data)-cut])
			binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
			p.cl.Send(ike.Packet{Data: b, Local: m.from, Remote: m.to})
			synctest.Wait()
		}
		b := bytes.Clone(m.data[:28])
		binary.BigEndian.PutUint32(b[24:], 28)
		p.cl.Send(ike.Packet{Data: b, Local: m.from, Remote: m.to})
		synctest.Wait()
		p.cl.Send(ike.Packet{Data: m.data, Local: m.from, Remote: m.to})
		if err := <-done; err != nil {
			t.Fatalf("handshake after truncated copies of message 5: %v", err)
		}
		p.gwEv.mu.Lock()
		defer p.gwEv.mu.Unlock()
		for _, a := range p.gwEv.alerts {
			if a.Kind == ikev1.AlertAuthFailed {
				t.Errorf("truncated message raised %v", a.Err)
			}
		}
	})
}

// TestHostileConcurrentInitialContact runs many clients with their own
// identities at once, each sending INITIAL-CONTACT while the others are
// in the middle of phase 1: none loses its SA (and, under -race, the
// check of the other SAs' identities does not race with their
// handshakes).
func TestHostileConcurrentInitialContact(t *testing.T) {
	const n = 12
	p := newHostilePair(t, fastLookup)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		in, err := ikev1.NewInitiator(p.net.Endpoint(addr), ikev1.WithLogger(quietLogger()), ikev1.WithDataPlane(iketest.NewDataPlane()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := dialFrom(in, addr, fastClient(fmt.Sprintf("c%d.example", i), byte(10+i), ikev1.MainMode))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, down, _, _ := p.gwEv.counts(); down != 0 {
		t.Errorf("%d SAs went", down)
	}
	if got := len(p.resp.SAs()); got != n {
		t.Errorf("responder holds %d SAs, want %d", got, n)
	}
}

// TestHostileReplayLateQuickMode replays the client's Quick Mode message
// 1 after 20 further exchanges (DPD probes, more than wire.MaxExchangeIVs):
// the responder keeps the finished exchange's IV (Informationals do not
// push it out), so the replay does not decrypt to a valid HASH(1) and is
// dropped, not answered as a new Quick Mode. (After 16 further Quick
// Modes it would decrypt again: IKEv1 gives no replay protection beyond
// what an SA remembers.)
func TestHostileReplayLateQuickMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var qm1 *wirePkt
		for _, m := range tp.sent(clientAddr) {
			if exchangeOf(m.data) == wire.QuickMode {
				qm1 = &m
				break
			}
		}
		if qm1 == nil {
			t.Fatal("no Quick Mode captured")
		}
		ckyI, ckyR := sa.CookiesForTest()
		cookies := append(ckyI[:], ckyR[:]...)
		for i := range 20 {
			m := &wire.Message{Payloads: []wire.Payload{&wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtoISAKMP, SPI: cookies,
				NotifyType: wire.R_U_THERE, Data: binary.BigEndian.AppendUint32(nil, uint32(i+1))}}}
			b, _ := m.Append(nil)
			body := append([]byte{b[16]}, b[28:]...)
			mid := uint32(0x20000 + i)
			enc, ok := sa.SealForTest(hashedMessage(ckyI, ckyR, wire.Informational, mid, sa.HashForTest(midBytes(mid), body[1:]), body))
			if !ok {
				t.Fatal("SealForTest failed")
			}
			p.cl.Send(ike.Packet{Data: enc, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
			synctest.Wait()
		}
		before := len(tp.sent(gwAddr))
		p.cl.Send(ike.Packet{Data: qm1.data, Local: qm1.from, Remote: qm1.to})
		synctest.Wait()
		if n := len(tp.sent(gwAddr)) - before; n != 0 {
			t.Errorf("responder sent %d messages to a replayed Quick Mode message 1", n)
		}
		if _, _, quick := p.resp.CountsForTest(); quick != 0 {
			t.Errorf("a replayed Quick Mode message 1 started %d Quick Modes", quick)
		}
	})
}

// TestHostileReplayQuickModeAfterRekeys replays the client's first Quick
// Mode message after more than 16 further Quick Modes (rekeys every 20
// s): its IV state is gone, so it decrypts again with a valid HASH(1);
// the responder remembers the Quick Modes' message IDs and drops it.
func TestHostileReplayQuickModeAfterRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHostilePair(t, fastLookup)
		tp := newTap(p.net)
		cfg := fastClient("client.example", 5, ikev1.MainMode)
		cfg.Children[0].Lifetime, cfg.Children[0].RekeyMargin = 30*time.Second, 10*time.Second
		cfg.Lifetime = 24 * time.Hour
		if _, err := dialFrom(p.init, clientAddr, cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var qm1 *wirePkt
		for _, m := range tp.sent(clientAddr) {
			if exchangeOf(m.data) == wire.QuickMode {
				qm1 = &m
				break
			}
		}
		if qm1 == nil {
			t.Fatal("no Quick Mode captured")
		}
		time.Sleep(8 * time.Minute) // about 24 rekeys
		synctest.Wait()
		p.gwEv.mu.Lock()
		rekeys := len(p.gwEv.childUp)
		p.gwEv.mu.Unlock()
		if rekeys < 18 {
			t.Fatalf("only %d IPsec SAs in 8 minutes", rekeys)
		}
		before := len(tp.sent(gwAddr))
		p.cl.Send(ike.Packet{Data: qm1.data, Local: qm1.from, Remote: qm1.to})
		synctest.Wait()
		if n := len(tp.sent(gwAddr)) - before; n != 0 {
			t.Errorf("responder sent %d messages to a Quick Mode message 1 replayed after %d rekeys", n, rekeys)
		}
		if _, _, quick := p.resp.CountsForTest(); quick != 0 {
			t.Errorf("the replay started %d Quick Modes", quick)
		}
	})
}
