package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// fragOverhead is what a fragment message adds around its share of the
// original message: the ISAKMP header and the fragment payload's header
// (generic header, fragment ID, number, flags).
const fragOverhead = HeaderLen + 8

// SplitFragments splits msg, a complete (normally encrypted) IKEv1
// message, into Cisco/racoon IKE fragments: ISAKMP messages of at most
// maxLen bytes each, carrying one Fragment payload with fragment ID id and
// numbers from 1, the last one flagged. Each fragment has msg's cookies,
// message ID 0, no flags and the given exchange type (strongSwan sends
// the ISAKMP SA's phase 1 exchange, Main or Aggressive, even for Quick
// Mode and Transaction messages, since receivers dispatch on it). maxLen
// is the largest ISAKMP message to send, after subtracting the IP and UDP
// headers and the non-ESP marker; a message that fits is still returned
// as one fragment, so callers split only what is too large. More than 255
// fragments is an error.
func SplitFragments(msg []byte, exchange ExchangeType, id uint16, maxLen int) ([][]byte, error) {
	if len(msg) < HeaderLen {
		return nil, &EncodeError{Payload: PayloadFragment, Reason: "message shorter than its header"}
	}
	room := maxLen - fragOverhead
	if room <= 0 {
		return nil, &EncodeError{Payload: PayloadFragment, Reason: "maximum fragment length " + strconv.Itoa(maxLen) + " leaves no room for data"}
	}
	n := (len(msg) + room - 1) / room
	if n > 255 {
		return nil, &EncodeError{Payload: PayloadFragment, Reason: strconv.Itoa(len(msg)) + "-byte message needs " + strconv.Itoa(n) + " fragments, more than 255"}
	}
	out := make([][]byte, 0, n)
	for i := range n {
		part := msg[i*room : min((i+1)*room, len(msg))]
		f := make([]byte, 0, fragOverhead+len(part))
		f = append(f, msg[:16]...) // cookies
		f = append(f, byte(PayloadFragment), Version, byte(exchange), 0, 0, 0, 0, 0)
		f = binary.BigEndian.AppendUint32(f, uint32(fragOverhead+len(part)))
		f = append(f, 0, 0)
		f = binary.BigEndian.AppendUint16(f, uint16(8+len(part)))
		f = binary.BigEndian.AppendUint16(f, id)
		var last byte
		if i == n-1 {
			last = 1
		}
		f = append(f, byte(i+1), last)
		out = append(out, append(f, part...))
	}
	return out, nil
}

// ErrReassembly is wrapped by the errors of Reassembler.Add: the fragment
// set is inconsistent or exceeds the bounds, and was discarded.
var ErrReassembly = errors.New("ikev1/wire: IKE fragment reassembly failed")

// Reassembler collects the fragments of one fragmented IKEv1 message
// (Cisco/racoon fragmentation, payload 132) for one ISAKMP SA or half-open
// exchange. Memory is bounded by MaxFragments and MaxSize; the caller
// bounds time by calling Reset when no fragment came for a while. A
// fragment with another fragment ID starts over (the peer moved on to a
// new message), as in strongSwan. The zero value is not usable; use
// NewReassembler. Not safe for concurrent use.
type Reassembler struct {
	maxFrags int
	maxSize  int
	active   bool
	id       uint16
	last     int      // number of the last fragment, 0 while unknown
	parts    [][]byte // indexed by number-1, copies of the data
	have     int
	size     int
}

// NewReassembler returns a Reassembler accepting at most maxFragments
// fragments (1..255) whose data totals at most maxSize bytes (the size of
// the reassembled message; 65535 at most).
func NewReassembler(maxFragments, maxSize int) *Reassembler {
	return &Reassembler{maxFrags: max(1, min(maxFragments, 255)), maxSize: max(HeaderLen, min(maxSize, 65535))}
}

// Reset discards collected fragments (after a timeout, or when the SA goes).
func (r *Reassembler) Reset() {
	r.active, r.last, r.have, r.size = false, 0, 0, 0
	clear(r.parts)
	r.parts = r.parts[:0]
}

// Pending reports whether fragments of an incomplete message are held.
func (r *Reassembler) Pending() bool { return r.active }

// Add adds a received fragment. When the message is complete it returns
// it (a new buffer: the original ISAKMP message, header included, to
// Parse) with done true, and the Reassembler is empty again. A duplicate
// fragment is ignored. An inconsistent fragment (number 0 or beyond the
// last, a second last fragment, beyond MaxFragments or MaxSize) discards
// the set and returns an error wrapping ErrReassembly.
func (r *Reassembler) Add(f *Fragment) (msg []byte, done bool, err error) {
	if r.active && f.ID != r.id {
		r.Reset()
	}
	if !r.active {
		r.active, r.id = true, f.ID
	}
	num := int(f.Number)
	switch {
	case num == 0:
		return r.fail("fragment number 0")
	case num > r.maxFrags:
		return r.fail("fragment number " + strconv.Itoa(num) + " beyond the limit of " + strconv.Itoa(r.maxFrags))
	case r.last != 0 && num > r.last:
		return r.fail("fragment " + strconv.Itoa(num) + " after the last fragment " + strconv.Itoa(r.last))
	case f.Last && r.last != 0 && num != r.last:
		return r.fail("second last fragment " + strconv.Itoa(num) + " (last was " + strconv.Itoa(r.last) + ")")
	case f.Last && num < len(r.parts) && r.hasBeyond(num):
		return r.fail("last fragment " + strconv.Itoa(num) + " below a fragment already received")
	}
	if num <= len(r.parts) && r.parts[num-1] != nil {
		return nil, false, nil // duplicate
	}
	if r.size+len(f.Data) > r.maxSize {
		return r.fail("reassembled message exceeds " + strconv.Itoa(r.maxSize) + " bytes")
	}
	for len(r.parts) < num {
		r.parts = append(r.parts, nil)
	}
	r.parts[num-1] = append(make([]byte, 0, len(f.Data)), f.Data...)
	r.have++
	r.size += len(f.Data)
	if f.Last {
		r.last = num
	}
	if r.last == 0 || r.have != r.last {
		return nil, false, nil
	}
	out := make([]byte, 0, r.size)
	for _, p := range r.parts[:r.last] {
		out = append(out, p...)
	}
	r.Reset()
	return out, true, nil
}

func (r *Reassembler) hasBeyond(num int) bool {
	for _, p := range r.parts[num:] {
		if p != nil {
			return true
		}
	}
	return false
}

func (r *Reassembler) fail(reason string) ([]byte, bool, error) {
	r.Reset()
	return nil, false, &ParseError{Payload: PayloadFragment, Reason: reason, Err: ErrReassembly}
}
