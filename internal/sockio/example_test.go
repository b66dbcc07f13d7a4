//go:build linux

package sockio_test

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/goipsec/ipsec/internal/sockio"
)

// A batch read: one system call for up to len(bufs) datagrams, source
// addresses without allocations.
func ExampleReader() {
	rd, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Close()
	r, err := sockio.NewReader(rd, 16, 0)
	if err != nil {
		fmt.Println("no recvmmsg here") // not Linux
		return
	}
	wr, _ := net.DialUDP("udp4", nil, rd.LocalAddr().(*net.UDPAddr))
	defer wr.Close()
	wr.Write([]byte("hello"))
	bufs := [][]byte{make([]byte, 1500), make([]byte, 1500)}
	sizes, from := make([]int, 2), make([]netip.AddrPort, 2)
	n, _ := r.Read(bufs, sizes, from)
	fmt.Println(n, string(bufs[0][:sizes[0]]), from[0].Addr())
	// Output: 1 hello 127.0.0.1
}
