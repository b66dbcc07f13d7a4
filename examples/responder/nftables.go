package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The responder's nftables table goes to the kernel through netlink
// (github.com/google/nftables), in one batch that the kernel applies
// atomically: no nft binary at run time. The rules are built as the
// expressions nft itself generates for the rule text in each comment, so
// `nft list table inet goipsec_responder` shows them in that form.

// metaKeySecpath is NFT_META_SECPATH (kernel 4.20+, "meta secpath"):
// whether the packet was decrypted by IPsec. The library has no name for
// it; the key is one after NFT_META_PRANDOM.
const metaKeySecpath = expr.MetaKey(unix.NFT_META_PRANDOM + 1)

// nftRule is one rule: its expressions and an optional comment.
type nftRule struct {
	exprs   []expr.Any
	comment string
}

// nftChain is one base chain of the table.
type nftChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	rules    []nftRule
}

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

// udpDport matches "udp dport port".
func (m nftMatch) udpDport(port uint16) nftMatch {
	m = m.l4proto(unix.IPPROTO_UDP)
	return append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
}

// noSecpath matches "meta secpath missing": not decrypted by IPsec.
func (m nftMatch) noSecpath() nftMatch {
	return append(m, &expr.Meta{Key: metaKeySecpath, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}})
}

// clampMSS is "tcp flags syn tcp option maxseg size set rt mtu".
func (m nftMatch) clampMSS() nftMatch {
	m = m.l4proto(unix.IPPROTO_TCP)
	return append(m,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
		&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
		&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt})
}

func (m nftMatch) counter() nftMatch { return append(m, &expr.Counter{}) }

func (m nftMatch) masquerade() nftMatch { return append(m, &expr.Masq{}) }

func (m nftMatch) accept() nftMatch {
	return append(m, &expr.Verdict{Kind: expr.VerdictAccept})
}

func (m nftMatch) drop() nftMatch { return append(m, &expr.Verdict{Kind: expr.VerdictDrop}) }

// queueTable queues, on c, the replacement of the inet table name by
// chains: declaring and deleting it first removes a table left by a
// killed instance in the same batch, which c.Flush applies atomically.
func queueTable(c *nftables.Conn, name string, chains []nftChain) {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	policy := nftables.ChainPolicyAccept
	for _, ch := range chains {
		chain := c.AddChain(&nftables.Chain{Name: ch.name, Table: t, Type: ch.typ, Hooknum: ch.hook, Priority: ch.priority, Policy: &policy})
		for _, r := range ch.rules {
			rule := &nftables.Rule{Table: t, Chain: chain, Exprs: r.exprs}
			if r.comment != "" {
				rule.UserData = userdata.AppendString(nil, userdata.TypeComment, r.comment)
			}
			c.AddRule(rule)
		}
	}
}

// deleteTable deletes the inet table name through c if it exists.
func deleteTable(c *nftables.Conn, name string) error {
	if _, err := c.ListTableOfFamily(name, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("nftables: list table inet %s: %w", name, err)
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: name})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table inet %s: %w", name, err)
	}
	return nil
}
