package isakmp_test

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// Build a message with two payloads and walk it again.
func Example() {
	var b isakmp.Builder
	b.Reset(nil)
	b.BeginMessage(&isakmp.Header{SPIi: 1, Version: 0x20, Exchange: 37, MessageID: 2})
	p := b.BeginPayload(41, false) // Notify
	b.AddBytes([]byte{0, 0, 0x40, 0x00})
	b.EndPayload(p)
	p = b.BeginPayload(43, false) // Vendor ID
	b.AddBytes([]byte("goipsec"))
	b.EndPayload(p)
	b.EndMessage()
	msg, _ := b.Bytes()

	h, _ := isakmp.ParseHeader(msg)
	fmt.Println("length", h.Length)
	c := isakmp.NewChain(msg[isakmp.HeaderLen:h.Length], isakmp.HeaderLen, h.NextPayload, nil)
	for c.Next() {
		pl := c.Payload()
		fmt.Printf("type %d at %d: %d bytes\n", pl.Type, pl.Offset, len(pl.Body))
	}
	fmt.Println("err", c.Err())
	// Output:
	// length 47
	// type 41 at 28: 4 bytes
	// type 43 at 36: 7 bytes
	// err <nil>
}
