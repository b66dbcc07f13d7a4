package esp

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/goipsec/ipsec/internal/sockio"
)

// batchConn is the batch I/O both x/net packet conns offer (recvmmsg and
// sendmmsg on Linux); ipv4.Message and ipv6.Message are the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchReader reads up to len(bufs) datagrams, setting their sizes and
// source addresses (recv_linux.go: recvmmsg without allocations).
// readMore is readBatch without waiting (0 when nothing is queued).
type batchReader interface {
	readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error)
	readMore(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error)
}

// udpSock is a UDP socket for ESP in UDP (RFC 3948), shared with IKE.
type udpSock struct {
	c       *net.UDPConn
	bc      batchConn
	br      batchReader
	v4      bool        // an AF_INET socket
	dual    bool        // an AF_INET6 socket bound to :: that also carries IPv4
	reading bool        // the engine reads it (WithUDPConn)
	gso     atomic.Bool // UDP_SEGMENT works; cleared after a failed GSO send
	local   netip.AddrPort
}

// carries reports whether s can send to an address of dst's family.
func (s *udpSock) carries(dst netip.Addr) bool {
	if dst.Unmap().Is4() {
		return s.v4 || s.dual
	}
	return !s.v4
}

// pickUDP chooses the socket an SA sends from: the one bound to the SA's
// source address and port, else one bound to the wildcard address, else
// any socket of the right family (a multi-homed gateway hands in one
// socket per address and must answer from the address the peer used).
func pickUDP(socks []*udpSock, src, dst netip.AddrPort) *udpSock {
	var wild, any *udpSock
	for _, s := range socks {
		if !s.carries(dst.Addr()) {
			continue
		}
		if s.local.Addr() == src.Addr().Unmap() && s.local.Port() == src.Port() {
			return s
		}
		if wild == nil && s.local.Addr().IsUnspecified() && s.local.Port() == src.Port() {
			wild = s
		}
		if any == nil {
			any = s
		}
	}
	if wild != nil {
		return wild
	}
	return any
}

func newUDPSock(c *net.UDPConn, batch int) *udpSock {
	s := &udpSock{c: c}
	s.br, _ = newBatchReader(c, batch) // a *net.UDPConn always has a SyscallConn
	// Best effort: the default buffers overflow at the first GSO burst of
	// a fast peer while the reader is busy (see sockio.DefaultBufferSize).
	_ = sockio.SetBuffers(c, sockio.DefaultBufferSize)
	s.gso.Store(udpGSOSupported(c))
	la, _ := c.LocalAddr().(*net.UDPAddr)
	var a netip.Addr
	if la != nil {
		s.local = la.AddrPort()
		a = s.local.Addr()
		s.local = netip.AddrPortFrom(a.Unmap(), s.local.Port())
	}
	switch {
	case a.Is4() || a.Is4In6():
		s.v4 = true
		s.bc = ipv4.NewPacketConn(c)
	default:
		s.dual = a.IsUnspecified() || !a.IsValid()
		s.bc = ipv6.NewPacketConn(c)
	}
	return s
}

// rawSock is an IP protocol 50 socket for ESP without encapsulation,
// with the sender the data path sends on (send_linux.go: a socket of its
// own, see sockio.RawSender).
type rawSock struct {
	c   *net.IPConn
	bc  batchConn
	br  batchReader
	snd rawSender
	v4  bool
}

// rawSender sends raw IP datagrams in batches; on an error, bufs[n] was
// refused and the rest not tried.
type rawSender interface {
	send(bufs [][]byte, to []netip.Addr) (n int, err error)
	close() error
}

// ProbeRawESP reports whether WithRawESP can work here: it opens and
// closes the IPv4 and IPv6 protocol 50 sockets (CAP_NET_RAW, and an IPv6
// stack, are needed). Programs use it to decide between WithRawESP and
// running without it, in which case the IKE engine forces UDP
// encapsulation for every peer (see Userspace.RawESP).
func ProbeRawESP() error {
	for _, v4 := range []bool{true, false} {
		s, err := listenRaw(v4, 1)
		if err != nil {
			return fmt.Errorf("esp: raw ESP sockets: %w", err)
		}
		s.close()
	}
	return nil
}

func listenRaw(v4 bool, batch int) (*rawSock, error) {
	network := "ip6:50"
	if v4 {
		network = "ip4:50"
	}
	c, err := net.ListenIP(network, nil)
	if err != nil {
		return nil, err
	}
	s := &rawSock{c: c, v4: v4}
	_ = sockio.SetBuffers(c, sockio.DefaultBufferSize) // best effort, as for UDP
	if s.br, err = newBatchReader(c, batch); err != nil {
		c.Close()
		return nil, err
	}
	if v4 {
		s.bc = ipv4.NewPacketConn(c)
	} else {
		s.bc = ipv6.NewPacketConn(c)
	}
	if s.snd, err = newRawSender(s, batch); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *rawSock) close() {
	if s != nil {
		_ = s.c.Close()
		_ = s.snd.close()
	}
}
