package isakmp

import (
	"encoding/binary"
	"strconv"
)

// Payload is one element of a payload chain as its generic header
// describes it. Body aliases the walked buffer.
type Payload struct {
	// Type is the payload's own type (taken from the previous Next
	// Payload field, or from the header for the first payload).
	Type uint8
	// Next is the raw Next Payload field. For a terminal payload (see
	// ChainSpec.Terminal) it names the first payload of an inner chain.
	Next uint8
	// Critical is the C bit (IKEv2; IKEv1 calls the whole byte RESERVED).
	Critical bool
	// Reserved holds the remaining seven bits of the flags byte. Senders
	// set them to zero and receivers ignore them (RFC 7296 section 3.2).
	Reserved uint8
	// Offset is the absolute offset of the generic header.
	Offset int
	// Body is the payload content after the 4-byte generic header.
	Body []byte
}

// ChainSpec carries the version-specific knowledge the walker needs.
type ChainSpec struct {
	// Terminal reports whether a payload type ends the chain. A terminal
	// payload's Next Payload field is not followed (IKEv2 SK and SKF use it
	// for the first inner payload) and the payload must be the last one in
	// the buffer (RFC 7296 section 3.14). Nil means no terminal types.
	Terminal func(t uint8) bool
	// AllowTrailing makes bytes after the last payload legal instead of an
	// error; Chain.Trailing returns them. IKEv1 peers are known to pad
	// messages beyond the last payload; IKEv2 leaves it false.
	AllowTrailing bool
	// MaxPayloads bounds the number of payloads; 0 means no bound beyond
	// the one the buffer length implies (a payload takes at least 4 bytes).
	MaxPayloads int
}

// Chain iterates over a payload chain without allocating:
//
//	c := isakmp.NewChain(body, isakmp.HeaderLen, h.NextPayload, &spec)
//	for c.Next() {
//		p := c.Payload()
//		...
//	}
//	if err := c.Err(); err != nil { ... }
type Chain struct {
	b     []byte
	base  int
	off   int
	next  uint8
	n     int
	spec  *ChainSpec
	cur   Payload
	err   error
	done  bool
	trail []byte
}

var emptySpec ChainSpec

// NewChain starts a walk over b, whose first byte is at absolute offset
// base, with first as the type of the first payload (0: empty chain).
// spec may be nil.
func NewChain(b []byte, base int, first uint8, spec *ChainSpec) Chain {
	if spec == nil {
		spec = &emptySpec
	}
	return Chain{b: b, base: base, next: first, spec: spec}
}

// Next advances to the next payload and reports whether there is one.
// It returns false at the end of the chain or on error; check Err.
func (c *Chain) Next() bool {
	if c.done {
		return false
	}
	if c.next == 0 {
		c.finish()
		return false
	}
	rest := len(c.b) - c.off
	if rest < GenericHeaderLen {
		c.fail(c.base+len(c.b), c.next, "truncated generic payload header")
		return false
	}
	if c.spec.MaxPayloads > 0 && c.n >= c.spec.MaxPayloads {
		c.fail(c.base+c.off, c.next, "too many payloads")
		return false
	}
	h := c.b[c.off:]
	length := int(binary.BigEndian.Uint16(h[2:4]))
	if length < GenericHeaderLen {
		c.fail(c.base+c.off+2, c.next, "payload length "+strconv.Itoa(length)+" smaller than the generic header")
		return false
	}
	if length > rest {
		c.fail(c.base+len(c.b), c.next, "payload length "+strconv.Itoa(length)+" exceeds the remaining "+strconv.Itoa(rest)+" bytes")
		return false
	}
	c.cur = Payload{
		Type:     c.next,
		Next:     h[0],
		Critical: h[1]&0x80 != 0,
		Reserved: h[1] & 0x7f,
		Offset:   c.base + c.off,
		Body:     h[GenericHeaderLen:length:length],
	}
	c.off += length
	c.n++
	if c.spec.Terminal != nil && c.spec.Terminal(c.cur.Type) {
		if c.off != len(c.b) && !c.spec.AllowTrailing {
			c.fail(c.base+c.off, c.cur.Type, "payload must be the last one in the message")
			return false
		}
		c.trail = c.b[c.off:]
		c.done = true
		return true
	}
	c.next = h[0]
	return true
}

func (c *Chain) finish() {
	c.done = true
	if c.off != len(c.b) {
		if !c.spec.AllowTrailing {
			c.err = &Error{Offset: c.base + c.off, Payload: c.cur.Type, Reason: strconv.Itoa(len(c.b)-c.off) + " bytes after the last payload"}
			return
		}
		c.trail = c.b[c.off:]
	}
}

func (c *Chain) fail(off int, t uint8, reason string) {
	c.done = true
	c.err = &Error{Offset: off, Payload: t, Reason: reason}
}

// Payload returns the current payload; valid after Next returned true.
func (c *Chain) Payload() Payload { return c.cur }

// Err returns the error that stopped the walk, or nil.
func (c *Chain) Err() error { return c.err }

// Trailing returns the bytes after the last payload when the spec allows
// them (or after a terminal payload); nil otherwise.
func (c *Chain) Trailing() []byte { return c.trail }

// Walk calls fn for each payload of the chain; it stops at the first error,
// from the chain or from fn.
func Walk(b []byte, base int, first uint8, spec *ChainSpec, fn func(Payload) error) error {
	c := NewChain(b, base, first, spec)
	for c.Next() {
		if err := fn(c.cur); err != nil {
			return err
		}
	}
	return c.Err()
}
