//go:build linux

package esp

import (
	"net/netip"
	"syscall"

	"github.com/goipsec/ipsec/internal/sockio"
)

// mmsgReader reads a batch of datagrams with one recvmmsg(2) through the
// reader the IKE transport uses too; it allocates nothing per packet.
type mmsgReader struct{ r *sockio.Reader }

func newBatchReader(c syscall.Conn, size int) (batchReader, error) {
	r, err := sockio.NewReader(c, size, 0)
	if err != nil {
		return nil, err
	}
	return mmsgReader{r}, nil
}

func (m mmsgReader) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return m.r.Read(bufs, sizes, from)
}

func (m mmsgReader) readMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return m.r.ReadMore(bufs, sizes, from)
}
