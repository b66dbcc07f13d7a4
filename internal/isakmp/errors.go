package isakmp

import "fmt"

// Error is a decoding failure. Offset is the absolute byte offset within
// the buffer handed to the decoder (the IKE message, or a decrypted inner
// chain) at which the problem was detected; Payload is the type of the
// payload being decoded, 0 for the header.
type Error struct {
	// Offset is the byte offset of the problem.
	Offset int
	// Payload is the payload type being decoded, 0 for the header.
	Payload uint8
	// Reason describes the problem.
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Payload == 0 {
		return fmt.Sprintf("isakmp: header at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("isakmp: payload %d at offset %d: %s", e.Payload, e.Offset, e.Reason)
}
