package ike

import "fmt"

// responderOnly names the options in c that only a responder uses. An
// option is seen by the value it leaves, compared with defaultConfig, so
// one given exactly its default value passes unnoticed (and does nothing).
// WithProposals and WithPreferPeerProposals are refused by NewInitiator
// itself with a pointer to their PeerConfig counterparts.
func (c *config) responderOnly() []string {
	d := defaultConfig()
	var names []string
	add := func(set bool, name string) {
		if set {
			names = append(names, name)
		}
	}
	add(c.peers != nil, "WithPeers")
	add(c.redirect != nil, "WithRedirect")
	add(c.redirectAuth != nil, "WithRedirectOnAuth")
	add(c.halfOpenTO != d.halfOpenTO || c.cookieThresh != d.cookieThresh || c.maxHalfOpen != d.maxHalfOpen, "WithHalfOpenLimits")
	add(c.srcCookieThresh != d.srcCookieThresh || c.srcMaxHalfOpen != d.srcMaxHalfOpen, "WithSourceLimits")
	add(c.authFailLimit != d.authFailLimit || c.authFailWindow != d.authFailWindow, "WithAuthFailureLimit")
	add(c.kexWorkers != d.kexWorkers || c.kexQueue != d.kexQueue, "WithKeyExchangeLimits")
	add(c.limits != d.limits, "WithIdentityLimits")
	add(c.authzTimeout != d.authzTimeout, "WithAuthorizeTimeout")
	return names
}

// checkInitiatorOptions refuses the responder-only options in an
// initiator's configuration: they would be ignored, which hides a mistake
// (say, limits meant for the gateway given to the wrong constructor).
func (c *config) checkInitiatorOptions() error {
	if names := c.responderOnly(); len(names) > 0 {
		return fmt.Errorf("ike: %s: a responder option; NewInitiator does not use it (give it to NewResponder)", names[0])
	}
	return nil
}
