package radius

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Code is a RADIUS packet type (RFC 2865 section 3, RFC 2866, RFC 5176).
type Code uint8

// Packet codes.
const (
	CodeAccessRequest      Code = 1
	CodeAccessAccept       Code = 2
	CodeAccessReject       Code = 3
	CodeAccountingRequest  Code = 4
	CodeAccountingResponse Code = 5
	CodeAccessChallenge    Code = 11
	CodeStatusServer       Code = 12
	CodeDisconnectRequest  Code = 40
	CodeDisconnectACK      Code = 41
	CodeDisconnectNAK      Code = 42
	CodeCoARequest         Code = 43
	CodeCoAACK             Code = 44
	CodeCoANAK             Code = 45
)

var codeNames = map[Code]string{
	CodeAccessRequest: "Access-Request", CodeAccessAccept: "Access-Accept",
	CodeAccessReject: "Access-Reject", CodeAccountingRequest: "Accounting-Request",
	CodeAccountingResponse: "Accounting-Response", CodeAccessChallenge: "Access-Challenge",
	CodeStatusServer: "Status-Server", CodeDisconnectRequest: "Disconnect-Request",
	CodeDisconnectACK: "Disconnect-ACK", CodeDisconnectNAK: "Disconnect-NAK",
	CodeCoARequest: "CoA-Request", CodeCoAACK: "CoA-ACK", CodeCoANAK: "CoA-NAK",
}

// String returns the IANA name ("Access-Request").
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// isRequest reports whether c is sent by a client and answered.
func (c Code) isRequest() bool {
	switch c {
	case CodeAccessRequest, CodeAccountingRequest, CodeStatusServer, CodeDisconnectRequest, CodeCoARequest:
		return true
	}
	return false
}

// answers reports whether a packet of code r may answer a request of code c.
func (c Code) answers(r Code) bool {
	switch c {
	case CodeAccessRequest:
		return r == CodeAccessAccept || r == CodeAccessReject || r == CodeAccessChallenge
	case CodeStatusServer:
		return r == CodeAccessAccept || r == CodeAccountingResponse
	case CodeAccountingRequest:
		return r == CodeAccountingResponse
	case CodeDisconnectRequest:
		return r == CodeDisconnectACK || r == CodeDisconnectNAK
	case CodeCoARequest:
		return r == CodeCoAACK || r == CodeCoANAK
	}
	return false
}

// Limits of RFC 2865 section 3.
const (
	// HeaderLen is the fixed header: Code, Identifier, Length,
	// Authenticator.
	HeaderLen = 20
	// MaxPacketLen is the largest packet RFC 2865 section 3 allows.
	MaxPacketLen = 4096
	// MaxAttrValueLen is the largest attribute value (Length is one
	// octet and counts the two header octets).
	MaxAttrValueLen = 253
)

// Attribute is one attribute. Value aliases the parsed buffer; encrypted
// attributes (User-Password, Tunnel-Password, MS-MPPE keys) stay
// encrypted here, see HidePassword and DecryptSalted.
type Attribute struct {
	// Type is the attribute type.
	Type Type
	// Value is the attribute's value, at most MaxAttrValueLen octets.
	Value []byte
}

// Packet is a decoded RADIUS packet.
type Packet struct {
	// Code is the packet type.
	Code Code
	// Identifier matches requests and responses (RFC 2865 section 3).
	Identifier uint8
	// Authenticator is the Request or Response Authenticator.
	Authenticator [16]byte
	// Attributes in wire order.
	Attributes []Attribute
	// Raw is the packet as parsed (up to its Length field); nil for a
	// packet built locally. Verification works on Raw.
	Raw []byte
}

// String summarises p: code, identifier, attribute types. It prints no
// attribute value, so no password or key can leak through it.
func (p *Packet) String() string {
	s := fmt.Sprintf("%s id=%d [", p.Code, p.Identifier)
	for i, a := range p.Attributes {
		if i > 0 {
			s += " "
		}
		s += a.Type.String()
	}
	return s + "]"
}

// Parse decodes one RADIUS packet, checking the header and the attribute
// chain (RFC 2865 sections 3 and 5); octets after the Length field are
// padding and ignored (section 3). It verifies no authenticator: see
// VerifyRequest and VerifyResponse. Attribute values alias b. Every
// error is a *ParseError.
func Parse(b []byte) (*Packet, error) {
	if len(b) < HeaderLen {
		return nil, &ParseError{Offset: len(b), Reason: fmt.Sprintf("%d octets, shorter than the %d-octet header", len(b), HeaderLen)}
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > MaxPacketLen {
		return nil, &ParseError{Offset: 2, Reason: fmt.Sprintf("Length %d outside [%d, %d]", n, HeaderLen, MaxPacketLen)}
	}
	if n > len(b) {
		return nil, &ParseError{Offset: 2, Reason: fmt.Sprintf("Length %d exceeds the %d octets received", n, len(b))}
	}
	b = b[:n]
	p := &Packet{Code: Code(b[0]), Identifier: b[1], Raw: b}
	copy(p.Authenticator[:], b[4:20])
	cnt := 0
	for off := HeaderLen; off < n; {
		if n-off < 2 {
			return nil, &ParseError{Offset: off, Reason: "truncated attribute header"}
		}
		l := int(b[off+1])
		if l < 2 {
			return nil, &ParseError{Offset: off + 1, Reason: fmt.Sprintf("attribute %s Length %d below 2", Type(b[off]), l)}
		}
		if off+l > n {
			return nil, &ParseError{Offset: off + 1, Reason: fmt.Sprintf("attribute %s Length %d overruns the packet", Type(b[off]), l)}
		}
		cnt++
		off += l
	}
	p.Attributes = make([]Attribute, 0, cnt)
	for off := HeaderLen; off < n; {
		l := int(b[off+1])
		p.Attributes = append(p.Attributes, Attribute{Type: Type(b[off]), Value: b[off+2 : off+l : off+l]})
		off += l
	}
	if err := p.checkLengths(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkLengths enforces the fixed lengths of the attributes the package
// interprets, so that accessors never see a short value.
func (p *Packet) checkLengths() error {
	off := HeaderLen
	for _, a := range p.Attributes {
		if want, ok := fixedLen[a.Type]; ok && len(a.Value) != want {
			return &ParseError{Offset: off, Reason: fmt.Sprintf("attribute %s of %d octets, want %d", a.Type, len(a.Value), want)}
		}
		off += 2 + len(a.Value)
	}
	return nil
}

// Get returns the value of the first attribute of type t.
func (p *Packet) Get(t Type) ([]byte, bool) {
	for _, a := range p.Attributes {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// GetAll returns the values of every attribute of type t, in order.
func (p *Packet) GetAll(t Type) [][]byte {
	var out [][]byte
	for _, a := range p.Attributes {
		if a.Type == t {
			out = append(out, a.Value)
		}
	}
	return out
}

// Uint32 returns the first attribute of type t as an integer (RFC 2865
// section 5: 4 octets, network order).
func (p *Packet) Uint32(t Type) (uint32, bool) {
	v, ok := p.Get(t)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// Vendor returns the value of the first vendor-specific sub-attribute
// (RFC 2865 section 5.26, the format vendors "SHOULD" use) of vendor and
// type vt. Vendor-Specific attributes that do not follow that format are
// skipped.
func (p *Packet) Vendor(vendor uint32, vt uint8) ([]byte, bool) {
	for _, a := range p.Attributes {
		if a.Type != TypeVendorSpecific {
			continue
		}
		for _, s := range vendorSubs(a.Value, vendor) {
			if s.Type == Type(vt) {
				return s.Value, true
			}
		}
	}
	return nil, false
}

// VendorAttributes splits a Vendor-Specific value of vendor into its
// sub-attributes; it returns nil when the value belongs to another
// vendor or is not in the RFC 2865 section 5.26 format.
func VendorAttributes(value []byte, vendor uint32) []Attribute { return vendorSubs(value, vendor) }

func vendorSubs(v []byte, vendor uint32) []Attribute {
	if len(v) < 4 || binary.BigEndian.Uint32(v) != vendor {
		return nil
	}
	var out []Attribute
	for off := 4; off < len(v); {
		if len(v)-off < 2 {
			return nil
		}
		l := int(v[off+1])
		if l < 2 || off+l > len(v) {
			return nil
		}
		out = append(out, Attribute{Type: Type(v[off]), Value: v[off+2 : off+l : off+l]})
		off += l
	}
	return out
}

// Add appends an attribute.
func (p *Packet) Add(t Type, v []byte) {
	p.Attributes = append(p.Attributes, Attribute{Type: t, Value: v})
}

// AddString appends a text or string attribute.
func (p *Packet) AddString(t Type, s string) { p.Add(t, []byte(s)) }

// AddUint32 appends an integer attribute.
func (p *Packet) AddUint32(t Type, v uint32) { p.Add(t, binary.BigEndian.AppendUint32(nil, v)) }

// AddVendor appends a Vendor-Specific attribute holding one sub-attribute.
func (p *Packet) AddVendor(vendor uint32, vt uint8, v []byte) {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 6+len(v)), vendor)
	b = append(b, vt, byte(2+len(v)))
	p.Add(TypeVendorSpecific, append(b, v...))
}

// Del removes every attribute of type t.
func (p *Packet) Del(t Type) {
	p.Attributes = slices.DeleteFunc(p.Attributes, func(a Attribute) bool { return a.Type == t })
}

// appendRaw encodes p with its Authenticator field as given. A
// Message-Authenticator attribute is written as 16 zero octets.
func (p *Packet) appendRaw(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, byte(p.Code), p.Identifier, 0, 0)
	b = append(b, p.Authenticator[:]...)
	for _, a := range p.Attributes {
		v := a.Value
		if a.Type == TypeMessageAuthenticator {
			v = zero16[:]
		}
		if len(v) > MaxAttrValueLen {
			return nil, fmt.Errorf("radius: attribute %s of %d octets exceeds %d", a.Type, len(v), MaxAttrValueLen)
		}
		if want, ok := fixedLen[a.Type]; ok && len(v) != want {
			return nil, fmt.Errorf("radius: attribute %s of %d octets, want %d", a.Type, len(v), want)
		}
		b = append(b, byte(a.Type), byte(2+len(v)))
		b = append(b, v...)
	}
	n := len(b) - start
	if n > MaxPacketLen {
		return nil, fmt.Errorf("radius: %s of %d octets exceeds %d: %w", p.Code, n, MaxPacketLen, ErrTooLarge)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

var zero16 [16]byte

// SplitEAP returns the EAP packet as EAP-Message attributes of at most
// 253 octets each (RFC 3579 section 3.1).
func SplitEAP(eapPacket []byte) []Attribute {
	var out []Attribute
	for len(eapPacket) > 0 {
		n := min(len(eapPacket), MaxAttrValueLen)
		out = append(out, Attribute{Type: TypeEAPMessage, Value: eapPacket[:n:n]})
		eapPacket = eapPacket[n:]
	}
	return out
}

// JoinEAP concatenates the packet's EAP-Message attributes (RFC 3579
// section 3.1) and checks that they hold exactly one EAP packet: the
// EAP Length field must equal the joined length. It returns nil, nil
// when there is no EAP-Message.
func JoinEAP(p *Packet) ([]byte, error) {
	var out []byte
	for _, a := range p.Attributes {
		if a.Type == TypeEAPMessage {
			out = append(out, a.Value...)
		}
	}
	if out == nil {
		return nil, nil
	}
	if len(out) < 4 || int(binary.BigEndian.Uint16(out[2:4])) != len(out) {
		return nil, &ParseError{Offset: HeaderLen, Reason: fmt.Sprintf("EAP-Message attributes of %d octets do not hold one EAP packet", len(out))}
	}
	return out, nil
}
