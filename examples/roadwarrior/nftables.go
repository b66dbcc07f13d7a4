package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The kill switch's nftables table goes to the kernel through netlink
// (github.com/google/nftables): no nft binary at run time. The rules are
// built as the expressions nft itself generates for the rule text in the
// comments, so nft list shows them in that form.

// nftMatch builds the expressions of a rule, match by match.
type nftMatch []expr.Any

// ifname matches the input (iifname) or output (oifname) device name.
func (m nftMatch) ifname(key expr.MetaKey, name string) nftMatch {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return append(m, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b})
}

// nfproto matches the family (nft's implicit dependency of ip and ip6
// matches in an inet table, and "meta nfproto ipv4").
func (m nftMatch) nfproto(v6 bool) nftMatch {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return append(m, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

// addr matches the source (ip saddr, ip6 saddr) or destination address
// against a prefix.
func (m nftMatch) addr(dst bool, p netip.Prefix) nftMatch {
	p = p.Masked()
	v6 := p.Addr().Is6()
	m = m.nfproto(v6)
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

// l4proto matches the transport protocol (meta l4proto).
func (m nftMatch) l4proto(p byte) nftMatch {
	return append(m, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

func (m nftMatch) counter() nftMatch { return append(m, &expr.Counter{}) }

func (m nftMatch) accept() nftMatch {
	return append(m, &expr.Verdict{Kind: expr.VerdictAccept})
}

// udpSport matches "udp sport port".
func (m nftMatch) udpSport(port uint16) nftMatch {
	m = m.l4proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// then appends a match on the transport header that follows a
// udpSport (nft loads meta l4proto once per rule): "udp dport port".
func (m nftMatch) thenDport(port uint16) nftMatch {
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// daddrIn matches the destination address against a named set of
// addresses of the family ("ip daddr @gateways4").
func (m nftMatch) daddrIn(v6 bool, set *nftables.Set) nftMatch {
	m = m.nfproto(v6)
	off, n := uint32(16), uint32(4)
	if v6 {
		off, n = 24, 16
	}
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID})
}

// lookup matches what the last load put into register 1 against set.
func (m nftMatch) lookup(set *nftables.Set) nftMatch {
	return append(m, &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID})
}

// udpDportIn is "udp dport SET".
func (m nftMatch) udpDportIn(set *nftables.Set) nftMatch {
	m = m.l4proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}).lookup(set)
}

// ipProtocol matches IPv4's protocol field ("ip protocol esp").
func (m nftMatch) ipProtocol(p byte) nftMatch {
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

// icmpv6TypeIn is "icmpv6 type SET".
func (m nftMatch) icmpv6TypeIn(set *nftables.Set) nftMatch {
	m = m.nfproto(true).l4proto(unix.IPPROTO_ICMPV6)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}).lookup(set)
}
