package ike

import (
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// Secrets the engine owns are zeroed as soon as they have served: DH
// shared secrets once the keys are derived from them, the per-SA copies
// of PSKs and the EAP password once AUTH is computed (the responder) or
// the SA ends (the initiator, which needs them to reauthenticate), EAP
// MSKs once the final AUTH payloads are computed. Go cannot promise that
// no other copy exists (hash states, the runtime), but wiping ours
// shortens what a memory disclosure finds.

// wipe zeroes b.
func wipe(b []byte) { clear(b) }

// wipeSecrets zeroes the PSKs and the EAP password of a PeerConfig copy
// the engine owns (never a caller's).
func (c *PeerConfig) wipeSecrets() {
	clear(c.Local.PSK)
	clear(c.Remote.PSK)
	clear(c.Local.EAPPassword)
}

// setCfg gives the SA its own copy of cfg, whose secrets it wipes when it
// ends.
func (sa *ikeSA) setCfg(cfg *PeerConfig) {
	sa.cfg = cfg.clone()
	sa.e.noteSecret("psk", sa.cfg.Local.PSK)
	sa.e.noteSecret("psk", sa.cfg.Remote.PSK)
	sa.e.noteSecret("eap password", sa.cfg.Local.EAPPassword)
}

// newKeyExchange returns a key exchange for id that draws from the
// engine's random source.
func (e *engine) newKeyExchange(id proposal.KEID) (alg.KeyExchange, error) {
	ke, err := alg.NewKeyExchange(id, lockedReader{&e.randMu, e.cfg.rand})
	if err != nil || e.cfg.onSecret == nil {
		return ke, err
	}
	return observedKE{ke, e}, nil
}

// noteSecret tells a test which buffer holds a secret the engine must
// wipe (config.onSecret).
func (e *engine) noteSecret(kind string, b []byte) {
	if f := e.cfg.onSecret; f != nil && len(b) > 0 {
		f(kind, b)
	}
}

// observedKE reports the shared secrets of a key exchange to
// config.onSecret.
type observedKE struct {
	alg.KeyExchange
	e *engine
}

func (k observedKE) Shared(peer []byte) ([]byte, error) {
	s, err := k.KeyExchange.Shared(peer)
	k.e.noteSecret("dh", s)
	return s, err
}

func (k observedKE) Respond(peer []byte) ([]byte, []byte, error) {
	pub, s, err := k.KeyExchange.Respond(peer)
	k.e.noteSecret("dh", s)
	return pub, s, err
}
