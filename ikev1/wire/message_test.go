package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// v1Captures are the captures holding IKEv1 messages, copied from
// ../shared/testdata, with the number of IKEv1 messages each holds
// (tshark -Y 'isakmp.version == 0x10').
var v1Captures = []struct {
	file string
	n    int
}{
	{"testdata/ikev1-certs.pcap", 10},
	{"testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap", 6},
	{"testdata/ipsec-ikev1-isakmp-main-mode.pcap", 9},
	{"testdata/ipsec.cap", 11},
}

func v1Messages(t testing.TB, file string) []capture.Packet {
	t.Helper()
	ps, err := capture.ReadFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []capture.Packet
	for _, p := range ps {
		if len(p.Payload) > 17 && p.Payload[17]>>4 == 1 {
			out = append(out, p)
		}
	}
	return out
}

// TestCapturesRoundTrip decodes every IKEv1 message of the captures and
// re-encodes it byte for byte (encrypted ones: header and body as they are).
func TestCapturesRoundTrip(t *testing.T) {
	for _, c := range v1Captures {
		ps := v1Messages(t, c.file)
		if len(ps) != c.n {
			t.Errorf("%s: %d IKEv1 messages, want %d", c.file, len(ps), c.n)
		}
		for _, p := range ps {
			m, err := wire.Parse(p.Payload)
			if err != nil {
				t.Errorf("%s frame %d: %v", c.file, p.Frame, err)
				continue
			}
			if m.IsEncrypted() != (m.Encrypted != nil) || (m.Payloads == nil) != m.IsEncrypted() {
				t.Errorf("%s frame %d: encrypted flag %v but Encrypted %d bytes, %d payloads", c.file, p.Frame, m.IsEncrypted(), len(m.Encrypted), len(m.Payloads))
			}
			re, err := m.Append(nil)
			if err != nil || !bytes.Equal(re, p.Payload) {
				t.Errorf("%s frame %d: re-encoding differs (%v)\n got %x\nwant %x", c.file, p.Frame, err, re, p.Payload)
			}
		}
	}
}

// TestCaptureSummaries pins the summaries of the aggressive mode capture
// (payload order as tshark lists it).
func TestCaptureSummaries(t *testing.T) {
	want := []string{
		"AGGRESSIVE request 0 [ SA V V V V KE No ID V V V ]",
		"AGGRESSIVE request 0 [ SA V V V V V KE ID No HASH NAT-D NAT-D ]",
		"AGGRESSIVE request 0 [ E ]",
	}
	ps := v1Messages(t, "testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap")
	for i, w := range want {
		m, err := wire.Parse(ps[i].Payload)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Summary(); got != w {
			t.Errorf("message %d: %q, want %q", i+1, got, w)
		}
	}
	// The second message of ipsec.cap's first attempt is a NO-PROPOSAL-CHOSEN.
	ps = v1Messages(t, "testdata/ipsec.cap")
	m, err := wire.Parse(ps[2].Payload)
	if err != nil {
		t.Fatal(err)
	}
	m.Response = true
	if got := m.Summary(); got != "INFORMATIONAL_V1 response 0 [ N(NO_PROP) ]" {
		t.Errorf("%q", got)
	}
	n := m.Payloads[0].(*wire.Notify)
	if n.NotifyType != wire.NO_PROPOSAL_CHOSEN || n.NotifyType.String() != "NO-PROPOSAL-CHOSEN" {
		t.Errorf("notify %v", n.NotifyType)
	}
}

// TestMalformedCaptures: the two malformed captures give typed errors
// naming the offending offset and payload.
func TestMalformedCaptures(t *testing.T) {
	for _, c := range []struct {
		file    string
		payload wire.PayloadType
		offset  int
	}{
		{"testdata/ipsec-ikev1-payload-bad-length.pcap", wire.PayloadVendorID, 90},
		{"testdata/ipsec-ikev1-zero-length.pcap", wire.PayloadNone, 24},
	} {
		ps := v1Messages(t, c.file)
		if len(ps) != 1 {
			t.Fatalf("%s: %d messages", c.file, len(ps))
		}
		_, err := wire.Parse(ps[0].Payload)
		var pe *wire.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want *ParseError", c.file, err)
		}
		if pe.Payload != c.payload || pe.Offset != c.offset {
			t.Errorf("%s: %v, want payload %v at %d", c.file, err, c.payload, c.offset)
		}
	}
}

func hdr(next, exch, flags byte, length int) []byte {
	b := make([]byte, 28)
	b[0] = 1
	b[16], b[17], b[18], b[19] = next, 0x10, exch, flags
	binary.BigEndian.PutUint32(b[24:], uint32(length))
	return b
}

func TestParseErrors(t *testing.T) {
	vid := []byte{0, 0, 0, 6, 0xaa, 0xbb}
	cases := []struct {
		name    string
		b       []byte
		payload wire.PayloadType
		offset  int
		err     error
	}{
		{"short", make([]byte, 27), wire.PayloadNone, 27, nil},
		{"version 2", func() []byte { b := hdr(0, 34, 0, 28); b[17] = 0x20; return b }(), wire.PayloadNone, 17, wire.ErrUnsupportedVersion},
		{"length beyond datagram", hdr(0, 2, 0, 29), wire.PayloadNone, 28, nil},
		{"trailing after message", append(hdr(0, 2, 0, 28), 0), wire.PayloadNone, 28, nil},
		{"bytes after last payload", append(append(hdr(13, 2, 0, 36), vid...), 0, 0), wire.PayloadVendorID, 34, nil},
		{"payload length beyond message", append(hdr(13, 2, 0, 33), 0, 0, 0, 8, 1), wire.PayloadVendorID, 33, nil},
		{"proposal at top level", append(hdr(2, 2, 0, 32), 0, 0, 0, 4), wire.PayloadProposal, 28, nil},
		{"SA without proposal", append(hdr(1, 2, 0, 40), 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 1), wire.PayloadSA, 40, nil},
		{"SA with transform as proposal", append(hdr(1, 2, 0, 64),
			0, 0, 0, 36, 0, 0, 0, 1, 0, 0, 0, 1,
			3, 0, 0, 20, 1, 1, 0, 1, 0, 0, 0, 12, 1, 1, 0, 0, 0x80, 1, 0, 1,
			0, 0, 0, 4), wire.PayloadProposal, 60, nil},
		{"transform count mismatch", append(hdr(1, 2, 0, 56),
			0, 0, 0, 28, 0, 0, 0, 1, 0, 0, 0, 1,
			0, 0, 0, 16, 1, 1, 0, 2,
			0, 0, 0, 8, 1, 1, 0, 0), wire.PayloadProposal, 47, nil},
		{"truncated TLV attribute", append(hdr(1, 2, 0, 60),
			0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 1,
			0, 0, 0, 20, 1, 1, 0, 1,
			0, 0, 0, 12, 1, 1, 0, 0, 0, 12, 0, 8), wire.PayloadTransform, 60, nil},
		{"delete SPI count", append(hdr(12, 5, 0, 44), 0, 0, 0, 16, 0, 0, 0, 1, 3, 4, 0, 2, 1, 2, 3, 4), wire.PayloadDelete, 40, nil},
		{"delete SPI size 0", append(hdr(12, 5, 0, 40), 0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0xff, 0xff), wire.PayloadDelete, 37, nil},
		{"NAT-OA bad type", append(hdr(21, 32, 0, 40), 0, 0, 0, 12, 2, 0, 0, 0, 1, 2, 3, 4), wire.PayloadNATOA, 32, nil},
		{"NAT-OA short address", append(hdr(21, 32, 0, 39), 0, 0, 0, 11, 1, 0, 0, 0, 1, 2, 3), wire.PayloadNATOA, 36, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := wire.Parse(c.b)
			var pe *wire.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%v, want *ParseError", err)
			}
			if pe.Payload != c.payload || pe.Offset != c.offset {
				t.Errorf("%v: payload %v offset %d, want %v at %d", err, pe.Payload, pe.Offset, c.payload, c.offset)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("%v does not wrap %v", err, c.err)
			}
		})
	}
}

// TestEncrypted: an encrypted message keeps its body; ParsePayloads reads
// the decrypted body with its padding.
func TestEncrypted(t *testing.T) {
	body := []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}
	b := append(hdr(8, 32, 1, 36), body...)
	m, err := wire.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Payloads != nil || !bytes.Equal(m.Encrypted, body) || m.Next != wire.PayloadHASH {
		t.Fatalf("payloads %v encrypted %x next %v", m.Payloads, m.Encrypted, m.Next)
	}
	if s := m.Summary(); s != "QUICK_MODE request 0 [ E ]" {
		t.Errorf("summary %q", s)
	}
	re, err := m.Append(nil)
	if err != nil || !bytes.Equal(re, b) {
		t.Errorf("re-encoding %x %v", re, err)
	}
	// A decrypted body: HASH, Nonce, then zero padding to 16 bytes.
	plain := []byte{10, 0, 0, 8, 1, 2, 3, 4, 0, 0, 0, 6, 5, 6, 0, 0}
	ps, err := wire.ParsePayloads(wire.PayloadHASH, plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Type() != wire.PayloadHASH || ps[1].Type() != wire.PayloadNonce {
		t.Fatalf("payloads %v", ps)
	}
	// A fragment with the E flag (racoon) is parsed as plaintext.
	frag := append(hdr(132, 2, 1, 39), 0, 0, 0, 11, 0, 1, 1, 1, 7, 8, 9)
	m, err = wire.Parse(frag)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Payloads) != 1 || m.Payloads[0].(*wire.Fragment).Number != 1 || !m.Payloads[0].(*wire.Fragment).Last {
		t.Errorf("fragment %v", m.Payloads)
	}
}

func TestAttributeHelpers(t *testing.T) {
	a := wire.Num(wire.AttrLifeDuration, 28800)
	if !a.TV || a.Value != 28800 {
		t.Errorf("Num 28800: %+v", a)
	}
	a = wire.Num(wire.AttrLifeDuration, 86400)
	if v, ok := a.Uint(); a.TV || !ok || v != 86400 || len(a.Data) != 4 {
		t.Errorf("Num 86400: %+v", a)
	}
	if _, ok := wire.TLV(6, make([]byte, 5)).Uint(); ok {
		t.Error("5-byte TLV reported as a number")
	}
	if v, ok := wire.TLV(6, []byte{1, 0}).Uint(); !ok || v != 256 {
		t.Errorf("2-byte TLV %d %v", v, ok)
	}
	m := &wire.Message{Payloads: []wire.Payload{&wire.SA{Proposals: []wire.Proposal{{Transforms: []wire.Transform{{Attributes: []wire.Attribute{{Type: 1, Value: 70000, TV: true}}}}}}}}}
	var ee *wire.EncodeError
	if _, err := m.Append(nil); !errors.As(err, &ee) {
		t.Errorf("TV value above 16 bits: %v", err)
	}
}

func TestIDConversions(t *testing.T) {
	for _, c := range []struct {
		p     string
		typ   wire.IDType
		first string
		last  string
	}{
		{"192.0.2.7/32", wire.IDIPv4Addr, "192.0.2.7", "192.0.2.7"},
		{"192.0.2.0/24", wire.IDIPv4AddrSubnet, "192.0.2.0", "192.0.2.255"},
		{"0.0.0.0/0", wire.IDIPv4AddrSubnet, "0.0.0.0", "255.255.255.255"},
		{"2001:db8::/33", wire.IDIPv6AddrSubnet, "2001:db8::", "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::1/128", wire.IDIPv6Addr, "2001:db8::1", "2001:db8::1"},
	} {
		p := netip.MustParsePrefix(c.p)
		id := wire.IDFromPrefix(p, 17, 1701)
		if id.IDType != c.typ || id.Protocol != 17 || id.Port != 1701 {
			t.Errorf("%s: %+v", c.p, id)
		}
		got, err := id.Prefix()
		if err != nil || got != p {
			t.Errorf("%s: prefix %v %v", c.p, got, err)
		}
		f, l, err := id.Range()
		if err != nil || f.String() != c.first || l.String() != c.last {
			t.Errorf("%s: range %v-%v %v", c.p, f, l, err)
		}
	}
	r, err := wire.IDFromRange(netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.20"), 0, 0)
	if err != nil || r.IDType != wire.IDIPv4AddrRange {
		t.Fatalf("%+v %v", r, err)
	}
	if f, l, err := r.Range(); err != nil || f.String() != "192.0.2.10" || l.String() != "192.0.2.20" {
		t.Errorf("range %v-%v %v", f, l, err)
	}
	if _, err := r.Prefix(); !errors.Is(err, wire.ErrNotAddressID) {
		t.Errorf("range as prefix: %v", err)
	}
	if _, err := wire.IDFromRange(netip.MustParseAddr("192.0.2.20"), netip.MustParseAddr("192.0.2.10"), 0, 0); err == nil {
		t.Error("reversed range accepted")
	}
	bad := &wire.ID{IDType: wire.IDIPv4AddrSubnet, Data: []byte{192, 0, 2, 0, 255, 0, 255, 0}}
	if _, err := bad.Prefix(); !errors.Is(err, wire.ErrNonContiguousMask) {
		t.Errorf("non-contiguous mask: %v", err)
	}
	short := &wire.ID{IDType: wire.IDIPv4Addr, Data: []byte{1, 2, 3}}
	if _, err := short.Prefix(); !errors.Is(err, wire.ErrNotAddressID) {
		t.Errorf("3-byte IPv4 ID: %v", err)
	}
	if _, err := (&wire.ID{IDType: wire.IDFQDN, Data: []byte("vpn.example")}).Prefix(); !errors.Is(err, wire.ErrNotAddressID) {
		t.Errorf("FQDN: %v", err)
	}
}

func TestKnownVendorID(t *testing.T) {
	for _, c := range []struct {
		hex  string
		name string
	}{
		{"4a131c81070358455c5728f20e95452f", "RFC 3947"},
		{"90cb80913ebb696e086381b5ec427b1f", `draft-ietf-ipsec-nat-t-ike-02\n`},
		{"afcad71368a1f1c96b8696fc77570100", "RFC 3706 DPD (Dead Peer Detection)"},
		{"09002689dfd6b712", "XAUTH"},
		{"12f5f28c457168a9702d9fe274cc0100", "CISCO-UNITY"},
		{"4048b7d56ebce88525e7de7f00d6c2d3", "FRAGMENTATION"},
		{"4048b7d56ebce88525e7de7f00d6c2d380000000", "FRAGMENTATION"},
		{"1e2b516905991c7d7c96fcbfb587e46100000009", "MS NT5 ISAKMPOAKLEY"},
	} {
		name, ok := wire.KnownVendorID(unhex(t, c.hex))
		if !ok || name != c.name {
			t.Errorf("%s: %q %v, want %q", c.hex, name, ok, c.name)
		}
	}
	if name, ok := wire.KnownVendorID(unhex(t, "4a131c81070358455c5728f20e95452e")); ok {
		t.Errorf("unknown VID named %q", name)
	}
	if _, ok := wire.KnownVendorID(unhex(t, "4a131c81070358455c5728f20e95452f00")); ok {
		t.Error("RFC 3947 VID with a suffix matched")
	}
}

func TestSummaryAttributes(t *testing.T) {
	m := &wire.Message{Header: wire.Header{Exchange: wire.Transaction, MessageID: 1234}, Payloads: []wire.Payload{
		&wire.Hash{}, &wire.Attributes{CfgType: wire.CFG_REQUEST, Attrs: []wire.Attribute{wire.TLV(wire.XAUTH_USER_NAME, nil), wire.TLV(wire.XAUTH_USER_PASSWORD, nil)}},
	}}
	if s := m.Summary(); s != "TRANSACTION request 1234 [ HASH CPRQ(X_USER X_PWD) ]" {
		t.Errorf("%q", s)
	}
	m = &wire.Message{Header: wire.Header{Exchange: wire.Informational, MessageID: 7}, Response: true, Payloads: []wire.Payload{
		&wire.Hash{}, &wire.Notify{NotifyType: wire.R_U_THERE_ACK}, &wire.NATD{Draft: true}, &wire.Unknown{PayloadType: 99}, &wire.Attributes{CfgType: wire.CFG_ACK},
	}}
	if s := m.Summary(); s != "INFORMATIONAL_V1 response 7 [ HASH N(DPD_ACK) NAT-D UNKN(99) CP ]" {
		t.Errorf("%q", s)
	}
}
