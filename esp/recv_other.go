//go:build !linux

package esp

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// xnetReader falls back to x/net's batch reads where recvmmsg is not
// available through our own wrapper.
type xnetReader struct {
	bc batchConn
	ms []ipv4.Message
}

func newBatchReader(c syscall.Conn, size int) (batchReader, error) {
	pc, ok := c.(net.PacketConn)
	if !ok {
		return nil, errors.New("esp: not a packet socket")
	}
	r := &xnetReader{ms: make([]ipv4.Message, size)}
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		r.bc = ipv6.NewPacketConn(pc)
	} else {
		r.bc = ipv4.NewPacketConn(pc)
	}
	for i := range r.ms {
		r.ms[i].Buffers = make([][]byte, 1)
	}
	return r, nil
}

func (r *xnetReader) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	ms := r.ms[:min(len(bufs), len(r.ms))]
	for i := range ms {
		ms[i].Buffers[0] = bufs[i]
	}
	n, err := r.bc.ReadBatch(ms, 0)
	for i := range n {
		sizes[i] = ms[i].N
		from[i] = addrPortOf(ms[i].Addr)
	}
	return n, err
}

// readMore does not top batches up here: x/net has no non-blocking read.
func (r *xnetReader) readMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return 0, nil
}

// addrPortOf converts a socket address (x/net allocates the net.Addr already).
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return netip.AddrPortFrom(ip.Unmap(), 0)
	}
	return netip.AddrPort{}
}
