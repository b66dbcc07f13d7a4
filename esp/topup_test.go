package esp

import (
	"net/netip"
	"testing"
)

// scriptedReader hands out datagram counts from a script: the first entry
// for readBatch, the rest for readMore (0: nothing queued).
type scriptedReader struct {
	script []int
	more   int // readMore calls
}

func (r *scriptedReader) next(bufs [][]byte, sizes []int) int {
	if len(r.script) == 0 {
		return 0
	}
	n := min(r.script[0], len(bufs))
	r.script = r.script[1:]
	for i := range n {
		sizes[i] = 100
	}
	return n
}

func (r *scriptedReader) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return r.next(bufs, sizes), nil
}

func (r *scriptedReader) readMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	r.more++
	return r.next(bufs, sizes), nil
}

// TestTopUp: a reader woken by the first packet of a burst collects what
// arrived meanwhile into the same batch, stops at the first empty read,
// and never reads past the batch.
func TestTopUp(t *testing.T) {
	b := newBatch(8, 2048, false)
	for i := range b.bufs {
		b.bufs[i] = b.pkts[i].buf
	}
	cases := []struct {
		script    []int
		want, rds int
	}{
		{[]int{1, 2, 3, 0, 5}, 6, 3}, // 1 + 2 + 3, then nothing queued
		{[]int{1, 0}, 1, 1},          // a lone packet goes on at once
		{[]int{8}, 8, 0},             // a full batch needs no top-up
		{[]int{3, 4, 9}, 8, 2},       // never more than the batch holds
		{[]int{2, 1, 1, 1, 1, 1, 1}, 8, 6},
	}
	for _, c := range cases {
		r := &scriptedReader{script: c.script}
		n, _ := r.readBatch(b.bufs, b.sizes, b.from)
		if got := topUp(r, b, n); got != c.want || r.more != c.rds {
			t.Errorf("script %v: batch of %d after %d top-up reads, want %d after %d", c.script, got, r.more, c.want, c.rds)
		}
	}
}
