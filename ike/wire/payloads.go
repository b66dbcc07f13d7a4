package wire

import (
	"net/netip"
)

// Payload is one decoded IKEv2 payload. The concrete types are the pointer
// types of this package (*SA, *KE, *ID, ...); payload types the codec does
// not know arrive as *Unknown. Byte-slice fields of parsed payloads alias
// the buffer handed to Parse (or the plaintext for inner payloads).
type Payload interface {
	// PayloadType returns the type written into the chain.
	PayloadType() PayloadType
	isPayload()
}

// SA is the Security Association payload (RFC 7296 section 3.3).
type SA struct {
	Proposals []Proposal
}

// Proposal is one proposal substructure (RFC 7296 section 3.3.1).
type Proposal struct {
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []Transform
}

// Transform is one transform substructure (RFC 7296 section 3.3.2). ID is
// a number in the registry of Type; see TransformIDString.
type Transform struct {
	Type       TransformType
	ID         uint16
	Attributes []Attribute
}

// Attribute types (RFC 7296 section 3.3.5).
const (
	// AttrKeyLength is the Key Length attribute (bits), a TV attribute.
	AttrKeyLength uint16 = 14
)

// Attribute is a transform attribute (RFC 7296 section 3.3.5). TV
// attributes (AF bit set) carry a 16-bit Value; TLV attributes carry Data.
type Attribute struct {
	Type  uint16 // without the AF bit
	TV    bool
	Value uint16
	Data  []byte
}

// KeyLength returns the Key Length attribute and whether it is present.
func (t *Transform) KeyLength() (uint16, bool) {
	for _, a := range t.Attributes {
		if a.Type == AttrKeyLength && a.TV {
			return a.Value, true
		}
	}
	return 0, false
}

// KE is the Key Exchange payload (RFC 7296 section 3.4).
type KE struct {
	Group KEID
	Data  []byte
}

// ID is the Identification payload (RFC 7296 section 3.5): IDi, or IDr
// when Responder is set.
type ID struct {
	Responder bool
	Type      IDType
	Data      []byte
}

// Cert is the Certificate payload (RFC 7296 section 3.6).
type Cert struct {
	Encoding CertEncoding
	Data     []byte
}

// CertReq is the Certificate Request payload (RFC 7296 section 3.7); for
// X.509 the data is a list of 20-byte SHA-1 hashes of trusted CA keys.
type CertReq struct {
	Encoding CertEncoding
	Data     []byte
}

// Auth is the Authentication payload (RFC 7296 section 3.8).
type Auth struct {
	Method AuthMethod
	Data   []byte
}

// Nonce is the Nonce payload (RFC 7296 section 3.9). Its length (16..256
// bytes) is checked by the engine, not here.
type Nonce struct {
	Data []byte
}

// Notify is the Notify payload (RFC 7296 section 3.10).
type Notify struct {
	Protocol ProtocolID
	SPI      []byte
	Type     NotifyType
	Data     []byte
}

// Delete is the Delete payload (RFC 7296 section 3.11). SPIs holds NumSPIs
// SPIs of SPISize bytes each, concatenated (no allocation when parsing).
type Delete struct {
	Protocol ProtocolID
	SPISize  uint8
	NumSPIs  uint16
	SPIs     []byte
}

// SPI returns the i-th SPI.
func (d *Delete) SPI(i int) []byte {
	n := int(d.SPISize)
	return d.SPIs[i*n : (i+1)*n]
}

// VendorID is the Vendor ID payload (RFC 7296 section 3.12).
type VendorID struct {
	Data []byte
}

// TS is the Traffic Selector payload (RFC 7296 section 3.13): TSi, or TSr
// when Responder is set.
type TS struct {
	Responder bool
	Selectors []TrafficSelector
}

// TrafficSelector is one selector (RFC 7296 section 3.13.1). For the
// IPv4/IPv6 range types the port and address fields are set; any other type
// keeps the bytes after the selector's 4-byte header in Data.
type TrafficSelector struct {
	Type       TSType
	IPProtocol uint8
	StartPort  uint16
	EndPort    uint16
	StartAddr  netip.Addr
	EndAddr    netip.Addr
	Data       []byte
}

// CP is the Configuration payload (RFC 7296 section 3.15).
type CP struct {
	Type       CPType
	Attributes []CPAttribute
}

// CPAttribute is one configuration attribute (RFC 7296 section 3.15.1).
type CPAttribute struct {
	Type  CPAttrType
	Value []byte
}

// EAP is the EAP payload (RFC 7296 section 3.16); the EAP message is
// opaque to the codec.
type EAP struct {
	Data []byte
}

// Unknown is a payload of a type the codec does not decode.
type Unknown struct {
	Type     PayloadType
	Critical bool
	Body     []byte
}

// PayloadType implementations.

// PayloadType returns PayloadSA.
func (*SA) PayloadType() PayloadType { return PayloadSA }

// PayloadType returns PayloadKE.
func (*KE) PayloadType() PayloadType { return PayloadKE }

// PayloadType returns PayloadIDi or PayloadIDr.
func (p *ID) PayloadType() PayloadType {
	if p.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// PayloadType returns PayloadCERT.
func (*Cert) PayloadType() PayloadType { return PayloadCERT }

// PayloadType returns PayloadCERTREQ.
func (*CertReq) PayloadType() PayloadType { return PayloadCERTREQ }

// PayloadType returns PayloadAUTH.
func (*Auth) PayloadType() PayloadType { return PayloadAUTH }

// PayloadType returns PayloadNonce.
func (*Nonce) PayloadType() PayloadType { return PayloadNonce }

// PayloadType returns PayloadNotify.
func (*Notify) PayloadType() PayloadType { return PayloadNotify }

// PayloadType returns PayloadDelete.
func (*Delete) PayloadType() PayloadType { return PayloadDelete }

// PayloadType returns PayloadVendorID.
func (*VendorID) PayloadType() PayloadType { return PayloadVendorID }

// PayloadType returns PayloadTSi or PayloadTSr.
func (p *TS) PayloadType() PayloadType {
	if p.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// PayloadType returns PayloadCP.
func (*CP) PayloadType() PayloadType { return PayloadCP }

// PayloadType returns PayloadEAP.
func (*EAP) PayloadType() PayloadType { return PayloadEAP }

// PayloadType returns the stored type.
func (p *Unknown) PayloadType() PayloadType { return p.Type }

func (*SA) isPayload()       {}
func (*KE) isPayload()       {}
func (*ID) isPayload()       {}
func (*Cert) isPayload()     {}
func (*CertReq) isPayload()  {}
func (*Auth) isPayload()     {}
func (*Nonce) isPayload()    {}
func (*Notify) isPayload()   {}
func (*Delete) isPayload()   {}
func (*VendorID) isPayload() {}
func (*TS) isPayload()       {}
func (*CP) isPayload()       {}
func (*EAP) isPayload()      {}
func (*Unknown) isPayload()  {}
func (*SK) isPayload()       {}
func (*SKF) isPayload()      {}
