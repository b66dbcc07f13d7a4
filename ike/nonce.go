package ike

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// checkNonce checks the length of a peer's nonce for an SA whose PRF is
// prf: at least 128 bits and at least half the PRF's key size (RFC 7296
// section 2.10; 32 bytes for PRF_HMAC_SHA2_512), at most 256 bytes
// (section 3.9). Shorter nonces weaken the keys derived from them.
func checkNonce(prf proposal.PRFID, n []byte) error {
	least := minNonce
	if kl, err := alg.PRFKeyLen(prf); err == nil {
		least = max(least, (kl+1)/2)
	}
	if len(n) < least || len(n) > maxNonce {
		return fmt.Errorf("%w: nonce of %d bytes, %s needs %d to %d", ErrProtocol, len(n), prf, least, maxNonce)
	}
	return nil
}

// prfOf returns the PRF of a selected IKE proposal (0 if it has none,
// which checkNonce treats as the 128-bit minimum).
func prfOf(p proposal.Proposal) proposal.PRFID {
	if len(p.PRF) == 0 {
		return 0
	}
	return p.PRF[0]
}

// nonceLen is the size of the nonces we send: ourNonce, at least half the
// key size of every PRF we support; tests change it through
// config.nonceLen to play a peer with short nonces.
func (e *engine) nonceLen() int {
	if e.cfg.nonceLen != nil {
		if n := e.cfg.nonceLen.Load(); n > 0 {
			return int(n)
		}
	}
	return ourNonce
}
