package esp

import (
	"encoding/binary"
	"net/netip"
)

// flow is what policy lookup needs from an inner IP packet: addresses,
// upper-layer protocol and the port used for the destination (or source)
// selector. ICMP carries type and code in the port fields (RFC 4301
// section 4.4.1.3): type in the "source port", code in the "destination port".
type flow struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	hdrLen       int // IP header length incl. IPv6 extension headers we walked
	totalLen     int // length from the IP header (TFC padding trims to it)
}

// parseFlow reads an IPv4 or IPv6 header. Non-first fragments and
// protocols without ports get ports 0 and match only selectors with the
// full port range, as RFC 4301 section 4.4.1 (OPAQUE) asks.
func parseFlow(p []byte) (flow, bool) {
	var f flow
	if len(p) < 1 {
		return f, false
	}
	var l4 []byte
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return f, false
		}
		ihl := int(p[0]&0x0f) * 4
		tl := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < 20 || tl < ihl || tl > len(p) {
			return f, false
		}
		f.src = netip.AddrFrom4([4]byte(p[12:16]))
		f.dst = netip.AddrFrom4([4]byte(p[16:20]))
		f.proto = p[9]
		f.hdrLen, f.totalLen = ihl, tl
		if binary.BigEndian.Uint16(p[6:])&0x1fff == 0 { // first fragment or unfragmented
			l4 = p[ihl:tl]
		}
	case 6:
		if len(p) < 40 {
			return f, false
		}
		tl := 40 + int(binary.BigEndian.Uint16(p[4:]))
		if tl > len(p) {
			return f, false
		}
		f.src = netip.AddrFrom16([16]byte(p[8:24]))
		f.dst = netip.AddrFrom16([16]byte(p[24:40]))
		f.totalLen = tl
		nh, off := p[6], 40
		// Walk extension headers to the upper layer; bounded because each
		// step advances at least 8 bytes inside the packet.
	walk:
		for {
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if off+8 > tl {
					return f, false
				}
				nh, off = p[off], off+8*(int(p[off+1])+1)
			case 44: // fragment
				if off+8 > tl {
					return f, false
				}
				first := binary.BigEndian.Uint16(p[off+2:])&0xfff8 == 0
				nh, off = p[off], off+8
				if !first {
					f.proto, f.hdrLen = nh, off
					return f, true
				}
			default:
				break walk
			}
		}
		if off > tl {
			return f, false
		}
		f.proto, f.hdrLen = nh, off
		l4 = p[off:tl]
	default:
		return f, false
	}
	switch f.proto {
	case protoTCP, protoUDP, 132, 136: // TCP, UDP, SCTP, UDP-Lite
		if len(l4) >= 4 {
			f.sport = binary.BigEndian.Uint16(l4)
			f.dport = binary.BigEndian.Uint16(l4[2:])
		}
	case protoICMP, protoICMPv6:
		if len(l4) >= 2 {
			f.sport, f.dport = uint16(l4[0]), uint16(l4[1])
		}
	}
	return f, true
}

// checksum folds the one's complement sum of b into initial.
func checksum(b []byte, initial uint64) uint64 {
	ac := initial
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		ac += v >> 32
		ac += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		ac += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		ac += uint64(b[0]) << 8
	}
	return ac
}

func foldChecksum(ac uint64) uint16 {
	for ac > 0xffff {
		ac = (ac >> 16) + (ac & 0xffff)
	}
	return ^uint16(ac)
}

// buildTransportHeader writes an IP header for a transport-mode payload
// into p[:hdrLen] (20 for IPv4, 40 for IPv6) with src and dst from the
// outer packet, and recomputes the TCP/UDP checksum because a NAT between
// the peers changed the addresses it covers (RFC 3948 section 3.1.2).
func buildTransportHeader(p []byte, src, dst netip.Addr, nh byte) {
	if src.Is4() {
		payload := p[20:]
		p[0], p[1] = 0x45, 0
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		binary.BigEndian.PutUint32(p[4:], 0x4000) // ID 0, DF
		p[8], p[9] = 64, nh
		p[10], p[11] = 0, 0
		s4, d4 := src.As4(), dst.As4()
		copy(p[12:], s4[:])
		copy(p[16:], d4[:])
		binary.BigEndian.PutUint16(p[10:], foldChecksum(checksum(p[:20], 0)))
		fixL4Checksum(payload, p[12:20], nh)
		return
	}
	payload := p[40:]
	binary.BigEndian.PutUint32(p, 6<<28)
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6], p[7] = nh, 64
	s16, d16 := src.As16(), dst.As16()
	copy(p[8:], s16[:])
	copy(p[24:], d16[:])
	fixL4Checksum(payload, p[8:40], nh)
}

func fixL4Checksum(l4, addrs []byte, proto byte) {
	var at int
	switch proto {
	case protoTCP:
		at = 16
	case protoUDP:
		at = 6
	default:
		return
	}
	if len(l4) < at+2 || len(l4) > 0xffff {
		return
	}
	if proto == protoUDP && binary.BigEndian.Uint16(l4[6:]) == 0 && len(addrs) == 8 {
		return // IPv4 UDP without checksum stays so
	}
	l4[at], l4[at+1] = 0, 0
	ac := checksum(addrs, uint64(proto)+uint64(len(l4)))
	c := foldChecksum(checksum(l4, ac))
	if c == 0 && proto == protoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[at:], c)
}
