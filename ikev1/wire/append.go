package wire

import (
	"encoding/binary"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// Append encodes m and appends it to dst, computing the header's Next and
// Length and the nested Next and length fields; m.Next and m.Length are
// ignored. The payloads are written in plaintext whatever the flags say
// (Crypto.Seal encrypts the result). When Payloads is nil and Encrypted
// is set, the header (with m.Next) and Encrypted are written as they are,
// so a parsed encrypted message re-encodes to the same bytes. Appending
// into a buffer with enough capacity allocates nothing.
func (m *Message) Append(dst []byte) ([]byte, error) {
	var b isakmp.Builder
	b.Reset(dst)
	v := m.Version
	if v == 0 {
		v = Version
	}
	h := isakmp.Header{
		SPIi: binary.BigEndian.Uint64(m.ICookie[:]), SPIr: binary.BigEndian.Uint64(m.RCookie[:]),
		Version: v, Exchange: uint8(m.Exchange), Flags: uint8(m.Flags), MessageID: m.MessageID,
	}
	b.BeginMessage(&h)
	if m.Payloads == nil && m.Encrypted != nil {
		b.PatchUint8(b.MessageStart()+16, uint8(m.Next))
		b.AddBytes(m.Encrypted)
	} else {
		for _, p := range m.Payloads {
			appendPayload(&b, p)
		}
	}
	b.EndMessage()
	out, err := b.Bytes()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendPayloads encodes a payload chain without a header (the plaintext
// body of an encrypted message, before padding) and returns it with the
// first payload's type for the header's Next field.
func AppendPayloads(dst []byte, ps []Payload) ([]byte, PayloadType, error) {
	var b isakmp.Builder
	b.Reset(dst)
	for _, p := range ps {
		appendPayload(&b, p)
	}
	out, err := b.Bytes()
	if err != nil {
		return dst, PayloadNone, err
	}
	if len(ps) == 0 {
		return out, PayloadNone, nil
	}
	return out, ps[0].Type(), nil
}

func appendPayload(b *isakmp.Builder, p Payload) {
	t := p.Type()
	mark := b.BeginPayload(uint8(t), false)
	switch p := p.(type) {
	case *SA:
		appendSA(b, p)
	case *KE:
		b.AddBytes(p.Data)
	case *ID:
		b.AddUint8(uint8(p.IDType))
		b.AddUint8(p.Protocol)
		b.AddUint16(p.Port)
		b.AddBytes(p.Data)
	case *Hash:
		b.AddBytes(p.Data)
	case *Sig:
		b.AddBytes(p.Data)
	case *Cert:
		b.AddUint8(p.Encoding)
		b.AddBytes(p.Data)
	case *CertReq:
		b.AddUint8(p.Encoding)
		b.AddBytes(p.Authority)
	case *Nonce:
		b.AddBytes(p.Data)
	case *Notify:
		if len(p.SPI) > 255 {
			b.SetError(&EncodeError{Payload: t, Reason: "SPI longer than 255 bytes"})
		}
		b.AddUint32(p.DOI)
		b.AddUint8(uint8(p.Protocol))
		b.AddUint8(uint8(len(p.SPI)))
		b.AddUint16(uint16(p.NotifyType))
		b.AddBytes(p.SPI)
		b.AddBytes(p.Data)
	case *Delete:
		size := int(p.SPISize)
		if size == 0 && len(p.SPIs) > 0 {
			size = len(p.SPIs[0])
		}
		if size > 255 || len(p.SPIs) > 0xffff {
			b.SetError(&EncodeError{Payload: t, Reason: "SPI size or count out of range"})
		}
		b.AddUint32(p.DOI)
		b.AddUint8(uint8(p.Protocol))
		b.AddUint8(uint8(size))
		b.AddUint16(uint16(len(p.SPIs)))
		for i, s := range p.SPIs {
			if len(s) != size {
				b.SetError(&EncodeError{Payload: t, Reason: "SPI " + strconv.Itoa(i) + " is " + strconv.Itoa(len(s)) + " bytes, not " + strconv.Itoa(size)})
			}
			b.AddBytes(s)
		}
	case *VendorID:
		b.AddBytes(p.Data)
	case *NATD:
		b.AddBytes(p.Hash)
	case *NATOA:
		a := p.Addr.Unmap()
		idt := p.IDType
		if idt == 0 {
			idt = IDIPv4Addr
			if a.Is6() {
				idt = IDIPv6Addr
			}
		}
		if !a.IsValid() || (idt == IDIPv4Addr) != a.Is4() || (idt != IDIPv4Addr && idt != IDIPv6Addr) {
			b.SetError(&EncodeError{Payload: t, Reason: "address does not match ID type " + idt.String()})
		}
		b.AddUint8(uint8(idt))
		b.AddZeros(3)
		if a.IsValid() {
			b.AddBytes(a.AsSlice())
		}
	case *Attributes:
		b.AddUint8(uint8(p.CfgType))
		b.AddUint8(0)
		b.AddUint16(p.Identifier)
		appendAttrs(b, t, p.Attrs)
	case *Fragment:
		b.AddUint16(p.ID)
		b.AddUint8(p.Number)
		var flags uint8
		if p.Last {
			flags = 1
		}
		b.AddUint8(flags)
		b.AddBytes(p.Data)
	case *Unknown:
		b.AddBytes(p.Body)
	default:
		b.SetError(&EncodeError{Payload: t, Reason: "unsupported payload implementation"})
	}
	b.EndPayload(mark)
}

func appendSA(b *isakmp.Builder, sa *SA) {
	b.AddUint32(sa.DOI)
	b.AddUint32(sa.Situation)
	for i := range sa.Proposals {
		p := &sa.Proposals[i]
		mark := b.Len()
		next := uint8(PayloadProposal)
		if i == len(sa.Proposals)-1 {
			next = 0
		}
		b.AddUint8(next)
		b.AddUint8(0)
		b.AddUint16(0)
		if len(p.SPI) > 255 || len(p.Transforms) > 255 {
			b.SetError(&EncodeError{Payload: PayloadProposal, Reason: "SPI or transform count out of range"})
		}
		b.AddUint8(p.Number)
		b.AddUint8(uint8(p.Protocol))
		b.AddUint8(uint8(len(p.SPI)))
		b.AddUint8(uint8(len(p.Transforms)))
		b.AddBytes(p.SPI)
		for j := range p.Transforms {
			tr := &p.Transforms[j]
			tmark := b.Len()
			next := uint8(PayloadTransform)
			if j == len(p.Transforms)-1 {
				next = 0
			}
			b.AddUint8(next)
			b.AddUint8(0)
			b.AddUint16(0)
			b.AddUint8(tr.Number)
			b.AddUint8(tr.ID)
			b.AddUint16(0)
			appendAttrs(b, PayloadTransform, tr.Attributes)
			b.PatchLen16(tmark+2, tmark)
		}
		b.PatchLen16(mark+2, mark)
	}
}

func appendAttrs(b *isakmp.Builder, t PayloadType, attrs []Attribute) {
	for _, a := range attrs {
		if a.Type > 0x7fff {
			b.SetError(&EncodeError{Payload: t, Reason: "attribute type " + strconv.Itoa(int(a.Type)) + " exceeds 15 bits"})
		}
		if a.TV {
			if a.Value > 0xffff {
				b.SetError(&EncodeError{Payload: t, Reason: "basic attribute " + strconv.Itoa(int(a.Type)) + " value exceeds 16 bits"})
			}
			b.AddUint16(a.Type | 0x8000)
			b.AddUint16(uint16(a.Value))
			continue
		}
		if len(a.Data) > 0xffff {
			b.SetError(&EncodeError{Payload: t, Reason: "attribute " + strconv.Itoa(int(a.Type)) + " longer than 65535 bytes"})
		}
		b.AddUint16(a.Type & 0x7fff)
		b.AddUint16(uint16(len(a.Data)))
		b.AddBytes(a.Data)
	}
}

// AppendBody appends the body of p as Append would encode it, without the
// generic payload header: SAi_b and IDii_b of HASH_I (RFC 2409 section 5)
// for payloads the engine sends.
func AppendBody(dst []byte, p Payload) ([]byte, error) {
	var b isakmp.Builder
	b.Reset(dst)
	appendPayload(&b, p)
	out, err := b.Bytes()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	return append(out[:start], out[start+isakmp.GenericHeaderLen:]...), nil
}
