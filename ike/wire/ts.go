package wire

import (
	"net/netip"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// Selector lengths (RFC 7296 section 3.13.1).
const (
	tsIPv4Len = 16
	tsIPv6Len = 40
)

func decodeTS(r *isakmp.Reader, responder bool) (*TS, error) {
	t := PayloadTSi
	if responder {
		t = PayloadTSr
	}
	n, err := r.Uint8("number of TSs")
	if err == nil {
		_, err = r.Bytes(3, "reserved")
	}
	if err != nil {
		return nil, convertErr(err)
	}
	ts := &TS{Responder: responder}
	if n > 0 {
		ts.Selectors = make([]TrafficSelector, 0, n)
	}
	for i := 0; i < int(n); i++ {
		start := r.Offset()
		typ, _ := r.Uint8("TS type")
		proto, _ := r.Uint8("IP protocol ID")
		l, err := r.Uint16("selector length")
		if err != nil {
			return nil, convertErr(err)
		}
		if l < 4 {
			return nil, perr(start+2, t, "selector length "+strconv.Itoa(int(l))+" too small")
		}
		sr, err := r.Sub(int(l)-4, "traffic selector", uint8(t))
		if err != nil {
			return nil, convertErr(err)
		}
		s := TrafficSelector{Type: TSType(typ), IPProtocol: proto}
		switch s.Type {
		case TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE:
			alen, want := 4, tsIPv4Len
			if s.Type == TS_IPV6_ADDR_RANGE {
				alen, want = 16, tsIPv6Len
			}
			if int(l) != want {
				return nil, perr(start+2, t, s.Type.String()+" length "+strconv.Itoa(int(l))+", want "+strconv.Itoa(want))
			}
			s.StartPort, _ = sr.Uint16("start port")
			s.EndPort, _ = sr.Uint16("end port")
			a, _ := sr.Bytes(alen, "start address")
			z, _ := sr.Bytes(alen, "end address")
			s.StartAddr, _ = netip.AddrFromSlice(a)
			s.EndAddr, _ = netip.AddrFromSlice(z)
		default:
			s.Data = sr.Rest()
		}
		ts.Selectors = append(ts.Selectors, s)
	}
	if !r.Empty() {
		return nil, convertErr(r.Errorf(strconv.Itoa(r.Len()) + " bytes after the last selector"))
	}
	return ts, nil
}

func appendTS(b *isakmp.Builder, ts *TS) {
	t := ts.PayloadType()
	if len(ts.Selectors) > 255 {
		b.SetError(errEncode(t, "more than 255 selectors"))
	}
	b.AddUint8(uint8(len(ts.Selectors)))
	b.AddZeros(3)
	for i := range ts.Selectors {
		s := &ts.Selectors[i]
		start := b.Len()
		b.AddUint8(uint8(s.Type))
		b.AddUint8(s.IPProtocol)
		b.AddUint16(0)
		switch s.Type {
		case TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE:
			want := s.Type == TS_IPV6_ADDR_RANGE
			if !s.StartAddr.IsValid() || !s.EndAddr.IsValid() || s.StartAddr.Is6() != want || s.EndAddr.Is6() != want ||
				s.StartAddr.Is4In6() || s.EndAddr.Is4In6() {
				b.SetError(errEncode(t, "selector addresses do not match "+s.Type.String()))
			}
			b.AddUint16(s.StartPort)
			b.AddUint16(s.EndPort)
			a, z := s.StartAddr.AsSlice(), s.EndAddr.AsSlice()
			b.AddBytes(a)
			b.AddBytes(z)
		default:
			b.AddBytes(s.Data)
		}
		b.PatchLen16(start+2, start)
	}
}
