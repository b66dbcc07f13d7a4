package isakmp_test

import (
	"testing"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// BenchmarkWalk walks a 10-payload chain; the iterator allocates nothing.
func BenchmarkWalk(b *testing.B) {
	var bl isakmp.Builder
	bl.Reset(nil)
	bl.BeginChain(-1)
	for i := range 10 {
		m := bl.BeginPayload(uint8(33+i), false)
		bl.AddZeros(40)
		bl.EndPayload(m)
	}
	chain, _ := bl.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(chain)))
	for b.Loop() {
		c := isakmp.NewChain(chain, 0, 33, nil)
		n := 0
		for c.Next() {
			n++
		}
		if n != 10 || c.Err() != nil {
			b.Fatal(n, c.Err())
		}
	}
}
