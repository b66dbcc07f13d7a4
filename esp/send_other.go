//go:build !linux

package esp

import (
	"net"
	"net/netip"
)

// connSender sends raw ESP one datagram at a time on the reading socket
// where sockio.RawSender does not exist.
type connSender struct{ c *net.IPConn }

func newRawSender(rs *rawSock, batch int) (rawSender, error) { return connSender{rs.c}, nil }

func (s connSender) send(bufs [][]byte, to []netip.Addr) (int, error) {
	for i, b := range bufs {
		if _, err := s.c.WriteToIP(b, &net.IPAddr{IP: to[i].AsSlice()}); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

func (s connSender) close() error { return nil }
