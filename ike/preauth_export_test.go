package ike

// HoldKeyExchanges is a test hook: it takes every worker slot of the
// responder's key exchange pool, so admitted IKE_SA_INIT requests wait in
// the queue as they would behind a flood of expensive groups, and
// returns the function that gives the slots back.
func (r *Responder) HoldKeyExchanges() (release func()) {
	k := r.e.kex
	for range cap(k.workers) {
		k.workers <- struct{}{}
	}
	return func() {
		for range cap(k.workers) {
			<-k.workers
		}
	}
}
