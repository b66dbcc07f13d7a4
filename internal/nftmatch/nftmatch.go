// Package nftmatch builds the expressions of nftables rules
// (github.com/google/nftables/expr) match by match, the way nft generates
// them for the rule text each method names, so that `nft list` shows the
// tables the example programs install through netlink in their familiar
// form. It is shared by examples/responder (masquerade, MSS clamping,
// forwarding, the L2TP input rule) and examples/roadwarrior (the kill
// switch).
package nftmatch

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// MetaKeySecpath is NFT_META_SECPATH (kernel 4.20+, "meta secpath"):
// whether the packet was decrypted by IPsec. The library has no name for
// it; the key is one after NFT_META_PRANDOM.
const MetaKeySecpath = expr.MetaKey(unix.NFT_META_PRANDOM + 1)

// Match is the expressions of one rule so far; each method appends a
// match, statement or verdict and returns the result.
type Match []expr.Any

// IfName matches the input (iifname) or output (oifname) device name.
func (m Match) IfName(key expr.MetaKey, name string) Match {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return append(m, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b})
}

// NFProto matches the family (nft's implicit dependency of ip and ip6
// matches in an inet table, and "meta nfproto ipv4").
func (m Match) NFProto(v6 bool) Match {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return append(m, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

// Addr matches the source (ip saddr, ip6 saddr) or destination address
// against a prefix.
func (m Match) Addr(dst bool, p netip.Prefix) Match {
	p = p.Masked()
	v6 := p.Addr().Is6()
	m = m.NFProto(v6)
	off, n := uint32(12), uint32(4)
	if v6 {
		off, n = 8, 16
	}
	if dst {
		off += n
	}
	m = append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	if p.Bits() < p.Addr().BitLen() {
		mask := make([]byte, n)
		for i := range p.Bits() {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		m = append(m, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(m, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

// L4Proto matches the transport protocol (meta l4proto).
func (m Match) L4Proto(p byte) Match {
	return append(m, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

// UDPDport matches "udp dport port".
func (m Match) UDPDport(port uint16) Match {
	m = m.L4Proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// NoSecpath matches "meta secpath missing": not decrypted by IPsec.
func (m Match) NoSecpath() Match {
	return append(m, &expr.Meta{Key: MetaKeySecpath, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}})
}

// ClampMSS is "tcp flags syn tcp option maxseg size set rt mtu".
func (m Match) ClampMSS() Match {
	m = m.L4Proto(unix.IPPROTO_TCP)
	return append(m,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
		&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
		&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt})
}

// Counter counts the packets and bytes the rule matched ("counter").
func (m Match) Counter() Match { return append(m, &expr.Counter{}) }

// Masquerade is "masquerade" (source NAT to the outgoing address).
func (m Match) Masquerade() Match { return append(m, &expr.Masq{}) }

// Accept is the verdict "accept".
func (m Match) Accept() Match {
	return append(m, &expr.Verdict{Kind: expr.VerdictAccept})
}

// Drop is the verdict "drop".
func (m Match) Drop() Match { return append(m, &expr.Verdict{Kind: expr.VerdictDrop}) }

// UDPSport matches "udp sport port".
func (m Match) UDPSport(port uint16) Match {
	m = m.L4Proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// ThenDport appends a match on the transport header that follows a
// UDPSport (nft loads meta l4proto once per rule): "udp dport port".
func (m Match) ThenDport(port uint16) Match {
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// DaddrIn matches the destination address against a named set of
// addresses of the family ("ip daddr @gateways4").
func (m Match) DaddrIn(v6 bool, set *nftables.Set) Match {
	m = m.NFProto(v6)
	off, n := uint32(16), uint32(4)
	if v6 {
		off, n = 24, 16
	}
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID})
}

// Lookup matches what the last load put into register 1 against set.
func (m Match) Lookup(set *nftables.Set) Match {
	return append(m, &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID})
}

// UDPDportIn is "udp dport SET".
func (m Match) UDPDportIn(set *nftables.Set) Match {
	m = m.L4Proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}).Lookup(set)
}

// IPProtocol matches IPv4's protocol field ("ip protocol esp").
func (m Match) IPProtocol(p byte) Match {
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

// ICMPv6TypeIn is "icmpv6 type SET".
func (m Match) ICMPv6TypeIn(set *nftables.Set) Match {
	m = m.NFProto(true).L4Proto(unix.IPPROTO_ICMPV6)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}).Lookup(set)
}
