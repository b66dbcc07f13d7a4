package wire_test

import (
	"net/netip"

	"github.com/goipsec/ipsec/ike/wire"
)

// sampleMessages returns an IKE_SA_INIT request and an IKE_AUTH request
// (SK with every payload type an IKE_AUTH carries) as built by an
// initiator; tests and benchmarks share them.
func sampleMessages() []*wire.Message {
	spiI, spiR := uint64(0x1122334455667788), uint64(0x99aabbccddeeff00)
	nonce := make([]byte, 32)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	init := &wire.Message{
		Header: wire.Header{SPIi: spiI, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.SA{Proposals: []wire.Proposal{
				{Number: 1, Protocol: wire.ProtoIKE, Transforms: []wire.Transform{
					{Type: wire.TransformENCR, ID: 20, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
					{Type: wire.TransformPRF, ID: 7},
					{Type: wire.TransformKE, ID: 31},
					{Type: wire.TransformKE, ID: 19},
				}},
				{Number: 2, Protocol: wire.ProtoIKE, Transforms: []wire.Transform{
					{Type: wire.TransformENCR, ID: 12, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 128}}},
					{Type: wire.TransformPRF, ID: 5},
					{Type: wire.TransformINTEG, ID: 12},
					{Type: wire.TransformKE, ID: 14},
				}},
			}},
			&wire.KE{Group: 31, Data: make([]byte, 32)},
			&wire.Nonce{Data: nonce},
			&wire.Notify{Type: wire.NAT_DETECTION_SOURCE_IP, Data: make([]byte, 20)},
			&wire.Notify{Type: wire.NAT_DETECTION_DESTINATION_IP, Data: make([]byte, 20)},
			&wire.Notify{Type: wire.IKEV2_FRAGMENTATION_SUPPORTED},
			&wire.Notify{Type: wire.SIGNATURE_HASH_ALGORITHMS, Data: []byte{0, 2, 0, 3, 0, 4}},
			&wire.VendorID{Data: []byte("goipsec test")},
		},
	}
	auth := &wire.Message{
		Header: wire.Header{SPIi: spiI, SPIr: spiR, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator, MessageID: 1},
		Payloads: []wire.Payload{&wire.SK{Payloads: []wire.Payload{
			&wire.ID{Type: wire.ID_FQDN, Data: []byte("client.example.org")},
			&wire.CertReq{Encoding: wire.CertX509Signature, Data: make([]byte, 40)},
			&wire.Notify{Type: wire.INITIAL_CONTACT},
			&wire.ID{Responder: true, Type: wire.ID_IPV4_ADDR, Data: []byte{192, 0, 2, 2}},
			&wire.Auth{Method: wire.AuthDigitalSignature, Data: make([]byte, 80)},
			&wire.CP{Type: wire.CFG_REQUEST, Attributes: []wire.CPAttribute{
				{Type: wire.INTERNAL_IP4_ADDRESS}, {Type: wire.INTERNAL_IP4_DNS}, {Type: wire.INTERNAL_IP6_ADDRESS},
				{Type: wire.INTERNAL_DNS_DOMAIN}, {Type: wire.INTERNAL_DNSSEC_TA}}},
			&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoESP, SPI: []byte{0xc1, 0xc2, 0xc3, 0xc4},
				Transforms: []wire.Transform{
					{Type: wire.TransformENCR, ID: 20, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
					{Type: wire.TransformESN, ID: 0},
				}}}},
			&wire.TS{Selectors: []wire.TrafficSelector{
				{Type: wire.TS_IPV4_ADDR_RANGE, StartPort: 0, EndPort: 65535,
					StartAddr: netip.MustParseAddr("0.0.0.0"), EndAddr: netip.MustParseAddr("255.255.255.255")},
				{Type: wire.TS_IPV6_ADDR_RANGE, IPProtocol: 17, StartPort: 53, EndPort: 53,
					StartAddr: netip.MustParseAddr("2001:db8::"), EndAddr: netip.MustParseAddr("2001:db8::ffff")},
			}},
			&wire.TS{Responder: true, Selectors: []wire.TrafficSelector{
				{Type: wire.TS_IPV4_ADDR_RANGE, IPProtocol: 6, StartPort: 443, EndPort: 443,
					StartAddr: netip.MustParseAddr("198.51.100.0"), EndAddr: netip.MustParseAddr("198.51.100.255")},
			}},
		}}},
	}
	info := &wire.Message{
		Header: wire.Header{SPIi: spiI, SPIr: spiR, Exchange: wire.INFORMATIONAL, Flags: wire.FlagInitiator, MessageID: 2},
		Payloads: []wire.Payload{&wire.SK{Payloads: []wire.Payload{
			&wire.Delete{Protocol: wire.ProtoESP, SPISize: 4, NumSPIs: 2, SPIs: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			&wire.Cert{Encoding: wire.CertX509Signature, Data: []byte{0x30, 0}},
			&wire.EAP{Data: []byte{2, 1, 0, 5, 1}},
		}}},
	}
	return []*wire.Message{init, auth, info}
}
