package sockio

import (
	"errors"
	"fmt"
)

// DefaultBufferSize is the receive and send buffer size SetBuffers asks
// for: wireguard-go's 7 MiB. Linux's default (212992 bytes) holds about a
// hundred 1400-byte datagrams; one UDP GSO burst of a fast peer is 64 of
// them, so a reader that is busy for a moment loses packets, and TCP
// inside the tunnel takes each loss as congestion.
const DefaultBufferSize = 7 << 20

// errBatchSize reports a batch size out of range.
func errBatchSize(n int) error {
	return fmt.Errorf("sockio: batch size %d out of range 1..1024", n)
}

// ErrUnsupported is returned by NewReader where recvmmsg is not available.
var ErrUnsupported = errors.ErrUnsupported
