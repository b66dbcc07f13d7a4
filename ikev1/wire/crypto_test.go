package wire_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"

	"crypto/des"
	"crypto/md5"
	"encoding/hex"
	"github.com/google/go-cmp/cmp"
	"testing"

	"github.com/goipsec/ipsec/ikev1/wire"
)

// certsKey is row 1 of ../shared/testdata/wireshark/ikev1_decryption_table.csv:
// the 3DES phase 1 encryption key of ikev1-certs.pcap (CKY-I fafaeb49382a763c).
const (
	certsCKYI = "fafaeb49382a763c"
	certsKey  = "735be0cb62f82675c4f7bf8fbab9b56834ba76d6ab4fa240"
)

// certsOpened decrypts the encrypted messages of ikev1-certs.pcap in order
// with a Crypto seeded from the KE payloads of messages 3 and 4 (the
// capture negotiated 3DES and MD5), confirming each message, and returns
// the parsed plaintext payloads per frame.
func certsOpened(t *testing.T) (map[int]*wire.Message, map[int][]wire.Payload) {
	t.Helper()
	msgs, plain, _ := certsOpenedBodies(t)
	return msgs, plain
}

// certsOpenedBodies is certsOpened that also returns the decrypted bodies
// (padding included).
func certsOpenedBodies(t *testing.T) (map[int]*wire.Message, map[int][]wire.Payload, map[int][]byte) {
	t.Helper()
	ps := v1Messages(t, "testdata/ikev1-certs.pcap")
	msgs := map[int]*wire.Message{}
	var gxi, gxr []byte
	for _, p := range ps {
		m, err := wire.Parse(p.Payload)
		if err != nil {
			t.Fatalf("frame %d: %v", p.Frame, err)
		}
		msgs[p.Frame] = m
		if hex.EncodeToString(m.ICookie[:]) != certsCKYI {
			t.Fatalf("frame %d: CKY-I %x", p.Frame, m.ICookie)
		}
		for _, pl := range m.Payloads {
			if ke, ok := pl.(*wire.KE); ok {
				if gxi == nil {
					gxi = ke.Data
				} else {
					gxr = ke.Data
				}
			}
		}
	}
	if len(gxi) != 128 || len(gxr) != 128 {
		t.Fatalf("KE payloads of %d and %d bytes, want MODP-1024", len(gxi), len(gxr))
	}
	key, _ := hex.DecodeString(certsKey)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	c := wire.NewCrypto(block, md5.New, gxi, gxr)
	plain := map[int][]wire.Payload{}
	bodies := map[int][]byte{}
	var prev []byte
	for _, p := range ps {
		m := msgs[p.Frame]
		if !m.IsEncrypted() {
			continue
		}
		if bytes.Equal(p.Payload, prev) {
			// Frame 8 retransmits frame 7 ten seconds later: the same
			// bytes, so recognised before decryption (its IV has moved on).
			plain[p.Frame] = plain[p.Frame-1]
			bodies[p.Frame] = bodies[p.Frame-1]
			continue
		}
		prev = p.Payload
		body, confirm, err := c.Open(m)
		if err != nil {
			t.Fatalf("frame %d: %v", p.Frame, err)
		}
		pl, err := wire.ParsePayloads(m.Next, body)
		if err != nil {
			t.Fatalf("frame %d: decrypted body does not parse: %v\n%x", p.Frame, err, body)
		}
		confirm()
		plain[p.Frame] = pl
		bodies[p.Frame] = body
	}
	return msgs, plain, bodies
}

func TestCryptoCertsCapture(t *testing.T) {
	msgs, plain := certsOpened(t)
	for f := 5; f <= 10; f++ {
		m := msgs[f]
		m.Payloads = plain[f]
		t.Logf("frame %d: %s", f, m.Summary())
	}
}

func aesPair(t *testing.T) (*wire.Crypto, *wire.Crypto, cipher.Block, []byte, []byte) {
	t.Helper()
	key := bytes.Repeat([]byte{0x42}, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gxi, gxr := bytes.Repeat([]byte{1}, 256), bytes.Repeat([]byte{2}, 256)
	return wire.NewCrypto(block, sha256.New, gxi, gxr), wire.NewCrypto(block, sha256.New, gxi, gxr), block, gxi, gxr
}

func plainMsg(t *testing.T, exch wire.ExchangeType, mid uint32, ps ...wire.Payload) []byte {
	t.Helper()
	m := &wire.Message{Header: wire.Header{ICookie: [8]byte{9, 9, 9, 9, 9, 9, 9, 9}, RCookie: [8]byte{7, 7, 7, 7, 7, 7, 7, 7}, Exchange: exch, MessageID: mid}, Payloads: ps}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCryptoKnownIVs checks Seal against CBC computed here from RFC 2409
// Appendix B: the phase 1 IV is SHA-256(g^xi | g^xr) truncated to 16
// bytes, the next phase 1 message chains on the last ciphertext block,
// and a Quick Mode starts with SHA-256(last phase 1 block | M-ID).
func TestCryptoKnownIVs(t *testing.T) {
	ini, _, block, gxi, gxr := aesPair(t)
	sum := sha256.Sum256(append(append([]byte(nil), gxi...), gxr...))
	iv := sum[:16]

	check := func(name string, pm, sealed, iv []byte) []byte {
		t.Helper()
		body := pm[wire.HeaderLen:]
		padded := append(append([]byte(nil), body...), make([]byte, 16-len(body)%16)...)
		want := make([]byte, len(padded))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(want, padded)
		if !bytes.Equal(sealed[wire.HeaderLen:], want) {
			t.Fatalf("%s: ciphertext\n got %x\nwant %x", name, sealed[wire.HeaderLen:], want)
		}
		h, err := wire.ParseHeader(sealed)
		if err != nil || !h.IsEncrypted() || int(h.Length) != wire.HeaderLen+len(want) {
			t.Fatalf("%s: header %+v %v", name, h, err)
		}
		if !bytes.Equal(sealed[:16], pm[:16]) || sealed[16] != pm[16] || sealed[18] != pm[18] {
			t.Fatalf("%s: header changed beyond flags and length", name)
		}
		return want[len(want)-16:]
	}
	if got := ini.IV(0); !bytes.Equal(got, iv) {
		t.Fatalf("phase 1 IV %x, want %x", got, iv)
	}
	mm5 := plainMsg(t, wire.Main, 0, &wire.ID{IDType: wire.IDFQDN, Data: []byte("client.example")}, &wire.Hash{Data: make([]byte, 32)})
	s5, err := ini.Seal(nil, mm5)
	if err != nil {
		t.Fatal(err)
	}
	last := check("MM5", mm5, s5, iv)
	// The next phase 1 IV is MM5's last ciphertext block.
	if got := ini.IV(0); !bytes.Equal(got, last) {
		t.Fatalf("IV after MM5 %x, want %x", got, last)
	}
	mm6 := plainMsg(t, wire.Main, 0, &wire.Hash{Data: make([]byte, 32)})
	s6, err := ini.Seal(nil, mm6)
	if err != nil {
		t.Fatal(err)
	}
	last = check("MM6", mm6, s6, last)
	const mid = 0x01020304
	qsum := sha256.Sum256(append(append([]byte(nil), last...), 1, 2, 3, 4))
	qm1 := plainMsg(t, wire.QuickMode, mid, &wire.Hash{Data: make([]byte, 32)}, &wire.Nonce{Data: make([]byte, 16)})
	sq, err := ini.Seal(nil, qm1)
	if err != nil {
		t.Fatal(err)
	}
	qlast := check("QM1", qm1, sq, qsum[:16])
	qm2 := plainMsg(t, wire.QuickMode, mid, &wire.Hash{Data: make([]byte, 32)})
	sq2, err := ini.Seal(nil, qm2)
	if err != nil {
		t.Fatal(err)
	}
	check("QM2", qm2, sq2, qlast)
	// A second exchange starts from the phase 1 IV again, not from QM's.
	info := plainMsg(t, wire.Informational, 77, &wire.Hash{Data: make([]byte, 32)})
	si, err := ini.Seal(nil, info)
	if err != nil {
		t.Fatal(err)
	}
	isum := sha256.Sum256(append(append([]byte(nil), last...), 0, 0, 0, 77))
	check("INFO", info, si, isum[:16])
}

// TestCryptoConfirm: both sides agree across phase 1 and two interleaved
// Quick Modes; unconfirmed, corrupted or replayed messages do not move the
// IV, and a flood of unknown message IDs does not evict live exchanges.
func TestCryptoConfirm(t *testing.T) {
	ini, res, _, _, _ := aesPair(t)
	deliver := func(from, to *wire.Crypto, exch wire.ExchangeType, mid uint32, ps ...wire.Payload) *wire.Message {
		t.Helper()
		pm := plainMsg(t, exch, mid, ps...)
		ct, err := from.Seal(nil, pm)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.Parse(ct)
		if err != nil {
			t.Fatal(err)
		}
		body, confirm, err := to.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.ParsePayloads(m.Next, body)
		if err != nil {
			t.Fatalf("mid %d: %v", mid, err)
		}
		want, _ := wire.ParsePayloads(wire.PayloadType(pm[16]), pm[wire.HeaderLen:])
		if d := cmp.Diff(want, got, cmpOpts...); d != "" {
			t.Fatalf("mid %d: (-sent +received)\n%s", mid, d)
		}
		confirm()
		return m
	}
	h := &wire.Hash{Data: bytes.Repeat([]byte{3}, 32)}
	deliver(ini, res, wire.Main, 0, &wire.ID{IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 1}}, h)
	deliver(res, ini, wire.Main, 0, &wire.ID{IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 2}}, h)
	deliver(ini, res, wire.QuickMode, 1, h, &wire.Nonce{Data: []byte{1}})
	deliver(ini, res, wire.QuickMode, 2, h, &wire.Nonce{Data: []byte{2}})
	deliver(res, ini, wire.QuickMode, 2, h, &wire.Nonce{Data: []byte{3}})
	m1 := deliver(res, ini, wire.QuickMode, 1, h, &wire.Nonce{Data: []byte{4}})

	// Flood the initiator with unknown message IDs, opened but never
	// confirmed (their HASH would fail), and with a corrupted copy.
	before := ini.IV(1)
	for mid := uint32(1000); mid < 1000+3*wire.MaxExchangeIVs; mid++ {
		m, _ := wire.Parse(append([]byte(nil), m1.Raw...))
		m.MessageID = mid
		if _, _, err := ini.Open(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ini.Open(m1); err != nil { // a replay, not confirmed
		t.Fatal(err)
	}
	if !bytes.Equal(ini.IV(1), before) {
		t.Fatal("unconfirmed messages moved the IV of exchange 1")
	}
	deliver(ini, res, wire.QuickMode, 1, h)

	// Confirmed state is bounded: the oldest exchange is dropped, and then
	// its IV is derived afresh from phase 1 (the sides disagree, as with
	// strongSwan when more exchanges overlap than it keeps).
	fresh := wire.NewCrypto(mustAES(t), sha256.New, []byte{1}, []byte{2})
	derived := fresh.IV(5)
	m := &wire.Message{Header: wire.Header{Flags: wire.FlagEncryption, MessageID: 5}, Encrypted: make([]byte, 16)}
	_, confirm, _ := fresh.Open(m)
	confirm()
	if bytes.Equal(fresh.IV(5), derived) {
		t.Fatal("confirm did not move the IV")
	}
	for mid := uint32(100); mid < 100+wire.MaxExchangeIVs; mid++ {
		m.MessageID = mid
		_, confirm, _ := fresh.Open(m)
		confirm()
	}
	if !bytes.Equal(fresh.IV(5), derived) {
		t.Fatal("the oldest exchange was not dropped beyond MaxExchangeIVs")
	}
	m.MessageID = 100 + wire.MaxExchangeIVs - 1
	kept := fresh.IV(m.MessageID)
	fresh.Forget(m.MessageID)
	if bytes.Equal(fresh.IV(m.MessageID), kept) {
		t.Fatal("Forget kept the IV")
	}
}

func mustAES(t *testing.T) cipher.Block {
	b, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCryptoOpenErrors(t *testing.T) {
	c := wire.NewCrypto(mustAES(t), sha256.New, []byte{1}, []byte{2})
	for _, m := range []*wire.Message{
		{Header: wire.Header{Flags: wire.FlagEncryption}, Encrypted: make([]byte, 15)},
		{Header: wire.Header{Flags: wire.FlagEncryption}, Encrypted: []byte{}},
		{Header: wire.Header{}, Payloads: []wire.Payload{}},
	} {
		if _, _, err := c.Open(m); !errors.Is(err, wire.ErrDecrypt) {
			t.Errorf("%d-byte body: %v, want ErrDecrypt", len(m.Encrypted), err)
		}
	}
	if _, err := c.Seal(nil, []byte{1, 2, 3}); err == nil {
		t.Error("Seal of a truncated message succeeded")
	}
}

// TestParsePaddingStyles: the decrypted body may end in zero padding
// (strongSwan) or in padding whose last byte is its length (RFC 2409
// section 5.3 leaves it open); both are ignored.
func TestParsePaddingStyles(t *testing.T) {
	hash := []byte{0, 0, 0, 8, 1, 2, 3, 4}
	for _, pad := range [][]byte{{0, 0, 0, 0, 0, 0, 0, 0}, {7, 7, 7, 7, 7, 7, 7, 7}, {0, 0, 0, 0, 0, 0, 0, 7}} {
		ps, err := wire.ParsePayloads(wire.PayloadHASH, append(append([]byte(nil), hash...), pad...))
		if err != nil || len(ps) != 1 || !bytes.Equal(ps[0].(*wire.Hash).Data, []byte{1, 2, 3, 4}) {
			t.Errorf("padding %x: %v %v", pad, ps, err)
		}
	}
}

// TestHashedPayloads: in the decrypted Quick Mode of ikev1-certs.pcap the
// bytes HASH(1) and HASH(2) cover are the payloads after HASH as the peer
// encoded them (our re-encoding of the parsed payloads agrees), without
// the padding.
func TestHashedPayloads(t *testing.T) {
	msgs, plain, bodies := certsOpenedBodies(t)
	for _, f := range []int{7, 9} {
		hp, err := wire.HashedPayloads(msgs[f].Next, bodies[f])
		if err != nil {
			t.Fatal(err)
		}
		re, _, err := wire.AppendPayloads(nil, plain[f][1:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(hp, re) {
			t.Errorf("frame %d: hashed span\n got %x\nwant %x", f, hp, re)
		}
		// This peer's bodies happen to need no padding; add some.
		padded := append(append([]byte(nil), bodies[f]...), 0, 0, 0, 0, 0, 0, 0, 7)
		if hp2, err := wire.HashedPayloads(msgs[f].Next, padded); err != nil || !bytes.Equal(hp2, re) {
			t.Errorf("frame %d: padding not excluded (%d bytes, %v)", f, len(hp2), err)
		}
	}
	if hp, err := wire.HashedPayloads(wire.PayloadHASH, []byte{0, 0, 0, 8, 1, 2, 3, 4, 0, 0}); err != nil || len(hp) != 0 {
		t.Errorf("HASH alone: %x %v", hp, err)
	}
	if _, err := wire.HashedPayloads(wire.PayloadNonce, []byte{0, 0, 0, 8, 1, 2, 3, 4}); err == nil {
		t.Error("first payload Nonce accepted")
	}
	if _, err := wire.HashedPayloads(wire.PayloadHASH, []byte{0, 0, 0, 9, 1, 2, 3, 4}); err == nil {
		t.Error("truncated HASH accepted")
	}
}
