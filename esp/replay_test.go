package esp

import (
	"math"
	"testing"
)

func TestReplayWindow(t *testing.T) {
	type step struct {
		seq  uint64
		want bool
	}
	tests := []struct {
		name  string
		size  int
		steps []step
	}{
		{"in order", 64, []step{{1, true}, {2, true}, {3, true}}},
		{"zero is never valid", 64, []step{{0, false}, {1, true}, {0, false}}},
		{"duplicate", 64, []step{{1, true}, {2, true}, {2, false}, {1, false}}},
		{"reordered inside window", 64, []step{{10, true}, {5, true}, {9, true}, {5, false}, {1, true}, {10, false}}},
		{"old: just outside window", 64, []step{{100, true}, {37, true}, {36, false}}},
		{"beyond window jumps ahead", 64, []step{{1, true}, {1000, true}, {999, true}, {936, false}, {937, true}, {1, false}}},
		{"huge jump clears bitmap", 64, []step{{5, true}, {1 << 20, true}, {1<<20 - 1, true}, {1 << 20, false}}},
		{"block boundary", 128, []step{{63, true}, {64, true}, {127, true}, {128, true}, {64, false}, {65, true}}},
		{"size rounds to minimum 32", 1, []step{{40, true}, {9, true}, {8, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newReplayWindow(tt.size)
			for i, s := range tt.steps {
				pre := w.check(s.seq)
				got := w.update(s.seq)
				if got != s.want {
					t.Fatalf("step %d: update(%d) = %v, want %v", i, s.seq, got, s.want)
				}
				if s.want && !pre {
					t.Fatalf("step %d: check(%d) rejected a packet that update accepts", i, s.seq)
				}
			}
		})
	}
}

// TestReplayWindowExhaustive compares the bitmap with a map-based model on
// a pseudo-random mix of new, reordered, duplicate and old numbers.
func TestReplayWindowExhaustive(t *testing.T) {
	for _, size := range []int{32, 64, 100, 1024} {
		w := newReplayWindow(size)
		seen := map[uint64]bool{}
		var top uint64
		x := uint64(12345)
		for i := range 20000 {
			x = x*6364136223846793005 + 1442695040888963407
			var seq uint64
			switch r := x >> 60; {
			case r < 8:
				seq = top + 1 + (x>>40)%5
			case r < 14:
				seq = top - min(top, (x>>40)%uint64(size+10))
			default:
				seq = top + (x>>40)%uint64(3*size)
			}
			want := seq != 0 && !seen[seq] && (seq > top || top-seq < uint64(size))
			if got := w.update(seq); got != want {
				t.Fatalf("size %d step %d: update(%d) top %d = %v, want %v", size, i, seq, top, got, want)
			}
			if want {
				seen[seq] = true
				top = max(top, seq)
			}
		}
	}
}

func TestReplayDisabled(t *testing.T) {
	w := newReplayWindow(-1)
	for _, s := range []uint64{5, 5, 1, 0} {
		if !w.check(s) || !w.update(s) {
			t.Fatalf("disabled window rejected %d", s)
		}
	}
}

func TestESNInference(t *testing.T) {
	const W = 64
	tests := []struct {
		name string
		top  uint64
		lo   uint32
		want uint64
	}{
		{"first packet", 0, 1, 1},
		{"same subspace", 5<<32 | 1000, 1001, 5<<32 | 1001},
		{"same subspace, inside window", 5<<32 | 1000, 990, 5<<32 | 990},
		{"wrap to next subspace", 5<<32 | (math.MaxUint32 - 10), 3, 6<<32 | 3},
		{"late packet from previous subspace", 6<<32 | 3, math.MaxUint32 - 5, 5<<32 | (math.MaxUint32 - 5)},
		{"window spans, new in current", 6<<32 | 3, 7, 6<<32 | 7},
		{"below window means next subspace", 5<<32 | 1000, 100, 6<<32 | 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newReplayWindow(W)
			w.top = tt.top
			if got := w.infer(tt.lo, true); got != tt.want {
				t.Fatalf("infer(%#x) with top %#x = %#x, want %#x", tt.lo, tt.top, got, tt.want)
			}
			if got := w.infer(tt.lo, false); got != uint64(tt.lo) {
				t.Fatalf("non-ESN infer = %#x", got)
			}
		})
	}
}

// TestESNWrap sends sequence numbers across the 2^32 boundary with
// reordering and checks that inference plus window accept each once.
func TestESNWrap(t *testing.T) {
	w := newReplayWindow(64)
	start := uint64(math.MaxUint32 - 20)
	w.top = start - 1
	order := []uint64{0, 2, 1, 3, 25, 21, 22, 20, 23, 24, 30, 26}
	for _, d := range order {
		seq := start + d
		got := w.infer(uint32(seq), true)
		if got != seq {
			t.Fatalf("infer(%#x) = %#x, want %#x", uint32(seq), got, seq)
		}
		if !w.update(got) {
			t.Fatalf("update(%#x) rejected", got)
		}
	}
	// Replays after the wrap are recognised by their full number.
	for _, d := range []uint64{21, 3, 25} {
		seq := start + d
		if w.update(w.infer(uint32(seq), true)) {
			t.Fatalf("replay of %#x accepted", seq)
		}
	}
}
