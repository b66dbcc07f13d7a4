package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PPP protocol numbers (IANA "PPP DLL Protocol Numbers").
const (
	protoIPv4   = 0x0021
	protoIPv6   = 0x0057
	protoIPCP   = 0x8021
	protoIPV6CP = 0x8057
	protoCCP    = 0x80fd
	protoLCP    = 0xc021
	protoPAP    = 0xc023
	protoCHAP   = 0xc223
	// protoACSCP is Apple's private Apple Client Server Configuration
	// Protocol; it must get a Protocol-Reject (CLIENTS.md 8.2).
	protoACSCP = 0x8235
)

// Control protocol codes, RFC 1661 section 5 and RFC 1570.
const (
	codeConfReq   = 1
	codeConfAck   = 2
	codeConfNak   = 3
	codeConfRej   = 4
	codeTermReq   = 5
	codeTermAck   = 6
	codeCodeRej   = 7
	codeProtoRej  = 8
	codeEchoReq   = 9
	codeEchoRep   = 10
	codeDiscard   = 11
	codeIdentif   = 12 // RFC 1570, sent by Windows
	codeTimeRemai = 13 // RFC 1570
)

// headerLen is the Code, Identifier and Length of a control packet.
const headerLen = 4

// errMalformed is wrapped by every codec error.
var errMalformed = errors.New("ppp: malformed frame")

// parseProtocol splits a frame into its protocol number and information
// field. The protocol field is one octet when the client compressed it
// (PFC, RFC 1661 section 6.5: an odd first octet) and two otherwise; an
// HDLC address and control field FF 03 in front is skipped, since some
// stacks keep it although L2TP strips it.
func parseProtocol(frame []byte) (uint16, []byte, error) {
	if len(frame) >= 2 && frame[0] == 0xff && frame[1] == 0x03 {
		frame = frame[2:]
	}
	if len(frame) == 0 {
		return 0, nil, fmt.Errorf("%w: empty", errMalformed)
	}
	if frame[0]&1 == 1 {
		return uint16(frame[0]), frame[1:], nil
	}
	if len(frame) < 2 {
		return 0, nil, fmt.Errorf("%w: truncated protocol field", errMalformed)
	}
	p := binary.BigEndian.Uint16(frame)
	if p&0x0100 != 0 || p&1 == 0 {
		// RFC 1661 section 2: the least significant bit of the least
		// significant octet is 1, of the most significant octet 0.
		return 0, nil, fmt.Errorf("%w: invalid protocol %#04x", errMalformed, p)
	}
	return p, frame[2:], nil
}

// packet is a control protocol packet (LCP, IPCP, IPV6CP, PAP, CHAP share
// this header). data aliases the frame.
type packet struct {
	code, id uint8
	data     []byte
}

// parsePacket reads the header of a control packet. Octets beyond Length
// are padding (RFC 1661 section 5) and dropped.
func parsePacket(b []byte) (packet, error) {
	if len(b) < headerLen {
		return packet{}, fmt.Errorf("%w: %d octets, short of a header", errMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < headerLen || n > len(b) {
		return packet{}, fmt.Errorf("%w: length %d, have %d octets", errMalformed, n, len(b))
	}
	return packet{code: b[0], id: b[1], data: b[headerLen:n]}, nil
}

// appendPacket appends a frame (two-octet protocol field) holding one
// control packet.
func appendPacket(dst []byte, proto uint16, code, id uint8, data []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, proto)
	dst = append(dst, code, id)
	dst = binary.BigEndian.AppendUint16(dst, uint16(headerLen+len(data)))
	return append(dst, data...)
}

// option is one Type-Length-Value configuration option; raw is the whole
// option, data its value. Both alias the packet.
type option struct {
	typ  uint8
	data []byte
	raw  []byte
}

// maxOptions bounds how many options one Configure packet may carry; a
// 1,500-octet packet holds at most 748 two-octet options, and no real
// client sends more than a dozen.
const maxOptions = 256

// parseOptions splits the options of a Configure-Request, -Ack, -Nak or
// -Reject. A length field below 2 or past the end makes the whole packet
// invalid (RFC 1661 section 5: such packets are silently discarded).
func parseOptions(b []byte) ([]option, error) {
	var opts []option
	for off := 0; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("%w: option at %d truncated", errMalformed, off)
		}
		n := int(b[off+1])
		if n < 2 || off+n > len(b) {
			return nil, fmt.Errorf("%w: option %d at %d has length %d of %d", errMalformed, b[off], off, n, len(b)-off)
		}
		if len(opts) == maxOptions {
			return nil, fmt.Errorf("%w: more than %d options", errMalformed, maxOptions)
		}
		opts = append(opts, option{typ: b[off], data: b[off+2 : off+n], raw: b[off : off+n]})
		off += n
	}
	return opts, nil
}

func appendOption(dst []byte, typ uint8, data ...byte) []byte {
	dst = append(dst, typ, byte(2+len(data)))
	return append(dst, data...)
}

func appendOption16(dst []byte, typ uint8, v uint16) []byte {
	return appendOption(dst, typ, byte(v>>8), byte(v))
}

func appendOption32(dst []byte, typ uint8, v uint32) []byte {
	return appendOption(dst, typ, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// protoName names the protocols this package knows, for logs.
func protoName(p uint16) string {
	switch p {
	case protoIPv4:
		return "IP"
	case protoIPv6:
		return "IPv6"
	case protoIPCP:
		return "IPCP"
	case protoIPV6CP:
		return "IPV6CP"
	case protoCCP:
		return "CCP"
	case protoLCP:
		return "LCP"
	case protoPAP:
		return "PAP"
	case protoCHAP:
		return "CHAP"
	case protoACSCP:
		return "ACSCP"
	}
	return fmt.Sprintf("%#04x", p)
}
