package proposal

import (
	"slices"
	"strconv"
	"strings"
)

// This file parses and formats strongSwan proposal strings
// ("aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-modpnone").
//
// The semantics follow strongSwan's proposal_create_from_string and
// check_proposal (libstrongswan/crypto/proposal/proposal.c), because
// operators copy their ipsec.conf/swanctl.conf strings:
//   - IKE without a prf keyword: every integrity keyword also adds the PRF of
//     the same hash (sha256 -> PRF_HMAC_SHA2_256), in keyword order.
//   - IKE with only AEAD ciphers: there is no integrity algorithm, so a PRF
//     must be derivable: an explicit prf keyword, or an integrity keyword,
//     which then only contributes its PRF ("aes128gcm16-sha256-modp3072" ==
//     "aes128gcm16-prfsha256-modp3072"). Without either the proposal is
//     rejected, as strongSwan does.
//   - AEAD and classic ciphers never share a proposal (RFC 7296 3.3:
//     combined-mode ciphers carry no integrity transform); AEAD-only
//     proposals lose their integrity keywords.
//   - "modpnone"/"none" makes the key exchange optional in ESP proposals; in
//     IKE proposals it is dropped (IKE_SA_INIT always needs a KE).
//   - ESP proposals without esn/noesn get noesn.
//   - "ke1_<method>" .. "ke7_<method>" are RFC 9370 additional key
//     exchanges; "ke1_none" makes one optional.
//
// Deviations, each giving a clear error instead of silently dropping text:
// prf keywords in ESP proposals, esn keywords in IKE proposals, ENCR_NULL
// and AES-GMAC in IKE proposals (RFC 7296 3.3.2), AH proposals. Keywords are
// matched case-insensitively; duplicates are dropped.

// RFC 7296 3.3.1: Proposal Num and Num Transforms are one octet each.
const (
	maxProposals = 255
	maxTransform = 255
)

type keyword struct {
	typ    TransformType
	id     uint16
	keyLen uint16
}

var keywords = buildKeywords()

func buildKeywords() map[string]keyword {
	keywords := map[string]keyword{}
	add := func(kw string, k keyword) {
		if _, dup := keywords[kw]; dup {
			panic("proposal: duplicate keyword " + kw)
		}
		keywords[kw] = k
	}
	for _, a := range encrTable {
		if len(a.KeyLens) == 0 {
			add(a.Keyword+a.Suffix, keyword{TypeENCR, uint16(a.ID), 0})
			continue
		}
		suffixes := append([]string{a.Suffix}, a.SuffixAliases...)
		for _, kl := range a.KeyLens {
			for _, s := range suffixes {
				add(a.Keyword+strconv.Itoa(int(kl))+s, keyword{TypeENCR, uint16(a.ID), kl})
			}
		}
		if a.BareKeyLen != 0 {
			add(a.Keyword+a.Suffix, keyword{TypeENCR, uint16(a.ID), a.BareKeyLen})
		}
	}
	for _, a := range prfTable {
		add(a.Keyword, keyword{TypePRF, uint16(a.ID), 0})
	}
	for _, a := range integTable {
		for _, kw := range a.Keywords {
			add(kw, keyword{TypeINTEG, uint16(a.ID), 0})
		}
	}
	for _, a := range keTable {
		for _, kw := range a.Keywords {
			add(kw, keyword{TypeKE, uint16(a.ID), 0})
			for n := 1; n <= NumAddKE; n++ {
				add("ke"+strconv.Itoa(n)+"_"+kw, keyword{TypeADDKE1 + TransformType(n-1), uint16(a.ID), 0})
			}
		}
	}
	for _, a := range esnTable {
		add(a.Keyword, keyword{TypeESN, uint16(a.ID), 0})
	}
	return keywords
}

// Parse parses a comma separated list of strongSwan proposal strings for
// protocol proto (ProtoIKE or ProtoESP). Proposals are numbered 1.. in
// list order. Errors are *ParseError wrapping ErrEmptyProposal,
// ErrUnknownAlgorithm, ErrKeyLength or ErrInvalidProposal.
func Parse(s string, proto Protocol) (List, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxProposals {
		return nil, &ParseError{Input: s, Err: ErrInvalidProposal,
			Detail: "more than 255 proposals (RFC 7296 3.3.1)"}
	}
	out := make(List, 0, len(parts))
	for i, part := range parts {
		p, err := parseOne(part, proto, i)
		if err != nil {
			return nil, err
		}
		p.Number = uint8(i + 1)
		out = append(out, p)
	}
	return out, nil
}

// ParseProposal parses a single proposal (no commas).
func ParseProposal(s string, proto Protocol) (Proposal, error) {
	if strings.Contains(s, ",") {
		return Proposal{}, &ParseError{Input: s, Err: ErrInvalidProposal,
			Detail: "a single proposal has no commas; use Parse for lists"}
	}
	p, err := parseOne(s, proto, 0)
	if err == nil {
		p.Number = 1
	}
	return p, err
}

func parseOne(s string, proto Protocol, index int) (Proposal, error) {
	in := strings.TrimSpace(s)
	perr := func(err error, kw, detail string) *ParseError {
		return &ParseError{Input: in, Index: index, Keyword: kw, Err: err, Detail: detail}
	}
	if proto != ProtoIKE && proto != ProtoESP {
		return Proposal{}, perr(ErrInvalidProposal, "", "protocol "+proto.String()+" is not supported (IKE and ESP are)")
	}
	if in == "" {
		return Proposal{}, perr(ErrEmptyProposal, "", "")
	}
	tokens := strings.Split(in, "-")
	if len(tokens) > maxTransform {
		return Proposal{}, perr(ErrInvalidProposal, "", "more than 255 transforms (RFC 7296 3.3.1)")
	}
	p := Proposal{Protocol: proto}
	seen := map[keyword]bool{}
	var integKW []IntegID // integrity keywords, kept for PRF derivation
	for _, raw := range tokens {
		tok := strings.ToLower(strings.TrimSpace(raw))
		if tok == "" {
			return Proposal{}, perr(ErrUnknownAlgorithm, "", "empty keyword between dashes")
		}
		k, ok := keywords[tok]
		if !ok {
			if e := keyLenError(tok); e != nil {
				e.Input, e.Index = in, index
				return Proposal{}, e
			}
			return Proposal{}, perr(ErrUnknownAlgorithm, tok, "")
		}
		if err := checkUsage(k, proto); err != "" {
			return Proposal{}, perr(ErrInvalidProposal, tok, err)
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		if k.typ == TypeINTEG {
			integKW = append(integKW, IntegID(k.id))
		}
		if proto == ProtoIKE && k.typ == TypeKE && KEID(k.id) == KENone {
			continue // strongSwan: KE is never optional in IKE_SA_INIT
		}
		p.Add(Transform{k.typ, k.id, k.keyLen})
	}
	if err := finish(&p, integKW); err != "" {
		return Proposal{}, perr(ErrInvalidProposal, "", err)
	}
	return p, nil
}

// checkUsage returns why keyword k cannot appear in a proto proposal.
func checkUsage(k keyword, proto Protocol) string {
	switch k.typ {
	case TypeENCR:
		a := encrByID[EncrID(k.id)]
		if proto == ProtoIKE && a.Use&UseIKE == 0 {
			return a.Name + " is not allowed in IKE proposals (RFC 7296 3.3.2)"
		}
		if proto == ProtoESP && a.Use&UseESP == 0 {
			return a.Name + " is not allowed in ESP proposals"
		}
	case TypePRF:
		if proto != ProtoIKE {
			return "PRFs belong in IKE proposals only; remove it from the ESP proposal"
		}
	case TypeESN:
		if proto != ProtoESP {
			return "sequence number transforms belong in ESP proposals only"
		}
	}
	return ""
}

// finish applies strongSwan's check_proposal rules (see the file comment).
func finish(p *Proposal, integKW []IntegID) string {
	if len(p.Encr) == 0 {
		return "an encryption algorithm is required, e.g. aes256gcm16 or aes256"
	}
	aead := 0
	for _, e := range p.Encr {
		if e.ID.IsAEAD() {
			aead++
		}
	}
	if aead != 0 && aead != len(p.Encr) {
		return "AEAD (e.g. aes256gcm16) and classic (e.g. aes256) ciphers cannot share a proposal; " +
			"write them as two comma separated proposals"
	}
	if p.Protocol == ProtoIKE && len(p.PRF) == 0 {
		for _, id := range integKW {
			if prf := integByID[id].PRF; !slices.Contains(p.PRF, prf) {
				p.PRF = append(p.PRF, prf)
			}
		}
	}
	if aead != 0 {
		p.Integ = nil
	}
	switch p.Protocol {
	case ProtoIKE:
		if aead == 0 && len(p.Integ) == 0 {
			return "an integrity algorithm is required with classic ciphers, e.g. sha256"
		}
		if len(p.PRF) == 0 {
			return "a PRF is required, e.g. prfsha256 (AEAD ciphers have no integrity algorithm to derive it from)"
		}
		if len(p.KE) == 0 {
			return "a key exchange method is required in IKE proposals, e.g. ecp256 or modp2048"
		}
	case ProtoESP:
		if aead == 0 && len(p.Integ) == 0 && len(p.Encr) == 1 && p.Encr[0].ID == EncrNULL {
			return "ENCR_NULL without an integrity algorithm protects nothing (RFC 4303 3.2)"
		}
		if len(p.ESN) == 0 {
			p.ESN = []ESNID{ESNNone}
		}
	}
	return ""
}

// keyLenError recognizes keywords that name a keyed cipher with a key size
// the cipher does not allow ("aes512", "aes100gcm16").
func keyLenError(tok string) *ParseError {
	for _, a := range encrTable {
		if len(a.KeyLens) == 0 || !strings.HasPrefix(tok, a.Keyword) {
			continue
		}
		rest := tok[len(a.Keyword):]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 || n > 6 {
			continue
		}
		suffix := rest[n:]
		if suffix != a.Suffix && !slices.Contains(a.SuffixAliases, suffix) {
			continue
		}
		bits, _ := strconv.Atoi(rest[:n])
		return &ParseError{Keyword: tok, KeyLen: bits, Allowed: slices.Clone(a.KeyLens), Err: ErrKeyLength,
			Detail: a.Name + " takes " + joinUints(a.KeyLens) + " bit keys, not " + strconv.Itoa(bits)}
	}
	return nil
}

func joinUints(v []uint16) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ", ")
}

// String returns the proposal as a strongSwan keyword string. For every
// proposal built by Parse, Parse(p.String()) yields p again. PRF keywords
// are omitted when they equal what the integrity keywords imply, noesn is
// omitted as the ESP default. Transforms without a keyword (unsupported
// IDs from a peer) print as their IANA names and do not parse back.
func (p Proposal) String() string {
	var kw []string
	for _, e := range p.Encr {
		kw = append(kw, encrKeyword(e))
	}
	for _, id := range p.Integ {
		if a, ok := integByID[id]; ok {
			kw = append(kw, a.Keywords[0])
		} else {
			kw = append(kw, id.String())
		}
	}
	if p.Protocol != ProtoIKE || !slices.Equal(p.PRF, impliedPRF(p.Integ)) {
		for _, id := range p.PRF {
			if a, ok := prfByID[id]; ok {
				kw = append(kw, a.Keyword)
			} else {
				kw = append(kw, id.String())
			}
		}
	}
	for _, id := range p.KE {
		kw = append(kw, keKeyword(id, ""))
	}
	for i, l := range p.AddKE {
		for _, id := range l {
			kw = append(kw, keKeyword(id, "ke"+strconv.Itoa(i+1)+"_"))
		}
	}
	if !(p.Protocol == ProtoESP && len(p.ESN) == 1 && p.ESN[0] == ESNNone) {
		for _, id := range p.ESN {
			if a, ok := esnByID[id]; ok {
				kw = append(kw, a.Keyword)
			} else {
				kw = append(kw, id.String())
			}
		}
	}
	for _, t := range p.Unknown {
		kw = append(kw, t.String())
	}
	return strings.Join(kw, "-")
}

// String returns the proposals as a comma separated strongSwan string.
func (l List) String() string {
	parts := make([]string, len(l))
	for i := range l {
		parts[i] = l[i].String()
	}
	return strings.Join(parts, ", ")
}

func impliedPRF(integ []IntegID) []PRFID {
	var out []PRFID
	for _, id := range integ {
		if a, ok := integByID[id]; ok && !slices.Contains(out, a.PRF) {
			out = append(out, a.PRF)
		}
	}
	return out
}

func encrKeyword(e Encr) string {
	a, ok := encrByID[e.ID]
	if !ok || !e.ID.ValidKeyLen(e.KeyLen) {
		return e.String()
	}
	if len(a.KeyLens) == 0 {
		return a.Keyword + a.Suffix
	}
	return a.Keyword + strconv.Itoa(int(e.KeyLen)) + a.Suffix
}

func keKeyword(id KEID, prefix string) string {
	if a, ok := keByID[id]; ok {
		return prefix + a.Keywords[0]
	}
	return prefix + id.String()
}

// Keyword returns the canonical strongSwan keyword of a wire transform, or
// "" when the transform has none (unsupported ID or invalid key length).
func Keyword(t Transform) string {
	var s string
	switch {
	case t.Type == TypeENCR:
		if !EncrID(t.ID).ValidKeyLen(t.KeyLen) {
			return ""
		}
		s = encrKeyword(Encr{EncrID(t.ID), t.KeyLen})
	case t.Type == TypePRF:
		if a, ok := prfByID[PRFID(t.ID)]; ok {
			s = a.Keyword
		}
	case t.Type == TypeINTEG:
		if a, ok := integByID[IntegID(t.ID)]; ok {
			s = a.Keywords[0]
		}
	case t.Type == TypeKE:
		if _, ok := keByID[KEID(t.ID)]; ok {
			s = keKeyword(KEID(t.ID), "")
		}
	case t.Type == TypeESN:
		if a, ok := esnByID[ESNID(t.ID)]; ok {
			s = a.Keyword
		}
	case isAddKE(t.Type):
		if _, ok := keByID[KEID(t.ID)]; ok {
			s = keKeyword(KEID(t.ID), "ke"+strconv.Itoa(int(t.Type-TypeADDKE1+1))+"_")
		}
	}
	return s
}
