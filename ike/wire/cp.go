package wire

import (
	"github.com/goipsec/ipsec/internal/isakmp"
)

func decodeCP(r *isakmp.Reader) (*CP, error) {
	t, err := r.Uint8("CFG type")
	if err == nil {
		_, err = r.Bytes(3, "reserved")
	}
	if err != nil {
		return nil, convertErr(err)
	}
	cp := &CP{Type: CPType(t)}
	for !r.Empty() {
		at, err := r.Uint16("attribute type")
		if err != nil {
			return nil, convertErr(err)
		}
		l, err := r.Uint16("attribute length")
		if err != nil {
			return nil, convertErr(err)
		}
		v, err := r.Bytes(int(l), "attribute value")
		if err != nil {
			return nil, convertErr(err)
		}
		if l == 0 {
			v = nil
		}
		// The top bit is reserved (RFC 7296 section 3.15.1): ignored.
		cp.Attributes = append(cp.Attributes, CPAttribute{Type: CPAttrType(at & 0x7fff), Value: v})
	}
	return cp, nil
}

func appendCP(b *isakmp.Builder, cp *CP) {
	b.AddUint8(uint8(cp.Type))
	b.AddZeros(3)
	for _, a := range cp.Attributes {
		if a.Type&0x8000 != 0 || len(a.Value) > 0xffff {
			b.SetError(errEncode(PayloadCP, "bad attribute"))
		}
		b.AddUint16(uint16(a.Type))
		b.AddUint16(uint16(len(a.Value)))
		b.AddBytes(a.Value)
	}
}
