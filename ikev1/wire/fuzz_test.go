package wire_test

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ikev1/wire"
)

func addSeeds(f *testing.F) {
	for _, c := range v1Captures {
		for _, p := range v1Messages(f, c.file) {
			f.Add(p.Payload)
		}
	}
	f.Add(unhex(f, goldenMain))
}

// FuzzParse: Parse never panics; what it accepts re-encodes to a message
// that parses to the same value, and an accepted message of well-formed
// fields re-encodes within its own length.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.Parse(b)
		if err != nil {
			if _, ok := err.(*wire.ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = m.Summary()
		re, err := m.Append(nil)
		if err != nil {
			t.Fatalf("re-encoding an accepted message: %v", err)
		}
		if len(re) != len(b) {
			t.Fatalf("re-encoding is %d bytes, input %d", len(re), len(b))
		}
		m2, err := wire.Parse(re)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		m.Raw, m2.Raw = nil, nil
		if m.Encrypted != nil {
			m.Encrypted, m2.Encrypted = nil, nil
		}
		if d := cmp.Diff(m, m2, cmpOpts...); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// FuzzParsePayloads: a decrypted body never panics the decoder.
func FuzzParsePayloads(f *testing.F) {
	for _, g := range goldenPayloads {
		f.Add(uint8(g.p.Type()), unhex(f, g.hex))
	}
	f.Fuzz(func(t *testing.T, first uint8, b []byte) {
		ps, err := wire.ParsePayloads(wire.PayloadType(first), b)
		if err != nil {
			if _, ok := err.(*wire.ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		re, _, err := wire.AppendPayloads(nil, ps)
		if err != nil {
			t.Fatalf("re-encoding accepted payloads: %v", err)
		}
		ps2, err := wire.ParsePayloads(wire.PayloadType(first), re)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		if d := cmp.Diff(ps, ps2, cmpOpts...); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// FuzzReassembler feeds fragments built from the input: it never panics,
// never returns more than its size bound, and what it completes is the
// concatenation of fragments 1..last of the current fragment ID (a simple
// model of the set is kept alongside).
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{1, 1, 0, 3, 1, 2, 3, 1, 2, 1, 1, 4})
	f.Add([]byte{0, 1, 0, 0, 5, 0, 1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxSize = 64
		r := wire.NewReassembler(8, maxSize)
		held := map[uint8][]byte{}
		var id uint16
		var last uint8
		for len(b) >= 4 {
			n := min(int(b[3]%32), len(b)-4)
			fr := &wire.Fragment{ID: uint16(b[0] % 2), Number: b[1] % 10, Last: b[2]&1 != 0, Data: b[4 : 4+n]}
			b = b[4+n:]
			if len(held) > 0 && fr.ID != id {
				clear(held)
				last = 0
			}
			id = fr.ID
			out, done, err := r.Add(fr)
			if err != nil {
				if !errors.Is(err, wire.ErrReassembly) {
					t.Fatalf("error %v", err)
				}
				clear(held)
				last = 0
				continue
			}
			if _, dup := held[fr.Number]; !dup {
				held[fr.Number] = fr.Data
				if fr.Last {
					last = fr.Number
				}
			}
			if !done {
				continue
			}
			if len(out) > maxSize {
				t.Fatalf("reassembled %d bytes", len(out))
			}
			var want []byte
			for i := uint8(1); i <= last; i++ {
				d, ok := held[i]
				if !ok {
					t.Fatalf("completed without fragment %d of %d", i, last)
				}
				want = append(want, d...)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("reassembled %x, want %x", out, want)
			}
			clear(held)
			last = 0
		}
	})
}

// FuzzOpen: decrypting hostile messages never panics; what parses has a
// body of whole blocks.
func FuzzOpen(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.Parse(b)
		if err != nil || !m.IsEncrypted() || m.Encrypted == nil {
			return
		}
		c := wire.NewCrypto(fuzzBlock, sha256.New, []byte{1}, []byte{2})
		body, confirm, err := c.Open(m)
		if err != nil {
			if len(m.Encrypted)%16 == 0 && len(m.Encrypted) > 0 {
				t.Fatalf("whole-block body refused: %v", err)
			}
			return
		}
		if len(body) != len(m.Encrypted) {
			t.Fatalf("plaintext %d bytes, ciphertext %d", len(body), len(m.Encrypted))
		}
		if _, err := wire.ParsePayloads(m.Next, body); err != nil {
			if _, ok := err.(*wire.ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
		}
		confirm()
		if !bytes.Equal(c.IV(m.MessageID), m.Encrypted[len(m.Encrypted)-16:]) {
			t.Fatal("confirm did not chain the IV on the last ciphertext block")
		}
	})
}

var fuzzBlock, _ = aes.NewCipher(make([]byte, 16))
