//go:build !linux

package sockio

import (
	"net/netip"
	"syscall"
)

// Reader is the recvmmsg reader; it exists only on Linux.
type Reader struct{}

// NewReader returns ErrUnsupported outside Linux.
func NewReader(c syscall.Conn, size, oobLen int) (*Reader, error) {
	if size < 1 || size > 1024 {
		return nil, errBatchSize(size)
	}
	return nil, ErrUnsupported
}

// Read is never called outside Linux (NewReader fails).
func (r *Reader) Read(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return 0, ErrUnsupported
}

// ReadMore is never called outside Linux (NewReader fails).
func (r *Reader) ReadMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return 0, ErrUnsupported
}

// Control returns nil outside Linux.
func (r *Reader) Control(i int) []byte { return nil }

// Truncated returns false outside Linux.
func (r *Reader) Truncated(i int) bool { return false }

// PacketInfoSpace is 0 outside Linux.
var PacketInfoSpace = 0

// PacketDst reports false outside Linux.
func PacketDst(oob []byte) (netip.Addr, bool) { return netip.Addr{}, false }

// SetBuffers returns ErrUnsupported outside Linux.
func SetBuffers(c syscall.Conn, size int) error { return ErrUnsupported }

// Drops reports false outside Linux.
func Drops(c syscall.Conn) (uint64, bool) { return 0, false }

// GROSegment reports false outside Linux.
func GROSegment(oob []byte) (int, bool) { return 0, false }

// GROSpace is 0 outside Linux.
var GROSpace = 0

// EnableUDPGRO reports false outside Linux.
func EnableUDPGRO(c syscall.Conn) bool { return false }
