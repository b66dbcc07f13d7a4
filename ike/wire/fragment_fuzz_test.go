package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/goipsec/ipsec/ike/wire"
)

// FuzzReassemblerMemory feeds arbitrary fragment sequences, with Resets in
// between, to a Reassembler and checks what it keeps between calls
// against a model: the fragments of the set in progress, or else the last
// reassembled message until the next set starts; never more than
// MaxBytes; nothing after Reset. Results handed out earlier must never be
// overwritten. Behaviour (done, errors, output) is checked against
// refReassembler as in FuzzReassemble.
//
// Each operation is 4 bytes: control (high bit: Reset, 1 byte only; low
// bits: message ID), fragment number, total, plaintext length; the
// plaintext repeats the control byte.
func FuzzReassemblerMemory(f *testing.F) {
	// The bypass: alternate slots so each set fails after parking a large
	// fragment in a new one.
	f.Add([]byte{1, 1, 8, 255, 1, 2, 8, 255, 1, 3, 8, 255, 1, 3, 8, 255, 1, 4, 8, 255, 1, 5, 8, 255})
	f.Add([]byte{1, 1, 2, 10, 1, 2, 2, 10, 0x80, 2, 1, 1, 5, 2, 2, 1, 0})
	f.Add([]byte{3, 2, 3, 255, 3, 1, 3, 255, 3, 3, 4, 1, 0x81, 3, 3, 3, 3})
	const maxFrags, maxBytes = 16, 512
	f.Fuzz(func(t *testing.T, ops []byte) {
		r := wire.Reassembler{MaxFragments: maxFrags, MaxBytes: maxBytes}
		ref := refReassembler{maxFrags: maxFrags, maxBytes: maxBytes}
		outHeld := 0 // model: bytes of the last Result still held
		var results [][]byte
		var copies [][]byte
		for len(ops) > 0 {
			ctl := ops[0]
			if ctl&0x80 != 0 {
				ops = ops[1:]
				r.Reset()
				ref.active, outHeld = false, 0
				if got := wire.RetainedBytes(&r); got != 0 {
					t.Fatalf("%d bytes retained after Reset", got)
				}
				continue
			}
			if len(ops) < 4 {
				break
			}
			id, n, total, l := uint32(ctl%4), ops[1]%(maxFrags+2), ops[2]%(maxFrags+2), int(ops[3])
			ops = ops[4:]
			pt := bytes.Repeat([]byte{ctl}, l)
			first := wire.PayloadType(40 + n)
			prevActive, prevID, prevTotal := ref.active, ref.id, ref.total
			done, err := r.Add(id, &wire.SKF{Number: uint16(n), Total: uint16(total), FirstPayload: first, Plaintext: pt})
			wdone, wout, werr := ref.add(id, int(n), int(total), first, pt)
			if done != wdone || !errors.Is(err, werr) && !(err == nil && werr == nil) {
				t.Fatalf("Add(%d, %d/%d): got %v, %v; model %v, %v", id, n, total, done, err, wdone, werr)
			}
			newSet := ref.active && (!prevActive || prevID != ref.id || prevTotal != ref.total)
			if newSet || errors.Is(werr, wire.ErrReassemblyTooLarge) {
				outHeld = 0
			}
			if done {
				gfirst, out := r.Result()
				if !bytes.Equal(out, wout) || gfirst != ref.first {
					t.Fatalf("result %q first %v, model %q first %v", out, gfirst, wout, ref.first)
				}
				outHeld = len(wout)
				results, copies = append(results, out), append(copies, bytes.Clone(out))
			}
			want := outHeld
			if ref.active {
				want = 0
				for _, p := range ref.frags {
					want += len(p)
				}
			}
			got := wire.RetainedBytes(&r)
			if got > maxBytes {
				t.Fatalf("Add(%d, %d/%d): %d bytes retained, limit %d", id, n, total, got, maxBytes)
			}
			if got != want {
				t.Fatalf("Add(%d, %d/%d): %d bytes retained, model %d", id, n, total, got, want)
			}
		}
		for i := range results {
			if !bytes.Equal(results[i], copies[i]) {
				t.Fatalf("result %d overwritten by later fragments", i)
			}
		}
	})
}
