package radius

import (
	"crypto/md5"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/goipsec/ipsec"
)

// fakeServer is an in-process RADIUS server on loopback. handle returns
// the datagrams to send back (nil: stay silent).
type fakeServer struct {
	conn   *net.UDPConn
	secret ipsec.Secret
	mu     sync.Mutex
	got    [][]byte // every datagram received
	handle func(s *fakeServer, p *Packet, from netip.AddrPort) [][]byte
}

func newFakeServer(t *testing.T, secret string, handle func(s *fakeServer, p *Packet, from netip.AddrPort) [][]byte) *fakeServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{conn: conn, secret: ipsec.Secret(secret), handle: handle}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			b := append([]byte(nil), buf[:n]...)
			s.mu.Lock()
			s.got = append(s.got, b)
			s.mu.Unlock()
			p, err := Parse(b)
			if err != nil {
				continue
			}
			for _, out := range s.handle(s, p, from) {
				conn.WriteToUDPAddrPort(out, from)
			}
		}
	}()
	return s
}

func (s *fakeServer) addr() string { return s.conn.LocalAddr().String() }

func (s *fakeServer) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

// answer encodes resp as the answer to req with the server's secret.
func (s *fakeServer) answer(req *Packet, resp *Packet) []byte {
	resp.Identifier = req.Identifier
	b, err := EncodeResponse(nil, resp, req.Authenticator, s.secret)
	if err != nil {
		panic(err)
	}
	return b
}

// unusedAddr returns a loopback UDP address nobody listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().String()
	c.Close()
	return a
}

func md5sum(b []byte, secret []byte) []byte {
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	return h.Sum(nil)
}

// nopConn is a PacketConn that is never read (for Handle-only tests).
type nopConn struct{ net.PacketConn }

func (nopConn) Close() error { return nil }
