package isakmp_test

import (
	"testing"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// FuzzWalk checks that the header parser and chain walker never panic, keep
// every body inside the input, and that re-building the walked chain with
// the Builder reproduces the input byte for byte (the walker drops nothing).
func FuzzWalk(f *testing.F) {
	f.Add([]byte{2, 0, 0, 6, 0xaa, 0xbb, 3, 0x80, 0, 4, 9, 0, 0, 5, 0xcc}, uint8(1))
	f.Add([]byte{0, 0, 0, 4}, uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, first uint8) {
		_, _ = isakmp.ParseHeader(b)
		spec := isakmp.ChainSpec{Terminal: func(t uint8) bool { return t == 46 || t == 53 }}
		var bl isakmp.Builder
		bl.Reset(nil)
		bl.BeginChain(-1)
		c := isakmp.NewChain(b, 0, first, &spec)
		var last isakmp.Payload
		for c.Next() {
			p := c.Payload()
			if p.Offset < 0 || p.Offset+4+len(p.Body) > len(b) {
				t.Fatalf("payload out of range: %+v", p)
			}
			m := bl.BeginPayload(p.Type, p.Critical)
			bl.PatchUint8(m+1, bl.Buf()[m+1]|p.Reserved)
			bl.AddBytes(p.Body)
			bl.EndPayload(m)
			last = p
		}
		if c.Err() != nil {
			return
		}
		out, err := bl.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if spec.Terminal(last.Type) {
			out[len(out)-4-len(last.Body)] = last.Next
		}
		if string(out) != string(b) {
			t.Fatalf("rebuilt %x, want %x", out, b)
		}
	})
}
