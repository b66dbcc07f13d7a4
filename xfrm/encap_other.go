//go:build !linux

package xfrm

import (
	"errors"
	"net"
)

// EnableUDPEncap returns errors.ErrUnsupported: only Linux has XFRM.
func EnableUDPEncap(*net.UDPConn) error { return errors.ErrUnsupported }

// BypassSocket returns errors.ErrUnsupported: only Linux has XFRM.
func BypassSocket(*net.UDPConn) error { return errors.ErrUnsupported }
