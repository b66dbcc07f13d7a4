package eap

import (
	"encoding/binary"
	"fmt"
)

// Code is the EAP packet code (RFC 3748 section 4).
type Code uint8

// EAP codes.
const (
	CodeRequest  Code = 1
	CodeResponse Code = 2
	CodeSuccess  Code = 3
	CodeFailure  Code = 4
)

// String returns the RFC 3748 name of c.
func (c Code) String() string {
	switch c {
	case CodeRequest:
		return "Request"
	case CodeResponse:
		return "Response"
	case CodeSuccess:
		return "Success"
	case CodeFailure:
		return "Failure"
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Type is an EAP method type (IANA "Method Types" registry).
type Type uint8

// Method types this package knows. Expanded (254) and experimental (255)
// types are parsed but never negotiated.
const (
	TypeIdentity     Type = 1  // RFC 3748 section 5.1
	TypeNotification Type = 2  // RFC 3748 section 5.2
	TypeNAK          Type = 3  // RFC 3748 section 5.3.1, legacy NAK
	TypeMD5Challenge Type = 4  // RFC 3748 section 5.4
	TypeGTC          Type = 6  // RFC 3748 section 5.6
	TypeTLS          Type = 13 // RFC 5216, RFC 9190
	TypeMSCHAPv2     Type = 26 // draft-kamath-pppext-eap-mschapv2
	TypeExpanded     Type = 254
)

// String returns the strongSwan-style method name (eap-mschapv2 is
// "MSCHAPV2").
func (t Type) String() string {
	switch t {
	case TypeIdentity:
		return "ID"
	case TypeNotification:
		return "NTF"
	case TypeNAK:
		return "NAK"
	case TypeMD5Challenge:
		return "MD5"
	case TypeGTC:
		return "GTC"
	case TypeTLS:
		return "TLS"
	case TypeMSCHAPv2:
		return "MSCHAPV2"
	case TypeExpanded:
		return "EXPANDED"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// DerivesMSK reports whether the method authenticates both sides and
// exports an MSK. RFC 5998 section 4 allows EAP-only IKEv2
// authentication only with such methods; for the others IKE signs AUTH
// with SK_pi/SK_pr and still needs the server's certificate.
func (t Type) DerivesMSK() bool { return t == TypeMSCHAPv2 || t == TypeTLS }

// headerLen is Code, Identifier and Length (RFC 3748 section 4).
const headerLen = 4

// MaxPacketLen is the largest EAP packet the 16-bit Length field can
// describe (RFC 3748 section 4).
const MaxPacketLen = 65535

// Packet is one EAP packet. Data aliases the parsed buffer; it holds the
// Type-Data after the Type octet for requests and responses and is empty
// for Success and Failure.
type Packet struct {
	// Code is Request, Response, Success or Failure.
	Code Code
	// Identifier matches a response to its request.
	Identifier uint8
	Type       Type // Request and Response only
	// Data is the Type-Data (see the type comment).
	Data []byte
}

// String summarises the packet the way strongSwan logs EAP payloads
// ("EAP/REQ/MSCHAPV2 id=3 len=33"). It never prints Data, which may carry
// a password (GTC) or a response derived from one.
func (p Packet) String() string {
	switch p.Code {
	case CodeRequest:
		return fmt.Sprintf("EAP/REQ/%s id=%d len=%d", p.Type, p.Identifier, len(p.Data))
	case CodeResponse:
		return fmt.Sprintf("EAP/RES/%s id=%d len=%d", p.Type, p.Identifier, len(p.Data))
	case CodeSuccess:
		return fmt.Sprintf("EAP/SUCC id=%d", p.Identifier)
	case CodeFailure:
		return fmt.Sprintf("EAP/FAIL id=%d", p.Identifier)
	}
	return fmt.Sprintf("EAP/%s id=%d", p.Code, p.Identifier)
}

// GoString is String, so %#v does not dump Data either.
func (p Packet) GoString() string { return p.String() }

// Parse decodes one EAP packet. Octets beyond the Length field are link
// padding and ignored (RFC 3748 section 4). Data aliases b.
func Parse(b []byte) (*Packet, error) {
	if len(b) < headerLen {
		return nil, &ParseError{Offset: 0, Reason: fmt.Sprintf("packet of %d octets is shorter than the header", len(b))}
	}
	p := &Packet{Code: Code(b[0]), Identifier: b[1]}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen {
		return nil, &ParseError{Offset: 2, Reason: fmt.Sprintf("length %d is shorter than the header", n)}
	}
	if n > len(b) {
		return nil, &ParseError{Offset: 2, Reason: fmt.Sprintf("length %d exceeds the %d octets received", n, len(b))}
	}
	switch p.Code {
	case CodeRequest, CodeResponse:
		if n < headerLen+1 {
			return nil, &ParseError{Offset: 2, Reason: "request or response without a type"}
		}
		p.Type = Type(b[4])
		p.Data = b[headerLen+1 : n : n]
	case CodeSuccess, CodeFailure:
		// RFC 3748 section 4.2: Success and Failure carry no data.
		if n != headerLen {
			return nil, &ParseError{Offset: 2, Reason: fmt.Sprintf("%s with length %d, want 4", p.Code, n)}
		}
	default:
		return nil, &ParseError{Offset: 0, Reason: fmt.Sprintf("unknown code %d", b[0])}
	}
	return p, nil
}

// Append encodes p onto b. It fails only if the packet would exceed
// MaxPacketLen.
func (p *Packet) Append(b []byte) ([]byte, error) {
	n := headerLen
	if p.Code == CodeRequest || p.Code == CodeResponse {
		n += 1 + len(p.Data)
	}
	if n > MaxPacketLen {
		return b, fmt.Errorf("eap: %s: packet of %d octets exceeds %d", p, n, MaxPacketLen)
	}
	b = append(b, byte(p.Code), p.Identifier)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	if p.Code == CodeRequest || p.Code == CodeResponse {
		b = append(b, byte(p.Type))
		b = append(b, p.Data...)
	}
	return b, nil
}

// Marshal returns the encoded packet.
func (p *Packet) Marshal() ([]byte, error) { return p.Append(make([]byte, 0, headerLen+1+len(p.Data))) }
