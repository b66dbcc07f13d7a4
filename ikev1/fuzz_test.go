package ikev1_test

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// The fuzz targets run each input in a synctest bubble with a fresh
// responder (fixed randomness) and a good client: the engine must not
// panic, must not leak goroutines (the bubble fails when one outlives
// it), must stay within the half-open limit and must still serve the
// good client afterwards.

const fuzzHalfOpen = 4

// recorded is a real in-memory handshake (Main Mode, fast proposals) with
// the key log of the responder, a Quick Mode and the Delete that ends it.
type recorded struct {
	pkts   []wirePkt
	keylog string
}

func recordHandshake(t testing.TB, mode ikev1.Mode, respOpts ...ikev1.Option) recorded {
	t.Helper()
	var kl strings.Builder
	p := newHostilePair(t, fastLookup, append([]ikev1.Option{ikev1.WithKeyLogWriter(&kl)}, respOpts...)...)
	tp := newTap(p.net)
	sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, mode))
	if err != nil {
		t.Fatal(err)
	}
	waitTB(t, p.gwEv.childUpCh, "responder's ChildUp")
	sa.Close()
	waitTB(t, p.gwEv.ikeDownCh, "responder's IKEDown")
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return recorded{pkts: append([]wirePkt(nil), tp.pkts...), keylog: kl.String()}
}

func waitTB(t testing.TB, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// decryptor decrypts a recorded exchange with its key log line, as
// Wireshark does: the phase 1 IV from the KE payloads, then each
// exchange's IV from the phase 1 IV and the message ID.
type decryptor struct {
	c *wire.Crypto
}

// newDecryptor reads the key log's IKEv1 line (cookie,key in hex) and the
// KE payloads of the recorded Main Mode (SHA2-256, as fastIKE).
func newDecryptor(t testing.TB, rec recorded) *decryptor {
	t.Helper()
	var key []byte
	for _, l := range strings.Split(rec.keylog, "\n") {
		if l == "" || strings.HasPrefix(l, `"`) {
			continue
		}
		f := strings.Split(l, ",")
		if len(f) != 2 {
			t.Fatalf("key log line %q", l)
		}
		var err error
		if key, err = hex.DecodeString(f[1]); err != nil {
			t.Fatalf("key log line %q: %v", l, err)
		}
	}
	var gx [][]byte
	for _, pk := range rec.pkts {
		m, err := wire.Parse(pk.data)
		if err != nil || m.IsEncrypted() {
			continue
		}
		for _, pl := range m.Payloads {
			if ke, ok := pl.(*wire.KE); ok {
				gx = append(gx, ke.Data)
			}
		}
	}
	if key == nil || len(gx) != 2 {
		t.Fatalf("key log %q and %d KE payloads", rec.keylog, len(gx))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return &decryptor{c: wire.NewCrypto(block, sha256.New, gx[0], gx[1])}
}

// open decrypts the next message of its exchange and returns its first
// payload type and the plaintext body.
func (d *decryptor) open(b []byte) (wire.PayloadType, []byte, error) {
	m, err := wire.Parse(b)
	if err != nil {
		return 0, nil, err
	}
	if !m.IsEncrypted() {
		return 0, nil, errors.New("not encrypted")
	}
	plain, confirm, err := d.c.Open(m)
	if err != nil {
		return 0, nil, err
	}
	if _, err := wire.ParsePayloads(m.Next, plain); err != nil {
		return 0, nil, err
	}
	confirm()
	return m.Next, plain, nil
}

// plaintexts decrypts every encrypted message of a recording, in order.
func (d *decryptor) plaintexts(t testing.TB, rec recorded) (out []struct {
	ex   wire.ExchangeType
	next wire.PayloadType
	body []byte
}) {
	t.Helper()
	for _, pk := range rec.pkts {
		h, err := wire.ParseHeader(pk.data)
		if err != nil || h.Flags&wire.FlagEncryption == 0 {
			continue
		}
		next, body, err := d.open(pk.data)
		if err != nil {
			t.Fatalf("%s message %08x does not decrypt with the key log: %v", h.Exchange, h.MessageID, err)
		}
		out = append(out, struct {
			ex   wire.ExchangeType
			next wire.PayloadType
			body []byte
		}{h.Exchange, next, body})
	}
	return out
}

// afterHash returns, for a plaintext body that starts with HASH, the
// fuzz input of the plaintext mode: the type of the payload after HASH,
// then the payloads after HASH (padding cut off).
func afterHash(next wire.PayloadType, body []byte) ([]byte, bool) {
	if next != wire.PayloadHASH || len(body) < 4 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(body[2:]))
	if n < 4 || n > len(body) {
		return nil, false
	}
	// Walk the chain after HASH to its end.
	first, rest := body[0], body[n:]
	end, typ := 0, first
	for typ != 0 {
		if end+4 > len(rest) {
			return nil, false
		}
		l := int(binary.BigEndian.Uint16(rest[end+2:]))
		if l < 4 || end+l > len(rest) {
			return nil, false
		}
		typ = rest[end]
		end += l
	}
	return append([]byte{first}, rest[:end]...), true
}

// FuzzResponder sends arbitrary bytes as a first message (opening a
// half-open SA), then as a later message of that half-open SA and of an
// established one (mode bit 0 and 1 patch the cookies in; bit 2 sends the
// later message from the established client's address).
func FuzzResponder(f *testing.F) {
	// Recorded with another responder randomness than the fuzzed pair's:
	// the recorded Delete would be authentic on the fuzzed SA otherwise.
	other := ikev1.WithRand(iketest.NewRand(9))
	rec := recordHandshake(f, ikev1.MainMode, other)
	aggr := recordHandshake(f, ikev1.AggressiveMode, other)
	var fromClient [][]byte
	for _, r := range []recorded{rec, aggr} {
		for _, pk := range r.pkts {
			if pk.from.Addr() == clientAddr {
				fromClient = append(fromClient, pk.data)
			}
		}
	}
	for i, m := range fromClient {
		for _, mode := range []uint8{0, 3, 7} {
			f.Add(mode, fromClient[0], m)
			f.Add(mode, m, fromClient[(i+1)%len(fromClient)])
		}
	}
	for _, c := range []string{"wire/testdata/ipsec-ikev1-isakmp-main-mode.pcap", "wire/testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap"} {
		ps, err := capture.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		for i := 0; i+1 < len(ps); i++ {
			f.Add(uint8(1), ps[i].Payload, ps[i+1].Payload)
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, first, later []byte) {
		synctest.Test(t, func(t *testing.T) {
			p := newHostilePair(t, fastLookup, ikev1.WithHalfOpenLimit(fuzzHalfOpen))
			raw := newRawPeer(t, p.net, attackerAddr)
			sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			raw.send(bytes.Clone(first))
			synctest.Wait()
			var rcky []byte
			for _, r := range raw.replies() {
				if len(r) >= 16 && len(first) >= 8 && bytes.Equal(r[:8], first[:8]) {
					rcky = r[8:16]
				}
			}
			if m := bytes.Clone(later); len(m) >= 16 {
				if mode&1 != 0 && rcky != nil {
					copy(m, first[:8])
					copy(m[8:], rcky)
				}
				raw.send(m)
				synctest.Wait()
			}
			if m := bytes.Clone(later); len(m) >= 16 {
				if mode&2 != 0 {
					i, r := sa.CookiesForTest()
					copy(m, i[:])
					copy(m[8:], r[:])
				}
				if mode&4 != 0 {
					p.cl.Send(ike.Packet{Data: m, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
				} else {
					raw.send(m)
				}
				synctest.Wait()
			}
			if n, half, _ := p.resp.CountsForTest(); half > fuzzHalfOpen || n > fuzzHalfOpen+1 {
				t.Fatalf("responder holds %d SAs, %d half-open (limit %d)", n, half, fuzzHalfOpen)
			}
			// Unauthenticated bytes cannot end the established SA.
			if sa.Err() != nil {
				t.Fatalf("the established SA ended: %v", sa.Err())
			}
			if _, down, _, childDown := p.gwEv.counts(); down != 0 || childDown != 0 {
				t.Fatalf("responder's SAs went: %d IKEDown, %d ChildDown", down, childDown)
			}
			checkTraffic(t, p)
			// Half-open SAs time out; a new client gets in.
			time.Sleep(31 * time.Second)
			synctest.Wait()
			if _, half, _ := p.resp.CountsForTest(); half != 0 {
				t.Fatalf("%d half-open SAs after the phase 1 timeout", half)
			}
			if _, err := dialFrom(p.init, clientAddr, fastClient("second.example", 6, ikev1.MainMode)); err != nil {
				t.Fatalf("a good client after the input: %v", err)
			}
		})
	})
}

// FuzzQuickMode sends a mutated Quick Mode message 1 on an established
// ISAKMP SA (see fuzzEncrypted).
func FuzzQuickMode(f *testing.F) { fuzzEncrypted(f, wire.QuickMode) }

// FuzzInformational sends a mutated Informational message on an
// established ISAKMP SA (see fuzzEncrypted).
func FuzzInformational(f *testing.F) { fuzzEncrypted(f, wire.Informational) }

// fuzzEncrypted sends one encrypted message of exchange ex under a new
// message ID. Mode bit 0 clear: data is the encrypted body as it goes on
// the wire (a mutated ciphertext). Bit 0 set: data is a plaintext
// payload chain after HASH (first byte: its first payload type), sealed
// with the client's keys behind a HASH(1) that verifies, or (bit 1) one
// that does not. Bit 2 sends it twice, bit 3 sets the commit flag. The
// seeds are the client's real Quick Mode and Informational messages of
// an in-memory handshake, decrypted with the key log.
//
// The responder must not panic or leak; it sets up no IPsec SA (HASH(3)
// never comes), keeps no Quick Mode beyond its timeout, and loses its
// SAs only to a Delete that names them.
func fuzzEncrypted(f *testing.F, ex wire.ExchangeType) {
	rec := recordHandshake(f, ikev1.MainMode)
	d := newDecryptor(f, rec)
	for _, pt := range d.plaintexts(f, rec) {
		if pt.ex != ex {
			continue
		}
		if in, ok := afterHash(pt.next, pt.body); ok {
			f.Add(uint8(1), in)
			f.Add(uint8(5), in)
			f.Add(uint8(3), in)
			f.Add(uint8(9), in)
		}
	}
	for _, pk := range rec.pkts {
		if h, err := wire.ParseHeader(pk.data); err == nil && h.Exchange == ex && pk.from.Addr() == clientAddr {
			f.Add(uint8(0), pk.data[28:])
			f.Add(uint8(4), pk.data[28:])
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			p := newHostilePair(t, fastLookup)
			sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			ckyI, ckyR := sa.CookiesForTest()
			const mid = 0x5a5a0001
			var msg []byte
			if mode&1 == 0 {
				msg = hashedMessage(ckyI, ckyR, ex, mid, nil, nil)[:28]
				msg[16] = byte(wire.PayloadHASH)
				msg[19] = byte(wire.FlagEncryption)
				msg = append(msg, data...)
				binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
			} else {
				var h []byte
				if len(data) > 0 && mode&2 == 0 {
					h = sa.HashForTest(midBytes(mid), data[1:])
				} else {
					h = make([]byte, 32)
				}
				plain := hashedMessage(ckyI, ckyR, ex, mid, h, data)
				if len(plain) > 60000 {
					return
				}
				var ok bool
				if msg, ok = sa.SealForTest(plain); !ok {
					t.Fatal("SealForTest failed")
				}
			}
			if mode&8 != 0 {
				msg[19] |= byte(wire.FlagCommit)
			}
			send := func() {
				p.cl.Send(ike.Packet{Data: bytes.Clone(msg), Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)})
				synctest.Wait()
			}
			send()
			if mode&4 != 0 {
				send()
			}
			if _, _, quick := p.resp.CountsForTest(); quick > 1 {
				t.Fatalf("one message started %d Quick Modes", quick)
			}
			time.Sleep(31 * time.Second) // a Quick Mode's timeout
			synctest.Wait()
			if _, _, quick := p.resp.CountsForTest(); quick != 0 {
				t.Fatalf("%d Quick Modes left after their timeout", quick)
			}
			_, down, childUp, childDown := p.gwEv.counts()
			if childUp != 1 {
				t.Fatalf("%d IPsec SAs set up on the responder, want 1 (no HASH(3) was sent)", childUp)
			}
			deletes := authenticDeletes(mode, data)
			if down != 0 && !deletes[wire.ProtoISAKMP] {
				t.Fatalf("responder's ISAKMP SA ended without an authentic Delete naming it")
			}
			if childDown != 0 && !deletes[wire.ProtoIPsecESP] && !deletes[wire.ProtoISAKMP] {
				t.Fatalf("responder's IPsec SA ended without an authentic Delete")
			}
			if down == 0 && childDown == 0 {
				if sa.Err() != nil {
					t.Fatalf("initiator's SA ended: %v", sa.Err())
				}
				checkTraffic(t, p)
			}
			if _, err := dialFrom(p.init, clientAddr, fastClient("second.example", 6, ikev1.MainMode)); err != nil {
				t.Fatalf("a good client after the input: %v", err)
			}
		})
	})
}

// authenticDeletes reports the protocols of the Delete payloads in a
// plaintext-mode input whose HASH verified.
func authenticDeletes(mode uint8, data []byte) map[wire.ProtocolID]bool {
	out := map[wire.ProtocolID]bool{}
	if mode&1 == 0 || mode&2 != 0 || len(data) == 0 {
		return out
	}
	pl, err := wire.ParsePayloads(wire.PayloadType(data[0]), data[1:])
	if err != nil {
		return out
	}
	for _, x := range pl {
		if d, ok := x.(*wire.Delete); ok {
			out[d.Protocol] = true
		}
	}
	return out
}
