package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"
)

var testKey = unhex("000102030405060708090a0b0c0d0e0f 10111213")

func crypters() map[string]wire.Crypter {
	return map[string]wire.Crypter{"aes-gcm-16": newGCM(testKey), "block16": blockCrypter{}}
}

// TestSealOpen seals the sample IKE_AUTH, opens it again and compares the
// inner payloads; with a 16-byte block cipher the padding must align.
func TestSealOpen(t *testing.T) {
	for name, c := range crypters() {
		t.Run(name, func(t *testing.T) {
			for _, m := range sampleMessages()[1:] {
				b, err := m.AppendSealed([]byte("prefix"), c, &zeroRand{})
				if err != nil {
					t.Fatal(err)
				}
				if string(b[:6]) != "prefix" {
					t.Fatal("dst prefix overwritten")
				}
				b = b[6:]
				got, err := wire.Parse(b)
				if err != nil {
					t.Fatal(err)
				}
				sk := got.Payloads[len(got.Payloads)-1].(*wire.SK)
				if !sk.Encrypted() {
					t.Error("parsed SK not reported as encrypted")
				}
				ctLen := len(sk.Body) - c.IVLen() - c.ICVLen()
				if ctLen%c.BlockLen() != 0 {
					t.Errorf("ciphertext length %d not aligned to %d", ctLen, c.BlockLen())
				}
				if _, err := got.Open(c, nil); err != nil {
					t.Fatal(err)
				}
				want := m.Payloads[len(m.Payloads)-1].(*wire.SK).Payloads
				if d := cmp.Diff(want, sk.Payloads, cmpOpts); d != "" {
					t.Errorf("inner payloads (-sent +opened):\n%s", d)
				}
				if sk.FirstPayload != want[0].PayloadType() {
					t.Errorf("first payload %v", sk.FirstPayload)
				}
				if got.Summary() != m.Summary() {
					t.Errorf("summary %q vs %q", got.Summary(), m.Summary())
				}
				// Flipping any single byte of the message (header, SK
				// header, IV, ciphertext or ICV) makes Open fail.
				for i := range b {
					bad := bytes.Clone(b)
					bad[i] ^= 0x01
					bm, err := wire.Parse(bad)
					if err != nil {
						continue // the header or SK header no longer parses
					}
					if _, err := bm.Open(c, nil); err == nil {
						t.Fatalf("byte %d flipped: Open succeeded", i)
					}
				}
			}
		})
	}
}

func TestSealedSampleSummary(t *testing.T) {
	got := sampleMessages()[1].Summary()
	want := "IKE_AUTH request 1 [ IDi CERTREQ N(INIT_CONTACT) IDr AUTH CPRQ(ADDR DNS ADDR6 DOMAIN TA) SA TSi TSr ]"
	if got != want {
		t.Errorf("Summary = %q\nwant      %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	c := newGCM(testKey)
	m := sampleMessages()[2]
	b, err := m.AppendSealed(nil, c, &zeroRand{})
	if err != nil {
		t.Fatal(err)
	}
	// Messages without SK.
	if _, err := (&wire.Message{}).Open(c, nil); !errors.Is(err, wire.ErrNoSK) {
		t.Errorf("no payloads: %v", err)
	}
	if _, err := (&wire.Message{}).AppendSealed(nil, c, &zeroRand{}); !errors.Is(err, wire.ErrNoSK) {
		t.Errorf("seal without SK: %v", err)
	}
	// An SK built by hand (not from Parse) cannot be opened.
	if _, err := (&wire.SK{Body: make([]byte, 40)}).Open(c, nil); err == nil {
		t.Error("hand-made SK opened")
	}
	// Too short for IV and ICV.
	short := goldenMessage(46, unhex("00000008 01020304"))
	sm, err := wire.Parse(short)
	if err != nil {
		t.Fatal(err)
	}
	var pe *wire.ParseError
	if _, err := sm.Open(c, nil); !errors.As(err, &pe) || pe.Payload != wire.PayloadSK {
		t.Errorf("short SK: %v", err)
	}
	// Ciphertext not a multiple of the block size.
	bm, _ := wire.Parse(goldenMessage(46, append(unhex("00000025"), make([]byte, 33)...)))
	if _, err := bm.Open(blockCrypter{}, nil); !errors.As(err, &pe) {
		t.Errorf("unaligned: %v", err)
	}
	// Pad length larger than the plaintext: seal a plaintext that ends
	// in 0xff by hand.
	raw := sealRaw(t, c, []byte{0xff})
	pm, err := wire.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pm.Open(c, nil); !errors.As(err, &pe) {
		t.Errorf("bad pad length: %v", err)
	}
	// Open into a reused buffer.
	good, _ := wire.Parse(b)
	buf := make([]byte, 0, 256)
	out, err := good.Open(c, buf)
	if err != nil || &out[:1][0] != &buf[:1][0] {
		t.Errorf("Open did not use dst: %v", err)
	}
}

// sealRaw builds an INFORMATIONAL message whose SK plaintext is exactly pt
// (no padding added), for malformed-plaintext cases.
func sealRaw(t *testing.T, c wire.Crypter, pt []byte) []byte {
	t.Helper()
	h := goldenMessage(46, nil)
	total := len(h) + 4 + c.IVLen() + len(pt) + c.ICVLen()
	h[24], h[25], h[26], h[27] = byte(total>>24), byte(total>>16), byte(total>>8), byte(total)
	n := 4 + c.IVLen() + len(pt) + c.ICVLen()
	h = append(h, 0, 0, byte(n>>8), byte(n))
	aad := bytes.Clone(h)
	iv := make([]byte, c.IVLen())
	h = append(h, iv...)
	return c.Seal(h, iv, pt, aad, nil)
}

func TestSealAllocs(t *testing.T) {
	c := newGCM(testKey)
	m := sampleMessages()[1]
	buf := make([]byte, 0, 2048)
	r := &zeroRand{}
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		buf, err = m.AppendSealed(buf[:0], c, r)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendSealed allocs = %v, want 0", allocs)
	}
}

func TestAppendAllocs(t *testing.T) {
	for _, m := range sampleMessages()[:1] {
		buf := make([]byte, 0, 2048)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			buf, err = m.Append(buf[:0])
			if err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Append allocs = %v, want 0", m.Header.Exchange, allocs)
		}
	}
	// A parsed message (SK kept encrypted) re-encodes without allocating too.
	b, _ := sampleMessages()[1].AppendSealed(nil, newGCM(testKey), &zeroRand{})
	pm, _ := wire.Parse(b)
	buf := make([]byte, 0, 2048)
	if a := testing.AllocsPerRun(100, func() { buf, _ = pm.Append(buf[:0]) }); a != 0 {
		t.Errorf("Append(parsed IKE_AUTH) allocs = %v", a)
	}
}
