package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Header bits (RFC 2661 section 3.1).
const (
	bitT    = 0x80 // control message
	bitL    = 0x40 // Length present
	bitS    = 0x08 // Ns and Nr present
	bitO    = 0x02 // Offset Size present
	bitP    = 0x01 // priority (data messages)
	verL2TP = 2
)

// Header is the L2TP header of one message.
type Header struct {
	// Control is the T bit: a control message.
	Control bool
	// HasLength, HasSeq and HasOffset are the L, S and O bits.
	HasLength, HasSeq, HasOffset bool
	// Priority is the P bit (data messages).
	Priority bool
	// Length is the Length field (when HasLength).
	Length uint16
	// TunnelID and SessionID are the receiver's IDs.
	TunnelID, SessionID uint16
	// Ns and Nr are the sequence numbers (when HasSeq).
	Ns, Nr uint16
	// OffsetSize is the Offset Size field (when HasOffset).
	OffsetSize uint16
}

// MessageType is a control message type (RFC 2661 section 3.2).
type MessageType uint16

// Control message types.
const (
	MsgSCCRQ   MessageType = 1
	MsgSCCRP   MessageType = 2
	MsgSCCCN   MessageType = 3
	MsgStopCCN MessageType = 4
	MsgHello   MessageType = 6
	MsgOCRQ    MessageType = 7
	MsgOCRP    MessageType = 8
	MsgOCCN    MessageType = 9
	MsgICRQ    MessageType = 10
	MsgICRP    MessageType = 11
	MsgICCN    MessageType = 12
	MsgCDN     MessageType = 14
	MsgWEN     MessageType = 15
	MsgSLI     MessageType = 16
)

var msgNames = map[MessageType]string{
	MsgSCCRQ: "SCCRQ", MsgSCCRP: "SCCRP", MsgSCCCN: "SCCCN", MsgStopCCN: "StopCCN",
	MsgHello: "HELLO", MsgOCRQ: "OCRQ", MsgOCRP: "OCRP", MsgOCCN: "OCCN",
	MsgICRQ: "ICRQ", MsgICRP: "ICRP", MsgICCN: "ICCN", MsgCDN: "CDN",
	MsgWEN: "WEN", MsgSLI: "SLI",
}

// String returns the RFC 2661 name ("SCCRQ") or "MessageType(n)".
func (t MessageType) String() string {
	if n, ok := msgNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MessageType(%d)", uint16(t))
}

// AVPType is an IETF attribute type (RFC 2661 section 4.4).
type AVPType uint16

// AVP types of RFC 2661 section 4.4.
const (
	AVPMessageType          AVPType = 0
	AVPResultCode           AVPType = 1
	AVPProtocolVersion      AVPType = 2
	AVPFramingCaps          AVPType = 3
	AVPBearerCaps           AVPType = 4
	AVPTieBreaker           AVPType = 5
	AVPFirmwareRevision     AVPType = 6
	AVPHostName             AVPType = 7
	AVPVendorName           AVPType = 8
	AVPAssignedTunnelID     AVPType = 9
	AVPReceiveWindowSize    AVPType = 10
	AVPChallenge            AVPType = 11
	AVPQ931Cause            AVPType = 12
	AVPChallengeResponse    AVPType = 13
	AVPAssignedSessionID    AVPType = 14
	AVPCallSerialNumber     AVPType = 15
	AVPMinimumBPS           AVPType = 16
	AVPMaximumBPS           AVPType = 17
	AVPBearerType           AVPType = 18
	AVPFramingType          AVPType = 19
	AVPCalledNumber         AVPType = 21
	AVPCallingNumber        AVPType = 22
	AVPSubAddress           AVPType = 23
	AVPTxConnectSpeed       AVPType = 24
	AVPPhysicalChannelID    AVPType = 25
	AVPInitialRecvConfReq   AVPType = 26
	AVPLastSentConfReq      AVPType = 27
	AVPLastRecvConfReq      AVPType = 28
	AVPProxyAuthenType      AVPType = 29
	AVPProxyAuthenName      AVPType = 30
	AVPProxyAuthenChallenge AVPType = 31
	AVPProxyAuthenID        AVPType = 32
	AVPProxyAuthenResponse  AVPType = 33
	AVPCallErrors           AVPType = 34
	AVPACCM                 AVPType = 35
	AVPRandomVector         AVPType = 36
	AVPPrivateGroupID       AVPType = 37
	AVPRxConnectSpeed       AVPType = 38
	AVPSequencingRequired   AVPType = 39
)

var avpNames = [...]string{
	"Message Type", "Result Code", "Protocol Version", "Framing Capabilities",
	"Bearer Capabilities", "Tie Breaker", "Firmware Revision", "Host Name",
	"Vendor Name", "Assigned Tunnel ID", "Receive Window Size", "Challenge",
	"Q.931 Cause Code", "Challenge Response", "Assigned Session ID",
	"Call Serial Number", "Minimum BPS", "Maximum BPS", "Bearer Type",
	"Framing Type", "", "Called Number", "Calling Number", "Sub-Address",
	"Tx Connect Speed", "Physical Channel ID", "Initial Received LCP CONFREQ",
	"Last Sent LCP CONFREQ", "Last Received LCP CONFREQ", "Proxy Authen Type",
	"Proxy Authen Name", "Proxy Authen Challenge", "Proxy Authen ID",
	"Proxy Authen Response", "Call Errors", "ACCM", "Random Vector",
	"Private Group ID", "Rx Connect Speed", "Sequencing Required",
}

// String returns the RFC 2661 name ("Host Name") or "AVP(n)".
func (t AVPType) String() string {
	if int(t) < len(avpNames) && avpNames[t] != "" {
		return avpNames[t]
	}
	return fmt.Sprintf("AVP(%d)", uint16(t))
}

// Known reports whether t is an IETF AVP type this package recognizes.
func (t AVPType) Known() bool { return int(t) < len(avpNames) && avpNames[t] != "" }

// AVP is one attribute-value pair. Value aliases the parsed datagram unless
// the AVP was hidden (then it is the revealed copy).
type AVP struct {
	// Mandatory and Hidden are the M and H bits.
	Mandatory, Hidden bool
	// Vendor is the Vendor ID (0: IETF).
	Vendor uint16
	// Type is the attribute type.
	Type AVPType
	// Value is the attribute value (revealed, when Hidden).
	Value []byte
	// Offset is where the AVP starts in the datagram.
	Offset int
}

// Message is one parsed L2TP message.
type Message struct {
	// Header is the parsed header.
	Header Header
	// Type is the control message type (0 for a ZLB and data messages).
	Type MessageType
	// ZLB says the control message has no AVPs (a Zero-Length Body ack).
	ZLB bool
	// AVPs are the control message's AVPs in order, Message Type first.
	AVPs []AVP
	// Payload is a data message's payload (after the offset padding),
	// aliasing the datagram.
	Payload []byte
}

// Find returns the first IETF AVP of type t.
func (m *Message) Find(t AVPType) (AVP, bool) {
	for _, a := range m.AVPs {
		if a.Vendor == 0 && a.Type == t {
			return a, true
		}
	}
	return AVP{}, false
}

// bodyOffset is where the AVPs start (for errors about a missing AVP).
func (m *Message) bodyOffset() int {
	if len(m.AVPs) > 0 {
		return m.AVPs[0].Offset
	}
	return 12
}

// UnknownMandatory returns the first AVP with the M bit that this package
// does not recognize (RFC 2661 section 4.1: the session or tunnel must
// then be terminated).
func (m *Message) UnknownMandatory() (AVP, bool) {
	for _, a := range m.AVPs {
		if a.Mandatory && (a.Vendor != 0 || !a.Type.Known()) {
			return a, true
		}
	}
	return AVP{}, false
}

// ParseHeader parses the L2TP header of b and returns it with the rest of
// the message (up to Length when the L bit is set).
func ParseHeader(b []byte) (Header, []byte, error) {
	var h Header
	if len(b) < 6 {
		return h, nil, headerErr(0, ErrShort)
	}
	if v := b[1] & 0x0f; v != verL2TP {
		return h, nil, headerErr(1, ErrVersion)
	}
	h.Control = b[0]&bitT != 0
	h.HasLength = b[0]&bitL != 0
	h.HasSeq = b[0]&bitS != 0
	h.HasOffset = b[0]&bitO != 0
	h.Priority = b[0]&bitP != 0
	if h.Control && (!h.HasLength || !h.HasSeq || h.HasOffset) {
		return h, nil, headerErr(0, ErrControlBits)
	}
	off := 2
	if h.HasLength {
		h.Length = binary.BigEndian.Uint16(b[2:])
		off = 4
	}
	need := off + 4
	if h.HasSeq {
		need += 4
	}
	if h.HasOffset {
		need += 2
	}
	if len(b) < need {
		return h, nil, headerErr(len(b), ErrShort)
	}
	if h.HasLength {
		if int(h.Length) < need {
			return h, nil, headerErr(2, ErrLength)
		}
		if int(h.Length) > len(b) {
			return h, nil, headerErr(2, ErrShort)
		}
		b = b[:h.Length]
	}
	h.TunnelID = binary.BigEndian.Uint16(b[off:])
	h.SessionID = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if h.HasSeq {
		h.Ns = binary.BigEndian.Uint16(b[off:])
		h.Nr = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	if h.HasOffset {
		h.OffsetSize = binary.BigEndian.Uint16(b[off:])
		off += 2
		if int(h.OffsetSize) > len(b)-off {
			return h, nil, headerErr(off-2, ErrLength)
		}
		off += int(h.OffsetSize)
	}
	return h, b[off:], nil
}

// Parse parses one L2TP datagram. Hidden AVPs are revealed with secret
// (RFC 2661 section 4.3); without a secret they are an error. Byte fields
// of the result alias b except revealed hidden values.
func Parse(b []byte, secret []byte) (*Message, error) {
	h, rest, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h}
	if !h.Control {
		m.Payload = rest
		return m, nil
	}
	off := len(b) - len(rest)
	if h.HasLength {
		off = int(h.Length) - len(rest)
	}
	if len(rest) == 0 {
		m.ZLB = true
		return m, nil
	}
	var rv []byte
	for len(rest) > 0 {
		if len(rest) < 6 {
			return nil, headerErr(off, ErrShort)
		}
		flags := rest[0]
		alen := int(binary.BigEndian.Uint16(rest[0:]) & 0x03ff)
		vendor := binary.BigEndian.Uint16(rest[2:])
		typ := AVPType(binary.BigEndian.Uint16(rest[4:]))
		if alen < 6 {
			return nil, avpErr(off, vendor, typ, ErrLength)
		}
		if alen > len(rest) {
			return nil, avpErr(off, vendor, typ, ErrShort)
		}
		a := AVP{
			Mandatory: flags&0x80 != 0,
			Hidden:    flags&0x40 != 0,
			Vendor:    vendor,
			Type:      typ,
			Value:     rest[6:alen:alen],
			Offset:    off,
		}
		if len(m.AVPs) == 0 {
			if vendor != 0 || typ != AVPMessageType || a.Hidden {
				return nil, avpErr(off, vendor, typ, ErrFirstAVP)
			}
			if len(a.Value) != 2 {
				return nil, avpErr(off, vendor, typ, ErrAVPValue)
			}
			m.Type = MessageType(binary.BigEndian.Uint16(a.Value))
		}
		if a.Hidden {
			if len(secret) == 0 {
				return nil, avpErr(off, vendor, typ, ErrHiddenNoSecret)
			}
			if rv == nil {
				return nil, avpErr(off, vendor, typ, ErrHiddenNoRandomVector)
			}
			v, ok := unhide(typ, a.Value, secret, rv)
			if !ok {
				return nil, avpErr(off, vendor, typ, ErrHiddenLength)
			}
			a.Value = v
		}
		if vendor == 0 && typ == AVPRandomVector {
			if len(a.Value) == 0 {
				return nil, avpErr(off, vendor, typ, ErrAVPValue)
			}
			rv = a.Value
		}
		m.AVPs = append(m.AVPs, a)
		rest = rest[alen:]
		off += alen
	}
	return m, nil
}

// hiddenXOR applies the RFC 2661 section 4.3 keystream to v in place:
// block 1 = MD5(type || secret || RV), block i = MD5(secret || c(i-1)).
// reveal says v is cipher text (the chain uses the input), else plain.
func hiddenXOR(t AVPType, v, secret, rv []byte, reveal bool) {
	h := md5.New()
	var tb [2]byte
	binary.BigEndian.PutUint16(tb[:], uint16(t))
	h.Write(tb[:])
	h.Write(secret)
	h.Write(rv)
	var ks [md5.Size]byte
	var prev [md5.Size]byte
	for i := 0; i < len(v); i += md5.Size {
		h.Sum(ks[:0])
		end := min(i+md5.Size, len(v))
		n := copy(prev[:], v[i:end]) // cipher text when revealing
		for j := i; j < end; j++ {
			v[j] ^= ks[j-i]
		}
		if !reveal {
			n = copy(prev[:], v[i:end])
		}
		h.Reset()
		h.Write(secret)
		h.Write(prev[:n])
	}
}

// unhide reveals a hidden value: subformat Original Length (2) || value ||
// padding.
func unhide(t AVPType, v, secret, rv []byte) ([]byte, bool) {
	if len(v) < 2 {
		return nil, false
	}
	p := make([]byte, len(v))
	copy(p, v)
	hiddenXOR(t, p, secret, rv, true)
	n := int(binary.BigEndian.Uint16(p))
	if n > len(p)-2 {
		return nil, false
	}
	return p[2 : 2+n : 2+n], true
}

// trimHostName removes the trailing NULs Apple's client sends.
func trimHostName(v []byte) string { return strings.TrimRight(string(v), "\x00") }

// builder appends one control message. The zero value is not usable:
// start it with beginControl.
type builder struct {
	b      []byte
	start  int
	secret []byte
	hide   bool
	rand   io.Reader
	rv     []byte
}

// beginControl appends a control header (T, L, S, Ver 2) with Length
// patched by finish.
func beginControl(dst []byte, tunnelID, sessionID, ns, nr uint16) builder {
	st := len(dst)
	dst = append(dst, bitT|bitL|bitS, verL2TP, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, tunnelID)
	dst = binary.BigEndian.AppendUint16(dst, sessionID)
	dst = binary.BigEndian.AppendUint16(dst, ns)
	dst = binary.BigEndian.AppendUint16(dst, nr)
	return builder{b: dst, start: st}
}

// raw appends one AVP as is.
func (w *builder) raw(flags byte, t AVPType, v []byte) {
	l := 6 + len(v)
	w.b = append(w.b, flags|byte(l>>8)&0x03, byte(l))
	w.b = append(w.b, 0, 0)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(t))
	w.b = append(w.b, v...)
}

// avp appends an IETF AVP, hidden when the builder hides and hideable.
func (w *builder) avp(mandatory bool, t AVPType, v []byte, hideable bool) {
	var flags byte
	if mandatory {
		flags = 0x80
	}
	if !(w.hide && hideable && len(w.secret) > 0 && w.rand != nil) {
		w.raw(flags, t, v)
		return
	}
	if w.rv == nil {
		w.rv = make([]byte, 16)
		if _, err := io.ReadFull(w.rand, w.rv); err != nil {
			w.rv = nil
			w.raw(flags, t, v)
			return
		}
		w.raw(0x80, AVPRandomVector, w.rv)
	}
	p := make([]byte, 2+len(v))
	binary.BigEndian.PutUint16(p, uint16(len(v)))
	copy(p[2:], v)
	hiddenXOR(t, p, w.secret, w.rv, false)
	w.raw(flags|0x40, t, p)
}

func (w *builder) u16(t AVPType, v uint16, hideable bool) {
	w.avp(true, t, binary.BigEndian.AppendUint16(nil, v), hideable)
}

func (w *builder) u32(t AVPType, v uint32, hideable bool) {
	w.avp(true, t, binary.BigEndian.AppendUint32(nil, v), hideable)
}

// finish patches the Length field and returns the message.
func (w *builder) finish() []byte {
	binary.BigEndian.PutUint16(w.b[w.start+2:], uint16(len(w.b)-w.start))
	return w.b
}

// appendData appends a data message carrying one PPP frame (from the
// protocol field; FF 03 is added). seq adds the S bit with Ns.
func appendData(dst []byte, tunnelID, sessionID uint16, seq bool, ns uint16, frame []byte) []byte {
	flags := byte(0)
	if seq {
		flags |= bitS
	}
	dst = append(dst, flags, verL2TP)
	dst = binary.BigEndian.AppendUint16(dst, tunnelID)
	dst = binary.BigEndian.AppendUint16(dst, sessionID)
	if seq {
		dst = binary.BigEndian.AppendUint16(dst, ns)
		dst = binary.BigEndian.AppendUint16(dst, 0)
	}
	dst = append(dst, 0xff, 0x03)
	return append(dst, frame...)
}

// Result codes of StopCCN and CDN (RFC 2661 section 4.4.2).
const (
	stopGeneralClear   = 1
	stopGeneralError   = 2
	stopAlreadyExists  = 3
	stopNotAuthorized  = 4
	stopBadVersion     = 5
	stopShuttingDown   = 6
	stopFSMError       = 7
	cdnLostCarrier     = 1
	cdnGeneralError    = 2
	cdnAdministrative  = 3
	cdnTempResources   = 4
	cdnPermResources   = 5
	errCodeNone        = 0
	errCodeNoTunnel    = 1
	errCodeLength      = 2
	errCodeRange       = 3
	errCodeResources   = 4
	errCodeSessionID   = 5
	errCodeUnknownMAVP = 8
)

// resultValue encodes a Result Code AVP value.
func resultValue(result, errCode uint16, msg string) []byte {
	v := binary.BigEndian.AppendUint16(nil, result)
	if errCode != 0 || msg != "" {
		v = binary.BigEndian.AppendUint16(v, errCode)
		v = append(v, msg...)
	}
	return v
}

// Result is a decoded Result Code AVP.
type Result struct {
	// Code is the result code, Error the error code (0 when absent).
	Code, Error uint16
	// Message is the optional error message.
	Message string
}

// ResultCode decodes the message's Result Code AVP.
func (m *Message) ResultCode() (Result, bool) {
	a, ok := m.Find(AVPResultCode)
	if !ok || len(a.Value) < 2 {
		return Result{}, false
	}
	r := Result{Code: binary.BigEndian.Uint16(a.Value)}
	if len(a.Value) >= 4 {
		r.Error = binary.BigEndian.Uint16(a.Value[2:])
		r.Message = string(a.Value[4:])
	}
	return r, true
}
