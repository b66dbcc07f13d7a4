package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/goipsec/ipsec/ikev1/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(wire.SA{}, "Body")}

// goldenPayloads are payloads with their encodings written by hand from
// RFC 2408 section 3, RFC 2407 section 4.6, RFC 3947 and the mode-cfg and
// fragmentation formats (generic header with Next Payload 0 included).
var goldenPayloads = []struct {
	name string
	p    wire.Payload
	hex  string
}{
	{"SA phase 1", &wire.SA{DOI: 1, Situation: 1, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoISAKMP, Transforms: []wire.Transform{{Number: 1, ID: wire.KeyIKE, Attributes: []wire.Attribute{
		wire.TV(wire.AttrEncryption, uint16(wire.EncrAES)), wire.TV(wire.AttrKeyLength, 256), wire.TV(wire.AttrHash, uint16(wire.HashSHA)),
		wire.TV(wire.AttrAuthMethod, uint16(wire.AuthPSK)), wire.TV(wire.AttrGroupDesc, uint16(wire.MODP2048)), wire.TV(wire.AttrLifeType, uint16(wire.LifeSeconds)),
		wire.Num(wire.AttrLifeDuration, 86400)}}}}}},
		`0000003c 00000001 00000001
		 00000030 01010001
		 00000028 01010000 80010007 800e0100 80020002 80030001 8004000e 800b0001 000c0004 00015180`},
	{"SA phase 2 two proposals", &wire.SA{DOI: 1, Situation: 1, Proposals: []wire.Proposal{
		{Number: 1, Protocol: wire.ProtoIPsecESP, SPI: []byte{0xde, 0xad, 0xbe, 0xef}, Transforms: []wire.Transform{
			{Number: 1, ID: wire.ESP_AES, Attributes: []wire.Attribute{wire.TV(wire.AttrSALifeType, 1), wire.TV(wire.AttrAuthAlgorithm, 2), wire.TV(wire.AttrIPsecKeyLength, 128)}},
			{Number: 2, ID: wire.ESP_3DES, Attributes: []wire.Attribute{wire.TV(wire.AttrAuthAlgorithm, 2)}}}},
		{Number: 2, Protocol: wire.ProtoIPsecESP, SPI: []byte{1, 2, 3, 4}, Transforms: []wire.Transform{
			{Number: 1, ID: wire.ESP_AES, Attributes: []wire.Attribute{wire.TV(wire.AttrIPsecKeyLength, 256)}}}}}},
		`00000050 00000001 00000001
		 0200002c 01030402 deadbeef
		   03000014 010c0000 80010001 80050002 80060080
		   0000000c 02030000 80050002
		 00000018 02030401 01020304
		   0000000c 010c0000 80060100`},
	{"KE", &wire.KE{Data: []byte{0xaa, 0xbb, 0xcc}}, `00000007 aabbcc`},
	{"ID subnet udp/1701", &wire.ID{IDType: wire.IDIPv4AddrSubnet, Protocol: 17, Port: 1701, Data: []byte{192, 0, 2, 0, 255, 255, 255, 0}}, `00000010 041106a5 c0000200 ffffff00`},
	{"ID KEY_ID", &wire.ID{IDType: wire.IDKeyID, Data: []byte("grp")}, `0000000b 0b000000 677270`},
	{"HASH", &wire.Hash{Data: []byte{1, 2, 3, 4}}, `00000008 01020304`},
	{"SIG", &wire.Sig{Data: []byte{5, 6}}, `00000006 0506`},
	{"CERT", &wire.Cert{Encoding: wire.CertX509Signature, Data: []byte{0x30, 0x03, 0x01}}, `00000008 04300301`},
	{"CR any", &wire.CertReq{Encoding: wire.CertX509Signature}, `00000005 04`},
	{"CR with authority", &wire.CertReq{Encoding: wire.CertX509Signature, Authority: []byte{0x30, 0}}, `00000007 04 3000`},
	{"NONCE", &wire.Nonce{Data: []byte{0x11, 0x22, 0x33, 0x44}}, `00000008 11223344`},
	{"N R-U-THERE", &wire.Notify{DOI: 1, Protocol: wire.ProtoISAKMP, SPI: unhexNoT("0102030405060708090a0b0c0d0e0f10"), NotifyType: wire.R_U_THERE, Data: []byte{0, 0, 0, 0x2a}},
		`00000020 00000001 01108d28 0102030405060708090a0b0c0d0e0f10 0000002a`},
	{"N without SPI", &wire.Notify{DOI: 1, Protocol: wire.ProtoISAKMP, NotifyType: wire.NO_PROPOSAL_CHOSEN}, `0000000c 00000001 0100000e`},
	{"D ESP", &wire.Delete{DOI: 1, Protocol: wire.ProtoIPsecESP, SPISize: 4, SPIs: [][]byte{{0xaa, 0xbb, 0xcc, 0xdd}, {0x11, 0x22, 0x33, 0x44}}},
		`00000014 00000001 03040002 aabbccdd 11223344`},
	{"VID", &wire.VendorID{Data: wire.VIDNATTRFC3947}, `00000014 4a131c81070358455c5728f20e95452f`},
	{"NAT-D", &wire.NATD{Hash: []byte{1, 2, 3, 4}}, `00000008 01020304`},
	{"NAT-D draft", &wire.NATD{Hash: []byte{1, 2, 3, 4}, Draft: true}, `00000008 01020304`},
	{"NAT-OA v4", &wire.NATOA{IDType: wire.IDIPv4Addr, Addr: netip.MustParseAddr("192.0.2.1")}, `0000000c 01000000 c0000201`},
	{"NAT-OA draft v6", &wire.NATOA{IDType: wire.IDIPv6Addr, Addr: netip.MustParseAddr("2001:db8::1"), Draft: true}, `00000018 05000000 20010db8000000000000000000000001`},
	{"ATTR request", &wire.Attributes{CfgType: wire.CFG_REQUEST, Identifier: 0x1234, Attrs: []wire.Attribute{
		wire.TLV(wire.XAUTH_USER_NAME, nil), wire.TLV(wire.XAUTH_USER_PASSWORD, nil), wire.TV(wire.XAUTH_TYPE, 0)}},
		`00000014 01001234 40890000 408a0000 c0880000`},
	{"ATTR reply with address", &wire.Attributes{CfgType: wire.CFG_REPLY, Identifier: 7, Attrs: []wire.Attribute{wire.TLV(wire.INTERNAL_IP4_ADDRESS, []byte{10, 0, 0, 5})}},
		`00000010 02000007 00010004 0a000005`},
	{"FRAG last", &wire.Fragment{ID: 1, Number: 2, Last: true, Data: []byte{0xaa, 0xbb, 0xcc}}, `0000000b 00010201 aabbcc`},
	{"unknown 200", &wire.Unknown{PayloadType: 200, Body: []byte{1, 2}}, `00000006 0102`},
}

func unhexNoT(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGoldenPayloads checks each payload's encoding against the bytes
// written by hand, its decoding back to the same value, and that every
// strict prefix of the encoding fails with a *ParseError.
func TestGoldenPayloads(t *testing.T) {
	for _, g := range goldenPayloads {
		t.Run(g.name, func(t *testing.T) {
			want := unhex(t, g.hex)
			got, first, err := wire.AppendPayloads(nil, []wire.Payload{g.p})
			if err != nil {
				t.Fatal(err)
			}
			if first != g.p.Type() {
				t.Errorf("first payload %v, want %v", first, g.p.Type())
			}
			if hex.EncodeToString(got) != hex.EncodeToString(want) {
				t.Fatalf("encoding\n got %x\nwant %x", got, want)
			}
			ps, err := wire.ParsePayloads(g.p.Type(), want)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 {
				t.Fatalf("%d payloads", len(ps))
			}
			if d := cmp.Diff(g.p, ps[0], cmpOpts...); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
			for n := range len(want) {
				_, err := wire.ParsePayloads(g.p.Type(), want[:n])
				var pe *wire.ParseError
				if !errors.As(err, &pe) {
					t.Errorf("prefix of %d bytes: error %v, want *ParseError", n, err)
				}
			}
		})
	}
}

// goldenMain is a Main Mode first message written by hand: header with
// cookies, SA (phase 1 golden above) and the DPD VID.
const goldenMain = `0102030405060708 0000000000000000 01 10 02 00 00000000 0000006c
	0d00003c 00000001 00000001
	 00000030 01010001
	 00000028 01010000 80010007 800e0100 80020002 80030001 8004000e 800b0001 000c0004 00015180
	00000014 afcad71368a1f1c96b8696fc77570100`

func TestGoldenMessage(t *testing.T) {
	want := unhex(t, goldenMain)
	m := &wire.Message{Header: wire.Header{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: wire.Main},
		Payloads: []wire.Payload{goldenPayloads[0].p, &wire.VendorID{Data: wire.VIDDPD}}}
	got, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	p, err := wire.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := wire.Header{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Next: wire.PayloadSA, Version: 0x10, Exchange: wire.IdentityProtection, Length: 108}
	if p.Header != wantHdr {
		t.Errorf("header %+v, want %+v", p.Header, wantHdr)
	}
	if d := cmp.Diff(m.Payloads, p.Payloads, cmpOpts...); d != "" {
		t.Errorf("payloads (-want +got):\n%s", d)
	}
	// SA.Body is SAi_b as received; AppendBody gives the same bytes for
	// the SA we built.
	saBody := want[wire.HeaderLen+4 : wire.HeaderLen+60]
	if got := p.Payloads[0].(*wire.SA).Body; !bytes.Equal(got, saBody) {
		t.Errorf("SA body %x, want %x", got, saBody)
	}
	if got, err := wire.AppendBody(nil, m.Payloads[0]); err != nil || !bytes.Equal(got, saBody) {
		t.Errorf("AppendBody %x %v", got, err)
	}
	if got, err := wire.AppendBody([]byte{0xee}, &wire.ID{IDType: wire.IDFQDN, Data: []byte("a")}); err != nil || !bytes.Equal(got, []byte{0xee, 2, 0, 0, 0, 'a'}) {
		t.Errorf("AppendBody ID %x %v", got, err)
	}
	if s := p.Summary(); s != "ID_PROT request 0 [ SA V ]" {
		t.Errorf("summary %q", s)
	}
	tr := &p.Payloads[0].(*wire.SA).Proposals[0].Transforms[0]
	if v, ok := tr.Attr(wire.AttrLifeDuration); !ok || v != 86400 {
		t.Errorf("life duration %d %v", v, ok)
	}
	if v, ok := tr.Attr(wire.AttrGroupDesc); !ok || wire.GroupDesc(v) != wire.MODP2048 {
		t.Errorf("group %d %v", v, ok)
	}
	if _, ok := tr.Attr(wire.AttrPRF); ok {
		t.Error("absent PRF attribute reported present")
	}
	for n := range len(want) {
		if _, err := wire.Parse(want[:n]); err == nil {
			t.Errorf("prefix of %d bytes parsed", n)
		}
	}
	// Re-encoding the parsed message gives the input again.
	re, err := p.Append(nil)
	if err != nil || hex.EncodeToString(re) != hex.EncodeToString(want) {
		t.Errorf("re-encoding %x, %v", re, err)
	}
}
