package proposal

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SelectOptions tune Select. The zero value is the RFC 7296 default for a
// responder: our preference first, key exchange negotiated.
type SelectOptions struct {
	// PreferPeer walks the peer's proposals (and transforms) in the peer's
	// order instead of ours (strongSwan's prefer_configured_proposals=no).
	PreferPeer bool
	// SkipKE ignores KE and ADDKE transforms: the CHILD SA created in
	// IKE_AUTH takes its keys from the IKE SA (RFC 7296 1.2), so a KE in
	// either side's ESP proposals must neither be required nor chosen.
	SkipKE bool
	// PreferKE is the method of the peer's KE payload in IKE_SA_INIT or
	// CREATE_CHILD_SA. When a matching pair allows it, it is chosen ahead
	// of preference order, saving the INVALID_KE_PAYLOAD round trip
	// (RFC 7296 1.2, strongSwan promotes it the same way). KENone: unused.
	PreferKE KEID
}

// Select chooses one proposal as RFC 7296 section 2.7 describes: for each
// proposal in preference order (ours unless opts.PreferPeer), the first
// proposal of the other side for the same protocol in which every transform
// type present on either side has a common transform. Within a type the
// preferred side's order decides. The result has one transform per
// negotiated type and carries the peer's proposal Number and SPI, which the
// responder echoes.
//
// Key exchange follows strongSwan: in IKE the KE type is mandatory; in ESP
// (and for ADDKE1..7 everywhere) a side that offers NONE accepts a peer
// that offers no KE at all, and NONE matching NONE negotiates no KE. A KE
// method chosen for one slot is not chosen again for a later ADDKE slot.
//
// On failure the error is a *MismatchError (errors.Is(err, ErrNoMatch))
// that explains every compared pair.
func Select(local, peer List, opts SelectOptions) (Proposal, error) {
	outer, inner := local, peer
	if opts.PreferPeer {
		outer, inner = peer, local
	}
	for i := range outer {
		for j := range inner {
			pref, other := &outer[i], &inner[j]
			p, ok := matchPair(pref, other, opts, nil)
			if !ok {
				continue
			}
			peerP := other
			if opts.PreferPeer {
				peerP = pref
			}
			p.Number = peerP.Number
			p.SPI = cloneSlice(peerP.SPI)
			return p, nil
		}
	}
	return Proposal{}, &MismatchError{Local: local.Clone(), Peer: peer.Clone(), Options: opts}
}

// Matches reports whether a and b have a proposal in common.
func Matches(a, b List, opts SelectOptions) bool {
	_, err := Select(a, b, opts)
	return err == nil
}

// matchPair selects transforms of pref and other, pref's order winning. If
// mm is not nil it records every type without overlap instead of stopping
// at the first one.
func matchPair(pref, other *Proposal, opts SelectOptions, mm *PairMismatch) (Proposal, bool) {
	sel := Proposal{Protocol: pref.Protocol}
	if pref.Protocol != other.Protocol {
		if mm != nil {
			mm.Reason = "protocol " + other.Protocol.String() + " vs " + pref.Protocol.String()
		}
		return sel, false
	}
	if len(pref.Unknown) > 0 || len(other.Unknown) > 0 {
		if mm != nil {
			u := append(slices.Clone(pref.Unknown), other.Unknown...)
			mm.Reason = "unknown transform type " + u[0].Type.String() + " makes the proposal unacceptable (RFC 7296 3.3.6)"
		}
		return sel, false
	}
	ok := true
	var kesBuf [1 + NumAddKE]KEID
	kes := kesBuf[:0]
	var abuf, bbuf [16]Transform
	// Chosen transforms wait here until the whole pair matched, so failed
	// pairs (most of them) allocate nothing.
	var chosenBuf [TypeADDKE7]Transform // one per known type
	chosen := chosenBuf[:0]
	encrOK, aeadOK := false, false
	for _, t := range selectOrder {
		if opts.SkipKE && (t == TypeKE || isAddKE(t)) {
			continue
		}
		if t == TypeINTEG {
			if aeadOK {
				continue // AEAD: no integrity transform (RFC 5282)
			}
			if !encrOK && (pref.IsAEAD() || other.IsAEAD()) {
				continue // the ENCR mismatch already explains this pair
			}
		}
		a, b := pref.appendTransforms(abuf[:0], t), other.appendTransforms(bbuf[:0], t)
		if len(a) == 0 && len(b) == 0 {
			continue
		}
		optional := (t == TypeKE && pref.Protocol != ProtoIKE) || isAddKE(t)
		if t == TypeKE && opts.PreferKE != KENone {
			a = promote(a, opts.PreferKE)
		}
		tr, none, found := pick(a, b, optional, t == TypeKE || isAddKE(t), kes)
		if !found {
			ok = false
			if mm == nil {
				return sel, false
			}
			mm.Types = append(mm.Types, TypeMismatch{Type: t, Preferred: slices.Clone(a), Other: slices.Clone(b)})
			continue
		}
		if none {
			continue // nothing to negotiate: NONE agreed or optional absent
		}
		if t == TypeKE || isAddKE(t) {
			kes = append(kes, KEID(tr.ID))
		}
		if t == TypeENCR {
			encrOK, aeadOK = true, EncrID(tr.ID).IsAEAD()
		}
		chosen = append(chosen, tr)
	}
	if ok {
		for _, tr := range chosen {
			sel.Add(tr)
		}
	}
	return sel, ok
}

// selectOrder: ENCR first (AEAD decides whether INTEG is needed), KE before
// ADDKE (a method chosen for KE is not chosen again).
var selectOrder = []TransformType{TypeENCR, TypeINTEG, TypePRF, TypeKE, TypeESN,
	TypeADDKE1, TypeADDKE2, TypeADDKE3, TypeADDKE4, TypeADDKE5, TypeADDKE6, TypeADDKE7}

// pick returns the first transform of a also in b. none is set with found
// when nothing needs negotiating (an optional KE left out, or NONE agreed).
func pick(a, b []Transform, optional, ke bool, used []KEID) (chosen Transform, none, found bool) {
	if len(a) == 0 || len(b) == 0 {
		if optional && (hasNone(a) || hasNone(b)) {
			return Transform{}, true, true
		}
		return Transform{}, false, false
	}
	for i := range a {
		if ke && a[i].ID != 0 && slices.Contains(used, KEID(a[i].ID)) {
			continue
		}
		for j := range b {
			if a[i].ID == b[j].ID && a[i].KeyLen == b[j].KeyLen {
				// 0 is a real choice only for ESN (32-bit sequence
				// numbers); for KE and INTEG it is NONE.
				if a[i].ID == 0 && a[i].Type != TypeESN {
					return Transform{}, true, true
				}
				return a[i], false, true
			}
		}
	}
	return Transform{}, false, false
}

func hasNone(l []Transform) bool {
	for _, t := range l {
		if t.ID == 0 {
			return true
		}
	}
	return false
}

// promote moves method id to the front of a (a copy) if a contains it.
func promote(a []Transform, id KEID) []Transform {
	i := slices.IndexFunc(a, func(t Transform) bool { return t.ID == uint16(id) })
	if i <= 0 {
		return a
	}
	out := append([]Transform{a[i]}, a[:i]...)
	return append(out, a[i+1:]...)
}

// TypeMismatch is one transform type without a common transform.
type TypeMismatch struct {
	// Type is the transform type.
	Type TransformType
	// Preferred and Other are what each side offered for Type; Preferred
	// is ours unless SelectOptions.PreferPeer was set.
	Preferred, Other []Transform
}

// PairMismatch says why one of our proposals and one of the peer's did
// not match.
type PairMismatch struct {
	Local, Peer int    // 0-based indexes into the lists given to Select
	Reason      string // set when the pair failed as a whole (protocol, unknown transform type)
	// Types lists the transform types without a common transform.
	Types []TypeMismatch
}

// MismatchError is returned by Select when no proposal matches. It keeps
// copies of both lists; Pairs says why each pair failed, Error gives a
// one-line summary and Explain a report an operator can act on. The
// analysis runs only when one of these methods is called, so a flood of
// hostile proposals costs nothing unless it is logged, and it covers at
// most MaxExplainedPeerProposals peer proposals.
type MismatchError struct {
	// Local and Peer are our proposals and the peer's, as given to Select.
	Local, Peer List
	// Options are the SelectOptions Select ran with.
	Options SelectOptions
}

// MaxExplainedPeerProposals bounds the analysis of a mismatch: real
// clients send at most a dozen or so proposals, an attacker thousands.
const MaxExplainedPeerProposals = 64

// Unwrap makes errors.Is(err, ErrNoMatch) true.
func (e *MismatchError) Unwrap() error { return ErrNoMatch }

// explainedPeer returns the part of the peer list that is analysed.
func (e *MismatchError) explainedPeer() List {
	if len(e.Peer) > MaxExplainedPeerProposals {
		return e.Peer[:MaxExplainedPeerProposals]
	}
	return e.Peer
}

// Pairs compares every local proposal with every (analysed) peer
// proposal, local-major, and returns why each pair failed.
func (e *MismatchError) Pairs() []PairMismatch {
	peer := e.explainedPeer()
	out := make([]PairMismatch, 0, len(e.Local)*len(peer))
	for i := range e.Local {
		for j := range peer {
			pm := PairMismatch{Local: i, Peer: j}
			if e.Options.PreferPeer {
				matchPair(&peer[j], &e.Local[i], e.Options, &pm)
			} else {
				matchPair(&e.Local[i], &peer[j], e.Options, &pm)
			}
			out = append(out, pm)
		}
	}
	return out
}

// localPeer returns the mismatch's transforms as (ours, peer's).
func (e *MismatchError) localPeer(tm TypeMismatch) (local, peer []Transform) {
	if e.Options.PreferPeer {
		return tm.Other, tm.Preferred
	}
	return tm.Preferred, tm.Other
}

func (e *MismatchError) proto() string {
	if len(e.Local) > 0 {
		return e.Local[0].Protocol.String()
	}
	if len(e.Peer) > 0 {
		return e.Peer[0].Protocol.String()
	}
	return "IKE/ESP"
}

// closest returns the pairs that failed on the fewest transform types.
// On a tie a pair whose ciphers matched wins: an ENCR mismatch usually
// means a different family of proposal (AEAD vs classic), while the other
// pair shows the setting the operator has to change.
func (e *MismatchError) closest(pairs []PairMismatch) []PairMismatch {
	best := -1
	var out []PairMismatch
	for _, pm := range pairs {
		if pm.Reason != "" {
			continue
		}
		n := score(pm)
		switch {
		case best < 0 || n < best:
			best, out = n, []PairMismatch{pm}
		case n == best:
			out = append(out, pm)
		}
	}
	return out
}

// score ranks a failed pair: fewer types without overlap is closer, and on
// a tie a pair whose ciphers matched is closer.
func score(pm PairMismatch) int {
	s := 2 * len(pm.Types)
	for _, tm := range pm.Types {
		if tm.Type == TypeENCR {
			s++
		}
	}
	return s
}

// Error returns a one-line summary naming the closest pair.
func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "proposal: %s: ", ErrNoMatch)
	switch {
	case len(e.Local) == 0:
		b.WriteString("no local proposals configured")
		return b.String()
	case len(e.Peer) == 0:
		b.WriteString("the peer sent no proposals")
		return b.String()
	}
	pairs := e.Pairs()
	c := e.closest(pairs)
	if len(c) == 0 {
		fmt.Fprintf(&b, "no peer proposal is usable: %s", pairs[0].Reason)
		return b.String()
	}
	pm := c[0]
	fmt.Fprintf(&b, "closest is local #%d vs peer #%d: ", pm.Local+1, peerNum(e.Peer, pm.Peer))
	for i, tm := range pm.Types {
		if i > 0 {
			b.WriteString("; ")
		}
		l, p := e.localPeer(tm)
		fmt.Fprintf(&b, "%s local [%s] peer [%s]", tm.Type, names(l), names(p))
	}
	return b.String()
}

func peerNum(peer List, j int) int {
	if peer[j].Number != 0 {
		return int(peer[j].Number)
	}
	return j + 1
}

func names(l []Transform) string {
	if len(l) == 0 {
		return "none offered"
	}
	s := make([]string, len(l))
	for i, t := range l {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}

// Explain returns a multi-line report: both proposal lists in strongSwan's
// log form, the closest peer proposal for each of ours with the transform
// types that had no overlap, and hints what to change.
func (e *MismatchError) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no %s proposal chosen (%d local x %d peer proposals compared", e.proto(), len(e.Local), len(e.Peer))
	if e.Options.PreferPeer {
		b.WriteString(", peer's order preferred")
	}
	if e.Options.SkipKE {
		b.WriteString(", KE ignored as in IKE_AUTH")
	}
	b.WriteString(")\n")
	b.WriteString("local proposals:\n")
	for i, p := range e.Local {
		fmt.Fprintf(&b, "  %d: %s\n", i+1, p.Describe())
	}
	b.WriteString("peer proposals:\n")
	for j, p := range e.explainedPeer() {
		fmt.Fprintf(&b, "  %d: %s\n", peerNum(e.Peer, j), p.Describe())
	}
	if len(e.Peer) > MaxExplainedPeerProposals {
		fmt.Fprintf(&b, "  ... %d more peer proposals not analysed\n", len(e.Peer)-MaxExplainedPeerProposals)
	}
	if name, advice := identifyProfile(e.Peer); name != "" {
		fmt.Fprintf(&b, "the peer sends the proposals of client profile(s): %s\n", name)
		if advice != "" {
			fmt.Fprintf(&b, "client side: %s\n", advice)
		}
	}
	if len(e.Local) > 0 && len(e.Peer) > 0 {
		b.WriteString("closest peer proposal for each local proposal:\n")
	}
	pairs := e.Pairs()
	np := len(e.explainedPeer())
	for i := range e.Local {
		var best *PairMismatch
		for k := i * np; k < (i+1)*np; k++ {
			pm := &pairs[k]
			if best == nil || (best.Reason != "" && pm.Reason == "") ||
				(pm.Reason == "" && score(*pm) < score(*best)) {
				best = pm
			}
		}
		if best == nil {
			continue
		}
		fmt.Fprintf(&b, "  local %d vs peer %d:", i+1, peerNum(e.Peer, best.Peer))
		if best.Reason != "" {
			fmt.Fprintf(&b, " %s\n", best.Reason)
			continue
		}
		b.WriteByte('\n')
		for _, tm := range best.Types {
			l, p := e.localPeer(tm)
			fmt.Fprintf(&b, "    %s: local offers %s; peer offers %s\n", tm.Type, names(l), names(p))
		}
	}
	if hints := e.hints(pairs); len(hints) > 0 {
		b.WriteString("hints:\n")
		for _, h := range hints {
			fmt.Fprintf(&b, "  - %s\n", h)
		}
	}
	return b.String()
}

// Hints returns suggestions derived from the closest pairs: which keyword
// to add to which proposal, with a warning where the only way to match is
// a weak transform.
func (e *MismatchError) Hints() []string { return e.hints(e.Pairs()) }

func (e *MismatchError) hints(pairs []PairMismatch) []string {
	var out []string
	add := func(h string) {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	proto := strings.ToLower(e.proto())
	closest := e.closest(pairs)
	for _, pm := range closest {
		lp, pp := e.Local[pm.Local], e.Peer[pm.Peer]
		integToo := false
		for _, tm := range pm.Types {
			integToo = integToo || tm.Type == TypeINTEG
		}
		for _, tm := range pm.Types {
			l, p := e.localPeer(tm)
			switch {
			case tm.Type == TypeENCR && lp.IsAEAD() && !pp.IsAEAD():
				add(fmt.Sprintf("the peer offers only classic ciphers (%s) and the local proposal only AEADs; add a separate classic %s proposal, e.g. %s",
					names(p), proto, suggest(pp)))
				continue
			case tm.Type == TypeENCR && !lp.IsAEAD() && pp.IsAEAD():
				add(fmt.Sprintf("the peer offers only AEAD ciphers (%s); add a separate AEAD %s proposal, e.g. %s",
					names(p), proto, suggest(pp)))
				continue
			case tm.Type == TypeKE && lp.Protocol == ProtoESP && len(p) == 0:
				add("the peer proposes no key exchange (no PFS; iOS/macOS rekeys, Windows without -PfsGroup); append modpnone to the esp proposal to make PFS optional")
				continue
			case tm.Type == TypeKE && lp.Protocol == ProtoESP && len(l) == 0:
				add(fmt.Sprintf("the peer requires PFS with %s; add one of them to the esp proposal", names(p)))
				continue
			case tm.Type == TypePRF && integToo && slices.Equal(lp.PRF, impliedPRF(lp.Integ)):
				continue // the INTEG hint's keyword brings its PRF along
			}
			peerAll := e.peerOffers(tm.Type)
			var usable, weak []string
			for _, t := range peerAll {
				kw := Keyword(t)
				if kw == "" || kw == "modpnone" {
					continue
				}
				if isWeak(t) {
					weak = append(weak, kw)
				} else {
					usable = append(usable, kw)
				}
			}
			note := ""
			if tm.Type == TypeINTEG && lp.Protocol == ProtoIKE && slices.Equal(lp.PRF, impliedPRF(lp.Integ)) {
				note = " (without prf keywords it also adds the matching PRF)"
			}
			switch {
			case len(usable) > 0:
				add(fmt.Sprintf("for %s the peer offers %s; add one of %s to the %s proposal%s",
					tm.Type, names(peerAll), strings.Join(usable, ", "), proto, note))
			case len(weak) > 0:
				add(fmt.Sprintf("the peer offers only %s for %s (weak: %s); enable %s in the %s proposal%s to accept this client, and prefer a client setting with a stronger choice",
					names(peerAll), tm.Type, weakReason(peerAll[0]), weak[0], proto, note))
			default:
				add(fmt.Sprintf("the peer offers only %s for %s, which this library does not implement", names(peerAll), tm.Type))
			}
		}
	}
	if len(closest) > 0 {
		// Of the closest peer proposals suggest the least weak one, and
		// of those the one with the longest key.
		best := e.Peer[closest[0].Peer]
		for _, pm := range closest[1:] {
			p := e.Peer[pm.Peer]
			wp, wb := len(p.Weak()), len(best.Weak())
			if wp < wb || (wp == wb && len(p.Encr) > 0 && len(best.Encr) > 0 && p.Encr[0].KeyLen > best.Encr[0].KeyLen) {
				best = p
			}
		}
		if s := suggest(best); s != "" {
			add(fmt.Sprintf("a separate %s proposal that accepts this peer as it is: %s", proto, s))
		}
	}
	return out
}

// peerOffers returns the union of the peer's transforms of type t, in the
// peer's order.
func (e *MismatchError) peerOffers(t TransformType) []Transform {
	var out []Transform
	seen := map[Transform]bool{}
	for _, p := range e.explainedPeer() {
		for _, tr := range p.transforms(t) {
			if !seen[tr] {
				seen[tr] = true
				out = append(out, tr)
			}
		}
	}
	return out
}

func isWeak(t Transform) bool { return weakReason(t) != "" }

func weakReason(t Transform) string {
	switch {
	case t.Type == TypeENCR:
		if a, ok := encrByID[EncrID(t.ID)]; ok && a.Weak {
			return a.WeakReason
		}
	case t.Type == TypePRF:
		if a, ok := prfByID[PRFID(t.ID)]; ok && a.Weak {
			return a.WeakReason
		}
	case t.Type == TypeINTEG:
		if a, ok := integByID[IntegID(t.ID)]; ok && a.Weak {
			return a.WeakReason
		}
	case t.Type == TypeKE || isAddKE(t.Type):
		if a, ok := keByID[KEID(t.ID)]; ok && a.Weak {
			return a.WeakReason
		}
	}
	return ""
}

// suggest builds a quoted proposal string from the first transform of
// each type the peer offers, or "" when one of them has no keyword.
func suggest(p Proposal) string {
	q := Proposal{Protocol: p.Protocol}
	for _, t := range typeOrder {
		tr := p.transforms(t)
		if len(tr) == 0 {
			continue
		}
		if Keyword(tr[0]) == "" {
			return ""
		}
		q.Add(tr[0])
	}
	if len(q.Unknown) > 0 || len(p.Unknown) > 0 {
		return ""
	}
	return strconv.Quote(q.String())
}
