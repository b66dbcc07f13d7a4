package proposal

import (
	"strconv"
	"strings"
)

// Encr is one encryption transform: the algorithm and its Key Length
// attribute in bits (0 when the algorithm has no such attribute).
type Encr struct {
	// ID is the encryption algorithm.
	ID EncrID
	// KeyLen is the Key Length attribute in bits, 0 when absent.
	KeyLen uint16
}

// String returns the strongSwan log form, e.g. "AES_GCM_16_256".
func (e Encr) String() string {
	s := strings.TrimPrefix(e.ID.String(), "ENCR_")
	if e.KeyLen != 0 {
		s += "_" + strconv.Itoa(int(e.KeyLen))
	}
	return s
}

// Transform is one transform as carried on the wire (RFC 7296 3.3.2); the
// engines convert the codec's transform substructures to and from this
// form with Proposal.Add and Proposal.Transforms.
type Transform struct {
	// Type is the transform type.
	Type TransformType
	// ID is the transform ID within Type's registry.
	ID     uint16
	KeyLen uint16 // Key Length attribute in bits, 0 = absent
}

// String returns the name of the transform, e.g. "MODP_2048" or
// "AES_CBC_256"; KE transforms of types ADDKE1..7 get a "KE1_" prefix.
func (t Transform) String() string {
	switch t.Type {
	case TypeENCR:
		return Encr{EncrID(t.ID), t.KeyLen}.String()
	case TypePRF:
		return PRFID(t.ID).String()
	case TypeINTEG:
		return strings.TrimPrefix(IntegID(t.ID).String(), "AUTH_")
	case TypeKE:
		return KEID(t.ID).String()
	case TypeESN:
		return ESNID(t.ID).String()
	}
	if isAddKE(t.Type) {
		return "KE" + strconv.Itoa(int(t.Type-TypeADDKE1+1)) + "_" + KEID(t.ID).String()
	}
	return t.Type.String() + "(" + strconv.Itoa(int(t.ID)) + ")"
}

func isAddKE(t TransformType) bool { return t >= TypeADDKE1 && t <= TypeADDKE7 }

// NumAddKE is the number of additional key exchange transform types
// (RFC 9370 section 2.1: ADDKE1..ADDKE7).
const NumAddKE = 7

// Proposal is one IKEv2 proposal (RFC 7296 3.3.1) as both IKE engines use
// it: lists of acceptable transforms per type, in preference order. A
// proposal returned by Select has exactly one transform in every type it
// negotiated (none for INTEG with an AEAD, none for a KE the peers agreed
// to skip).
type Proposal struct {
	// Number is the proposal number (1-based) of the SA payload it came
	// from; Parse numbers proposals in list order.
	Number uint8
	// Protocol is IKE, ESP or AH.
	Protocol Protocol
	// SPI is the sender's SPI for this proposal (empty in an initial
	// IKE_SA_INIT, 4 bytes for ESP, 8 for an IKE rekey).
	SPI []byte
	// Encr, PRF, Integ and KE list the transforms of each type, in
	// preference order.
	Encr  []Encr
	PRF   []PRFID
	Integ []IntegID
	KE    []KEID
	// ESN holds the sequence number transforms (ESP only).
	ESN []ESNID
	// AddKE[i] holds the transforms of type ADDKE(i+1) (RFC 9370).
	AddKE [NumAddKE][]KEID
	// Unknown holds transforms of types this package does not know. RFC
	// 7296 3.3.6 makes such a proposal unacceptable; Select skips it.
	Unknown []Transform
}

// List is an ordered list of proposals, most preferred first.
type List []Proposal

// Add appends one wire transform to the list of its type.
func (p *Proposal) Add(t Transform) {
	switch {
	case t.Type == TypeENCR:
		p.Encr = append(p.Encr, Encr{EncrID(t.ID), t.KeyLen})
	case t.Type == TypePRF:
		p.PRF = append(p.PRF, PRFID(t.ID))
	case t.Type == TypeINTEG:
		p.Integ = append(p.Integ, IntegID(t.ID))
	case t.Type == TypeKE:
		p.KE = append(p.KE, KEID(t.ID))
	case t.Type == TypeESN:
		p.ESN = append(p.ESN, ESNID(t.ID))
	case isAddKE(t.Type):
		i := t.Type - TypeADDKE1
		p.AddKE[i] = append(p.AddKE[i], KEID(t.ID))
	default:
		p.Unknown = append(p.Unknown, t)
	}
}

// Transforms returns the proposal's transforms in wire order: by type
// (ENCR, PRF, INTEG, KE, ESN, ADDKE1..7, unknown), each in preference order.
func (p Proposal) Transforms() []Transform {
	var out []Transform
	for _, t := range typeOrder {
		out = append(out, p.transforms(t)...)
	}
	return append(out, p.Unknown...)
}

// typeOrder is the order of known transform types on the wire.
var typeOrder = []TransformType{TypeENCR, TypePRF, TypeINTEG, TypeKE, TypeESN,
	TypeADDKE1, TypeADDKE2, TypeADDKE3, TypeADDKE4, TypeADDKE5, TypeADDKE6, TypeADDKE7}

// transforms returns the transforms of one known type in preference order.
func (p Proposal) transforms(t TransformType) []Transform {
	return p.appendTransforms(nil, t)
}

// appendTransforms appends the transforms of type t to dst; Select uses it
// with stack buffers so that matching allocates nothing.
func (p *Proposal) appendTransforms(dst []Transform, t TransformType) []Transform {
	switch {
	case t == TypeENCR:
		for _, e := range p.Encr {
			dst = append(dst, Transform{TypeENCR, uint16(e.ID), e.KeyLen})
		}
	case t == TypePRF:
		for _, id := range p.PRF {
			dst = append(dst, Transform{TypePRF, uint16(id), 0})
		}
	case t == TypeINTEG:
		for _, id := range p.Integ {
			dst = append(dst, Transform{TypeINTEG, uint16(id), 0})
		}
	case t == TypeKE:
		for _, id := range p.KE {
			dst = append(dst, Transform{TypeKE, uint16(id), 0})
		}
	case t == TypeESN:
		for _, id := range p.ESN {
			dst = append(dst, Transform{TypeESN, uint16(id), 0})
		}
	case isAddKE(t):
		for _, id := range p.AddKE[t-TypeADDKE1] {
			dst = append(dst, Transform{t, uint16(id), 0})
		}
	}
	return dst
}

// Clone returns a deep copy, so callers can keep a proposal while its
// source is reused or mutated.
func (p Proposal) Clone() Proposal {
	c := p
	c.SPI = cloneSlice(p.SPI)
	c.Encr = cloneSlice(p.Encr)
	c.PRF = cloneSlice(p.PRF)
	c.Integ = cloneSlice(p.Integ)
	c.KE = cloneSlice(p.KE)
	c.ESN = cloneSlice(p.ESN)
	for i := range c.AddKE {
		c.AddKE[i] = cloneSlice(p.AddKE[i])
	}
	c.Unknown = cloneSlice(p.Unknown)
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// Clone returns a deep copy of the list.
func (l List) Clone() List {
	if l == nil {
		return nil
	}
	out := make(List, len(l))
	for i := range l {
		out[i] = l[i].Clone()
	}
	return out
}

// IsAEAD reports whether the proposal offers only combined-mode ciphers.
func (p Proposal) IsAEAD() bool {
	if len(p.Encr) == 0 {
		return false
	}
	for _, e := range p.Encr {
		if !e.ID.IsAEAD() {
			return false
		}
	}
	return true
}

// Describe returns the proposal in strongSwan's log form, the form
// operators compare with charon logs, e.g.
// "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048".
func (p Proposal) Describe() string {
	var b strings.Builder
	b.WriteString(p.Protocol.String())
	b.WriteByte(':')
	first := true
	// strongSwan prints INTEG before PRF; keep that so logs line up.
	for _, t := range []TransformType{TypeENCR, TypeINTEG, TypePRF, TypeKE, TypeESN,
		TypeADDKE1, TypeADDKE2, TypeADDKE3, TypeADDKE4, TypeADDKE5, TypeADDKE6, TypeADDKE7} {
		for _, tr := range p.transforms(t) {
			if !first {
				b.WriteByte('/')
			}
			first = false
			b.WriteString(tr.String())
		}
	}
	for _, tr := range p.Unknown {
		if !first {
			b.WriteByte('/')
		}
		first = false
		b.WriteString(tr.String())
	}
	return b.String()
}

// Describe returns all proposals in strongSwan's log form, comma separated.
func (l List) Describe() string {
	parts := make([]string, len(l))
	for i := range l {
		parts[i] = l[i].Describe()
	}
	return strings.Join(parts, ", ")
}

// Weak returns one line per transform in p that RFC 8221/8247 deprecate
// (e.g. "MODP_1024: MODP group below 2048 bits ..."), so an engine that
// negotiated p can log it as weak. It returns nil for a strong proposal.
func (p Proposal) Weak() []string {
	var out []string
	add := func(name, reason string) { out = append(out, name+": "+reason) }
	for _, e := range p.Encr {
		if a, ok := encrByID[e.ID]; ok && a.Weak {
			add(e.ID.String(), a.WeakReason)
		}
	}
	for _, id := range p.PRF {
		if a, ok := prfByID[id]; ok && a.Weak {
			add(id.String(), a.WeakReason)
		}
	}
	for _, id := range p.Integ {
		if a, ok := integByID[id]; ok && a.Weak {
			add(id.String(), a.WeakReason)
		}
	}
	kes := append([]KEID(nil), p.KE...)
	for _, l := range p.AddKE {
		kes = append(kes, l...)
	}
	for _, id := range kes {
		if a, ok := keByID[id]; ok && a.Weak {
			add(id.String(), a.WeakReason)
		}
	}
	if p.Protocol == ProtoESP && len(p.Encr) > 0 && !p.IsAEAD() && (len(p.Integ) == 0 || onlyIntegNone(p.Integ)) {
		add("ESP", "no integrity protection (RFC 8221 section 5)")
	}
	return out
}

func onlyIntegNone(l []IntegID) bool {
	for _, id := range l {
		if id != IntegNone {
			return false
		}
	}
	return true
}
