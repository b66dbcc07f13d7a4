//go:build linux

package xfrm

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/esp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeTransport has an *ike.Transport's socket accessors.
type fakeTransport struct{ natt, ike []*net.UDPConn }

func (f fakeTransport) NATTConns() []*net.UDPConn { return f.natt }
func (f fakeTransport) IKEConns() []*net.UDPConn  { return f.ike }

// natOnly lacks IKEConns, as ike.Transport did when this was written.
type natOnly struct{ natt []*net.UDPConn }

func (f natOnly) NATTConns() []*net.UDPConn { return f.natt }

func TestUseTransportRejects(t *testing.T) {
	// Checked before the data plane is touched, so a zero one will do.
	d := &DataPlane{}
	if err := d.UseTransport(nil); err == nil {
		t.Error("nil transport accepted")
	}
	if err := d.UseTransport(natOnly{}); err == nil {
		t.Error("transport without NAT-T sockets accepted")
	}
}

func TestKeepaliveConn(t *testing.T) {
	v4, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer v4.Close()
	v6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer v6.Close()
	for _, c := range []struct {
		conns []*net.UDPConn
		dst   string
		want  *net.UDPConn
	}{
		{[]*net.UDPConn{v6, v4}, "192.0.2.1", v4},
		{[]*net.UDPConn{v4, v6}, "2001:db8::1", v6},
		{[]*net.UDPConn{v6, v4}, "::ffff:192.0.2.1", v4},
		{[]*net.UDPConn{v4}, "2001:db8::1", v4}, // no socket of the family: the first
	} {
		if got := keepaliveConn(c.conns, netip.MustParseAddr(c.dst)); got != c.want {
			t.Errorf("keepaliveConn(%s) = %s, want %s", c.dst, got.LocalAddr(), c.want.LocalAddr())
		}
	}
}

// TestKernelUseTransport checks what UseTransport does to the sockets:
// UDP_ENCAP_ESPINUDP on the NAT-T socket, bypass policies on both, NAT
// keepalives on the NAT-T socket.
func TestKernelUseTransport(t *testing.T) {
	vmOnly(t)
	ns, h := newNS(t)
	var natt, ike *net.UDPConn
	inNS(t, ns, func() {
		var err error
		if natt, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4500}); err != nil {
			t.Fatal(err)
		}
		if ike, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 500}); err != nil {
			t.Fatal(err)
		}
	})
	defer natt.Close()
	defer ike.Close()
	d := newDP(t, ns)
	if err := d.UseTransport(fakeTransport{natt: []*net.UDPConn{natt}, ike: []*net.UDPConn{ike}}); err != nil {
		t.Fatal(err)
	}
	var encap int
	if err := control(natt, func(fd int) error {
		var err error
		encap, err = unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_ENCAP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if encap != unix.UDP_ENCAP_ESPINUDP {
		t.Errorf("UDP_ENCAP on the NAT-T socket = %d, want %d", encap, unix.UDP_ENCAP_ESPINUDP)
	}
	pols, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	sock := 0
	for _, p := range pols {
		if p.Dir == netlink.XFRM_SOCKET_IN || p.Dir == netlink.XFRM_SOCKET_OUT {
			sock++
		}
	}
	if sock != 4 {
		t.Errorf("%d socket policies, want 4 (in and out on two sockets): %+v", sock, pols)
	}
	d.mu.Lock()
	conns, running := d.kaConns, d.kaRunning
	d.mu.Unlock()
	if len(conns) != 1 || conns[0] != natt || !running {
		t.Errorf("keepalive sockets %v (sender running %t), want the NAT-T socket", conns, running)
	}
	d.Close()
	if err := d.UseTransport(fakeTransport{natt: []*net.UDPConn{natt}}); !errors.Is(err, esp.ErrClosed) {
		t.Errorf("UseTransport after Close: %v, want esp.ErrClosed", err)
	}
}
