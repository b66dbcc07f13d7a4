package ppp_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ppp"
)

// printLink stands in for the L2TP session: it prints the frames the PPP
// server sends.
type printLink struct{}

func (printLink) WriteFrame(frame []byte) error {
	fmt.Printf("frame % x\n", frame)
	return nil
}

// Example starts the server side of a PPP link the way the L2TP server's
// NewSession callback does, and shows the LCP Configure-Request it sends:
// MRU 1400, authentication MS-CHAPv2 (CHAP algorithm 0x81), magic number.
func Example() {
	pool, err := ipsec.NewPool(netip.MustParsePrefix("198.51.100.0/24"))
	if err != nil {
		panic(err)
	}
	gateway := netip.MustParseAddr("198.51.100.1")
	pool.Reserve(gateway)
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})

	s, err := ppp.NewSession(printLink{}, &ppp.Config{
		Users:     users,
		Pool:      pool,
		LocalAddr: gateway,
		DNS:       []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		DeliverIP: func(s *ppp.Session, pkt []byte) {
			// Write pkt to the TUN device here.
		},
		OnUp: func(s *ppp.Session) { fmt.Println("up:", s.Info().User, s.Info().Addr4) },
		Rand: bytes.NewReader([]byte{0xde, 0xad, 0xbe, 0xef}), // a fixed magic number for the output below
	})
	if err != nil {
		panic(err)
	}
	in := s.Info()
	fmt.Println(in.Phase, in.LCP)
	s.Close() // the L2TP session ended: one Terminate-Request, the lease released
	fmt.Println(s.Info().Phase)
	// Output:
	// frame c0 21 01 01 00 13 01 04 05 78 03 05 c2 23 81 05 06 de ad be ef
	// Establish Req-Sent
	// frame c0 21 05 02 00 04
	// Dead
}
