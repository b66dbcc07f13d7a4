//go:build !linux

package esp

// linkStats reads device drop counters; only on Linux.
type linkStats struct{}

func newLinkStats(name string) *linkStats            { return nil }
func (l *linkStats) drops() (rx, tx uint64, ok bool) { return 0, 0, false }
func (l *linkStats) close()                          {}
