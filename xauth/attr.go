package xauth

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// CfgType is the type of an Attributes payload (draft-dukes-ike-mode-cfg-02
// section 3.2).
type CfgType uint8

// Attributes payload types.
const (
	CfgRequest CfgType = 1 // ISAKMP_CFG_REQUEST
	CfgReply   CfgType = 2 // ISAKMP_CFG_REPLY
	CfgSet     CfgType = 3 // ISAKMP_CFG_SET
	CfgAck     CfgType = 4 // ISAKMP_CFG_ACK
)

// String returns the draft's name ("CFG_REQUEST").
func (t CfgType) String() string {
	switch t {
	case CfgRequest:
		return "CFG_REQUEST"
	case CfgReply:
		return "CFG_REPLY"
	case CfgSet:
		return "CFG_SET"
	case CfgAck:
		return "CFG_ACK"
	}
	return "CFG(" + strconv.Itoa(int(t)) + ")"
}

// Attribute types: Mode Config (draft-dukes-ike-mode-cfg-02 section 3.2),
// XAuth (draft-beaulieu-ike-xauth-02 section 6) and the Cisco Unity
// extensions, numbered as strongSwan's configuration_attribute.h and
// racoon's isakmp_cfg.h number them.
const (
	InternalIP4Address    uint16 = 1  // INTERNAL_IP4_ADDRESS, 4 octets
	InternalIP4Netmask    uint16 = 2  // INTERNAL_IP4_NETMASK, 4 octets
	InternalIP4DNS        uint16 = 3  // INTERNAL_IP4_DNS, 4 octets each
	InternalIP4NBNS       uint16 = 4  // INTERNAL_IP4_NBNS, 4 octets each
	InternalAddressExpiry uint16 = 5  // INTERNAL_ADDRESS_EXPIRY, 4 octets of seconds
	InternalIP4DHCP       uint16 = 6  // INTERNAL_IP4_DHCP
	ApplicationVersion    uint16 = 7  // APPLICATION_VERSION, text
	InternalIP6Address    uint16 = 8  // INTERNAL_IP6_ADDRESS, 16 octets (17 from old strongSwan)
	InternalIP6Netmask    uint16 = 9  // INTERNAL_IP6_NETMASK, 16 octets
	InternalIP6DNS        uint16 = 10 // INTERNAL_IP6_DNS, 16 octets each
	InternalIP6NBNS       uint16 = 11 // INTERNAL_IP6_NBNS, 16 octets each
	InternalIP6DHCP       uint16 = 12 // INTERNAL_IP6_DHCP
	InternalIP4Subnet     uint16 = 13 // INTERNAL_IP4_SUBNET, 8 octets
	SupportedAttributes   uint16 = 14 // SUPPORTED_ATTRIBUTES
	InternalIP6Subnet     uint16 = 15 // INTERNAL_IP6_SUBNET

	XAuthType         uint16 = 16520 // XAUTH_TYPE, basic (TV)
	XAuthUserName     uint16 = 16521 // XAUTH_USER_NAME
	XAuthUserPassword uint16 = 16522 // XAUTH_USER_PASSWORD
	XAuthPasscode     uint16 = 16523 // XAUTH_PASSCODE (token code)
	XAuthMessage      uint16 = 16524 // XAUTH_MESSAGE, text shown to the user
	XAuthChallenge    uint16 = 16525 // XAUTH_CHALLENGE (CHAP, OTP)
	XAuthDomain       uint16 = 16526 // XAUTH_DOMAIN
	XAuthStatus       uint16 = 16527 // XAUTH_STATUS, basic: 1 OK, 0 FAIL
	XAuthNextPIN      uint16 = 16528 // XAUTH_NEXT_PIN (SecurID new PIN)
	XAuthAnswer       uint16 = 16529 // XAUTH_ANSWER (answer to a prompt)

	UnityBanner        uint16 = 28672 // UNITY_BANNER, text
	UnitySavePasswd    uint16 = 28673 // UNITY_SAVE_PASSWD, basic 0/1
	UnityDefDomain     uint16 = 28674 // UNITY_DEF_DOMAIN, text
	UnitySplitDNSName  uint16 = 28675 // UNITY_SPLITDNS_NAME, comma-separated names
	UnitySplitInclude  uint16 = 28676 // UNITY_SPLIT_INCLUDE, 14-octet entries
	UnityNATTPort      uint16 = 28677 // UNITY_NATT_PORT
	UnityLocalLAN      uint16 = 28678 // UNITY_LOCAL_LAN, 14-octet entries
	UnityPFS           uint16 = 28679 // UNITY_PFS, basic 0/1
	UnityFWType        uint16 = 28680 // UNITY_FW_TYPE
	UnityBackupServers uint16 = 28681 // UNITY_BACKUP_SERVERS, comma-separated hosts
	UnityDDNSHostname  uint16 = 28682 // UNITY_DDNS_HOSTNAME
)

// XAuth types carried by XAUTH_TYPE (draft-beaulieu-ike-xauth-02 section
// 6.2). Only TypeGeneric (user name and password) is implemented.
const (
	TypeGeneric    uint16 = 0 // user name and password (and token prompts)
	TypeRADIUSCHAP uint16 = 1 // RADIUS-CHAP
	TypeOTP        uint16 = 2 // one-time password (RFC 2289)
	TypeSKey       uint16 = 3 // S/KEY (RFC 1760)
)

// XAUTH_STATUS values.
const (
	StatusFail uint16 = 0 // XAUTH_STATUS FAIL
	StatusOK   uint16 = 1 // XAUTH_STATUS OK
)

// Attribute is one data attribute of an Attributes payload (RFC 2408
// section 3.3). A basic (TV, AF bit set) attribute carries a 16-bit value
// in the first two octets of Value (big-endian); a variable (TLV) one
// carries Value as it is, possibly empty (a request for the attribute).
type Attribute struct {
	// Type is the attribute type without the AF bit.
	Type uint16
	// Value is the value: two octets for a TV attribute.
	Value []byte
	// TV marks a basic attribute (AF bit set).
	TV bool
}

// Short returns a basic (TV) attribute of type t with value v.
func Short(t, v uint16) Attribute {
	return Attribute{Type: t, Value: binary.BigEndian.AppendUint16(nil, v), TV: true}
}

// Long returns a variable (TLV) attribute of type t carrying v (copied).
func Long(t uint16, v []byte) Attribute {
	return Attribute{Type: t, Value: append([]byte{}, v...)}
}

// Uint16 returns the value of a TV attribute, or of a TLV attribute of
// exactly two octets (some gateways send the Unity flags that way); ok is
// false otherwise.
func (a Attribute) Uint16() (v uint16, ok bool) {
	if len(a.Value) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(a.Value), true
}

// String names the attribute and its length, never its value: a value may
// be a password.
func (a Attribute) String() string {
	if a.TV {
		return AttrName(a.Type) + "(TV)"
	}
	return AttrName(a.Type) + "(" + strconv.Itoa(len(a.Value)) + ")"
}

// GoString is String, so %#v cannot print a password either.
func (a Attribute) GoString() string { return a.String() }

// Format prints String for every verb.
func (a Attribute) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

var attrNames = map[uint16]string{
	1: "INTERNAL_IP4_ADDRESS", 2: "INTERNAL_IP4_NETMASK", 3: "INTERNAL_IP4_DNS",
	4: "INTERNAL_IP4_NBNS", 5: "INTERNAL_ADDRESS_EXPIRY", 6: "INTERNAL_IP4_DHCP",
	7: "APPLICATION_VERSION", 8: "INTERNAL_IP6_ADDRESS", 9: "INTERNAL_IP6_NETMASK",
	10: "INTERNAL_IP6_DNS", 11: "INTERNAL_IP6_NBNS", 12: "INTERNAL_IP6_DHCP",
	13: "INTERNAL_IP4_SUBNET", 14: "SUPPORTED_ATTRIBUTES", 15: "INTERNAL_IP6_SUBNET",
	16520: "XAUTH_TYPE", 16521: "XAUTH_USER_NAME", 16522: "XAUTH_USER_PASSWORD",
	16523: "XAUTH_PASSCODE", 16524: "XAUTH_MESSAGE", 16525: "XAUTH_CHALLENGE",
	16526: "XAUTH_DOMAIN", 16527: "XAUTH_STATUS", 16528: "XAUTH_NEXT_PIN",
	16529: "XAUTH_ANSWER",
	28672: "UNITY_BANNER", 28673: "UNITY_SAVE_PASSWD", 28674: "UNITY_DEF_DOMAIN",
	28675: "UNITY_SPLITDNS_NAME", 28676: "UNITY_SPLIT_INCLUDE", 28677: "UNITY_NATT_PORT",
	28678: "UNITY_LOCAL_LAN", 28679: "UNITY_PFS", 28680: "UNITY_FW_TYPE",
	28681: "UNITY_BACKUP_SERVERS", 28682: "UNITY_DDNS_HOSTNAME",
}

// AttrName returns the name of attribute type t ("XAUTH_USER_NAME"), or
// its number.
func AttrName(t uint16) string {
	if n, ok := attrNames[t]; ok {
		return n
	}
	return "ATTR(" + strconv.Itoa(int(t)) + ")"
}

// Message is the content of one Attributes payload: its type, identifier
// and attributes. The IKEv1 engine converts between it and its codec's
// payload, or moves the payload body through Parse and Append.
type Message struct {
	// Type is the payload's CFG type.
	Type CfgType
	// Identifier pairs a REPLY with its REQUEST and an ACK with its SET.
	Identifier uint16
	// Attrs are the attributes in wire order.
	Attrs []Attribute
}

// Get returns the first attribute of type t.
func (m *Message) Get(t uint16) (Attribute, bool) {
	for _, a := range m.Attrs {
		if a.Type == t {
			return a, true
		}
	}
	return Attribute{}, false
}

// Has reports whether m carries an attribute of type t.
func (m *Message) Has(t uint16) bool {
	_, ok := m.Get(t)
	return ok
}

// String summarises m without attribute values:
// "CFG_REPLY id=7 [ XAUTH_USER_NAME(5) XAUTH_USER_PASSWORD(8) ]".
func (m *Message) String() string {
	if m == nil {
		return "<nil>"
	}
	s := m.Type.String() + " id=" + strconv.Itoa(int(m.Identifier)) + " ["
	for _, a := range m.Attrs {
		s += " " + a.String()
	}
	return s + " ]"
}

// GoString is String.
func (m *Message) GoString() string { return m.String() }

// MaxAttributes bounds the attributes Parse accepts in one payload. Real
// requests carry about a dozen; the bound keeps a hostile payload of
// empty attributes (16 K of them fit in 64 KiB) from costing memory.
const MaxAttributes = 256

// Parse decodes the body of an Attributes payload (after the generic
// payload header): type, reserved octet, identifier, attributes. Values
// alias b. It never panics; errors are *ParseError.
func Parse(b []byte) (*Message, error) {
	if len(b) < 4 {
		return nil, &ParseError{Offset: 0, Reason: "payload body of " + strconv.Itoa(len(b)) + " octets, want at least 4"}
	}
	m := &Message{Type: CfgType(b[0]), Identifier: binary.BigEndian.Uint16(b[2:4])}
	if m.Type < CfgRequest || m.Type > CfgAck {
		return nil, &ParseError{Offset: 0, Reason: "unknown CFG type " + strconv.Itoa(int(b[0]))}
	}
	attrs, err := ParseAttributes(b[4:])
	if err != nil {
		pe := err.(*ParseError)
		pe.Offset += 4
		return nil, pe
	}
	m.Attrs = attrs
	return m, nil
}

// ParseAttributes decodes a list of data attributes that fills b exactly.
// Values alias b.
func ParseAttributes(b []byte) ([]Attribute, error) {
	var out []Attribute
	off := 0
	for off < len(b) {
		if len(b)-off < 4 {
			return nil, &ParseError{Offset: off, Reason: strconv.Itoa(len(b)-off) + " trailing octets, an attribute needs 4"}
		}
		if len(out) == MaxAttributes {
			return nil, &ParseError{Offset: off, Reason: "more than " + strconv.Itoa(MaxAttributes) + " attributes"}
		}
		t := binary.BigEndian.Uint16(b[off:])
		v := b[off+2 : off+4]
		if t&0x8000 != 0 {
			out = append(out, Attribute{Type: t & 0x7fff, Value: v[:2:2], TV: true})
			off += 4
			continue
		}
		n := int(binary.BigEndian.Uint16(v))
		if len(b)-off-4 < n {
			return nil, &ParseError{Offset: off, Reason: AttrName(t) + " length " + strconv.Itoa(n) + " exceeds the payload"}
		}
		out = append(out, Attribute{Type: t, Value: b[off+4 : off+4+n : off+4+n]})
		off += 4 + n
	}
	return out, nil
}

// Append appends the body of m's Attributes payload (what Parse reads) to
// dst. It fails for a type above 15 bits, a TV value that is not two
// octets or a TLV value longer than 65535 octets.
func Append(dst []byte, m *Message) ([]byte, error) {
	dst = append(dst, byte(m.Type), 0)
	dst = binary.BigEndian.AppendUint16(dst, m.Identifier)
	return AppendAttributes(dst, m.Attrs)
}

// AppendAttributes appends the encoding of attrs to dst.
func AppendAttributes(dst []byte, attrs []Attribute) ([]byte, error) {
	for _, a := range attrs {
		if a.Type > 0x7fff {
			return nil, fmt.Errorf("xauth: attribute type %d exceeds 15 bits", a.Type)
		}
		if a.TV {
			if len(a.Value) != 2 {
				return nil, fmt.Errorf("xauth: basic attribute %s has %d octets, want 2", AttrName(a.Type), len(a.Value))
			}
			dst = binary.BigEndian.AppendUint16(dst, a.Type|0x8000)
			dst = append(dst, a.Value...)
			continue
		}
		if len(a.Value) > 0xffff {
			return nil, fmt.Errorf("xauth: attribute %s longer than 65535 octets", AttrName(a.Type))
		}
		dst = binary.BigEndian.AppendUint16(dst, a.Type)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst, nil
}
