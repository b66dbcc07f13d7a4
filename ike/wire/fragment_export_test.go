package wire

// RetainedBytes returns the bytes r keeps reachable between calls: the
// capacity of every fragment buffer and of the last reassembled message.
// It reads the slices themselves, not r's own counter, so tests check the
// accounting instead of trusting it.
func RetainedBytes(r *Reassembler) int {
	n := cap(r.out)
	for _, p := range r.frags {
		n += cap(p)
	}
	return n
}
