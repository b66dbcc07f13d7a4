package kdf

import (
	"errors"
	"fmt"
)

// ErrTooLong is returned when more output is requested than prf+ can
// produce: its counter is one octet, so at most 255 PRF blocks
// (RFC 7296 section 2.13).
var ErrTooLong = errors.New("kdf: requested key material exceeds prf+ limit")

// prfPlusMaxBlocks is the number of PRF outputs prf+ can chain
// (RFC 7296 section 2.13: the counter octet runs from 0x01 to 0xff).
const prfPlusMaxBlocks = 255

// Key is secret key material. It is a []byte (assignable to []byte
// parameters) whose formatting never reveals the bytes.
type Key []byte

// Format prints "[redacted N bytes]" for every verb, including %x and %v.
func (k Key) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "[redacted %d bytes]", len(k))
}

// String returns "[redacted N bytes]".
func (k Key) String() string { return fmt.Sprintf("[redacted %d bytes]", len(k)) }

// GoString returns "[redacted N bytes]", so %#v does not leak either.
func (k Key) GoString() string { return k.String() }

// Wipe overwrites the key with zeros. Go cannot guarantee that no other
// copy exists, but wiping the owned copy shortens its lifetime.
func (k Key) Wipe() { clear(k) }
