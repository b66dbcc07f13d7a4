package ikev1

import (
	"encoding/binary"

	"github.com/goipsec/ipsec/ikev1/wire"
)

// span is one top-level payload of a message body: its type and where its
// generic header starts and the payload ends.
type span struct {
	typ        wire.PayloadType
	start, end int
}

// walkBody lists the top-level payloads of body, whose first payload is of
// type first. The HASH payloads of IKEv1 cover payload bytes, so the
// engine needs their positions beside the codec's typed view; a body that
// does not walk (already rejected by the codec) gives false.
func walkBody(body []byte, first wire.PayloadType) ([]span, bool) {
	var out []span
	off, t := 0, first
	for t != wire.PayloadNone {
		if off+4 > len(body) {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(body[off+2:]))
		if n < 4 || off+n > len(body) {
			return nil, false
		}
		out = append(out, span{t, off, off + n})
		t = wire.PayloadType(body[off])
		off += n
	}
	return out, true
}

// payloadBody returns the body (after the 4-byte generic header) of the
// first top-level payload of type t, nil if there is none.
func payloadBody(body []byte, first, t wire.PayloadType) []byte {
	spans, ok := walkBody(body, first)
	if !ok {
		return nil
	}
	for _, s := range spans {
		if s.typ == t {
			return body[s.start+4 : s.end]
		}
	}
	return nil
}

// afterFirst returns the bytes of every payload after the first one (a
// HASH), up to the end of the chain (padding excluded): what HASH(1),
// HASH(2) and an informational HASH cover (RFC 2409 sections 5.5, 5.7).
func afterFirst(body []byte, first wire.PayloadType) ([]byte, bool) {
	spans, ok := walkBody(body, first)
	if !ok || len(spans) == 0 {
		return nil, false
	}
	return body[spans[0].end:spans[len(spans)-1].end], true
}
