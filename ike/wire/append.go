package wire

import (
	"errors"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// EncodeError reports a payload the builder cannot encode (a field too long
// for its length field, an SK payload that was not sealed, ...).
type EncodeError struct {
	// Payload is the payload type that could not be encoded.
	Payload PayloadType
	// Reason says what is wrong with it.
	Reason string
}

// Error implements the error interface.
func (e *EncodeError) Error() string { return "wire: encoding " + e.Payload.String() + ": " + e.Reason }

func errEncode(p PayloadType, reason string) error { return &EncodeError{Payload: p, Reason: reason} }

// ErrNotSealed is returned by Append for an SK or SKF payload that carries
// inner payloads but no ciphertext: use AppendSealed or AppendFragments.
var ErrNotSealed = errors.New("wire: SK payload must be sealed (use AppendSealed)")

// Append encodes m and appends it to dst, computing Next Payload and length
// fields. m.Header.NextPayload and Length are ignored. SK and SKF payloads
// are written as they are (FirstPayload and Body, e.g. from Parse), so a
// parsed message re-encodes to the same bytes; to encrypt, use
// AppendSealed. Appending into a buffer with enough capacity allocates
// nothing.
func (m *Message) Append(dst []byte) ([]byte, error) {
	var b isakmp.Builder
	b.Reset(dst)
	beginMessage(&b, &m.Header)
	for i, p := range m.Payloads {
		if i < len(m.Payloads)-1 && isEncrypted(p) {
			// RFC 7296 section 3.14: SK is the last payload.
			b.SetError(errEncode(p.PayloadType(), "encrypted payload must be the last one"))
		}
		appendPayload(&b, p)
	}
	b.EndMessage()
	out, err := b.Bytes()
	if err != nil {
		return dst, err
	}
	return out, nil
}

func beginMessage(b *isakmp.Builder, h *Header) {
	major, minor := h.MajorVersion, h.MinorVersion
	if major == 0 && minor == 0 {
		major = 2
	}
	b.BeginMessage(&isakmp.Header{
		SPIi: h.SPIi, SPIr: h.SPIr, Version: major<<4 | minor&0x0f,
		Exchange: uint8(h.Exchange), Flags: uint8(h.Flags), MessageID: h.MessageID,
	})
}

// AppendPayloads encodes an inner payload chain (the plaintext of an SK
// payload without padding) and returns it with the first payload's type.
func AppendPayloads(dst []byte, ps []Payload) ([]byte, PayloadType, error) {
	var b isakmp.Builder
	b.Reset(dst)
	for _, p := range ps {
		if isEncrypted(p) {
			b.SetError(errEncode(p.PayloadType(), "encrypted payload inside an encrypted payload"))
		}
		appendPayload(&b, p)
	}
	out, err := b.Bytes()
	if err != nil {
		return dst, 0, err
	}
	if len(ps) == 0 {
		return out, PayloadNone, nil
	}
	return out, ps[0].PayloadType(), nil
}

func isEncrypted(p Payload) bool {
	switch p.(type) {
	case *SK, *SKF:
		return true
	}
	return false
}

// appendPayload encodes one payload with its generic header. It is a type
// switch rather than an interface method so that the Builder (passed by
// pointer) does not escape and Append stays allocation-free.
func appendPayload(b *isakmp.Builder, p Payload) {
	switch p := p.(type) {
	case *SK:
		appendSK(b, p)
		return
	case *SKF:
		appendSKF(b, p)
		return
	case *Unknown:
		m := b.BeginPayload(uint8(p.Type), p.Critical)
		b.AddBytes(p.Body)
		b.EndPayload(m)
		return
	case nil:
		b.SetError(errEncode(PayloadNone, "nil payload"))
		return
	}
	m := b.BeginPayload(uint8(p.PayloadType()), false)
	switch p := p.(type) {
	case *SA:
		appendSA(b, p)
	case *KE:
		b.AddUint16(uint16(p.Group))
		b.AddUint16(0)
		b.AddBytes(p.Data)
	case *ID:
		b.AddUint8(uint8(p.Type))
		b.AddZeros(3)
		b.AddBytes(p.Data)
	case *Cert:
		b.AddUint8(uint8(p.Encoding))
		b.AddBytes(p.Data)
	case *CertReq:
		b.AddUint8(uint8(p.Encoding))
		b.AddBytes(p.Data)
	case *Auth:
		b.AddUint8(uint8(p.Method))
		b.AddZeros(3)
		b.AddBytes(p.Data)
	case *Nonce:
		b.AddBytes(p.Data)
	case *Notify:
		if len(p.SPI) > 255 {
			b.SetError(errEncode(PayloadNotify, "SPI too long"))
		}
		b.AddUint8(uint8(p.Protocol))
		b.AddUint8(uint8(len(p.SPI)))
		b.AddUint16(uint16(p.Type))
		b.AddBytes(p.SPI)
		b.AddBytes(p.Data)
	case *Delete:
		if len(p.SPIs) != int(p.SPISize)*int(p.NumSPIs) {
			b.SetError(errEncode(PayloadDelete, "len(SPIs) != SPISize*NumSPIs"))
		}
		b.AddUint8(uint8(p.Protocol))
		b.AddUint8(p.SPISize)
		b.AddUint16(p.NumSPIs)
		b.AddBytes(p.SPIs)
	case *VendorID:
		b.AddBytes(p.Data)
	case *TS:
		appendTS(b, p)
	case *CP:
		appendCP(b, p)
	case *EAP:
		b.AddBytes(p.Data)
	}
	b.EndPayload(m)
}
