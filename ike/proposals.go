package ike

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// Where the IKE proposals come from, in one place per role:
//
//   - a responder: WithProposals (default proposal.CompatibleIKE). IKE_SA_INIT
//     comes before the peer has said who it is, so no PeerConfig exists yet;
//     the same list then governs every rekey of the IKE SA, whoever starts it.
//     A PeerConfig with Proposals is refused in IKE_AUTH (see
//     refusePeerIKEProposals) rather than silently ignored.
//   - an initiator: the PeerConfig it dials with, in IKE_SA_INIT and in every
//     rekey, whoever starts it; NewInitiator refuses WithProposals.
//
// ESP proposals are always the ChildConfig's, chosen after the peer is known.

// ikeProposals returns the IKE proposals in force for this SA and whether
// selection follows the peer's order.
//
// They go into CREATE_CHILD_SA, where additional key exchanges would run
// in IKE_FOLLOWUP_KE (RFC 9370 section 2.2.4), which is not implemented:
// ADDKE transforms are left out, so a rekey offers and accepts only the
// single key exchange.
func (sa *ikeSA) ikeProposals() (proposal.List, bool) {
	var l proposal.List
	var prefer bool
	switch {
	case sa.e.responder:
		l, prefer = sa.e.cfg.proposals, sa.e.cfg.preferPeer
	case sa.cfg == nil || sa.cfg.Proposals == nil:
		return proposal.CompatibleIKE(), sa.cfg != nil && sa.cfg.PreferPeerProposals
	default:
		l, prefer = sa.cfg.Proposals, sa.cfg.PreferPeerProposals
	}
	if offersAddKE(l) {
		l = withoutAddKE(l)
	}
	return l, prefer
}

// refusePeerIKEProposals is the responder's check once IKE_AUTH has chosen
// the PeerConfig: the IKE proposal was negotiated in IKE_SA_INIT from
// WithProposals, so a PeerConfig that names IKE proposals of its own cannot
// be honoured, and accepting it would let the operator believe a policy is
// in force that is not. The peer gets AUTHENTICATION_FAILED, as from
// strongSwan when no connection with a matching IKE proposal fits the
// peer's identity; the Alert names the negotiated transforms the
// PeerConfig does not list.
func (sa *ikeSA) refusePeerIKEProposals() error {
	if sa.cfg.Proposals == nil {
		return nil
	}
	err := fmt.Errorf("%w: PeerConfig %q: Proposals: a responder negotiates the IKE SA in IKE_SA_INIT, before any PeerConfig is chosen: set its IKE proposals with WithProposals and leave PeerConfig.Proposals nil", ErrAuthFailed, sa.cfg.Name)
	var detail string
	if missing := missingTransforms(*sa.prop, sa.cfg.Proposals); len(missing) > 0 {
		detail = fmt.Sprintf("%s not in the proposals of peer configuration %q (%s); ", strings.Join(missing, ", "), sa.cfg.Name, sa.cfg.Proposals)
	}
	detail += fmt.Sprintf("the IKE SA was negotiated as %s from WithProposals in IKE_SA_INIT, before peer configuration %q was chosen; a responder's IKE proposals belong in WithProposals, not in PeerConfig.Proposals", sa.prop.Describe(), sa.cfg.Name)
	sa.log.Warn("peer configuration refused", "notify", wire.AUTHENTICATION_FAILED.String(), "proposal", sa.prop.Describe(), "err", detail)
	sa.alert(AlertProposalMismatch, err, detail)
	return notifyErr(wire.AUTHENTICATION_FAILED, err)
}

// missingTransforms names the transforms of chosen that no proposal of
// allowed contains; when each is somewhere in allowed but never together,
// it names the combination.
func missingTransforms(chosen proposal.Proposal, allowed proposal.List) []string {
	if proposal.Matches(allowed, proposal.List{chosen}, proposal.SelectOptions{}) {
		return nil
	}
	var out []string
	for _, t := range chosen.Transforms() {
		found := slices.ContainsFunc(allowed, func(p proposal.Proposal) bool {
			return slices.Contains(p.Transforms(), t)
		})
		if !found {
			out = append(out, t.String())
		}
	}
	if len(out) == 0 {
		out = []string{chosen.Describe()}
	}
	return out
}
