package isakmp

import "encoding/binary"

// Reader is a bounds-checked cursor over a byte slice. Every read either
// succeeds completely or returns an *Error naming the absolute offset; a
// Reader never panics on short input. Slices it returns alias the
// underlying buffer.
type Reader struct {
	b       []byte
	off     int // read position within b
	base    int // absolute offset of b[0] in the whole message
	payload uint8
}

// NewReader returns a Reader over b. base is the absolute offset of b[0]
// in the enclosing message, used only for error reporting; payload is the
// payload type named in errors (0 for the header).
func NewReader(b []byte, base int, payload uint8) Reader {
	return Reader{b: b, base: base, payload: payload}
}

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Empty reports whether all bytes were consumed.
func (r *Reader) Empty() bool { return r.off >= len(r.b) }

// Offset returns the absolute offset of the next unread byte.
func (r *Reader) Offset() int { return r.base + r.off }

// Errorf returns an *Error at the current offset with the given reason.
func (r *Reader) Errorf(reason string) error {
	return &Error{Offset: r.base + r.off, Payload: r.payload, Reason: reason}
}

// ErrorAt returns an *Error at the absolute offset off.
func (r *Reader) ErrorAt(off int, reason string) error {
	return &Error{Offset: off, Payload: r.payload, Reason: reason}
}

func (r *Reader) short(what string) error {
	return &Error{Offset: r.base + len(r.b), Payload: r.payload, Reason: "truncated " + what}
}

// Uint8 reads one byte; what names the field in the error.
func (r *Reader) Uint8(what string) (uint8, error) {
	if r.Len() < 1 {
		return 0, r.short(what)
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// Uint16 reads a big-endian 16-bit value.
func (r *Reader) Uint16(what string) (uint16, error) {
	if r.Len() < 2 {
		return 0, r.short(what)
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

// Uint32 reads a big-endian 32-bit value.
func (r *Reader) Uint32(what string) (uint32, error) {
	if r.Len() < 4 {
		return 0, r.short(what)
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// Bytes reads n bytes, aliasing the buffer. A negative n is an error.
func (r *Reader) Bytes(n int, what string) ([]byte, error) {
	if n < 0 || r.Len() < n {
		return nil, r.short(what)
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

// Sub reads n bytes and returns a Reader over them whose offsets continue
// the absolute numbering, for nested length-delimited structures.
func (r *Reader) Sub(n int, what string, payload uint8) (Reader, error) {
	start := r.Offset()
	b, err := r.Bytes(n, what)
	if err != nil {
		return Reader{}, err
	}
	return Reader{b: b, base: start, payload: payload}, nil
}

// Rest returns all unread bytes and consumes them.
func (r *Reader) Rest() []byte {
	v := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return v
}
