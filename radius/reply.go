package radius

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goipsec/ipsec"
)

// Reply is what an Access-Accept, -Reject or -Challenge said about the
// user, decoded (RFC 2865, 2869, 3162, 6911, 2548). It holds the MPPE
// keys in clear, as ipsec.Secret, which never prints.
type Reply struct {
	// Code is the packet's code.
	Code Code
	// Accepted is Code == CodeAccessAccept.
	Accepted bool
	// UserName is the User-Name the server returned, if any (it may
	// differ from the one sent: the name to account the session under,
	// RFC 2865 section 5.1).
	UserName string
	// FramedIP is Framed-IP-Address, a fixed IPv4 address for the user.
	// 255.255.255.254 ("NAS assigns") and 255.255.255.255 ("user
	// chooses") are left out: the pool decides.
	FramedIP netip.Addr
	// FramedIPv6 is Framed-IPv6-Address (RFC 6911 section 3.1).
	FramedIPv6 netip.Addr
	// FramedIPv6Prefixes are the Framed-IPv6-Prefix values (RFC 3162
	// section 2.3).
	FramedIPv6Prefixes []netip.Prefix
	// FramedPool is Framed-Pool (RFC 2869 section 5.18): the name of the
	// address pool to lease from.
	FramedPool string
	// SessionTimeout is Session-Timeout (RFC 2865 section 5.27), zero
	// when absent.
	SessionTimeout time.Duration
	// InterimInterval is Acct-Interim-Interval (RFC 2869 section 5.16),
	// zero when absent.
	InterimInterval time.Duration
	// Class holds every Class attribute in order (RFC 2865 section
	// 5.25); accounting echoes them unchanged.
	Class [][]byte
	// FilterIDs are the Filter-Id values (RFC 2865 section 5.11).
	FilterIDs []string
	// ReplyMessage joins the Reply-Message attributes with newlines.
	ReplyMessage string
	// MSCHAP2Success is the MS-CHAP2-Success value (RFC 2548 section
	// 2.3.3): the identifier octet and "S=<authenticator response>".
	MSCHAP2Success []byte
	// MSCHAPError is the MS-CHAP-Error text ("E=691 R=0 ...").
	MSCHAPError string
	// MPPESendKey and MPPERecvKey are the decrypted MS-MPPE keys (RFC
	// 2548 sections 2.4.2 and 2.4.3); see MSK for the order EAP uses.
	MPPESendKey, MPPERecvKey ipsec.Secret
	// Attributes are all attributes of the packet (copies), for what
	// this struct does not decode. Encrypted values stay encrypted.
	Attributes []Attribute
}

// Groups returns the user's group labels for an authorization hook:
// every Filter-Id, then every Class that is printable UTF-8 (servers
// often put a group or policy name there, "OU=..." style; binary Class
// values, such as the session cookies NPS sends, are skipped). The
// order is that of the packet; duplicates are dropped.
func (r *Reply) Groups() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, f := range r.FilterIDs {
		add(f)
	}
	for _, c := range r.Class {
		if utf8.Valid(c) && printable(string(c)) {
			add(string(c))
		}
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// MSK returns the EAP Master Session Key a RADIUS server hands to the
// NAS in an Access-Accept: MS-MPPE-Recv-Key || MS-MPPE-Send-Key (RFC
// 3579 section 3.1 via RFC 2548; RFC 5216 section 2.3 puts the MSK's
// first 32 octets in Recv-Key; strongSwan's eap-radius concatenates in
// the same order), zero-padded to 64 octets when shorter. The padding is
// for EAP-MSCHAPv2: its MSK is MasterReceiveKey || MasterSendKey || 32
// zero octets, but FreeRADIUS sends only the two 16-octet keys, and an
// IKEv2 PRF that is not HMAC (AES-XCBC, AES-CMAC) would otherwise key
// differently from the peer. It is nil unless both keys are there.
func (r *Reply) MSK() ipsec.Secret {
	if len(r.MPPERecvKey) == 0 || len(r.MPPESendKey) == 0 {
		return nil
	}
	n := max(len(r.MPPERecvKey)+len(r.MPPESendKey), mskLen)
	msk := make(ipsec.Secret, 0, n)
	msk = append(append(msk, r.MPPERecvKey...), r.MPPESendKey...)
	return append(msk, make([]byte, n-len(msk))...)
}

// mskLen is the MSK length of RFC 5247 section 1.4 (at least 64
// octets), what IKEv2's AUTH computation expects.
const mskLen = 64

// String summarises r without keys or Class values.
func (r *Reply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Code)
	if r.UserName != "" {
		fmt.Fprintf(&b, " user=%q", r.UserName)
	}
	if r.FramedIP.IsValid() {
		fmt.Fprintf(&b, " ip=%s", r.FramedIP)
	}
	if r.FramedIPv6.IsValid() {
		fmt.Fprintf(&b, " ipv6=%s", r.FramedIPv6)
	}
	if r.FramedPool != "" {
		fmt.Fprintf(&b, " pool=%q", r.FramedPool)
	}
	if r.SessionTimeout > 0 {
		fmt.Fprintf(&b, " session-timeout=%s", r.SessionTimeout)
	}
	fmt.Fprintf(&b, " class=%d filters=%q mppe=%t", len(r.Class), r.FilterIDs, len(r.MPPESendKey) > 0)
	return b.String()
}

// GoString is String, so %#v prints no key either.
func (r *Reply) GoString() string { return r.String() }

// DecodeReply decodes a verified response to the Access-Request whose
// Request Authenticator was reqAuth (needed for the MPPE keys). A
// malformed MPPE key attribute is an error; unknown attributes are kept
// in Attributes only.
func DecodeReply(p *Packet, secret ipsec.Secret, reqAuth [16]byte) (*Reply, error) {
	r := &Reply{Code: p.Code, Accepted: p.Code == CodeAccessAccept}
	var msgs []string
	for _, a := range p.Attributes {
		v := a.Value
		r.Attributes = append(r.Attributes, Attribute{Type: a.Type, Value: append([]byte(nil), v...)})
		if want, ok := fixedLen[a.Type]; ok && len(v) != want {
			// Parse rejects these; a Packet built by hand may have them.
			return nil, &ParseError{Reason: fmt.Sprintf("attribute %s of %d octets, want %d", a.Type, len(v), want)}
		}
		switch a.Type {
		case TypeUserName:
			r.UserName = string(v)
		case TypeFramedIPAddress:
			ip := netip.AddrFrom4([4]byte(v))
			if ip != netip.AddrFrom4([4]byte{255, 255, 255, 254}) && ip != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				r.FramedIP = ip
			}
		case TypeFramedIPv6Address:
			r.FramedIPv6 = netip.AddrFrom16([16]byte(v))
		case TypeFramedIPv6Prefix:
			pfx, err := parseIPv6Prefix(v)
			if err != nil {
				return nil, err
			}
			r.FramedIPv6Prefixes = append(r.FramedIPv6Prefixes, pfx)
		case TypeFramedPool:
			r.FramedPool = string(v)
		case TypeSessionTimeout:
			r.SessionTimeout = time.Duration(binary.BigEndian.Uint32(v)) * time.Second
		case TypeAcctInterimInterval:
			r.InterimInterval = time.Duration(binary.BigEndian.Uint32(v)) * time.Second
		case TypeClass:
			r.Class = append(r.Class, append([]byte(nil), v...))
		case TypeFilterID:
			r.FilterIDs = append(r.FilterIDs, string(v))
		case TypeReplyMessage:
			msgs = append(msgs, string(v))
		case TypeVendorSpecific:
			for _, s := range vendorSubs(v, VendorMicrosoft) {
				var err error
				switch uint8(s.Type) {
				case MSCHAP2Success:
					r.MSCHAP2Success = append([]byte(nil), s.Value...)
				case MSCHAPError:
					if len(s.Value) > 0 {
						r.MSCHAPError = string(s.Value[1:])
					}
				case MSMPPESendKey:
					r.MPPESendKey, err = DecryptSalted(s.Value, secret, reqAuth)
				case MSMPPERecvKey:
					r.MPPERecvKey, err = DecryptSalted(s.Value, secret, reqAuth)
				}
				if err != nil {
					return nil, fmt.Errorf("radius: MS-MPPE key: %w", err)
				}
			}
		}
	}
	r.ReplyMessage = strings.Join(msgs, "\n")
	return r, nil
}

// parseIPv6Prefix decodes a Framed-IPv6-Prefix value (RFC 3162 section
// 2.3): a reserved octet, the prefix length, then as many prefix octets
// as the length needs (up to 16).
func parseIPv6Prefix(v []byte) (netip.Prefix, error) {
	if len(v) < 2 || len(v) > 18 || v[1] > 128 || len(v)-2 < (int(v[1])+7)/8 {
		return netip.Prefix{}, &ParseError{Reason: fmt.Sprintf("Framed-IPv6-Prefix of %d octets", len(v))}
	}
	var a [16]byte
	copy(a[:], v[2:])
	return netip.AddrFrom16(a).Prefix(int(v[1]))
}

// AppendIPv6Prefix encodes p as a Framed-IPv6-Prefix value.
func AppendIPv6Prefix(b []byte, p netip.Prefix) []byte {
	a := p.Masked().Addr().As16()
	b = append(b, 0, byte(p.Bits()))
	return append(b, a[:(p.Bits()+7)/8]...)
}
