package wire

import (
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// HeaderLen is the length of the IKE header (RFC 7296 section 3.1).
const HeaderLen = isakmp.HeaderLen

// Header is the IKE header (RFC 7296 section 3.1).
type Header struct {
	// SPIi is the IKE SA initiator's SPI.
	SPIi uint64
	// SPIr is the IKE SA responder's SPI (0 in the first IKE_SA_INIT request).
	SPIr uint64
	// NextPayload is the type of the first payload; the builder computes it.
	NextPayload PayloadType
	// MajorVersion and MinorVersion: the builder writes 2.0 when both are 0.
	MajorVersion uint8
	// MinorVersion: see MajorVersion.
	MinorVersion uint8
	// Exchange is the exchange type.
	Exchange ExchangeType
	// Flags holds the I(nitiator) and R(esponse) flags.
	Flags Flags
	// MessageID is the message ID (RFC 7296 section 2.2).
	MessageID uint32
	// Length is the total message length; the builder computes it.
	Length uint32
}

// IsResponse reports whether the R flag is set.
func (h *Header) IsResponse() bool { return h.Flags&FlagResponse != 0 }

// IsInitiator reports whether the I flag is set (sent by the original
// initiator of the IKE SA).
func (h *Header) IsInitiator() bool { return h.Flags&FlagInitiator != 0 }

// Message is a decoded IKEv2 message.
type Message struct {
	// Header is the IKE header.
	Header Header
	// Payloads are the decoded payloads in message order; an SK payload holds
	// the inner chain after Open.
	Payloads []Payload
	// Raw is the buffer Parse decoded (AUTH signs the raw IKE_SA_INIT
	// messages, RFC 7296 section 2.15); the builder leaves it alone.
	Raw []byte
}

// ikeSpec ends the outer chain at SK and SKF, whose Next Payload field
// names the first inner payload (RFC 7296 section 3.14, RFC 7383 2.5).
var ikeSpec = isakmp.ChainSpec{Terminal: func(t uint8) bool {
	return t == uint8(PayloadSK) || t == uint8(PayloadSKF)
}}

// innerSpec walks decrypted chains, where SK and SKF may not appear.
var innerSpec = isakmp.ChainSpec{}

// ParseHeader decodes and checks the IKE header of b alone: enough for the
// engine to answer a message whose body fails to parse, and for the
// transport to dispatch on the major version.
func ParseHeader(b []byte) (Header, error) {
	h, err := isakmp.ParseHeader(b)
	wh := Header{
		SPIi: h.SPIi, SPIr: h.SPIr, NextPayload: PayloadType(h.NextPayload),
		MajorVersion: h.MajorVersion(), MinorVersion: h.MinorVersion(),
		Exchange: ExchangeType(h.Exchange), Flags: Flags(h.Flags), MessageID: h.MessageID, Length: h.Length,
	}
	if err != nil {
		return wh, convertErr(err)
	}
	if wh.MajorVersion != 2 {
		// RFC 7296 section 2.5: a higher major version gets
		// INVALID_MAJOR_VERSION; the minor version is ignored.
		return wh, &ParseError{Offset: 17, Reason: "major version " + strconv.Itoa(int(wh.MajorVersion)), Err: ErrUnsupportedVersion}
	}
	if h.Length > isakmp.MaxMessageLen {
		// Neither UDP nor RFC 8229 TCP framing carries more.
		return wh, perr(24, PayloadNone, "message length "+strconv.Itoa(int(h.Length))+" exceeds 65535")
	}
	if int(h.Length) != len(b) {
		return wh, perr(int(h.Length), PayloadNone, strconv.Itoa(len(b)-int(h.Length))+" bytes after the message")
	}
	return wh, nil
}

// Parse decodes an IKEv2 message. The returned structures alias b. SK and
// SKF payloads stay encrypted; see Message.Open.
//
// An unknown payload with the critical bit set makes Parse fail with a
// *CriticalPayloadError; unknown non-critical payloads are kept as
// *Unknown (RFC 7296 section 2.5).
func Parse(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h, Raw: b}
	m.Payloads, err = parseChain(b, HeaderLen, h.NextPayload, &ikeSpec, m.Payloads)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParsePayloads decodes an inner payload chain (the plaintext of an SK
// payload, or reassembled SKF fragments) whose first payload has type
// first. Offsets in errors are relative to b.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return parseChain(b, 0, first, &innerSpec, nil)
}

func parseChain(msg []byte, start int, first PayloadType, spec *isakmp.ChainSpec, out []Payload) ([]Payload, error) {
	// Count first so that Payloads is allocated once.
	c := isakmp.NewChain(msg[start:], start, uint8(first), spec)
	n := 0
	for c.Next() {
		n++
	}
	if err := c.Err(); err != nil {
		return nil, convertErr(err)
	}
	if out == nil && n > 0 {
		out = make([]Payload, 0, n)
	}
	c = isakmp.NewChain(msg[start:], start, uint8(first), spec)
	for c.Next() {
		gp := c.Payload()
		p, err := decodePayload(msg, gp, spec == &innerSpec)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := c.Err(); err != nil {
		return nil, convertErr(err)
	}
	return out, nil
}

func decodePayload(msg []byte, gp isakmp.Payload, inner bool) (Payload, error) {
	t := PayloadType(gp.Type)
	base := gp.Offset + isakmp.GenericHeaderLen
	r := isakmp.NewReader(gp.Body, base, gp.Type)
	switch t {
	case PayloadSA:
		return decodeSA(&r)
	case PayloadKE:
		return decodeKE(&r)
	case PayloadIDi, PayloadIDr:
		return decodeID(&r, t == PayloadIDr)
	case PayloadCERT:
		enc, data, err := typedData(&r)
		return &Cert{Encoding: CertEncoding(enc), Data: data}, err
	case PayloadCERTREQ:
		enc, data, err := typedData(&r)
		return &CertReq{Encoding: CertEncoding(enc), Data: data}, err
	case PayloadAUTH:
		return decodeAuth(&r)
	case PayloadNonce:
		return &Nonce{Data: r.Rest()}, nil
	case PayloadNotify:
		return decodeNotify(&r)
	case PayloadDelete:
		return decodeDelete(&r)
	case PayloadVendorID:
		return &VendorID{Data: r.Rest()}, nil
	case PayloadTSi, PayloadTSr:
		return decodeTS(&r, t == PayloadTSr)
	case PayloadCP:
		return decodeCP(&r)
	case PayloadEAP:
		return &EAP{Data: r.Rest()}, nil
	case PayloadSK, PayloadSKF:
		if inner {
			return nil, perr(gp.Offset, t, "encrypted payload inside an encrypted payload")
		}
		if t == PayloadSK {
			return &SK{FirstPayload: PayloadType(gp.Next), Body: gp.Body, aad: msg[:base:base]}, nil
		}
		return decodeSKF(&r, gp, msg[:base+4:base+4])
	}
	if gp.Critical {
		return nil, &CriticalPayloadError{Type: t, Offset: gp.Offset}
	}
	return &Unknown{Type: t, Critical: gp.Critical, Body: gp.Body}, nil
}

func typedData(r *isakmp.Reader) (uint8, []byte, error) {
	t, err := r.Uint8("encoding")
	if err != nil {
		return 0, nil, convertErr(err)
	}
	return t, r.Rest(), nil
}

func decodeKE(r *isakmp.Reader) (*KE, error) {
	g, err := r.Uint16("group")
	if err == nil {
		_, err = r.Uint16("reserved")
	}
	if err != nil {
		return nil, convertErr(err)
	}
	return &KE{Group: KEID(g), Data: r.Rest()}, nil
}

func decodeID(r *isakmp.Reader, responder bool) (*ID, error) {
	t, err := r.Uint8("ID type")
	if err == nil {
		_, err = r.Bytes(3, "reserved")
	}
	if err != nil {
		return nil, convertErr(err)
	}
	return &ID{Responder: responder, Type: IDType(t), Data: r.Rest()}, nil
}

func decodeAuth(r *isakmp.Reader) (*Auth, error) {
	m, err := r.Uint8("auth method")
	if err == nil {
		_, err = r.Bytes(3, "reserved")
	}
	if err != nil {
		return nil, convertErr(err)
	}
	return &Auth{Method: AuthMethod(m), Data: r.Rest()}, nil
}

func decodeNotify(r *isakmp.Reader) (*Notify, error) {
	proto, err := r.Uint8("protocol ID")
	if err != nil {
		return nil, convertErr(err)
	}
	size, err := r.Uint8("SPI size")
	if err != nil {
		return nil, convertErr(err)
	}
	typ, err := r.Uint16("notify type")
	if err != nil {
		return nil, convertErr(err)
	}
	spi, err := r.Bytes(int(size), "SPI")
	if err != nil {
		return nil, convertErr(err)
	}
	if size == 0 {
		spi = nil
	}
	return &Notify{Protocol: ProtocolID(proto), SPI: spi, Type: NotifyType(typ), Data: r.Rest()}, nil
}

func decodeDelete(r *isakmp.Reader) (*Delete, error) {
	proto, err := r.Uint8("protocol ID")
	if err != nil {
		return nil, convertErr(err)
	}
	size, err := r.Uint8("SPI size")
	if err != nil {
		return nil, convertErr(err)
	}
	n, err := r.Uint16("number of SPIs")
	if err != nil {
		return nil, convertErr(err)
	}
	want := int(size) * int(n)
	if r.Len() != want {
		return nil, perr(r.Offset(), PayloadDelete, strconv.Itoa(int(n))+" SPIs of "+strconv.Itoa(int(size))+" bytes need "+strconv.Itoa(want)+" bytes, have "+strconv.Itoa(r.Len()))
	}
	return &Delete{Protocol: ProtocolID(proto), SPISize: size, NumSPIs: n, SPIs: r.Rest()}, nil
}
