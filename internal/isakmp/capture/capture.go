package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
)

// Packet is one IKE message found in a capture.
type Packet struct {
	// Frame is the 1-based frame number as Wireshark counts it; for a
	// reassembled IP datagram, the frame of its last fragment (where
	// Wireshark shows the reassembled message too).
	Frame int
	// Src is the sender's address and UDP port.
	Src netip.AddrPort
	// Dst is the receiver's address and UDP port.
	Dst netip.AddrPort
	// NATT reports that the message came on a UDP 4500 port with the
	// non-ESP marker, which Payload no longer contains.
	NATT bool
	// Reassembled reports that the IP datagram was fragmented.
	Reassembled bool
	// Payload is the IKE message (header first).
	Payload []byte
}

// ReadFile reads the capture at path.
func ReadFile(path string) ([]Packet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Read(b)
}

// Link types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

var errTruncated = errors.New("capture: truncated file")

// Read decodes a pcap or pcapng image.
func Read(b []byte) ([]Packet, error) {
	if len(b) < 4 {
		return nil, errTruncated
	}
	r := &reasm{}
	switch {
	case binary.BigEndian.Uint32(b) == 0x0a0d0d0a:
		return readPcapng(b, r)
	default:
		return readPcap(b, r)
	}
}

func readPcap(b []byte, r *reasm) ([]Packet, error) {
	if len(b) < 24 {
		return nil, errTruncated
	}
	var bo binary.ByteOrder
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	default:
		switch binary.BigEndian.Uint32(b) {
		case 0xa1b2c3d4, 0xa1b23c4d:
			bo = binary.BigEndian
		default:
			return nil, fmt.Errorf("capture: unknown magic %#x", m)
		}
	}
	link := int(bo.Uint32(b[20:]) & 0x0fffffff)
	var out []Packet
	off, frame := 24, 0
	for off < len(b) {
		if len(b)-off < 16 {
			return nil, errTruncated
		}
		n := int(bo.Uint32(b[off+8:]))
		off += 16
		if n > len(b)-off {
			return nil, errTruncated
		}
		frame++
		out = r.frame(out, frame, link, b[off:off+n])
		off += n
	}
	return out, nil
}

func readPcapng(b []byte, r *reasm) ([]Packet, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []int
	var out []Packet
	off, frame := 0, 0
	for off < len(b) {
		if len(b)-off < 12 {
			return nil, errTruncated
		}
		typ := binary.BigEndian.Uint32(b[off:])
		if typ == 0x0a0d0d0a {
			switch binary.LittleEndian.Uint32(b[off+8:]) {
			case 0x1a2b3c4d:
				bo = binary.LittleEndian
			case 0x4d3c2b1a:
				bo = binary.BigEndian
			default:
				return nil, errors.New("capture: bad pcapng byte-order magic")
			}
			links = links[:0]
		} else {
			typ = bo.Uint32(b[off:])
		}
		n := int(bo.Uint32(b[off+4:]))
		if n < 12 || n > len(b)-off {
			return nil, errTruncated
		}
		blk := b[off : off+n]
		switch typ {
		case 1: // Interface Description Block
			if n < 20 {
				return nil, errTruncated
			}
			links = append(links, int(bo.Uint16(blk[8:])))
		case 6: // Enhanced Packet Block
			if n < 32 {
				return nil, errTruncated
			}
			ifc := int(bo.Uint32(blk[8:]))
			capLen := int(bo.Uint32(blk[20:]))
			if ifc >= len(links) || capLen > n-32 {
				return nil, errTruncated
			}
			frame++
			out = r.frame(out, frame, links[ifc], blk[28:28+capLen])
		case 3: // Simple Packet Block
			if len(links) == 0 || n < 16 {
				return nil, errTruncated
			}
			capLen := min(int(bo.Uint32(blk[8:])), n-16)
			frame++
			out = r.frame(out, frame, links[0], blk[12:12+capLen])
		case 2: // obsolete Packet Block
			if n < 32 {
				return nil, errTruncated
			}
			ifc := int(bo.Uint16(blk[8:]))
			capLen := int(bo.Uint32(blk[20:]))
			if ifc >= len(links) || capLen > n-32 {
				return nil, errTruncated
			}
			frame++
			out = r.frame(out, frame, links[ifc], blk[28:28+capLen])
		}
		off += n
	}
	return out, nil
}

// frame decodes the link layer and hands the IP packet on.
func (r *reasm) frame(out []Packet, frame, link int, d []byte) []Packet {
	var ethertype uint16
	switch link {
	case linkEthernet:
		if len(d) < 14 {
			return out
		}
		ethertype, d = binary.BigEndian.Uint16(d[12:]), d[14:]
		for (ethertype == 0x8100 || ethertype == 0x88a8) && len(d) >= 4 {
			ethertype, d = binary.BigEndian.Uint16(d[2:]), d[4:]
		}
	case linkSLL:
		if len(d) < 16 {
			return out
		}
		ethertype, d = binary.BigEndian.Uint16(d[14:]), d[16:]
	case linkSLL2:
		if len(d) < 20 {
			return out
		}
		ethertype, d = binary.BigEndian.Uint16(d[0:]), d[20:]
	case linkNull, linkLoop:
		if len(d) < 4 {
			return out
		}
		d = d[4:]
	case linkRaw, linkIPv4, linkIPv6:
	default:
		return out
	}
	switch ethertype {
	case 0, 0x0800, 0x86dd:
	default:
		return out
	}
	return r.ip(out, frame, d)
}

func (r *reasm) ip(out []Packet, frame int, d []byte) []Packet {
	if len(d) < 1 {
		return out
	}
	switch d[0] >> 4 {
	case 4:
		if len(d) < 20 {
			return out
		}
		ihl := int(d[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(d[2:]))
		if ihl < 20 || total < ihl || total > len(d) {
			return out
		}
		src, _ := netip.AddrFromSlice(d[12:16])
		dst, _ := netip.AddrFromSlice(d[16:20])
		proto := d[9]
		fragOff := int(binary.BigEndian.Uint16(d[6:])&0x1fff) * 8
		more := d[6]&0x20 != 0
		body := d[ihl:total]
		if fragOff != 0 || more {
			key := fragKey{src: src, dst: dst, id: uint32(binary.BigEndian.Uint16(d[4:])), proto: proto}
			body = r.add(key, fragOff, more, body)
			if body == nil {
				return out
			}
			return udp(out, frame, src, dst, proto, body, true)
		}
		return udp(out, frame, src, dst, proto, body, false)
	case 6:
		if len(d) < 40 {
			return out
		}
		plen := int(binary.BigEndian.Uint16(d[4:]))
		if 40+plen > len(d) {
			return out
		}
		src, _ := netip.AddrFromSlice(d[8:24])
		dst, _ := netip.AddrFromSlice(d[24:40])
		next, body := d[6], d[40:40+plen]
		// Skip hop-by-hop, routing and destination options; handle fragment.
		for {
			switch next {
			case 0, 43, 60:
				if len(body) < 8 {
					return out
				}
				l := (int(body[1]) + 1) * 8
				if l > len(body) {
					return out
				}
				next, body = body[0], body[l:]
				continue
			case 44:
				if len(body) < 8 {
					return out
				}
				fo := int(binary.BigEndian.Uint16(body[2:]) &^ 7)
				more := body[3]&1 != 0
				key := fragKey{src: src, dst: dst, id: binary.BigEndian.Uint32(body[4:]), proto: body[0]}
				whole := r.add(key, fo, more, body[8:])
				if whole == nil {
					return out
				}
				return udp(out, frame, src, dst, body[0], whole, true)
			}
			break
		}
		return udp(out, frame, src, dst, next, body, false)
	}
	return out
}

func udp(out []Packet, frame int, src, dst netip.Addr, proto uint8, d []byte, reassembled bool) []Packet {
	if proto != 17 || len(d) < 8 {
		return out
	}
	sp, dp := binary.BigEndian.Uint16(d[0:]), binary.BigEndian.Uint16(d[2:])
	ulen := int(binary.BigEndian.Uint16(d[4:]))
	if ulen < 8 || ulen > len(d) {
		ulen = len(d) // jumbo or bogus length: trust the capture
	}
	payload := d[8:ulen]
	p := Packet{Frame: frame, Src: netip.AddrPortFrom(src, sp), Dst: netip.AddrPortFrom(dst, dp), Reassembled: reassembled}
	switch {
	case sp == 4500 || dp == 4500:
		// RFC 3948 section 2.2: IKE carries a 4-byte zero non-ESP
		// marker; ESP starts with a non-zero SPI; a lone 0xff byte is a
		// NAT keepalive.
		if len(payload) < 4 || binary.BigEndian.Uint32(payload) != 0 {
			return out
		}
		p.NATT, p.Payload = true, payload[4:]
	case sp == 500 || dp == 500:
		p.Payload = payload
	default:
		return out
	}
	return append(out, p)
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragPiece struct {
	off  int
	data []byte
}

type fragSet struct {
	pieces []fragPiece
	total  int // -1 until the last fragment arrived
}

// reasm collects IP fragments. Overlaps are resolved first-come; this is a
// test helper over trusted captures, not a defense against teardrop.
type reasm struct {
	sets map[fragKey]*fragSet
}

func (r *reasm) add(k fragKey, off int, more bool, data []byte) []byte {
	if r.sets == nil {
		r.sets = map[fragKey]*fragSet{}
	}
	s := r.sets[k]
	if s == nil {
		s = &fragSet{total: -1}
		r.sets[k] = s
	}
	s.pieces = append(s.pieces, fragPiece{off: off, data: data})
	if !more {
		s.total = off + len(data)
	}
	if s.total < 0 {
		return nil
	}
	buf := make([]byte, s.total)
	have := make([]bool, s.total)
	for _, p := range s.pieces {
		for i := range p.data {
			if p.off+i < s.total {
				buf[p.off+i] = p.data[i]
				have[p.off+i] = true
			}
		}
	}
	for _, h := range have {
		if !h {
			return nil
		}
	}
	delete(r.sets, k)
	return buf
}
