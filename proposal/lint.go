package proposal

import "fmt"

// WindowsMaxTransforms is how many transforms of one type the Windows IKEv2
// client considers in a proposal it receives; later ones are ignored, so a
// needed MODP_1024 in 17th place yields NO_PROPOSAL_CHOSEN (strongSwan
// Android changelog 1.6.1, CLIENTS.md section 2).
const WindowsMaxTransforms = 15

// Lint returns warnings for proposals we are about to send (as initiator,
// or export into a client configuration): transform types longer than
// Windows reads, weak transforms, and ML-KEM as the primary KE, which
// clients without RFC 9370 support cannot use. Nil means nothing to say.
func Lint(l List) []string {
	var out []string
	for i, p := range l {
		for _, t := range typeOrder {
			if n := len(p.transforms(t)); n > WindowsMaxTransforms {
				out = append(out, fmt.Sprintf("proposal %d: %d %s transforms; Windows reads only the first %d, move the ones Windows needs to the front or split the proposal",
					i+1, n, t, WindowsMaxTransforms))
			}
		}
		for _, w := range p.Weak() {
			out = append(out, fmt.Sprintf("proposal %d: weak transform %s", i+1, w))
		}
		for _, id := range p.KE {
			if a, ok := keByID[id]; ok && a.KEM {
				out = append(out, fmt.Sprintf("proposal %d: %s as the first key exchange needs a peer that accepts a KEM in IKE_SA_INIT; use ke1_%s with a classic group instead",
					i+1, id, a.Keywords[0]))
			}
		}
	}
	return out
}
