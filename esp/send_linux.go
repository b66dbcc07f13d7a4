//go:build linux

package esp

import (
	"net/netip"

	"github.com/goipsec/ipsec/internal/sockio"
)

// protoESP is ESP's IP protocol number.
const protoESP = 50

// rawSender on Linux: sendmmsg on a socket of its own that the runtime's
// poller does not watch (sockio.RawSender says why).
type mmsgSender struct{ s *sockio.RawSender }

func newRawSender(rs *rawSock, batch int) (rawSender, error) {
	s, err := sockio.NewRawSender(rs.v4, protoESP, batch, sockio.DefaultBufferSize)
	if err != nil {
		return nil, err
	}
	return mmsgSender{s}, nil
}

func (m mmsgSender) send(bufs [][]byte, to []netip.Addr) (int, error) { return m.s.Send(bufs, to) }
func (m mmsgSender) close() error                                     { return m.s.Close() }
