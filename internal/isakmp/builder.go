package isakmp

import (
	"encoding/binary"
	"errors"
)

// Builder appends an ISAKMP/IKE message (or an inner payload chain) to a
// caller-supplied buffer and back-patches Next Payload and length fields.
// It never allocates unless the buffer must grow; a zero Builder is ready
// after Reset. Errors are sticky: the first one is reported by Bytes, and
// later calls still append so that offsets stay consistent.
type Builder struct {
	buf    []byte
	start  int // index of the message header, -1 without one
	nextAt int // index of the Next Payload byte the next payload patches, -1 none
	err    error
}

// ErrTooLong is reported when a payload or message outgrows its length
// field (16 bits for payloads, MaxMessageLen for messages).
var ErrTooLong = errors.New("isakmp: encoded length exceeds its field")

// Reset makes the builder append to dst (keeping dst's content) with no
// open chain.
func (b *Builder) Reset(dst []byte) {
	*b = Builder{buf: dst, start: -1, nextAt: -1}
}

// Len returns the current length of the buffer.
func (b *Builder) Len() int { return len(b.buf) }

// Buf returns the buffer as built so far; patch functions may still change
// it.
func (b *Builder) Buf() []byte { return b.buf }

// SetBuf replaces the buffer, for callers that transform the tail in place
// (encryption) and need to adopt a grown slice. Indexes stay valid.
func (b *Builder) SetBuf(buf []byte) { b.buf = buf }

// Err returns the sticky error.
func (b *Builder) Err() error { return b.err }

// SetError records err unless an error is already recorded.
func (b *Builder) SetError(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Bytes returns the buffer and the first error.
func (b *Builder) Bytes() ([]byte, error) { return b.buf, b.err }

// BeginMessage appends h with NextPayload 0 and Length 0; the first payload
// patches NextPayload and EndMessage patches Length.
func (b *Builder) BeginMessage(h *Header) {
	b.start = len(b.buf)
	hh := *h
	hh.NextPayload, hh.Length = 0, 0
	b.buf = AppendHeader(b.buf, &hh)
	b.nextAt = b.start + 16
}

// EndMessage patches the header's Length field and returns the length.
func (b *Builder) EndMessage() int {
	if b.start < 0 {
		b.SetError(errors.New("isakmp: EndMessage without BeginMessage"))
		return 0
	}
	n := len(b.buf) - b.start
	if n > MaxMessageLen {
		b.SetError(ErrTooLong)
	}
	binary.BigEndian.PutUint32(b.buf[b.start+24:], uint32(n))
	return n
}

// MessageStart returns the index of the header begun by BeginMessage.
func (b *Builder) MessageStart() int { return b.start }

// BeginChain makes the byte at index at the one the next payload patches
// with its type (for an inner chain, the Next Payload field of the
// enclosing SK payload). Use -1 to stop patching.
func (b *Builder) BeginChain(at int) { b.nextAt = at }

// BeginPayload links a payload of type t into the chain and appends its
// generic header with a zero length. It returns the header's index for
// EndPayload.
func (b *Builder) BeginPayload(t uint8, critical bool) int {
	if b.nextAt >= 0 {
		b.buf[b.nextAt] = t
	}
	mark := len(b.buf)
	var flags byte
	if critical {
		flags = 0x80
	}
	b.buf = append(b.buf, 0, flags, 0, 0)
	b.nextAt = mark
	return mark
}

// EndPayload patches the length of the payload begun at mark.
func (b *Builder) EndPayload(mark int) {
	b.PatchLen16(mark+2, mark)
}

// PatchLen16 writes len(buf)-from as a 16-bit big-endian value at index
// at, for the nested length fields of proposals, transforms, selectors and
// attributes.
func (b *Builder) PatchLen16(at, from int) {
	n := len(b.buf) - from
	if n > 0xffff {
		b.SetError(ErrTooLong)
	}
	binary.BigEndian.PutUint16(b.buf[at:], uint16(n))
}

// PatchUint8 overwrites the byte at index at.
func (b *Builder) PatchUint8(at int, v uint8) { b.buf[at] = v }

// PatchUint16 overwrites the 16-bit big-endian value at index at.
func (b *Builder) PatchUint16(at int, v uint16) { binary.BigEndian.PutUint16(b.buf[at:], v) }

// AddUint8 appends one byte.
func (b *Builder) AddUint8(v uint8) { b.buf = append(b.buf, v) }

// AddUint16 appends a big-endian 16-bit value.
func (b *Builder) AddUint16(v uint16) { b.buf = binary.BigEndian.AppendUint16(b.buf, v) }

// AddUint32 appends a big-endian 32-bit value.
func (b *Builder) AddUint32(v uint32) { b.buf = binary.BigEndian.AppendUint32(b.buf, v) }

// AddBytes appends v.
func (b *Builder) AddBytes(v []byte) { b.buf = append(b.buf, v...) }

// AddZeros appends n zero bytes.
func (b *Builder) AddZeros(n int) {
	for range n {
		b.buf = append(b.buf, 0)
	}
}
