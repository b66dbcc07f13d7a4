package ipsec

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// IDType is the identification type shared by IKEv2 (RFC 7296 section 3.5)
// and the IPsec DOI of IKEv1 (RFC 2407 section 4.6.2.1). The numbers agree
// for every type both versions define.
type IDType uint8

// Identification types.
const (
	IDIPv4Addr      IDType = 1  // ID_IPV4_ADDR
	IDFQDN          IDType = 2  // ID_FQDN
	IDRFC822Addr    IDType = 3  // ID_RFC822_ADDR (user FQDN)
	IDIPv4AddrSub   IDType = 4  // ID_IPV4_ADDR_SUBNET (IKEv1 only)
	IDIPv6Addr      IDType = 5  // ID_IPV6_ADDR
	IDIPv6AddrSub   IDType = 6  // ID_IPV6_ADDR_SUBNET (IKEv1 only)
	IDIPv4AddrRange IDType = 7  // ID_IPV4_ADDR_RANGE (IKEv1 only)
	IDIPv6AddrRange IDType = 8  // ID_IPV6_ADDR_RANGE (IKEv1 only)
	IDDERASN1DN     IDType = 9  // ID_DER_ASN1_DN
	IDDERASN1GN     IDType = 10 // ID_DER_ASN1_GN
	IDKeyID         IDType = 11 // ID_KEY_ID
	IDFCName        IDType = 12 // ID_FC_NAME (RFC 4595)
	IDNull          IDType = 13 // ID_NULL (RFC 7619)
)

var idTypeNames = map[IDType]string{
	IDIPv4Addr: "ID_IPV4_ADDR", IDFQDN: "ID_FQDN", IDRFC822Addr: "ID_RFC822_ADDR",
	IDIPv4AddrSub: "ID_IPV4_ADDR_SUBNET", IDIPv6Addr: "ID_IPV6_ADDR",
	IDIPv6AddrSub: "ID_IPV6_ADDR_SUBNET", IDIPv4AddrRange: "ID_IPV4_ADDR_RANGE",
	IDIPv6AddrRange: "ID_IPV6_ADDR_RANGE", IDDERASN1DN: "ID_DER_ASN1_DN",
	IDDERASN1GN: "ID_DER_ASN1_GN", IDKeyID: "ID_KEY_ID", IDFCName: "ID_FC_NAME", IDNull: "ID_NULL",
}

// String returns the IANA name, or "ID(n)" for unassigned values.
func (t IDType) String() string {
	if s, ok := idTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ID(%d)", uint8(t))
}

// Identity is an IKE identity: a type and its payload bytes as carried in
// the IDi/IDr payloads. The zero value is "no identity" (Windows sends no
// IDr, for example).
type Identity struct {
	// Type is the identification type.
	Type IDType
	// Data is the identification data as carried in the payload.
	Data []byte
}

// ErrBadIdentity is returned (wrapped) when an identity string or payload
// cannot be interpreted.
var ErrBadIdentity = errors.New("ipsec: bad identity")

// FQDN returns an ID_FQDN identity.
func FQDN(name string) Identity { return Identity{Type: IDFQDN, Data: []byte(name)} }

// Email returns an ID_RFC822_ADDR identity.
func Email(addr string) Identity { return Identity{Type: IDRFC822Addr, Data: []byte(addr)} }

// KeyID returns an ID_KEY_ID identity (IKEv1 group names use it).
func KeyID(id []byte) Identity { return Identity{Type: IDKeyID, Data: append([]byte(nil), id...)} }

// AddrID returns an ID_IPV4_ADDR or ID_IPV6_ADDR identity for a.
func AddrID(a netip.Addr) Identity {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return Identity{Type: IDIPv4Addr, Data: b[:]}
	}
	b := a.As16()
	return Identity{Type: IDIPv6Addr, Data: b[:]}
}

// DN returns an ID_DER_ASN1_DN identity holding the DER encoding of name.
func DN(name pkix.Name) (Identity, error) {
	der, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadIdentity, err)
	}
	return Identity{Type: IDDERASN1DN, Data: der}, nil
}

// ParseIdentity interprets s the way strongSwan's configuration does: an IP
// address becomes ID_IPV4_ADDR/ID_IPV6_ADDR, "user@host" ID_RFC822_ADDR, a
// string with "=" (such as "CN=vpn, O=Example") a DER distinguished name,
// "@#hex" a KEY_ID, "@name" an FQDN taken literally, anything else ID_FQDN.
func ParseIdentity(s string) (Identity, error) {
	if s == "" {
		return Identity{}, fmt.Errorf("%w: empty", ErrBadIdentity)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return AddrID(a), nil
	}
	if rest, ok := strings.CutPrefix(s, "@#"); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) == 0 {
			return Identity{}, fmt.Errorf("%w: KEY_ID %q is not hex", ErrBadIdentity, s)
		}
		return KeyID(b), nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		if rest == "" {
			return Identity{}, fmt.Errorf("%w: empty FQDN", ErrBadIdentity)
		}
		return FQDN(rest), nil
	}
	if strings.Contains(s, "=") {
		name, err := parseDN(s)
		if err != nil {
			return Identity{}, err
		}
		return DN(name)
	}
	if strings.Contains(s, "@") {
		return Email(s), nil
	}
	return FQDN(s), nil
}

var dnAttrs = map[string]asn1.ObjectIdentifier{
	"C": {2, 5, 4, 6}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "CN": {2, 5, 4, 3},
	"L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8}, "SN": {2, 5, 4, 5}, "DC": {0, 9, 2342, 19200300, 100, 1, 25},
	"E": {1, 2, 840, 113549, 1, 9, 1}, "EMAIL": {1, 2, 840, 113549, 1, 9, 1},
}

// parseDN reads "C=US, O=Example, CN=vpn" (or "/"-separated) in the order
// written, which is the order of the RDN sequence, as strongSwan does.
func parseDN(s string) (pkix.Name, error) {
	sep := ","
	if strings.HasPrefix(s, "/") {
		sep, s = "/", s[1:]
	}
	var seq pkix.RDNSequence
	for part := range strings.SplitSeq(s, sep) {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		oid, known := dnAttrs[strings.ToUpper(strings.TrimSpace(k))]
		if !ok || !known || v == "" {
			return pkix.Name{}, fmt.Errorf("%w: distinguished name part %q", ErrBadIdentity, part)
		}
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: strings.TrimSpace(v)}})
	}
	var name pkix.Name
	name.FillFromRDNSequence(&seq)
	name.ExtraNames = nil
	for _, rdn := range seq {
		name.ExtraNames = append(name.ExtraNames, rdn...)
	}
	return name, nil
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func (id Identity) Addr() (netip.Addr, bool) {
	switch {
	case id.Type == IDIPv4Addr && len(id.Data) == 4:
		return netip.AddrFrom4([4]byte(id.Data)), true
	case id.Type == IDIPv6Addr && len(id.Data) == 16:
		return netip.AddrFrom16([16]byte(id.Data)), true
	}
	return netip.Addr{}, false
}

// Equal reports whether two identities have the same type and data.
func (id Identity) Equal(o Identity) bool {
	return id.Type == o.Type && string(id.Data) == string(o.Data)
}

// IsZero reports whether id is the zero Identity.
func (id Identity) IsZero() bool { return id.Type == 0 && len(id.Data) == 0 }

// String formats the identity for logs and configuration, the inverse of
// ParseIdentity where the type allows (DNs print in RFC 4514 order).
func (id Identity) String() string {
	switch id.Type {
	case 0:
		if len(id.Data) == 0 {
			return "%any"
		}
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			return a.String()
		}
	case IDFQDN, IDRFC822Addr:
		return printable(id.Data)
	case IDKeyID:
		return "@#" + hex.EncodeToString(id.Data)
	case IDDERASN1DN:
		var seq pkix.RDNSequence
		if rest, err := asn1.Unmarshal(id.Data, &seq); err == nil && len(rest) == 0 {
			return seq.String()
		}
	case IDNull:
		return "(null)"
	}
	return fmt.Sprintf("%s:%s", id.Type, hex.EncodeToString(id.Data))
}

// printable escapes bytes that would let a peer forge log lines.
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			fmt.Fprintf(&sb, "\\x%02x", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
