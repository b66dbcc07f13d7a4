package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// The checked-in captures are all Ethernet/IPv4 on port 500 or 4500; these
// synthetic files cover the other link types, IPv6 with its fragment
// header, the non-ESP marker, ESP-in-UDP and NAT keepalives.

var (
	v6src = netip.MustParseAddr("2001:db8::1")
	v6dst = netip.MustParseAddr("2001:db8::2")
	ike   = bytes.Repeat([]byte{0xab}, 40)
)

func udpDatagram(sport, dport uint16, payload []byte) []byte {
	u := binary.BigEndian.AppendUint16(nil, sport)
	u = binary.BigEndian.AppendUint16(u, dport)
	u = binary.BigEndian.AppendUint16(u, uint16(8+len(payload)))
	u = append(u, 0, 0)
	return append(u, payload...)
}

func ipv6Packet(next uint8, body []byte) []byte {
	h := []byte{0x60, 0, 0, 0, 0, 0, next, 64}
	binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
	h = append(h, v6src.AsSlice()...)
	h = append(h, v6dst.AsSlice()...)
	return append(h, body...)
}

func ipv6Fragment(id uint32, off int, more bool, data []byte) []byte {
	fh := []byte{17, 0, 0, 0}
	v := uint16(off)
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(fh[2:], v)
	fh = binary.BigEndian.AppendUint32(fh, id)
	return ipv6Packet(44, append(fh, data...))
}

func ipv4Packet(body []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(body)))
	return append(h, body...)
}

func sll(ip []byte, ethertype uint16) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[14:], ethertype)
	return append(h, ip...)
}

func pcapngBlock(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

func epb(pkt []byte) []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(pkt)))
	binary.LittleEndian.PutUint32(b[16:], uint32(len(pkt)))
	return pcapngBlock(6, append(b, pkt...))
}

func TestSyntheticPcapngSLLIPv6(t *testing.T) {
	shb := []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	file := pcapngBlock(0x0a0d0d0a, shb)
	file = append(file, pcapngBlock(1, []byte{113, 0, 0, 0, 0, 0, 0, 0})...)
	natt := append([]byte{0, 0, 0, 0}, ike...)
	full := udpDatagram(4500, 4500, natt)
	file = append(file,
		epb(sll(ipv6Packet(17, udpDatagram(4500, 4500, natt)), 0x86dd))...) // IKE over NAT-T
	file = append(file,
		epb(sll(ipv6Packet(17, udpDatagram(4500, 4500, []byte{0, 0, 1, 2, 0, 0, 0, 1})), 0x86dd))...) // ESP
	file = append(file,
		epb(sll(ipv6Packet(17, udpDatagram(4500, 4500, []byte{0xff})), 0x86dd))...) // keepalive
	file = append(file, epb(sll(ipv6Fragment(7, 0, true, full[:24]), 0x86dd))...)
	file = append(file, epb(sll(ipv6Fragment(7, 24, false, full[24:]), 0x86dd))...)
	file = append(file, epb(sll(ipv4Packet(udpDatagram(500, 500, ike)), 0x0800))...)
	ps, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d packets, want 3: %+v", len(ps), ps)
	}
	for i, want := range []struct {
		frame       int
		natt, reasm bool
	}{{1, true, false}, {5, true, true}, {6, false, false}} {
		p := ps[i]
		if p.Frame != want.frame || p.NATT != want.natt || p.Reassembled != want.reasm || !bytes.Equal(p.Payload, ike) {
			t.Errorf("packet %d: %+v", i, p)
		}
	}
	if ps[0].Src != netip.AddrPortFrom(v6src, 4500) || ps[2].Dst.Addr() != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("addresses %v %v", ps[0].Src, ps[2].Dst)
	}
	// Every truncation of the file either errors or yields fewer packets;
	// none panics.
	for i := range file {
		got, _ := Read(file[:i])
		if len(got) > len(ps) {
			t.Fatalf("prefix %d: %d packets", i, len(got))
		}
	}
}

func TestSyntheticPcapBigEndianRaw(t *testing.T) {
	hdr := []byte{0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 101}
	pkt := ipv4Packet(udpDatagram(500, 4500, append([]byte{0, 0, 0, 0}, ike...)))
	rec := make([]byte, 16)
	binary.BigEndian.PutUint32(rec[8:], uint32(len(pkt)))
	binary.BigEndian.PutUint32(rec[12:], uint32(len(pkt)))
	file := append(append(hdr, rec...), pkt...)
	ps, err := Read(file)
	if err != nil || len(ps) != 1 || !ps[0].NATT || !bytes.Equal(ps[0].Payload, ike) {
		t.Fatalf("%+v %v", ps, err)
	}
	if _, err := Read(file[:len(file)-1]); err == nil {
		t.Error("truncated record accepted")
	}
}
