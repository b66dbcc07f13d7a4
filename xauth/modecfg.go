package xauth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Lease is what Mode Config hands a client: the engine fills it from its
// address pools, the user's fixed addresses and the gateway's
// configuration; a client gets it back from ParseLease. Zero fields are
// not sent.
type Lease struct {
	// IP4 is the client's virtual IPv4 address (INTERNAL_IP4_ADDRESS).
	// racoon refuses a reply without it.
	IP4 netip.Addr
	// Netmask4 is INTERNAL_IP4_NETMASK (racoon's policy ignores it).
	Netmask4 netip.Addr
	// IP6 is the client's virtual IPv6 address (INTERNAL_IP6_ADDRESS,
	// 16 octets in IKEv1).
	IP6 netip.Addr
	// DNS are the resolvers, IPv4 ones sent as INTERNAL_IP4_DNS and IPv6
	// ones as INTERNAL_IP6_DNS, one attribute each (racoon uses the first
	// IPv4 one).
	DNS []netip.Addr
	// NBNS are WINS servers (INTERNAL_IP4_NBNS / INTERNAL_IP6_NBNS).
	NBNS []netip.Addr
	// Expiry is INTERNAL_ADDRESS_EXPIRY, whole seconds.
	Expiry time.Duration
	// AppVersion is APPLICATION_VERSION: the gateway's version string in a
	// REPLY, the client's in a REQUEST.
	AppVersion string
	// Banner is UNITY_BANNER, shown by the client after connecting.
	Banner string
	// DefaultDomain is UNITY_DEF_DOMAIN, the DNS search domain.
	DefaultDomain string
	// SplitDNS are UNITY_SPLITDNS_NAME: the domains resolved through the
	// tunnel (sent comma-separated in one attribute).
	SplitDNS []string
	// SplitInclude are the IPv4 networks routed through the tunnel
	// (UNITY_SPLIT_INCLUDE); none means the whole IPv4 space.
	SplitInclude []netip.Prefix
	// LocalLAN are IPv4 networks kept off the tunnel (UNITY_LOCAL_LAN).
	LocalLAN []netip.Prefix
	// SavePassword lets the client store the XAuth password
	// (UNITY_SAVE_PASSWD).
	SavePassword bool
	// PFS asks the client to use PFS in Quick Mode (UNITY_PFS).
	PFS bool
	// BackupServers are UNITY_BACKUP_SERVERS (sent comma-separated).
	BackupServers []string
}

// Limits on Lease text fields: racoon copies UNITY_DEF_DOMAIN into a
// buffer of 1024 octets without checking for the terminator, so
// anything longer than a DNS name is refused before it is sent.
const (
	MaxDomainLen  = 253
	MaxBannerLen  = 8192
	MaxVersionLen = 255
	// MaxSplitNetworks bounds SplitInclude and LocalLAN.
	MaxSplitNetworks = 1024
)

// AppleRequest is the attribute list of the Mode Config REQUEST that
// racoon (iOS and macOS "Cisco IPSec") sends after XAuth, in its order
// (isakmp_cfg_getconfig): every attribute empty, APPLICATION_VERSION
// possibly carrying the client's version.
var AppleRequest = []uint16{
	InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, InternalIP4NBNS,
	InternalAddressExpiry, ApplicationVersion, UnityBanner, UnityDefDomain,
	UnitySplitDNSName, UnitySplitInclude, UnityLocalLAN,
}

// Request is what a client asked for in a Mode Config REQUEST.
type Request struct {
	// Types are the requested attribute types, first occurrence order.
	Types []uint16
	// IP4 and IP6 are addresses the client asked to keep (a non-empty
	// INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS), invalid when none.
	IP4, IP6 netip.Addr
	// AppVersion is the client's APPLICATION_VERSION, if it sent one.
	AppVersion string
}

// Wants reports whether the client asked for attribute type t.
func (r *Request) Wants(t uint16) bool { return slices.Contains(r.Types, t) }

// ParseRequest reads a client's CFG_REQUEST.
func ParseRequest(m *Message) (*Request, error) {
	if m == nil || m.Type != CfgRequest {
		return nil, protoErr("want CFG_REQUEST")
	}
	r := &Request{}
	for _, a := range m.Attrs {
		if !slices.Contains(r.Types, a.Type) {
			r.Types = append(r.Types, a.Type)
		}
		if a.TV {
			continue
		}
		switch a.Type {
		case InternalIP4Address:
			if len(a.Value) == 4 {
				r.IP4 = netip.AddrFrom4([4]byte(a.Value))
			} else if len(a.Value) != 0 {
				return nil, badLen(a)
			}
		case InternalIP6Address:
			switch len(a.Value) {
			case 0:
			case 16, 17:
				r.IP6 = netip.AddrFrom16([16]byte(a.Value[:16]))
			default:
				return nil, badLen(a)
			}
		case ApplicationVersion:
			if len(a.Value) <= MaxVersionLen {
				r.AppVersion = sanitize(a.Value)
			}
		}
	}
	if r.IP4.IsUnspecified() {
		r.IP4 = netip.Addr{}
	}
	if r.IP6.IsUnspecified() {
		r.IP6 = netip.Addr{}
	}
	return r, nil
}

func badLen(a Attribute) error {
	return fmt.Errorf("%w: %s of %d octets", ErrMalformed, AttrName(a.Type), len(a.Value))
}

// NewRequest returns a CFG_REQUEST asking for types, each as an empty
// variable attribute (as racoon and strongSwan ask).
func NewRequest(id uint16, types ...uint16) *Message {
	m := &Message{Type: CfgRequest, Identifier: id}
	for _, t := range types {
		m.Attrs = append(m.Attrs, Attribute{Type: t, Value: []byte{}})
	}
	return m
}

// Validate checks that l can be encoded with the lengths clients accept.
func (l *Lease) Validate() error {
	if l.IP4.IsValid() && !l.IP4.Is4() {
		return errors.New("xauth: Lease.IP4: not an IPv4 address")
	}
	if l.Netmask4.IsValid() {
		if !l.Netmask4.Is4() {
			return errors.New("xauth: Lease.Netmask4: not an IPv4 mask")
		}
		if _, ok := maskBits(l.Netmask4.As4()); !ok {
			return errors.New("xauth: Lease.Netmask4: not a contiguous mask")
		}
	}
	if l.IP6.IsValid() && (!l.IP6.Is6() || l.IP6.Is4In6()) {
		return errors.New("xauth: Lease.IP6: not an IPv6 address")
	}
	for _, a := range slices.Concat(l.DNS, l.NBNS) {
		if !a.IsValid() || a.Is4In6() {
			return errors.New("xauth: Lease.DNS/NBNS: invalid address")
		}
	}
	if l.Expiry < 0 || l.Expiry/time.Second > 0xffffffff {
		return errors.New("xauth: Lease.Expiry: out of range")
	}
	if len(l.AppVersion) > MaxVersionLen {
		return fmt.Errorf("xauth: Lease.AppVersion: longer than %d octets", MaxVersionLen)
	}
	if len(l.Banner) > MaxBannerLen {
		return fmt.Errorf("xauth: Lease.Banner: longer than %d octets", MaxBannerLen)
	}
	if len(l.DefaultDomain) > MaxDomainLen {
		return fmt.Errorf("xauth: Lease.DefaultDomain: longer than %d octets", MaxDomainLen)
	}
	for _, lst := range [][]string{l.SplitDNS, l.BackupServers} {
		for _, d := range lst {
			if d == "" || len(d) > MaxDomainLen || strings.ContainsAny(d, ", \x00") {
				return fmt.Errorf("xauth: Lease.SplitDNS/BackupServers: %q is not a host or domain name", d)
			}
		}
		if len(lst) > MaxSplitNetworks {
			return errors.New("xauth: Lease.SplitDNS/BackupServers: too many names")
		}
	}
	for _, lst := range [][]netip.Prefix{l.SplitInclude, l.LocalLAN} {
		if len(lst) > MaxSplitNetworks {
			return fmt.Errorf("xauth: Lease.SplitInclude/LocalLAN: more than %d networks", MaxSplitNetworks)
		}
		for _, p := range lst {
			if !p.IsValid() || !p.Addr().Is4() {
				return fmt.Errorf("xauth: Lease.SplitInclude/LocalLAN: %s is not an IPv4 network", p)
			}
		}
	}
	return nil
}

// Reply answers a client's CFG_REQUEST with lease: a CFG_REPLY with the
// request's Identifier carrying, in the order asked, every requested
// attribute the lease has a value for. It fails with ErrNoAddress when
// the client asked for an address and the lease has none.
func Reply(req *Message, lease *Lease) (*Message, error) {
	r, err := ParseRequest(req)
	if err != nil {
		return nil, err
	}
	if err := lease.Validate(); err != nil {
		return nil, err
	}
	if (r.Wants(InternalIP4Address) || r.Wants(InternalIP6Address)) && !lease.IP4.IsValid() && !lease.IP6.IsValid() {
		return nil, ErrNoAddress
	}
	out := &Message{Type: CfgReply, Identifier: req.Identifier}
	for _, t := range r.Types {
		out.Attrs = lease.appendAttr(out.Attrs, t, true)
	}
	return out, nil
}

// Set returns a CFG_SET pushing every non-zero field of lease (the
// gateway-initiated "push" mode some clients wait for).
func Set(id uint16, lease *Lease) (*Message, error) {
	if err := lease.Validate(); err != nil {
		return nil, err
	}
	if !lease.IP4.IsValid() && !lease.IP6.IsValid() {
		return nil, ErrNoAddress
	}
	out := &Message{Type: CfgSet, Identifier: id}
	for _, t := range pushOrder {
		out.Attrs = lease.appendAttr(out.Attrs, t, false)
	}
	return out, nil
}

var pushOrder = []uint16{
	InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, InternalIP4NBNS,
	InternalAddressExpiry, InternalIP6Address, InternalIP6DNS, InternalIP6NBNS,
	ApplicationVersion, UnityBanner, UnitySavePasswd, UnityDefDomain,
	UnitySplitDNSName, UnitySplitInclude, UnityLocalLAN, UnityPFS, UnityBackupServers,
}

// appendAttr appends the attribute(s) of type t the lease has a value
// for. asked is true in a REPLY: flags are then sent even when false.
func (l *Lease) appendAttr(dst []Attribute, t uint16, asked bool) []Attribute {
	addrs := func(list []netip.Addr, v4 bool) []Attribute {
		for _, a := range list {
			if a.Is4() == v4 {
				dst = append(dst, Attribute{Type: t, Value: a.AsSlice()})
			}
		}
		return dst
	}
	str := func(s string) []Attribute {
		if s != "" {
			dst = append(dst, Long(t, []byte(s)))
		}
		return dst
	}
	flag := func(b bool) []Attribute {
		if b || asked {
			var v uint16
			if b {
				v = 1
			}
			dst = append(dst, Short(t, v))
		}
		return dst
	}
	switch t {
	case InternalIP4Address:
		if l.IP4.IsValid() {
			dst = append(dst, Attribute{Type: t, Value: l.IP4.AsSlice()})
		}
	case InternalIP4Netmask:
		if l.Netmask4.IsValid() {
			dst = append(dst, Attribute{Type: t, Value: l.Netmask4.AsSlice()})
		}
	case InternalIP6Address:
		if l.IP6.IsValid() {
			dst = append(dst, Attribute{Type: t, Value: l.IP6.AsSlice()})
		}
	case InternalIP4DNS:
		return addrs(l.DNS, true)
	case InternalIP6DNS:
		return addrs(l.DNS, false)
	case InternalIP4NBNS:
		return addrs(l.NBNS, true)
	case InternalIP6NBNS:
		return addrs(l.NBNS, false)
	case InternalAddressExpiry:
		if s := uint32(l.Expiry / time.Second); s > 0 {
			dst = append(dst, Attribute{Type: t, Value: binary.BigEndian.AppendUint32(nil, s)})
		}
	case ApplicationVersion:
		return str(l.AppVersion)
	case UnityBanner:
		return str(l.Banner)
	case UnityDefDomain:
		return str(l.DefaultDomain)
	case UnitySplitDNSName:
		return str(strings.Join(l.SplitDNS, ","))
	case UnityBackupServers:
		return str(strings.Join(l.BackupServers, ","))
	case UnitySplitInclude, UnityLocalLAN:
		nets := l.SplitInclude
		if t == UnityLocalLAN {
			nets = l.LocalLAN
		}
		if len(nets) > 0 {
			dst = append(dst, Attribute{Type: t, Value: appendSplit(nil, nets)})
		}
	case UnitySavePasswd:
		return flag(l.SavePassword)
	case UnityPFS:
		return flag(l.PFS)
	}
	return dst
}

// appendSplit encodes Cisco Unity networks: 14 octets each, address (4),
// mask (4), then protocol, source and destination port, which strongSwan
// and racoon leave zero (racoon's struct unity_network is 4+4+6 packed).
func appendSplit(dst []byte, nets []netip.Prefix) []byte {
	for _, p := range nets {
		p = p.Masked()
		a := p.Addr().As4()
		dst = append(dst, a[:]...)
		dst = binary.BigEndian.AppendUint32(dst, ^uint32(0)<<(32-p.Bits())) // 0 for /0
		dst = append(dst, 0, 0, 0, 0, 0, 0)
	}
	return dst
}

// maskBits returns the prefix length of a contiguous netmask.
func maskBits(m [4]byte) (int, bool) {
	v := binary.BigEndian.Uint32(m[:])
	n := bits.LeadingZeros32(^v)
	return n, v<<n == 0
}

func parseSplit(a Attribute) ([]netip.Prefix, error) {
	var out []netip.Prefix
	b := a.Value
	// Entries are 14 octets; like strongSwan, accept a last entry without
	// its 6 octets of padding.
	for len(b) >= 8 {
		n, ok := maskBits([4]byte(b[4:8]))
		if !ok {
			return nil, fmt.Errorf("%w: %s with a non-contiguous mask", ErrMalformed, AttrName(a.Type))
		}
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte(b[:4])), n).Masked())
		b = b[min(14, len(b)):]
	}
	if len(b) != 0 {
		return nil, badLen(a)
	}
	return out, nil
}

func splitList(v []byte) []string {
	return strings.FieldsFunc(sanitize(v), func(r rune) bool { return r == ',' || r == ' ' || r == '?' })
}

// ParseLease reads a gateway's CFG_REPLY (pull) or CFG_SET (push) into a
// Lease. Address attributes must have their exact lengths (an empty one
// means "not assigned"); unknown attributes are ignored. It fails with
// ErrNoAddress when neither an IPv4 nor an IPv6 address came.
func ParseLease(m *Message) (*Lease, error) {
	if m == nil || (m.Type != CfgReply && m.Type != CfgSet) {
		return nil, protoErr("want CFG_REPLY or CFG_SET")
	}
	l := &Lease{}
	addr := func(a Attribute, n int) (netip.Addr, bool, error) {
		switch {
		case len(a.Value) == 0:
			return netip.Addr{}, false, nil
		case n == 16 && len(a.Value) == 17 && a.Type == InternalIP6Address:
			// Old strongSwan releases appended a prefix length.
			return netip.AddrFrom16([16]byte(a.Value[:16])), true, nil
		case len(a.Value) != n:
			return netip.Addr{}, false, badLen(a)
		}
		ad, _ := netip.AddrFromSlice(a.Value)
		return ad, true, nil
	}
	for _, a := range m.Attrs {
		if a.TV {
			// Messages built by hand may carry a TV value of any length.
			v, _ := a.Uint16()
			switch a.Type {
			case UnitySavePasswd:
				l.SavePassword = v != 0
			case UnityPFS:
				l.PFS = v != 0
			}
			continue
		}
		var err error
		var ad netip.Addr
		var ok bool
		switch a.Type {
		case InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, InternalIP4NBNS:
			if ad, ok, err = addr(a, 4); err != nil {
				return nil, err
			}
		case InternalIP6Address, InternalIP6DNS, InternalIP6NBNS:
			if ad, ok, err = addr(a, 16); err != nil {
				return nil, err
			}
		}
		switch a.Type {
		case InternalIP4Address:
			if ok && !l.IP4.IsValid() {
				l.IP4 = ad
			}
		case InternalIP4Netmask:
			if ok {
				if _, contiguous := maskBits(ad.As4()); !contiguous {
					return nil, fmt.Errorf("%w: INTERNAL_IP4_NETMASK not contiguous", ErrMalformed)
				}
				l.Netmask4 = ad
			}
		case InternalIP6Address:
			if ok && !l.IP6.IsValid() {
				l.IP6 = ad
			}
		case InternalIP4DNS, InternalIP6DNS:
			if ok && len(l.DNS) < 16 {
				l.DNS = append(l.DNS, ad)
			}
		case InternalIP4NBNS, InternalIP6NBNS:
			if ok && len(l.NBNS) < 16 {
				l.NBNS = append(l.NBNS, ad)
			}
		case InternalAddressExpiry:
			switch len(a.Value) {
			case 0:
			case 4:
				l.Expiry = time.Duration(binary.BigEndian.Uint32(a.Value)) * time.Second
			default:
				return nil, badLen(a)
			}
		case ApplicationVersion:
			l.AppVersion = sanitize(a.Value[:min(len(a.Value), MaxVersionLen)])
		case UnityBanner:
			l.Banner = sanitize(a.Value[:min(len(a.Value), MaxBannerLen)])
		case UnityDefDomain:
			l.DefaultDomain = sanitize(a.Value[:min(len(a.Value), MaxDomainLen)])
		case UnitySplitDNSName:
			l.SplitDNS = append(l.SplitDNS, splitList(a.Value)...)
		case UnityBackupServers:
			l.BackupServers = append(l.BackupServers, splitList(a.Value)...)
		case UnitySplitInclude, UnityLocalLAN:
			nets, err := parseSplit(a)
			if err != nil {
				return nil, err
			}
			if a.Type == UnitySplitInclude {
				l.SplitInclude = append(l.SplitInclude, nets...)
			} else {
				l.LocalLAN = append(l.LocalLAN, nets...)
			}
		case UnitySavePasswd, UnityPFS:
			// Some gateways send the flags as two-octet variable
			// attributes.
			if v, ok := a.Uint16(); ok {
				if a.Type == UnitySavePasswd {
					l.SavePassword = v != 0
				} else {
					l.PFS = v != 0
				}
			} else if len(a.Value) != 0 {
				return nil, badLen(a)
			}
		}
	}
	if !l.IP4.IsValid() && !l.IP6.IsValid() {
		return l, ErrNoAddress
	}
	return l, nil
}

// Ack returns the client's CFG_ACK for a gateway's CFG_SET: the SET's
// Identifier and the type of every attribute accepted, empty
// (draft-dukes-ike-mode-cfg-02 section 3.3).
func Ack(set *Message) *Message {
	out := &Message{Type: CfgAck, Identifier: set.Identifier}
	var seen []uint16
	for _, a := range set.Attrs {
		if slices.Contains(seen, a.Type) || len(seen) == MaxAttributes {
			continue
		}
		seen = append(seen, a.Type)
		if a.TV {
			out.Attrs = append(out.Attrs, Short(a.Type, 0))
		} else {
			out.Attrs = append(out.Attrs, Attribute{Type: a.Type, Value: []byte{}})
		}
	}
	return out
}

// CheckAck verifies a client's CFG_ACK of our CFG_SET: its type and
// Identifier. Otherwise it returns ErrDiscarded.
func CheckAck(set, ack *Message) error {
	if ack == nil || ack.Type != CfgAck || ack.Identifier != set.Identifier {
		return ErrDiscarded
	}
	return nil
}
