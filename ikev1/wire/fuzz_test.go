package wire_test

import (
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
