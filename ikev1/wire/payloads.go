package wire

import (
	"encoding/binary"
	"net/netip"
)

// Payload is one decoded IKEv1 payload. The concrete types are the pointer
// types of this package (*SA, *KE, *ID, ...); payload types the codec does
// not know arrive as *Unknown. Byte-slice fields of parsed payloads alias
// the buffer handed to Parse or ParsePayloads.
type Payload interface {
	// Type returns the payload type written into the chain.
	Type() PayloadType
}

// SA is the Security Association payload (RFC 2408 section 3.4) with the
// IPsec DOI situation (RFC 2407 section 4.6.1). Its proposals are the
// nested Proposal payloads.
type SA struct {
	// DOI is the domain of interpretation, DOIIPsec (1) in practice.
	DOI uint32
	// Situation is the IPsec DOI situation, SituationIdentityOnly (1) in
	// practice.
	Situation uint32
	// Proposals are the nested proposal payloads in order. Proposals with
	// the same Number are one proposal combining protocols (AH and ESP,
	// ESP and IPCOMP; RFC 2408 section 4.2).
	Proposals []Proposal
	// Body is the payload body as received (after the generic header,
	// aliasing the input), nil for a constructed SA. It is SAi_b of
	// HASH_I and HASH_R (RFC 2409 section 5): hash these bytes rather than
	// a re-encoding, which may differ in reserved fields. Append ignores
	// it; for an SA you send, AppendBody gives the bytes sent.
	Body []byte
}

// Proposal is a Proposal payload nested in an SA (RFC 2408 section 3.5).
type Proposal struct {
	// Number is the proposal number.
	Number uint8
	// Protocol is the protocol negotiated (ISAKMP in phase 1).
	Protocol ProtocolID
	// SPI is the sender's SPI: empty (or the cookies) in phase 1, 4 bytes
	// for ESP and AH, 2 (or 4) for IPCOMP's CPI.
	SPI []byte
	// Transforms are the alternatives offered for Protocol; the responder
	// picks one.
	Transforms []Transform
}

// Transform is a Transform payload nested in a Proposal (RFC 2408 section
// 3.6).
type Transform struct {
	// Number is the transform number.
	Number uint8
	// ID is the transform ID within the proposal's protocol: KeyIKE for
	// ISAKMP, ESP_AES, AH_SHA, ... (see TransformIDString).
	ID uint8
	// Attributes are the SA attributes (phase 1: RFC 2409 Appendix A,
	// phase 2: RFC 2407 section 4.5).
	Attributes []Attribute
}

// Attr returns the numeric value of the first attribute of type t.
func (t *Transform) Attr(typ uint16) (uint32, bool) {
	for _, a := range t.Attributes {
		if a.Type == typ {
			return a.Uint()
		}
	}
	return 0, false
}

// Attribute is a data attribute (RFC 2408 section 3.3) of a transform or
// an Attributes payload. TV (basic, AF bit set) attributes carry a 16-bit
// Value; TLV (variable) attributes carry Data, and Value holds Data as a
// number when it is at most 4 bytes long.
type Attribute struct {
	// Type is the attribute type without the AF bit.
	Type uint16
	// Value is a TV attribute's value, or a short TLV's value as a number.
	Value uint32
	// Data is a TLV attribute's value; Append writes it for TLV attributes.
	Data []byte
	// TV is true for the basic form (AF bit set): Value is written.
	TV bool
}

// Uint returns the attribute's numeric value: a TV attribute's Value, or
// a TLV attribute of at most 4 bytes read as a big-endian number. Longer
// TLV attributes report false.
func (a Attribute) Uint() (uint32, bool) {
	if a.TV {
		return a.Value, true
	}
	if len(a.Data) > 4 {
		return 0, false
	}
	var v uint32
	for _, c := range a.Data {
		v = v<<8 | uint32(c)
	}
	return v, true
}

// TV returns a basic attribute (AF bit set) of type t with value v.
func TV(t uint16, v uint16) Attribute { return Attribute{Type: t, Value: uint32(v), TV: true} }

// TLV returns a variable attribute of type t with value data.
func TLV(t uint16, data []byte) Attribute {
	a := Attribute{Type: t, Data: data}
	a.Value, _ = a.Uint()
	return a
}

// Num returns an attribute carrying v in the shortest form: TV when v
// fits 16 bits, otherwise a 4-byte TLV (how Life Duration values such as
// 86400 seconds travel).
func Num(t uint16, v uint32) Attribute {
	if v <= 0xffff {
		return TV(t, uint16(v))
	}
	return TLV(t, binary.BigEndian.AppendUint32(nil, v))
}

// KE is the Key Exchange payload (RFC 2408 section 3.7).
type KE struct {
	// Data is the public Diffie-Hellman value.
	Data []byte
}

// ID is the Identification payload with the IPsec DOI fields (RFC 2407
// section 4.6.2). In phase 1, Protocol and Port are usually 0 or UDP/500;
// in Quick Mode the ID payloads are the traffic selectors.
type ID struct {
	// IDType is the identification type.
	IDType IDType
	// Protocol is the IP protocol ID, 0 for any.
	Protocol uint8
	// Port is the port, 0 for any.
	Port uint16
	// Data is the identification data, interpreted according to IDType.
	Data []byte
}

// Hash is the Hash payload (RFC 2408 section 3.11).
type Hash struct {
	// Data is the hash (HASH_I, HASH_R, HASH(1), ...).
	Data []byte
}

// Sig is the Signature payload (RFC 2408 section 3.12).
type Sig struct {
	// Data is the signature.
	Data []byte
}

// Cert is the Certificate payload (RFC 2408 section 3.9).
type Cert struct {
	// Encoding is the certificate encoding (CertX509Signature, ...).
	Encoding uint8
	// Data is the certificate (DER for X.509).
	Data []byte
}

// CertReq is the Certificate Request payload (RFC 2408 section 3.10).
type CertReq struct {
	// Encoding is the requested certificate type (CertX509Signature, ...).
	Encoding uint8
	// Authority is the certificate authority, for X.509 a DER
	// distinguished name; empty for any.
	Authority []byte
}

// Nonce is the Nonce payload (RFC 2408 section 3.13).
type Nonce struct {
	// Data is the nonce.
	Data []byte
}

// Notify is the Notification payload (RFC 2408 section 3.14).
type Notify struct {
	// DOI is the domain of interpretation (DOIIPsec; 0 is seen too).
	DOI uint32
	// Protocol is the protocol of SPI.
	Protocol ProtocolID
	// SPI is the SA the notification is about (for ISAKMP: the two
	// cookies, 16 bytes, or empty), nil when the SPI size is 0.
	SPI []byte
	// NotifyType is the notify message type.
	NotifyType NotifyType
	// Data is the notification data (RESPONDER-LIFETIME attributes, a
	// DPD sequence number, ...).
	Data []byte
}

// Delete is the Delete payload (RFC 2408 section 3.15).
type Delete struct {
	// DOI is the domain of interpretation.
	DOI uint32
	// Protocol is the protocol of the SAs deleted.
	Protocol ProtocolID
	// SPISize is the size of each SPI: 16 (both cookies) for ISAKMP, 4 for
	// ESP and AH. Append takes it from the SPIs when it is 0.
	SPISize uint8
	// SPIs are the SPIs, each SPISize bytes long.
	SPIs [][]byte
}

// VendorID is the Vendor ID payload (RFC 2408 section 3.16); see
// KnownVendorID.
type VendorID struct {
	// Data is the vendor ID, usually a hash of a vendor string.
	Data []byte
}

// NATD is the NAT Discovery payload (RFC 3947 section 3.2; payload 130 in
// the drafts).
type NATD struct {
	// Hash is HASH(CKY-I | CKY-R | IP | Port).
	Hash []byte
	// Draft selects the draft payload number 130 instead of 20.
	Draft bool
}

// NATOA is the NAT Original Address payload (RFC 3947 section 5.1;
// payload 131 in the drafts).
type NATOA struct {
	// IDType is IDIPv4Addr or IDIPv6Addr; Append derives it from Addr
	// when it is 0.
	IDType IDType
	// Addr is the original address.
	Addr netip.Addr
	// Draft selects the draft payload number 131 instead of 21.
	Draft bool
}

// Attributes is the Attributes payload of the Transaction exchange
// (draft-dukes-ike-mode-cfg section 3.2): Mode Config and XAUTH.
type Attributes struct {
	// CfgType is the message type (CFG_REQUEST, CFG_REPLY, CFG_SET, CFG_ACK).
	CfgType CfgType
	// Identifier matches a reply to its request.
	Identifier uint16
	// Attrs are the attributes (INTERNAL_IP4_ADDRESS, XAUTH_USER_NAME, ...).
	Attrs []Attribute
}

// Fragment is an IKE fragment payload (payload 132, Cisco's and racoon's
// IKEv1 fragmentation): the whole message it belongs to, header included,
// is the concatenation of the Data of fragments 1..n of one ID.
type Fragment struct {
	// ID identifies the fragmented message.
	ID uint16
	// Number is the fragment number, starting at 1.
	Number uint8
	// Last is set on the last fragment.
	Last bool
	// Data is this fragment's part of the message.
	Data []byte
}

// Unknown is a payload of a type the codec does not decode. IKEv1 has no
// critical bit; RFC 2408 section 5.1 says such a payload makes the
// message invalid (INVALID-PAYLOAD-TYPE), which the engine decides.
type Unknown struct {
	// PayloadType is the payload type.
	PayloadType PayloadType
	// Body is the payload after the generic payload header.
	Body []byte
}

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

// Type returns PayloadID.
func (*ID) Type() PayloadType { return PayloadID }

// Type returns PayloadHASH.
func (*Hash) Type() PayloadType { return PayloadHASH }

// Type returns PayloadSIG.
func (*Sig) Type() PayloadType { return PayloadSIG }

// Type returns PayloadCERT.
func (*Cert) Type() PayloadType { return PayloadCERT }

// Type returns PayloadCR.
func (*CertReq) Type() PayloadType { return PayloadCR }

// Type returns PayloadNonce.
func (*Nonce) Type() PayloadType { return PayloadNonce }

// Type returns PayloadNotify.
func (*Notify) Type() PayloadType { return PayloadNotify }

// Type returns PayloadDelete.
func (*Delete) Type() PayloadType { return PayloadDelete }

// Type returns PayloadVendorID.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

// Type returns PayloadNATD, or PayloadNATDDraft for the draft numbering.
func (p *NATD) Type() PayloadType {
	if p.Draft {
		return PayloadNATDDraft
	}
	return PayloadNATD
}

// Type returns PayloadNATOA, or PayloadNATOADraft for the draft numbering.
func (p *NATOA) Type() PayloadType {
	if p.Draft {
		return PayloadNATOADraft
	}
	return PayloadNATOA
}

// Type returns PayloadAttributes.
func (*Attributes) Type() PayloadType { return PayloadAttributes }

// Type returns PayloadFragment.
func (*Fragment) Type() PayloadType { return PayloadFragment }

// Type returns the stored type.
func (p *Unknown) Type() PayloadType { return p.PayloadType }
