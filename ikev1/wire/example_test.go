package wire_test

import (
	"fmt"

	"github.com/goipsec/ipsec/ikev1/wire"
)

// Build a Main Mode first message, parse it back and read the offer.
func Example() {
	req := &wire.Message{
		Header: wire.Header{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: wire.Main},
		Payloads: []wire.Payload{
			&wire.SA{DOI: wire.DOIIPsec, Situation: wire.SituationIdentityOnly, Proposals: []wire.Proposal{{
				Number: 1, Protocol: wire.ProtoISAKMP, Transforms: []wire.Transform{{Number: 1, ID: wire.KeyIKE, Attributes: []wire.Attribute{
					wire.TV(wire.AttrEncryption, uint16(wire.EncrAES)), wire.TV(wire.AttrKeyLength, 256),
					wire.TV(wire.AttrHash, uint16(wire.HashSHA2256)), wire.TV(wire.AttrAuthMethod, uint16(wire.AuthPSK)),
					wire.TV(wire.AttrGroupDesc, uint16(wire.MODP2048)), wire.TV(wire.AttrLifeType, uint16(wire.LifeSeconds)),
					wire.Num(wire.AttrLifeDuration, 86400),
				}}},
			}}},
			&wire.VendorID{Data: wire.VIDNATTRFC3947},
			&wire.VendorID{Data: wire.VIDDPD},
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
	t := &m.Payloads[0].(*wire.SA).Proposals[0].Transforms[0]
	g, _ := t.Attr(wire.AttrGroupDesc)
	life, _ := t.Attr(wire.AttrLifeDuration)
	fmt.Println(wire.GroupDesc(g), life)
	name, _ := wire.KnownVendorID(m.Payloads[1].(*wire.VendorID).Data)
	fmt.Println(name)
	// Output:
	// 128 bytes: ID_PROT request 0 [ SA V V ]
	// MODP_2048 86400
	// RFC 3947
}
