package wire

import (
	"encoding/binary"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// HeaderLen is the length of the ISAKMP header (RFC 2408 section 3.1).
const HeaderLen = isakmp.HeaderLen

// Version is the version byte of IKEv1 messages: major 1, minor 0.
const Version uint8 = 0x10

// Header is the ISAKMP header (RFC 2408 section 3.1).
type Header struct {
	// ICookie is the initiator's cookie.
	ICookie [8]byte
	// RCookie is the responder's cookie, zero in the first message.
	RCookie [8]byte
	// Next is the type of the first payload. Append computes it from the
	// payloads; for an encrypted body it names the first encrypted payload.
	Next PayloadType
	// Version is the raw version byte (major in the high nibble); Append
	// writes Version (1.0) when it is 0.
	Version uint8
	// Exchange is the exchange type.
	Exchange ExchangeType
	// Flags are the E, C and A flags.
	Flags Flags
	// MessageID is 0 in phase 1 and random for each Quick Mode,
	// Informational and Transaction exchange.
	MessageID uint32
	// Length is the total message length; Append computes it.
	Length uint32
}

// IsEncrypted reports whether the E flag is set.
func (h *Header) IsEncrypted() bool { return h.Flags&FlagEncryption != 0 }

// Message is a decoded IKEv1 message.
type Message struct {
	Header
	// Payloads are the top-level payloads in order; nil while the body is
	// encrypted (decrypt Encrypted and use ParsePayloads).
	Payloads []Payload
	// Encrypted is the body after the header when FlagEncryption is set
	// (aliases Raw). Append writes it as it is when Payloads is nil.
	Encrypted []byte
	// Raw is the whole message as received; Append ignores it.
	Raw []byte
	// Response is not on the wire (IKEv1 has no response flag): the engine
	// sets it for Summary, which shows "request" or "response" as charon
	// does.
	Response bool
}

// v1Spec walks IKEv1 chains: no terminal payloads, nothing after the last
// payload of a plaintext message.
var v1Spec = isakmp.ChainSpec{}

// bodySpec walks a decrypted body, whose block padding follows the last
// payload (RFC 2409 section 5.3: the padding is ignored).
var bodySpec = isakmp.ChainSpec{AllowTrailing: true}

// ParseHeader decodes and checks the ISAKMP header of b alone: the major
// version must be 1, the length field at least HeaderLen, at most 65535,
// and equal to len(b) (one message per datagram).
func ParseHeader(b []byte) (Header, error) {
	h, err := isakmp.ParseHeader(b)
	var wh Header
	binary.BigEndian.PutUint64(wh.ICookie[:], h.SPIi)
	binary.BigEndian.PutUint64(wh.RCookie[:], h.SPIr)
	wh.Next, wh.Version, wh.Exchange = PayloadType(h.NextPayload), h.Version, ExchangeType(h.Exchange)
	wh.Flags, wh.MessageID, wh.Length = Flags(h.Flags), h.MessageID, h.Length
	if err != nil {
		return wh, convertErr(err)
	}
	if h.MajorVersion() != 1 {
		return wh, &ParseError{Offset: 17, Reason: "major version " + strconv.Itoa(int(h.MajorVersion())), Err: ErrUnsupportedVersion}
	}
	if h.Length > isakmp.MaxMessageLen {
		return wh, perr(24, PayloadNone, "message length "+strconv.Itoa(int(h.Length))+" exceeds 65535")
	}
	if int(h.Length) != len(b) {
		return wh, perr(int(h.Length), PayloadNone, strconv.Itoa(len(b)-int(h.Length))+" bytes after the message")
	}
	return wh, nil
}

// Parse decodes an IKEv1 message. The returned structures alias b. When
// the E flag is set the body stays in Encrypted and Payloads is nil, except
// for a message whose first payload is a Fragment: racoon sets the E flag on
// fragments although they are not encrypted (the reassembled message is),
// so such messages are parsed as plaintext.
func Parse(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h, Raw: b}
	if h.IsEncrypted() && h.Next != PayloadFragment {
		m.Encrypted = b[HeaderLen:h.Length:h.Length]
		return m, nil
	}
	m.Payloads, err = parseChain(b[:h.Length], HeaderLen, h.Next, &v1Spec)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParsePayloads decodes a decrypted body (the bytes after the header)
// whose first payload has type first (the header's Next). Bytes after the
// last payload are the CBC padding and are ignored (RFC 2409 section 5.3);
// padding longer than the cipher's block size is the caller's concern.
// Offsets in errors are relative to b.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return parseChain(b, 0, first, &bodySpec)
}

func parseChain(msg []byte, start int, first PayloadType, spec *isakmp.ChainSpec) ([]Payload, error) {
	c := isakmp.NewChain(msg[start:], start, uint8(first), spec)
	n := 0
	for c.Next() {
		n++
	}
	if err := c.Err(); err != nil {
		return nil, convertErr(err)
	}
	out := make([]Payload, 0, n)
	c = isakmp.NewChain(msg[start:], start, uint8(first), spec)
	for c.Next() {
		p, err := decodePayload(c.Payload())
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

func decodePayload(gp isakmp.Payload) (Payload, error) {
	t := PayloadType(gp.Type)
	base := gp.Offset + isakmp.GenericHeaderLen
	r := isakmp.NewReader(gp.Body, base, gp.Type)
	switch t {
	case PayloadSA:
		return decodeSA(&r, gp.Body)
	case PayloadKE:
		return &KE{Data: r.Rest()}, nil
	case PayloadID:
		return decodeID(&r)
	case PayloadCERT:
		enc, err := r.Uint8("certificate encoding")
		if err != nil {
			return nil, convertErr(err)
		}
		return &Cert{Encoding: enc, Data: r.Rest()}, nil
	case PayloadCR:
		enc, err := r.Uint8("certificate type")
		if err != nil {
			return nil, convertErr(err)
		}
		return &CertReq{Encoding: enc, Authority: r.Rest()}, nil
	case PayloadHASH:
		return &Hash{Data: r.Rest()}, nil
	case PayloadSIG:
		return &Sig{Data: r.Rest()}, nil
	case PayloadNonce:
		return &Nonce{Data: r.Rest()}, nil
	case PayloadNotify:
		return decodeNotify(&r)
	case PayloadDelete:
		return decodeDelete(&r)
	case PayloadVendorID:
		return &VendorID{Data: r.Rest()}, nil
	case PayloadNATD, PayloadNATDDraft:
		return &NATD{Hash: r.Rest(), Draft: t == PayloadNATDDraft}, nil
	case PayloadNATOA, PayloadNATOADraft:
		return decodeNATOA(&r, t)
	case PayloadAttributes:
		return decodeAttributes(&r)
	case PayloadFragment:
		return decodeFragment(&r)
	case PayloadProposal, PayloadTransform:
		return nil, perr(gp.Offset, t, "proposal and transform payloads belong inside an SA payload")
	}
	return &Unknown{PayloadType: t, Body: gp.Body}, nil
}

func decodeSA(r *isakmp.Reader, whole []byte) (*SA, error) {
	doi, err := r.Uint32("DOI")
	if err != nil {
		return nil, convertErr(err)
	}
	sit, err := r.Uint32("situation")
	if err != nil {
		return nil, convertErr(err)
	}
	if doi == DOIIPsec && sit&^SituationIdentityOnly != 0 {
		// SIT_SECRECY and SIT_INTEGRITY add labelled domain fields
		// (RFC 2407 4.2) nobody implements.
		return nil, convertErr(r.ErrorAt(r.Offset()-4, "situation 0x"+strconv.FormatUint(uint64(sit), 16)+" with secrecy or integrity labels is not supported"))
	}
	sa := &SA{DOI: doi, Situation: sit}
	body := r.Rest()
	sa.Body = whole
	base := r.Offset() - len(body)
	if len(body) == 0 {
		return nil, perr(base, PayloadSA, "no proposal")
	}
	c := isakmp.NewChain(body, base, uint8(PayloadProposal), nil)
	n := 0
	for c.Next() {
		if gp := c.Payload(); gp.Type != uint8(PayloadProposal) {
			return nil, perr(gp.Offset, PayloadProposal, "next payload "+PayloadType(gp.Type).String()+" inside an SA payload")
		}
		n++
	}
	if err := c.Err(); err != nil {
		return nil, nestedErr(err, PayloadProposal)
	}
	sa.Proposals = make([]Proposal, 0, n)
	c = isakmp.NewChain(body, base, uint8(PayloadProposal), nil)
	for c.Next() {
		p, err := decodeProposal(c.Payload())
		if err != nil {
			return nil, err
		}
		sa.Proposals = append(sa.Proposals, p)
	}
	return sa, nil
}

// nestedErr converts a chain error of a nested chain, naming the nested
// payload type: the chain walker reports the type of the payload it was
// about to read, which for nested chains comes from a Next field.
func nestedErr(err error, t PayloadType) error {
	e := convertErr(err)
	if pe, ok := e.(*ParseError); ok {
		pe.Payload = t
	}
	return e
}

func decodeProposal(gp isakmp.Payload) (Proposal, error) {
	r := isakmp.NewReader(gp.Body, gp.Offset+isakmp.GenericHeaderLen, uint8(PayloadProposal))
	var p Proposal
	num, err := r.Uint8("proposal number")
	if err != nil {
		return p, convertErr(err)
	}
	proto, err := r.Uint8("protocol ID")
	if err != nil {
		return p, convertErr(err)
	}
	spiSize, err := r.Uint8("SPI size")
	if err != nil {
		return p, convertErr(err)
	}
	nt, err := r.Uint8("number of transforms")
	if err != nil {
		return p, convertErr(err)
	}
	spi, err := r.Bytes(int(spiSize), "SPI")
	if err != nil {
		return p, convertErr(err)
	}
	if spiSize == 0 {
		spi = nil
	}
	p = Proposal{Number: num, Protocol: ProtocolID(proto), SPI: spi}
	body := r.Rest()
	base := r.Offset() - len(body)
	first := uint8(PayloadTransform)
	if len(body) == 0 {
		first = 0
	}
	c := isakmp.NewChain(body, base, first, nil)
	n := 0
	for c.Next() {
		if tp := c.Payload(); tp.Type != uint8(PayloadTransform) {
			return p, perr(tp.Offset, PayloadTransform, "next payload "+PayloadType(tp.Type).String()+" inside a proposal")
		}
		n++
	}
	if err := c.Err(); err != nil {
		return p, nestedErr(err, PayloadTransform)
	}
	if n != int(nt) {
		return p, perr(gp.Offset+7, PayloadProposal, "proposal announces "+strconv.Itoa(int(nt))+" transforms, has "+strconv.Itoa(n))
	}
	if n == 0 {
		return p, perr(gp.Offset, PayloadProposal, "proposal without transforms")
	}
	p.Transforms = make([]Transform, 0, n)
	c = isakmp.NewChain(body, base, first, nil)
	for c.Next() {
		tp := c.Payload()
		tr := isakmp.NewReader(tp.Body, tp.Offset+isakmp.GenericHeaderLen, uint8(PayloadTransform))
		tn, err := tr.Uint8("transform number")
		if err != nil {
			return p, convertErr(err)
		}
		id, err := tr.Uint8("transform ID")
		if err != nil {
			return p, convertErr(err)
		}
		if _, err := tr.Bytes(2, "reserved"); err != nil {
			return p, convertErr(err)
		}
		attrs, err := decodeAttrs(&tr)
		if err != nil {
			return p, err
		}
		p.Transforms = append(p.Transforms, Transform{Number: tn, ID: id, Attributes: attrs})
	}
	return p, nil
}

// decodeAttrs reads data attributes (RFC 2408 section 3.3) up to the end
// of r.
func decodeAttrs(r *isakmp.Reader) ([]Attribute, error) {
	// Count first (each attribute takes at least 4 bytes) to allocate once.
	var out []Attribute
	if r.Len() >= 4 {
		out = make([]Attribute, 0, min(r.Len()/4, 64))
	}
	for !r.Empty() {
		t, err := r.Uint16("attribute type")
		if err != nil {
			return nil, convertErr(err)
		}
		v, err := r.Uint16("attribute value")
		if err != nil {
			return nil, convertErr(err)
		}
		if t&0x8000 != 0 {
			out = append(out, Attribute{Type: t & 0x7fff, Value: uint32(v), TV: true})
			continue
		}
		data, err := r.Bytes(int(v), "attribute value")
		if err != nil {
			return nil, convertErr(err)
		}
		out = append(out, TLV(t, data))
	}
	return out, nil
}

func decodeID(r *isakmp.Reader) (*ID, error) {
	t, err := r.Uint8("ID type")
	if err != nil {
		return nil, convertErr(err)
	}
	proto, err := r.Uint8("protocol ID")
	if err != nil {
		return nil, convertErr(err)
	}
	port, err := r.Uint16("port")
	if err != nil {
		return nil, convertErr(err)
	}
	return &ID{IDType: IDType(t), Protocol: proto, Port: port, Data: r.Rest()}, nil
}

func decodeNotify(r *isakmp.Reader) (*Notify, error) {
	doi, err := r.Uint32("DOI")
	if err != nil {
		return nil, convertErr(err)
	}
	proto, err := r.Uint8("protocol ID")
	if err != nil {
		return nil, convertErr(err)
	}
	size, err := r.Uint8("SPI size")
	if err != nil {
		return nil, convertErr(err)
	}
	typ, err := r.Uint16("notify message type")
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
	return &Notify{DOI: doi, Protocol: ProtocolID(proto), SPI: spi, NotifyType: NotifyType(typ), Data: r.Rest()}, nil
}

func decodeDelete(r *isakmp.Reader) (*Delete, error) {
	doi, err := r.Uint32("DOI")
	if err != nil {
		return nil, convertErr(err)
	}
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
	if size == 0 && n > 0 {
		// Nothing to delete, and n empty SPIs would cost memory.
		return nil, convertErr(r.ErrorAt(r.Offset()-3, strconv.Itoa(int(n))+" SPIs of size 0"))
	}
	want := int(size) * int(n)
	if r.Len() != want {
		return nil, convertErr(r.Errorf(strconv.Itoa(int(n)) + " SPIs of " + strconv.Itoa(int(size)) + " bytes need " + strconv.Itoa(want) + " bytes, have " + strconv.Itoa(r.Len())))
	}
	d := &Delete{DOI: doi, Protocol: ProtocolID(proto), SPISize: size}
	if n > 0 {
		d.SPIs = make([][]byte, n)
		for i := range d.SPIs {
			d.SPIs[i], _ = r.Bytes(int(size), "SPI")
		}
	}
	return d, nil
}

func decodeNATOA(r *isakmp.Reader, t PayloadType) (*NATOA, error) {
	idt, err := r.Uint8("ID type")
	if err != nil {
		return nil, convertErr(err)
	}
	if _, err := r.Bytes(3, "reserved"); err != nil {
		return nil, convertErr(err)
	}
	var want int
	switch IDType(idt) {
	case IDIPv4Addr:
		want = 4
	case IDIPv6Addr:
		want = 16
	default:
		return nil, convertErr(r.ErrorAt(r.Offset()-4, "NAT-OA ID type "+IDType(idt).String()+" is not an address"))
	}
	if r.Len() != want {
		return nil, convertErr(r.Errorf("NAT-OA address of " + strconv.Itoa(r.Len()) + " bytes, want " + strconv.Itoa(want)))
	}
	a, _ := netipFromSlice(r.Rest())
	return &NATOA{IDType: IDType(idt), Addr: a, Draft: t == PayloadNATOADraft}, nil
}

func decodeAttributes(r *isakmp.Reader) (*Attributes, error) {
	t, err := r.Uint8("type")
	if err != nil {
		return nil, convertErr(err)
	}
	if _, err := r.Uint8("reserved"); err != nil {
		return nil, convertErr(err)
	}
	id, err := r.Uint16("identifier")
	if err != nil {
		return nil, convertErr(err)
	}
	attrs, err := decodeAttrs(r)
	if err != nil {
		return nil, err
	}
	return &Attributes{CfgType: CfgType(t), Identifier: id, Attrs: attrs}, nil
}

func decodeFragment(r *isakmp.Reader) (*Fragment, error) {
	id, err := r.Uint16("fragment ID")
	if err != nil {
		return nil, convertErr(err)
	}
	num, err := r.Uint8("fragment number")
	if err != nil {
		return nil, convertErr(err)
	}
	flags, err := r.Uint8("flags")
	if err != nil {
		return nil, convertErr(err)
	}
	return &Fragment{ID: id, Number: num, Last: flags&1 != 0, Data: r.Rest()}, nil
}

// HashedPayloads returns what HASH(1) and HASH(2) of Quick Mode and
// HASH(1) of Informational and Transaction exchanges cover in a decrypted
// body (RFC 2409 sections 5.5 and 5.7, draft-dukes-ike-mode-cfg 3.3):
// every payload after the first, which must be HASH, including their
// generic headers and up to the end of the last payload, without the
// padding. It aliases body. The engine prepends the message ID itself.
func HashedPayloads(first PayloadType, body []byte) ([]byte, error) {
	if first != PayloadHASH {
		return nil, perr(0, first, "first payload is "+first.String()+", not HASH")
	}
	c := isakmp.NewChain(body, 0, uint8(first), &bodySpec)
	start, end := -1, 0
	for c.Next() {
		p := c.Payload()
		end = p.Offset + isakmp.GenericHeaderLen + len(p.Body)
		if start < 0 {
			start = end
		}
	}
	if err := c.Err(); err != nil {
		return nil, convertErr(err)
	}
	if start < 0 {
		return nil, perr(0, first, "empty body")
	}
	return body[start:end:end], nil
}
