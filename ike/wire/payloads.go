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
	// Proposals are the proposal substructures, numbered from 1.
	Proposals []Proposal
}

// Proposal is one proposal substructure (RFC 7296 section 3.3.1).
type Proposal struct {
	// Number is the proposal number; alternatives have different numbers.
	Number uint8
	// Protocol is the protocol negotiated: IKE, AH or ESP.
	Protocol ProtocolID
	// SPI is the sender's SPI: empty in an initial IKE_SA_INIT, 8 bytes
	// for an IKE rekey, 4 bytes for ESP and AH.
	SPI []byte
	// Transforms are the proposal's transforms.
	Transforms []Transform
}

// Transform is one transform substructure (RFC 7296 section 3.3.2). ID is
// a number in the registry of Type; see TransformIDString.
type Transform struct {
	// Type is the transform type (encryption, PRF, integrity, key exchange, ...).
	Type TransformType
	// ID is the transform ID within Type's registry.
	ID uint16
	// Attributes are the transform's attributes (Key Length).
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
	Type uint16 // without the AF bit
	// TV is true for the fixed-length form (AF bit set): Value is used.
	TV bool
	// Value is a TV attribute's value.
	Value uint16
	// Data is a TLV attribute's value.
	Data []byte
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
	// Group is the key exchange method of Data.
	Group KEID
	// Data is the public key exchange value.
	Data []byte
}

// ID is the Identification payload (RFC 7296 section 3.5): IDi, or IDr
// when Responder is set.
type ID struct {
	// Responder is true for IDr, false for IDi.
	Responder bool
	// Type is the identification type.
	Type IDType
	// Data is the identification data, interpreted according to Type.
	Data []byte
}

// Cert is the Certificate payload (RFC 7296 section 3.6).
type Cert struct {
	// Encoding is the certificate encoding (X.509 signature, ...).
	Encoding CertEncoding
	// Data is the certificate data (DER for X.509).
	Data []byte
}

// CertReq is the Certificate Request payload (RFC 7296 section 3.7); for
// X.509 the data is a list of 20-byte SHA-1 hashes of trusted CA keys.
type CertReq struct {
	// Encoding is the requested certificate encoding.
	Encoding CertEncoding
	// Data is the certification authority field.
	Data []byte
}

// Auth is the Authentication payload (RFC 7296 section 3.8).
type Auth struct {
	// Method is the authentication method.
	Method AuthMethod
	// Data is the authentication data (a MAC or a signature).
	Data []byte
}

// Nonce is the Nonce payload (RFC 7296 section 3.9). Its length (16..256
// bytes) is checked by the engine, not here.
type Nonce struct {
	// Data is the nonce.
	Data []byte
}

// Notify is the Notify payload (RFC 7296 section 3.10).
type Notify struct {
	// Protocol is the protocol of SPI (0 when no SPI is given).
	Protocol ProtocolID
	// SPI is the SA the notification is about, or empty.
	SPI []byte
	// Type is the notify message type.
	Type NotifyType
	// Data is the notification data, interpreted according to Type.
	Data []byte
}

// Delete is the Delete payload (RFC 7296 section 3.11). SPIs holds NumSPIs
// SPIs of SPISize bytes each, concatenated (no allocation when parsing).
type Delete struct {
	// Protocol is the protocol of the SAs deleted (IKE deletes the IKE SA).
	Protocol ProtocolID
	// SPISize is the size of each SPI: 0 for IKE, 4 for ESP and AH.
	SPISize uint8
	// NumSPIs is the number of SPIs in SPIs.
	NumSPIs uint16
	// SPIs are the SPIs, concatenated; use SPI(i).
	SPIs []byte
}

// SPI returns the i-th SPI.
func (d *Delete) SPI(i int) []byte {
	n := int(d.SPISize)
	return d.SPIs[i*n : (i+1)*n]
}

// VendorID is the Vendor ID payload (RFC 7296 section 3.12).
type VendorID struct {
	// Data is the vendor ID (often a hash of a vendor string).
	Data []byte
}

// TS is the Traffic Selector payload (RFC 7296 section 3.13): TSi, or TSr
// when Responder is set.
type TS struct {
	// Responder is true for TSr, false for TSi.
	Responder bool
	// Selectors are the traffic selectors, any of which may match.
	Selectors []TrafficSelector
}

// TrafficSelector is one selector (RFC 7296 section 3.13.1). For the
// IPv4/IPv6 range types the port and address fields are set; any other type
// keeps the bytes after the selector's 4-byte header in Data.
type TrafficSelector struct {
	// Type is the selector type (IPv4 or IPv6 address range, ...).
	Type TSType
	// IPProtocol is the IP protocol number, 0 for any.
	IPProtocol uint8
	// StartPort is the first port of the range.
	StartPort uint16
	// EndPort is the last port of the range.
	EndPort uint16
	// StartAddr is the first address of the range.
	StartAddr netip.Addr
	// EndAddr is the last address of the range.
	EndAddr netip.Addr
	// Data is the body of a selector of another type.
	Data []byte
}

// CP is the Configuration payload (RFC 7296 section 3.15).
type CP struct {
	// Type is the configuration message type (REQUEST, REPLY, SET, ACK).
	Type CPType
	// Attributes are the configuration attributes.
	Attributes []CPAttribute
}

// CPAttribute is one configuration attribute (RFC 7296 section 3.15.1).
type CPAttribute struct {
	// Type is the attribute type.
	Type CPAttrType
	// Value is the attribute value; empty in a request for any value.
	Value []byte
}

// EAP is the EAP payload (RFC 7296 section 3.16); the EAP message is
// opaque to the codec.
type EAP struct {
	// Data is the EAP message.
	Data []byte
}

// Unknown is a payload of a type the codec does not decode.
type Unknown struct {
	// Type is the payload type.
	Type PayloadType
	// Critical is the payload's critical bit.
	Critical bool
	// Body is the payload body after the generic payload header.
	Body []byte
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
