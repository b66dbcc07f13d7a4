//go:build !linux

package esp

import "net"

const (
	udpGSOMaxSegments = 1
	udpGSOMaxBytes    = 0
)

var segmentCmsgSpace = 0

func udpGSOSupported(*net.UDPConn) bool { return false }

func segmentCmsg(b []byte, size int) []byte { return nil }
