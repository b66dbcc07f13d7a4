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

// An in-process L2TP server on port 1701 behind the userspace data plane:
// the gateway gets its clients' decrypted datagrams from WithLocalUDP with
// the ReqID of the SA they came through, and answers with SendUDP through
// that ReqID's SA. Here the "client" is a second engine whose handler
// sees the answer.
func ExampleWithLocalUDP() {
	ctx := context.Background()
	type end struct {
		u    *esp.Userspace
		addr netip.AddrPort
	}
	got := make(chan esp.LocalDatagram, 1)
	start := func() *end {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			panic(err)
		}
		u, err := esp.NewUserspace(tuntest.NewChannelTUN().TUN(), esp.WithUDPConn(c),
			esp.WithLocalUDP(1701, func(d esp.LocalDatagram) {
				d.Payload = append([]byte(nil), d.Payload...) // valid only during the call
				got <- d
			}))
		if err != nil {
			panic(err)
		}
		return &end{u, c.LocalAddr().(*net.UDPAddr).AddrPort()}
	}
	gw, client := start(), start()
	defer gw.u.Close()
	defer client.u.Close()

	key := make([]byte, 20)
	sa := func(dir esp.Direction, src, dst netip.AddrPort) *esp.SA {
		return &esp.SA{SPI: 0xc0de0002, Dir: dir, Mode: esp.ModeTransport, Src: src, Dst: dst,
			Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: key, ReqID: 7}
	}
	_ = gw.u.AddSA(ctx, sa(esp.DirOut, gw.addr, client.addr))
	_ = client.u.AddSA(ctx, sa(esp.DirIn, gw.addr, client.addr))
	// The client's inbound policy: udp/1701 from the gateway's address.
	host := netip.PrefixFrom(gw.addr.Addr(), 32)
	l2tp := esp.PrefixSelector(host)
	l2tp.Proto, l2tp.StartPort, l2tp.EndPort = 17, 1701, 1701
	_ = client.u.AddPolicy(ctx, esp.Policy{Dir: esp.DirIn, Src: l2tp, Dst: l2tp, ReqID: 7})

	lns := netip.AddrPortFrom(gw.addr.Addr(), 1701)
	if err := gw.u.SendUDP(7, lns, netip.AddrPortFrom(client.addr.Addr(), 1701), []byte("SCCRP")); err != nil {
		panic(err)
	}
	d := <-got
	fmt.Printf("ReqID %d, %s from port %d\n", d.ReqID, d.Payload, d.Src.Port())
	// Output:
	// ReqID 7, SCCRP from port 1701
}
