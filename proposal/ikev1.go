package proposal

import (
	"errors"
	"fmt"
	"strconv"
)

// IKEv1 carries one algorithm per attribute in each transform, so a
// Proposal with lists expands to the cross product of its transforms, and
// each IKEv1 transform maps back to a single-choice Proposal that Select
// can compare with the configured lists.

// ErrNoIKEv1Value: a transform has no IKEv1 counterpart (e.g. ChaCha20-
// Poly1305 or Curve25519 in phase 1) or an IKEv1 value is unknown.
var ErrNoIKEv1Value = errors.New("no IKEv1 mapping")

// IKEv1AuthMethod is the phase-1 Authentication Method attribute (RFC 2409
// appendix A, RFC 4754, draft-ietf-ipsec-isakmp-xauth / hybrid-auth).
type IKEv1AuthMethod uint16

// IKEv1 authentication methods.
const (
	V1AuthPSK           IKEv1AuthMethod = 1
	V1AuthDSS           IKEv1AuthMethod = 2
	V1AuthRSASig        IKEv1AuthMethod = 3
	V1AuthRSAEnc        IKEv1AuthMethod = 4
	V1AuthRSARevEnc     IKEv1AuthMethod = 5
	V1AuthECDSA256      IKEv1AuthMethod = 9
	V1AuthECDSA384      IKEv1AuthMethod = 10
	V1AuthECDSA521      IKEv1AuthMethod = 11
	V1AuthHybridInitRSA IKEv1AuthMethod = 64221
	V1AuthHybridRespRSA IKEv1AuthMethod = 64222
	V1AuthXAuthInitPSK  IKEv1AuthMethod = 65001
	V1AuthXAuthRespPSK  IKEv1AuthMethod = 65002
	V1AuthXAuthInitRSA  IKEv1AuthMethod = 65005
	V1AuthXAuthRespRSA  IKEv1AuthMethod = 65006
)

var v1AuthNames = map[IKEv1AuthMethod]string{
	V1AuthPSK: "PRE_SHARED_KEY", V1AuthDSS: "DSS_SIGNATURES", V1AuthRSASig: "RSA_SIGNATURES",
	V1AuthRSAEnc: "RSA_ENCRYPTION", V1AuthRSARevEnc: "RSA_REVISED_ENCRYPTION",
	V1AuthECDSA256: "ECDSA_256", V1AuthECDSA384: "ECDSA_384", V1AuthECDSA521: "ECDSA_521",
	V1AuthHybridInitRSA: "HYBRID_INIT_RSA", V1AuthHybridRespRSA: "HYBRID_RESP_RSA",
	V1AuthXAuthInitPSK: "XAUTH_INIT_PSK", V1AuthXAuthRespPSK: "XAUTH_RESP_PSK",
	V1AuthXAuthInitRSA: "XAUTH_INIT_RSA", V1AuthXAuthRespRSA: "XAUTH_RESP_RSA",
}

// String returns the method name, e.g. "XAUTH_INIT_PSK", or "AUTH(99)".
func (m IKEv1AuthMethod) String() string {
	if n, ok := v1AuthNames[m]; ok {
		return n
	}
	return unknownName("AUTH", uint16(m))
}

// IKEv1Phase1 is one IKEv1 phase-1 transform's algorithm attributes (RFC
// 2409 appendix A). Lifetimes are the engine's business.
type IKEv1Phase1 struct {
	Encryption uint16 // Encryption Algorithm (1)
	KeyLength  uint16 // Key Length (14), bits, 0 = absent
	Hash       uint16 // Hash Algorithm (2); its HMAC is the PRF
	Group      uint16 // Group Description (4)
	// AuthMethod is the Authentication Method attribute (3).
	AuthMethod IKEv1AuthMethod
}

// IKEv1ESP is one IPsec DOI ESP transform (RFC 2407 4.4.4, 4.5).
type IKEv1ESP struct {
	TransformID uint8  // ESP transform ID
	KeyLength   uint16 // Key Length attribute (6), bits, 0 = absent
	AuthAlg     uint16 // Authentication Algorithm (5), 0 = none (AEAD)
	Group       uint16 // Group Description (3) for PFS, 0 = no PFS
	ESN         bool   // Extended (64-bit) Sequence Number (11), RFC 4304
}

func v1Err(format string, args ...any) error {
	return fmt.Errorf("proposal: %s: %w", fmt.Sprintf(format, args...), ErrNoIKEv1Value)
}

// ToIKEv1Phase1 expands an IKE proposal into IKEv1 phase-1 transforms
// (encryption x PRF x group, in preference order), all with method auth.
// The PRF decides the Hash attribute; integrity algorithms are implied.
func ToIKEv1Phase1(p Proposal, auth IKEv1AuthMethod) ([]IKEv1Phase1, error) {
	if p.Protocol != ProtoIKE {
		return nil, v1Err("phase 1 needs an IKE proposal, not %s", p.Protocol)
	}
	var out []IKEv1Phase1
	for _, e := range p.Encr {
		a, ok := encrByID[e.ID]
		if !ok || a.IKEv1Phase1 == 0 {
			return nil, v1Err("%s has no IKEv1 phase-1 encryption value", e.ID)
		}
		for _, prf := range p.PRF {
			pa, ok := prfByID[prf]
			if !ok || pa.IKEv1Hash == 0 {
				return nil, v1Err("%s has no IKEv1 hash value", prf)
			}
			for _, g := range p.KE {
				ka, ok := keByID[g]
				if !ok || ka.IKEv1Group == 0 {
					return nil, v1Err("%s has no IKEv1 group value", g)
				}
				out = append(out, IKEv1Phase1{Encryption: a.IKEv1Phase1, KeyLength: e.KeyLen,
					Hash: pa.IKEv1Hash, Group: ka.IKEv1Group, AuthMethod: auth})
			}
		}
	}
	if len(out) == 0 {
		return nil, v1Err("proposal %q has no complete phase-1 transform", p.String())
	}
	return out, nil
}

// Proposal converts one phase-1 transform into an IKE Proposal with one
// transform per type (the integrity algorithm is the HMAC of the hash, as
// IKEv1 uses it to protect its HASH payloads).
func (t IKEv1Phase1) Proposal() (Proposal, error) {
	p := Proposal{Protocol: ProtoIKE}
	var encr *EncrAlg
	for i := range encrTable {
		if encrTable[i].IKEv1Phase1 != 0 && encrTable[i].IKEv1Phase1 == t.Encryption {
			encr = &encrTable[i]
		}
	}
	if encr == nil {
		return p, v1Err("IKEv1 encryption algorithm %d", t.Encryption)
	}
	if !encr.ID.ValidKeyLen(t.KeyLength) {
		if len(encr.KeyLens) == 0 || t.KeyLength != 0 {
			return p, fmt.Errorf("proposal: IKEv1 %s key length %d: %w", encr.ID, t.KeyLength, ErrKeyLength)
		}
		// RFC 3602 section 5.3 (as used in IKEv1): AES without a Key
		// Length attribute means 128 bits.
		t.KeyLength = 128
	}
	p.Encr = []Encr{{encr.ID, t.KeyLength}}
	var prf *PRFAlg
	for i := range prfTable {
		if prfTable[i].IKEv1Hash != 0 && prfTable[i].IKEv1Hash == t.Hash {
			prf = &prfTable[i]
		}
	}
	if prf == nil {
		return p, v1Err("IKEv1 hash algorithm %d", t.Hash)
	}
	p.PRF = []PRFID{prf.ID}
	for _, ia := range integTable {
		if ia.PRF == prf.ID && ia.IKEv1Auth != 0 {
			p.Integ = []IntegID{ia.ID}
			break
		}
	}
	g, err := keFromV1Group(t.Group)
	if err != nil {
		return p, err
	}
	p.KE = []KEID{g}
	return p, nil
}

func keFromV1Group(v uint16) (KEID, error) {
	for _, a := range keTable {
		if a.IKEv1Group != 0 && a.IKEv1Group == v {
			return a.ID, nil
		}
	}
	return 0, v1Err("IKEv1 group %d", v)
}

// ToIKEv1ESP expands an ESP proposal into IPsec DOI transforms
// (encryption x integrity x PFS group x ESN, in preference order). KE NONE
// becomes Group 0 (no PFS).
func ToIKEv1ESP(p Proposal) ([]IKEv1ESP, error) {
	if p.Protocol != ProtoESP {
		return nil, v1Err("phase 2 needs an ESP proposal, not %s", p.Protocol)
	}
	integ := p.Integ
	if len(integ) == 0 {
		integ = []IntegID{IntegNone}
	}
	kes := p.KE
	if len(kes) == 0 {
		kes = []KEID{KENone}
	}
	esns := p.ESN
	if len(esns) == 0 {
		esns = []ESNID{ESNNone}
	}
	var out []IKEv1ESP
	for _, e := range p.Encr {
		a, ok := encrByID[e.ID]
		if !ok || a.IKEv1ESP == 0 {
			return nil, v1Err("%s has no IPsec DOI ESP transform ID", e.ID)
		}
		for _, i := range integ {
			var auth uint16
			if i != IntegNone {
				ia, ok := integByID[i]
				if !ok || ia.IKEv1Auth == 0 {
					return nil, v1Err("%s has no IKEv1 authentication algorithm value", i)
				}
				auth = ia.IKEv1Auth
			}
			for _, g := range kes {
				var group uint16
				if g != KENone {
					ka, ok := keByID[g]
					if !ok || ka.IKEv1Group == 0 {
						return nil, v1Err("%s has no IKEv1 group value", g)
					}
					group = ka.IKEv1Group
				}
				for _, esn := range esns {
					out = append(out, IKEv1ESP{TransformID: a.IKEv1ESP, KeyLength: e.KeyLen,
						AuthAlg: auth, Group: group, ESN: esn == ESNOn})
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, v1Err("proposal %q has no ESP transform", p.String())
	}
	return out, nil
}

// Proposal converts one IPsec DOI ESP transform into an ESP Proposal.
func (t IKEv1ESP) Proposal() (Proposal, error) {
	p := Proposal{Protocol: ProtoESP}
	var encr *EncrAlg
	for i := range encrTable {
		if encrTable[i].IKEv1ESP != 0 && encrTable[i].IKEv1ESP == t.TransformID {
			encr = &encrTable[i]
		}
	}
	if encr == nil {
		return p, v1Err("ESP transform ID %d", t.TransformID)
	}
	if !encr.ID.ValidKeyLen(t.KeyLength) {
		if len(encr.KeyLens) == 0 || t.KeyLength != 0 {
			return p, fmt.Errorf("proposal: IKEv1 %s key length %d: %w", encr.ID, t.KeyLength, ErrKeyLength)
		}
		t.KeyLength = 128 // RFC 3602 5.3: no Key Length attribute = AES-128
	}
	p.Encr = []Encr{{encr.ID, t.KeyLength}}
	if t.AuthAlg != 0 {
		found := false
		for _, ia := range integTable {
			if ia.IKEv1Auth == t.AuthAlg {
				p.Integ, found = []IntegID{ia.ID}, true
				break
			}
		}
		if !found {
			return p, v1Err("IKEv1 authentication algorithm %d", t.AuthAlg)
		}
	} else if !encr.AEAD && encr.ID == EncrNULL {
		return p, fmt.Errorf("proposal: IKEv1 ESP_NULL without authentication: %w", ErrInvalidProposal)
	}
	if t.Group != 0 {
		g, err := keFromV1Group(t.Group)
		if err != nil {
			return p, err
		}
		p.KE = []KEID{g}
	}
	p.ESN = []ESNID{ESNNone}
	if t.ESN {
		p.ESN[0] = ESNOn
	}
	return p, nil
}

// String returns the attribute values in a compact form for logs.
func (t IKEv1Phase1) String() string {
	return "enc=" + strconv.Itoa(int(t.Encryption)) + " keylen=" + strconv.Itoa(int(t.KeyLength)) +
		" hash=" + strconv.Itoa(int(t.Hash)) + " group=" + strconv.Itoa(int(t.Group)) + " auth=" + t.AuthMethod.String()
}
