package capture_test

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// Read the IKE messages of a capture.
func Example() {
	ps, err := capture.ReadFile("../testdata/ipsec-ikev1-isakmp-main-mode.pcap")
	if err != nil {
		panic(err)
	}
	p := ps[0]
	fmt.Println(len(ps), "messages; first:", p.Frame, p.Src.Port(), "->", p.Dst.Port(), len(p.Payload), "bytes")
	// Output:
	// 9 messages; first: 1 500 -> 500 168 bytes
}
