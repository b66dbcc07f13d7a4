package esp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// Two userspace engines on loopback UDP sockets exchange one packet through
// a tunnel-mode AES-GCM SA pair. A real deployment passes a TUN device from
// tun.CreateTUN and the IKE transport's port-4500 socket, and the IKE
// engine installs the SAs and policies it negotiated.
func Example() {
	ctx := context.Background()
	type end struct {
		u    *esp.Userspace
		tun  *tuntest.ChannelTUN
		addr netip.AddrPort
	}
	start := func() *end {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			panic(err)
		}
		t := tuntest.NewChannelTUN()
		u, err := esp.NewUserspace(t.TUN(), esp.WithUDPConn(c))
		if err != nil {
			panic(err)
		}
		return &end{u, t, c.LocalAddr().(*net.UDPAddr).AddrPort()}
	}
	a, b := start(), start()
	defer a.u.Close()
	defer b.u.Close()

	key := make([]byte, 20) // AES-128 key + 4-byte salt, from IKE's KEYMAT in real use
	sa := func(dir esp.Direction, src, dst netip.AddrPort) *esp.SA {
		return &esp.SA{SPI: 0xc0de0001, Dir: dir, Src: src, Dst: dst,
			Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: key, ReqID: 1}
	}
	if err := a.u.AddSA(ctx, sa(esp.DirOut, a.addr, b.addr)); err != nil {
		panic(err)
	}
	if err := b.u.AddSA(ctx, sa(esp.DirIn, a.addr, b.addr)); err != nil {
		panic(err)
	}
	hostA := esp.PrefixSelector(netip.MustParsePrefix("192.0.2.1/32"))
	hostB := esp.PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
	_ = a.u.AddPolicy(ctx, esp.Policy{Dir: esp.DirOut, Src: hostA, Dst: hostB, ReqID: 1})
	_ = b.u.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: hostA, Dst: hostB, ReqID: 1})

	ping := tuntest.Ping(netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.1"))
	a.tun.Outbound <- ping // the OS sends a ping into A's TUN device
	got := <-b.tun.Inbound // and it comes out of B's
	fmt.Println("delivered intact:", string(got) == string(ping))
	st, _ := b.u.SAStats(esp.SAID{SPI: 0xc0de0001, Dir: esp.DirIn})
	fmt.Println("inbound SA packets:", st.Packets)
	// Output:
	// delivered intact: true
	// inbound SA packets: 1
}
