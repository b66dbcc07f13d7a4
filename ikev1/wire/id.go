package wire

import (
	"errors"
	"net/netip"
)

func netipFromSlice(b []byte) (netip.Addr, bool) { return netip.AddrFromSlice(b) }

// ErrNotAddressID is returned by the ID conversions for an ID whose type
// is not an address, subnet or range, or whose data has the wrong length.
var ErrNotAddressID = errors.New("ikev1/wire: ID is not an IP address, subnet or range")

// ErrNonContiguousMask is returned for a subnet ID whose mask is not a
// prefix (RFC 2407 section 4.6.2.5 allows only contiguous masks in practice).
var ErrNonContiguousMask = errors.New("ikev1/wire: subnet ID with a non-contiguous mask")

func (id *ID) addrLen() int {
	switch id.IDType {
	case IDIPv4Addr, IDIPv4AddrSubnet, IDIPv4AddrRange:
		return 4
	case IDIPv6Addr, IDIPv6AddrSubnet, IDIPv6AddrRange:
		return 16
	}
	return 0
}

// Prefix returns an address ID as a single-address prefix and a subnet ID
// as its prefix (address masked). Range and non-address IDs fail with
// ErrNotAddressID.
func (id *ID) Prefix() (netip.Prefix, error) {
	n := id.addrLen()
	switch id.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if len(id.Data) != n {
			return netip.Prefix{}, ErrNotAddressID
		}
		a, _ := netip.AddrFromSlice(id.Data)
		return netip.PrefixFrom(a, a.BitLen()), nil
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		if len(id.Data) != 2*n {
			return netip.Prefix{}, ErrNotAddressID
		}
		a, _ := netip.AddrFromSlice(id.Data[:n])
		bits, ok := maskBits(id.Data[n:])
		if !ok {
			return netip.Prefix{}, ErrNonContiguousMask
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	return netip.Prefix{}, ErrNotAddressID
}

func maskBits(m []byte) (int, bool) {
	bits := 0
	i := 0
	for ; i < len(m) && m[i] == 0xff; i++ {
		bits += 8
	}
	if i < len(m) {
		b := m[i]
		for b&0x80 != 0 {
			bits++
			b <<= 1
		}
		if b != 0 {
			return 0, false
		}
		for _, c := range m[i+1:] {
			if c != 0 {
				return 0, false
			}
		}
	}
	return bits, true
}

// Range returns the first and last address an address, subnet or range ID
// covers.
func (id *ID) Range() (first, last netip.Addr, err error) {
	switch id.IDType {
	case IDIPv4AddrRange, IDIPv6AddrRange:
		n := id.addrLen()
		if len(id.Data) != 2*n {
			return first, last, ErrNotAddressID
		}
		first, _ = netip.AddrFromSlice(id.Data[:n])
		last, _ = netip.AddrFromSlice(id.Data[n:])
		return first, last, nil
	}
	p, err := id.Prefix()
	if err != nil {
		return first, last, err
	}
	first = p.Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	return first, last, nil
}

// IDFromAddr returns an ID_IPV4_ADDR or ID_IPV6_ADDR for a (an IPv4-mapped
// IPv6 address counts as IPv4).
func IDFromAddr(a netip.Addr) *ID {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return &ID{IDType: IDIPv4Addr, Data: b[:]}
	}
	b := a.As16()
	return &ID{IDType: IDIPv6Addr, Data: b[:]}
}

// IDFromPrefix returns a Quick Mode ID for p: the address type for a
// single-address prefix (as strongSwan sends hosts), the subnet type
// otherwise. The address is masked.
func IDFromPrefix(p netip.Prefix, protocol uint8, port uint16) *ID {
	p = netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked()
	a := p.Addr()
	if p.Bits() == a.BitLen() {
		id := IDFromAddr(a)
		id.Protocol, id.Port = protocol, port
		return id
	}
	addr := a.AsSlice()
	mask := make([]byte, len(addr))
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	t := IDIPv4AddrSubnet
	if a.Is6() {
		t = IDIPv6AddrSubnet
	}
	return &ID{IDType: t, Protocol: protocol, Port: port, Data: append(addr, mask...)}
}

// IDFromRange returns an address range ID from first to last, which must
// be of the same family.
func IDFromRange(first, last netip.Addr, protocol uint8, port uint16) (*ID, error) {
	first, last = first.Unmap(), last.Unmap()
	if !first.IsValid() || first.BitLen() != last.BitLen() || last.Less(first) {
		return nil, errors.New("ikev1/wire: invalid address range")
	}
	t := IDIPv4AddrRange
	if first.Is6() {
		t = IDIPv6AddrRange
	}
	return &ID{IDType: t, Protocol: protocol, Port: port, Data: append(first.AsSlice(), last.AsSlice()...)}, nil
}
