package ikev1

// ExchangesKept returns how many exchanges' messages an SA keeps.
func ExchangesKept(s *SA) int {
	var n int
	s.cur().do(func() { n = len(s.cur().out) + len(s.cur().lastIn) })
	return n
}
