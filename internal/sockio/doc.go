// Package sockio is the socket plumbing the IKE transport and the
// userspace ESP engine share: a recvmmsg(2) batch reader that returns
// source addresses as netip.AddrPort values and keeps each datagram's
// control messages, so that reading a socket allocates nothing per
// packet; the destination address of a datagram (IP_PKTINFO and
// IPV6_PKTINFO); socket buffer sizing; and the kernel's count of datagrams
// a socket dropped because its receive queue was full.
//
// On systems other than Linux NewReader returns errors.ErrUnsupported and
// callers fall back to their own reads; Drops reports false.
package sockio
