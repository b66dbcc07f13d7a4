package wire_test

import (
	"crypto/rand"
	"fmt"

	"github.com/goipsec/ipsec/ike/wire"
)

// Build an IKE_SA_INIT request, parse it back and print its summary.
func Example() {
	req := &wire.Message{
		Header: wire.Header{SPIi: 0x0102030405060708, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoIKE, Transforms: []wire.Transform{
				{Type: wire.TransformENCR, ID: uint16(20), Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
				{Type: wire.TransformPRF, ID: 7},
				{Type: wire.TransformKE, ID: 31},
			}}}},
			&wire.KE{Group: 31, Data: make([]byte, 32)},
			&wire.Nonce{Data: make([]byte, 32)},
			&wire.Notify{Type: wire.IKEV2_FRAGMENTATION_SUPPORTED},
		},
	}
	pkt, err := req.Append(nil)
	if err != nil {
		panic(err)
	}
	m, err := wire.Parse(pkt)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(pkt), "bytes:", m.Summary())
	t := m.Payloads[0].(*wire.SA).Proposals[0].Transforms[0]
	kl, _ := t.KeyLength()
	fmt.Println(wire.TransformIDString(t.Type, t.ID), kl)
	// Output:
	// 152 bytes: IKE_SA_INIT request 0 [ SA KE No N(FRAG_SUP) ]
	// ENCR_AES_GCM_16 256
}

// Seal an INFORMATIONAL request into an SK payload and open it again. Any
// internal/alg Crypter can be passed where the example uses the test's
// AES-GCM crypter.
func ExampleMessage_AppendSealed() {
	c := newGCM(testKey)
	dpd := &wire.Message{
		Header:   wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.INFORMATIONAL, Flags: wire.FlagInitiator, MessageID: 7},
		Payloads: []wire.Payload{&wire.SK{Payloads: []wire.Payload{&wire.Delete{Protocol: wire.ProtoIKE}}}},
	}
	pkt, err := dpd.AppendSealed(nil, c, rand.Reader)
	if err != nil {
		panic(err)
	}
	m, _ := wire.Parse(pkt)
	fmt.Println(m.Summary())
	if _, err := m.Open(c, nil); err != nil {
		panic(err)
	}
	fmt.Println(m.Summary())
	// Output:
	// INFORMATIONAL request 7 [ E ]
	// INFORMATIONAL request 7 [ D ]
}
