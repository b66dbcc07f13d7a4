package ikev1

import "github.com/goipsec/ipsec/ikev1/wire"

// Test-only access for the hostile-input tests and fuzz targets of
// package ikev1_test: they act as a peer that holds an established ISAKMP
// SA's keys and sends what a real peer never would.

// SealForTest encrypts plainMsg (a message as wire.Message.Append makes
// it) with the SA's phase 1 key as the first message of the exchange of
// its message ID (not 0), on the SA's goroutine. The SA keeps no IV
// state of that exchange. ok is false when the SA is gone or has no keys.
func (s *SA) SealForTest(plainMsg []byte) (msg []byte, ok bool) {
	sa := s.cur()
	ran := sa.do(func() {
		h, err := wire.ParseHeader(plainMsg)
		if sa.keys == nil || err != nil || h.MessageID == 0 {
			return
		}
		sa.keys.crypto.Forget(h.MessageID)
		defer sa.keys.crypto.Forget(h.MessageID)
		b, err := sa.keys.crypto.Seal(nil, plainMsg)
		if err == nil {
			msg = b
		}
	})
	return msg, ran && msg != nil
}

// HashForTest returns prf(SKEYID_a, parts...), the HASH(1) of a Quick
// Mode or Informational message when parts are the message ID and the
// payloads after HASH.
func (s *SA) HashForTest(parts ...[]byte) []byte {
	sa := s.cur()
	var h []byte
	sa.do(func() {
		if sa.keys != nil {
			h = sa.prfA(parts...)
		}
	})
	return h
}

// CookiesForTest returns the SA's initiator and responder cookies.
func (s *SA) CookiesForTest() (ckyI, ckyR [8]byte) {
	sa := s.cur()
	return sa.ckyI, sa.ckyR
}

// CountsForTest reports the responder's ISAKMP SAs (of every state), how
// many of them are half-open, and the Quick Modes running on them.
func (r *Responder) CountsForTest() (sas, halfOpen, quick int) {
	r.e.mu.Lock()
	sas, halfOpen = len(r.e.sas), r.e.halfOpen
	r.e.mu.Unlock()
	for _, sa := range r.e.list() {
		sa.do(func() { quick += len(sa.quick) })
	}
	return sas, halfOpen, quick
}

// RememberedForTest sums, over the responder's SAs, the exchanges whose
// last received message (lastIn) and last sent message (out) are kept.
func (r *Responder) RememberedForTest() (lastIn, out int) {
	for _, sa := range r.e.list() {
		sa.do(func() { lastIn += len(sa.lastIn); out += len(sa.out) })
	}
	return lastIn, out
}
