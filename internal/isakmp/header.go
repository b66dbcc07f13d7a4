package isakmp

import "encoding/binary"

// HeaderLen is the length of the fixed ISAKMP/IKE header (RFC 2408 section
// 3.1, RFC 7296 section 3.1).
const HeaderLen = 28

// GenericHeaderLen is the length of the generic payload header (RFC 2408
// section 3.2, RFC 7296 section 3.2).
const GenericHeaderLen = 4

// MaxMessageLen is the largest length the 32-bit header field can express
// that we accept. IKE messages travel in single UDP datagrams (RFC 7296
// section 2, RFC 7383 for larger ones), so anything above 64 KiB is bogus.
const MaxMessageLen = 65535

// Header is the fixed message header shared by IKEv1 and IKEv2. The two
// SPIs are IKEv1's initiator and responder cookies.
type Header struct {
	// SPIi is the initiator's SPI (IKEv1: cookie).
	SPIi uint64
	// SPIr is the responder's SPI (IKEv1: cookie), 0 before it is known.
	SPIr uint64
	// NextPayload is the type of the first payload.
	NextPayload uint8
	// Version is the raw version byte: major version in the high nibble,
	// minor version in the low nibble.
	Version uint8
	// Exchange is the exchange type.
	Exchange uint8
	// Flags are the header flags.
	Flags uint8
	// MessageID is the message ID.
	MessageID uint32
	// Length is the total message length.
	Length uint32
}

// MajorVersion returns the high nibble of the version byte.
func (h *Header) MajorVersion() uint8 { return h.Version >> 4 }

// MinorVersion returns the low nibble of the version byte.
func (h *Header) MinorVersion() uint8 { return h.Version & 0x0f }

// ParseHeader decodes the fixed header at the start of b and checks that
// its Length field is at least HeaderLen and does not exceed len(b).
// Bytes beyond Length are not an error here; the caller decides (IKE over
// UDP carries exactly one message per datagram).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, &Error{Offset: len(b), Reason: "truncated header"}
	}
	h := Header{
		SPIi:        binary.BigEndian.Uint64(b[0:8]),
		SPIr:        binary.BigEndian.Uint64(b[8:16]),
		NextPayload: b[16],
		Version:     b[17],
		Exchange:    b[18],
		Flags:       b[19],
		MessageID:   binary.BigEndian.Uint32(b[20:24]),
		Length:      binary.BigEndian.Uint32(b[24:28]),
	}
	if h.Length < HeaderLen {
		return h, &Error{Offset: 24, Reason: "length field smaller than the header"}
	}
	if uint64(h.Length) > uint64(len(b)) {
		return h, &Error{Offset: len(b), Reason: "message shorter than its length field"}
	}
	return h, nil
}

// AppendHeader appends the 28-byte encoding of h to dst.
func AppendHeader(dst []byte, h *Header) []byte {
	dst = binary.BigEndian.AppendUint64(dst, h.SPIi)
	dst = binary.BigEndian.AppendUint64(dst, h.SPIr)
	dst = append(dst, h.NextPayload, h.Version, h.Exchange, h.Flags)
	dst = binary.BigEndian.AppendUint32(dst, h.MessageID)
	return binary.BigEndian.AppendUint32(dst, h.Length)
}
