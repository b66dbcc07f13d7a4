package l2tp

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// UDPConn is a PacketConn over a plain UDP socket: the kernel data plane
// (the kernel decrypts ESP and delivers UDP/1701) and tests.
type UDPConn struct {
	c     *net.UDPConn
	local netip.AddrPort
}

// NewUDPConn wraps c, normally bound to port 1701.
func NewUDPConn(c *net.UDPConn) *UDPConn {
	u := &UDPConn{c: c}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		u.local = unmap(a.AddrPort())
	}
	return u
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// WriteTo sends b to to.Addr.
func (u *UDPConn) WriteTo(b []byte, to Peer) error {
	_, err := u.c.WriteToUDPAddrPort(b, to.Addr)
	return err
}

// Serve reads datagrams and hands them to s until ctx ends or the socket
// fails; it returns nil when ctx ended. It does not close the socket.
func (u *UDPConn) Serve(ctx context.Context, s *Server) error {
	stop := context.AfterFunc(ctx, func() {
		_ = u.c.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	if err := u.c.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := u.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.HandleDatagram(buf[:n], Peer{Addr: unmap(from), Local: u.local})
	}
}
