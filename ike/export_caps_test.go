package ike

// IdentityUsage is a test hook: per identity counted against the
// IdentityLimits, its IKE SAs and its distinct IPv4 and IPv6 leases.
func (r *Responder) IdentityUsage() map[string][3]int { return r.e.identityUsage() }
