package esptest_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/esp/esptest"
	"github.com/goipsec/ipsec/proposal"
)

// An IKE engine test hands the fake to the engine and then looks at what
// the engine installed.
func Example() {
	dp := esptest.New()
	var _ esp.DataPlane = dp // what the engine under test receives

	// ... the engine negotiates a CHILD SA and installs it:
	_ = dp.AddSA(context.Background(), &esp.SA{SPI: 0xc0ffee01, Dir: esp.DirIn,
		Src: netip.MustParseAddrPort("198.51.100.2:4500"), Dst: netip.MustParseAddrPort("198.51.100.1:4500"),
		Encr: proposal.EncrAESGCM16, EncrKeyBits: 256, EncrKey: make([]byte, 36), ReqID: 1})

	for _, c := range dp.Calls() {
		fmt.Println(c)
	}
	// Output:
	// AddSA esp SA in 0xc0ffee01 tunnel esp-in-udp 198.51.100.2:4500->198.51.100.1:4500 encr=20/256 integ=0 esn=false reqid=1 keys=<redacted 36+0 bytes>
}
