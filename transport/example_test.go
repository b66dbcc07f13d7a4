package transport_test

import (
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/transport"
)

// printer is a PacketHandler that prints the messages routed to it.
type printer struct {
	name      string
	version   int
	responder bool
}

func (p printer) IKEVersion() int { return p.version }
func (p printer) Responder() bool { return p.responder }
func (p printer) HandlePacket(pkt transport.Packet) {
	fmt.Printf("%s got %d bytes from %s\n", p.name, len(pkt.Data), pkt.Remote)
}

// header returns an IKE header of major version major with the two SPIs
// (cookies in IKEv1) and flags.
func header(major byte, spii, spir byte, flags byte) []byte {
	h := make([]byte, 28)
	h[7], h[15] = spii, spir
	h[17] = major << 4
	h[19] = flags
	return h
}

// Two IKEv2 engines and an IKEv1 engine share one router: the responder
// gets new SAs, an initiator the messages of the SA whose SPI it claimed,
// and IKEv1 goes by version.
func ExampleRouter() {
	var r transport.Router
	resp, _ := r.Register(printer{"IKEv2 responder", 2, true})
	ini, _ := r.Register(printer{"IKEv2 initiator", 2, false})
	_, _ = r.Register(printer{"IKEv1 responder", 1, true})
	ini.Claim(7, transport.RoleInitiator) // our SPIi of an SA we dialled
	defer resp.Close()

	peer := netip.MustParseAddrPort("192.0.2.1:500")
	r.Route(transport.Packet{Data: header(2, 1, 0, 0x08), Remote: peer}) // IKE_SA_INIT request
	r.Route(transport.Packet{Data: header(2, 7, 9, 0x20), Remote: peer}) // answer to our SA
	r.Route(transport.Packet{Data: header(1, 3, 0, 0), Remote: peer})    // IKEv1 Main Mode
	// Output:
	// IKEv2 responder got 28 bytes from 192.0.2.1:500
	// IKEv2 initiator got 28 bytes from 192.0.2.1:500
	// IKEv1 responder got 28 bytes from 192.0.2.1:500
}
