package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"
)

// nullCrypter is ENCR_NULL without integrity: Open is the identity, so the
// fuzzer reaches the padding and inner-chain code behind the ICV check.
type nullCrypter struct{}

func (nullCrypter) IVLen() int    { return 0 }
func (nullCrypter) ICVLen() int   { return 0 }
func (nullCrypter) BlockLen() int { return 1 }
func (nullCrypter) Seal(dst, _, pt, _, _ []byte) []byte {
	return append(dst, pt...)
}
func (nullCrypter) Open(dst, _, ct, _, _ []byte) ([]byte, error) { return append(dst, ct...), nil }

func fuzzSeeds(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(goldenMessage(byte(tc.typ), unhex(tc.payload)))
	}
	for _, c := range ikev2Captures {
		for _, p := range capturedMessages(f, c.file) {
			f.Add(p.Payload)
		}
	}
	for _, m := range sampleMessages() {
		if b, err := m.Append(nil); err == nil {
			f.Add(b)
		}
		for _, c := range []wire.Crypter{nullCrypter{}, newGCM(testKey)} {
			if _, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK); ok {
				b, _ := m.AppendSealed(nil, c, &zeroRand{})
				f.Add(b)
				frags, _ := m.AppendFragments(nil, c, &zeroRand{}, 200)
				for _, fr := range frags {
					f.Add(fr)
				}
			}
		}
	}
}

// FuzzParse: Parse never panics; whatever it accepts re-encodes without
// error, and the re-encoding parses to the same value. When the input is
// canonical (no ignored bits set) the re-encoding is byte-identical.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.Parse(b)
		if err != nil {
			var pe *wire.ParseError
			var ce *wire.CriticalPayloadError
			if !errors.As(err, &pe) && !errors.As(err, &ce) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if pe != nil && (pe.Offset < 0 || pe.Offset > len(b)) {
				t.Fatalf("offset %d outside the %d-byte input", pe.Offset, len(b))
			}
			return
		}
		_ = m.Summary()
		re, err := m.Append(nil)
		if err != nil {
			t.Fatalf("re-encoding a parsed message: %v", err)
		}
		if len(re) != len(b) {
			t.Fatalf("re-encoding has %d bytes, input %d", len(re), len(b))
		}
		m2, err := wire.Parse(re)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		if d := cmp.Diff(m, m2, cmpOpts); d != "" {
			t.Fatalf("parse(append(parse(x))) differs:\n%s", d)
		}
		re2, _ := m2.Append(nil)
		if !bytes.Equal(re, re2) {
			t.Fatal("encoding is not a fixed point")
		}
	})
}

// FuzzOpenSK: opening arbitrary SK/SKF payloads never panics; with the
// NULL crypter the inner chain that opens re-seals and re-opens to the
// same payloads.
func FuzzOpenSK(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []wire.Crypter{nullCrypter{}, newGCM(testKey), blockCrypter{}} {
			m, err := wire.Parse(b)
			if err != nil {
				return
			}
			buf, err := m.Open(c, nil)
			if err != nil {
				continue
			}
			if len(buf) == 0 {
				t.Fatal("opened to an empty plaintext (the pad length byte is missing)")
			}
			sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK)
			if !ok {
				continue
			}
			_ = m.Summary()
			out := &wire.Message{Header: m.Header, Payloads: append(append([]wire.Payload{}, m.Payloads[:len(m.Payloads)-1]...),
				&wire.SK{Payloads: sk.Payloads})}
			sealed, err := out.AppendSealed(nil, c, &zeroRand{})
			if err != nil {
				t.Fatalf("re-sealing opened payloads: %v", err)
			}
			m2, err := wire.Parse(sealed)
			if err != nil {
				t.Fatalf("re-sealed message does not parse: %v", err)
			}
			if _, err := m2.Open(c, nil); err != nil {
				t.Fatalf("re-sealed message does not open: %v", err)
			}
			sk2 := m2.Payloads[len(m2.Payloads)-1].(*wire.SK)
			if d := cmp.Diff(sk.Payloads, sk2.Payloads, cmpOpts); d != "" {
				t.Fatalf("inner payloads differ after re-seal:\n%s", d)
			}
		}
	})
}

// refReassembler is the RFC 7383 section 2.6 model FuzzReassemble checks
// the Reassembler against, written for clarity with maps.
type refReassembler struct {
	maxFrags, maxBytes int
	active             bool
	id                 uint32
	total              int
	frags              map[int][]byte
	first              wire.PayloadType
	doneID             uint32
	doneOK             bool
}

func (r *refReassembler) add(id uint32, n, total int, first wire.PayloadType, pt []byte) (bool, []byte, error) {
	if n == 0 || total == 0 || n > total {
		return false, nil, wire.ErrFragmentInvalid
	}
	if total > r.maxFrags {
		return false, nil, wire.ErrTooManyFragments
	}
	if r.doneOK && r.doneID == id && !(r.active && r.id == id) {
		return false, nil, wire.ErrFragmentOfCompleted
	}
	if r.active && (r.id != id || total > r.total) {
		r.active = false
	}
	if r.active && total < r.total {
		return false, nil, wire.ErrFragmentTotalStale
	}
	if !r.active {
		r.active, r.id, r.total, r.frags, r.first = true, id, total, map[int][]byte{}, 0
	}
	if _, dup := r.frags[n]; dup {
		return false, nil, nil
	}
	size := 0
	for _, p := range r.frags {
		size += len(p)
	}
	if size+len(pt) > r.maxBytes {
		r.active = false
		return false, nil, wire.ErrReassemblyTooLarge
	}
	r.frags[n] = bytes.Clone(pt)
	if n == 1 {
		r.first = first
	}
	if len(r.frags) < r.total {
		return false, nil, nil
	}
	var out []byte
	for i := 1; i <= r.total; i++ {
		out = append(out, r.frags[i]...)
	}
	r.active, r.doneID, r.doneOK = false, id, true
	return true, out, nil
}

// FuzzReassemble feeds a stream of fragments (message ID, number, total,
// plaintext) to a Reassembler with small limits and compares every result
// with the reference model.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{1, 1, 3, 2, 'a', 'b', 1, 3, 3, 1, 'c', 1, 2, 3, 1, 'x'})
	f.Add([]byte{1, 1, 2, 1, 'a', 1, 1, 2, 1, 'a', 1, 2, 4, 0, 2, 1, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 9, 200, 200, 3, 'x', 'y', 'z'})
	f.Fuzz(func(t *testing.T, ops []byte) {
		r := wire.Reassembler{MaxFragments: 8, MaxBytes: 32}
		ref := refReassembler{maxFrags: 8, maxBytes: 32}
		for len(ops) >= 4 {
			id, n, total, l := uint32(ops[0]%4), ops[1]%10, ops[2]%10, int(ops[3]%8)
			ops = ops[4:]
			l = min(l, len(ops))
			pt := append([]byte{}, ops[:l]...)
			ops = ops[l:]
			first := wire.PayloadType(40 + n)
			done, err := r.Add(id, &wire.SKF{Number: uint16(n), Total: uint16(total), FirstPayload: first, Plaintext: pt})
			wdone, wout, werr := ref.add(id, int(n), int(total), first, pt)
			if done != wdone || !errors.Is(err, werr) && !(err == nil && werr == nil) {
				t.Fatalf("Add(%d, %d/%d): got %v, %v; model %v, %v", id, n, total, done, err, wdone, werr)
			}
			if done {
				gfirst, out := r.Result()
				if !bytes.Equal(out, wout) || gfirst != ref.first {
					t.Fatalf("result %q first %v, model %q first %v", out, gfirst, wout, ref.first)
				}
				if len(out) > 32 {
					t.Fatal("MaxBytes exceeded")
				}
			}
		}
	})
}
