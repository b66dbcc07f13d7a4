package esp

// DefaultReplayWindow is the anti-replay window used when an SA asks for
// none in particular. RFC 4303 section 3.4.3 requires at least 32 and
// recommends 64; we use more because parallel senders and multi-queue NICs
// reorder packets, and a window too small drops good ones (strongSwan's
// replay_window default is 32, Linux offloads use 128+; 1024 costs 136 bytes).
const DefaultReplayWindow = 1024

// MaxReplayWindow bounds the configurable window (memory per SA: size/8 bytes).
const MaxReplayWindow = 1 << 16

// replayWindow is the RFC 6479 bitmap: a ring of 64-bit blocks in which
// advancing the window clears whole blocks instead of shifting bits, so
// update is O(1) amortised and never allocates. The window covers the
// size most recent sequence numbers ending at top (RFC 4303 section 3.4.3).
//
// Sequence numbers are full 64-bit values; with ESN the caller first
// reconstructs the high half with infer (RFC 4303 Appendix A2.2). Without
// ESN the high half is always 0.
type replayWindow struct {
	size   uint64 // accepted distance below top: top-size+1 .. top
	top    uint64 // highest authenticated sequence number, 0 before the first
	mask   uint64 // len(blocks)-1
	blocks []uint64
	off    bool // replay protection disabled by the SA
}

func newReplayWindow(size int) replayWindow {
	if size < 0 {
		return replayWindow{off: true, size: 1 << 32}
	}
	if size == 0 {
		size = DefaultReplayWindow
	}
	if size < 32 {
		size = 32 // RFC 4303 section 3.4.3: a minimum window size of 32 MUST be supported
	}
	if size > MaxReplayWindow {
		size = MaxReplayWindow
	}
	// One spare block so that the block holding top and the oldest
	// block of the window never share a slot (RFC 6479 section 3).
	n := uint64(1)
	for n*64 < uint64(size)+64 {
		n <<= 1
	}
	return replayWindow{size: uint64(size), mask: n - 1, blocks: make([]uint64, n)}
}

// infer returns the full 64-bit sequence number for the low 32 bits seen
// on the wire, following RFC 4303 Appendix A2.2: the high half is the one
// that puts seq closest to (at or above the bottom of) the window.
func (w *replayWindow) infer(lo uint32, esn bool) uint64 {
	if !esn {
		return uint64(lo)
	}
	th, tl := uint32(w.top>>32), uint32(w.top)
	win := uint32(w.size)
	if w.off || w.size > 1<<31 {
		win = 1 << 31
	}
	var hi uint32
	if tl >= win-1 {
		// Window within one sub-space.
		if lo >= tl-win+1 {
			hi = th
		} else {
			hi = th + 1
		}
	} else {
		// Window spans two sub-spaces.
		if lo >= tl-win+1 { // wraps: lo is in the upper part of the previous sub-space
			hi = th - 1
		} else {
			hi = th
		}
	}
	if th == 0 && hi == ^uint32(0) {
		hi = 0 // no previous sub-space before the very first one
	}
	return uint64(hi)<<32 | uint64(lo)
}

// check reports whether seq may be new: it is a cheap pre-filter run before
// the ICV so that replayed floods cost no crypto. It does not change state.
func (w *replayWindow) check(seq uint64) bool {
	if seq == 0 && !w.off {
		return false // sequence numbers start at 1 (RFC 4303 section 3.3.3)
	}
	if w.off || seq > w.top {
		return true
	}
	if w.top-seq >= w.size {
		return false
	}
	return w.blocks[(seq>>6)&w.mask]&(1<<(seq&63)) == 0
}

// update records an authenticated seq. It returns false, changing nothing,
// if seq is a duplicate or below the window: RFC 4303 section 3.4.3 updates
// the window only after the ICV verified.
func (w *replayWindow) update(seq uint64) bool {
	if w.off {
		if seq > w.top {
			w.top = seq
		}
		return true
	}
	if seq == 0 {
		return false
	}
	if seq > w.top {
		cur, idx := w.top>>6, seq>>6
		diff := idx - cur
		if diff > w.mask+1 {
			diff = w.mask + 1
		}
		for i := uint64(1); i <= diff; i++ {
			w.blocks[(cur+i)&w.mask] = 0
		}
		w.top = seq
	} else if w.top-seq >= w.size {
		return false
	}
	b := &w.blocks[(seq>>6)&w.mask]
	bit := uint64(1) << (seq & 63)
	if *b&bit != 0 {
		return false
	}
	*b |= bit
	return true
}
