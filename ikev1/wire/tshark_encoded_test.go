package wire_test

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// writePcap writes IKE messages as raw IPv4/UDP datagrams (link type 101)
// between 192.0.2.1:500 (initiator) and 192.0.2.2:500; message i comes
// from the responder when fromResponder(i) (Wireshark tells g^xi from
// g^xr by the initiator's address).
func writePcap(t *testing.T, msgs [][]byte, fromResponder func(int) bool) string {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 101)
	for i, m := range msgs {
		n := 20 + 8 + len(m)
		b = binary.LittleEndian.AppendUint32(b, uint32(i+1))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		src, dst := byte(1), byte(2)
		if fromResponder != nil && fromResponder(i) {
			src, dst = 2, 1
		}
		ip := []byte{0x45, 0, byte(n >> 8), byte(n), 0, byte(i), 0, 0, 64, 17, 0, 0, 192, 0, 2, src, 192, 0, 2, dst}
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(ip[j])<<8 | uint32(ip[j+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		b = append(b, ip...)
		b = append(b, 1, 0xf4, 1, 0xf4, byte((n-20)>>8), byte(n-20), 0, 0)
		b = append(b, m...)
	}
	path := filepath.Join(t.TempDir(), "encoded.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := capture.ReadFile(path)
	if err != nil || len(ps) != len(msgs) {
		t.Fatalf("capture.ReadFile: %d packets, %v", len(ps), err)
	}
	return path
}

var (
	encCKYI = [8]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	encCKYR = [8]byte{0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01}
	encKey  = []byte("0123456789abcdef0123456789abcdef") // AES-256 phase 1 key
)

// encodedExchange is a Main Mode with AES-256 and SHA2-256 whose messages
// 5 and 6, a Quick Mode and an Informational are sealed with our Crypto,
// followed by plaintext messages with the remaining payload types.
func encodedExchange(t *testing.T) (raw [][]byte, plain []*wire.Message) {
	t.Helper()
	hdr := func(exch wire.ExchangeType, mid uint32, r bool) wire.Header {
		h := wire.Header{ICookie: encCKYI, Exchange: exch, MessageID: mid}
		if r {
			h.RCookie = encCKYR
		}
		return h
	}
	sa := &wire.SA{DOI: 1, Situation: 1, Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoISAKMP, Transforms: []wire.Transform{{Number: 1, ID: wire.KeyIKE, Attributes: []wire.Attribute{
		wire.TV(wire.AttrEncryption, uint16(wire.EncrAES)), wire.TV(wire.AttrKeyLength, 256), wire.TV(wire.AttrHash, uint16(wire.HashSHA2256)),
		wire.TV(wire.AttrAuthMethod, uint16(wire.AuthPSK)), wire.TV(wire.AttrGroupDesc, uint16(wire.MODP2048)),
		wire.TV(wire.AttrLifeType, uint16(wire.LifeSeconds)), wire.Num(wire.AttrLifeDuration, 86400)}}}}}}
	var vids []wire.Payload
	for _, v := range [][]byte{wire.VIDNATTRFC3947, wire.VIDNATTDraft00, wire.VIDNATTDraft01, wire.VIDNATTDraft02, wire.VIDNATTDraft02N,
		wire.VIDNATTDraft03, wire.VIDNATTDraft04, wire.VIDNATTDraft05, wire.VIDNATTDraft06, wire.VIDNATTDraft07, wire.VIDNATTDraft08,
		wire.VIDDPD, wire.VIDXAuth, wire.VIDCiscoUnity, wire.VIDFragmentation, append(append([]byte(nil), wire.VIDMSNT5...), 0, 0, 0, 9),
		wire.VIDMSNegotiationDiscovery, wire.VIDMSInitialContact, wire.VIDMSIKECGA, wire.VIDStrongSwan, wire.VIDKAME} {
		vids = append(vids, &wire.VendorID{Data: v})
	}
	gxi, gxr := make([]byte, 256), make([]byte, 256)
	for i := range gxi {
		gxi[i], gxr[i] = byte(i), byte(255-i)
	}
	nonce := func(b byte) *wire.Nonce {
		return &wire.Nonce{Data: []byte{b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b}}
	}
	hash := &wire.Hash{Data: make([]byte, 32)}
	esp := &wire.SA{DOI: 1, Situation: 1, Proposals: []wire.Proposal{
		{Number: 1, Protocol: wire.ProtoIPsecESP, SPI: []byte{0xc1, 0, 0, 1}, Transforms: []wire.Transform{
			{Number: 1, ID: wire.ESP_AES, Attributes: []wire.Attribute{wire.TV(wire.AttrSALifeType, 1), wire.TV(wire.AttrSALifeDuration, 3600),
				wire.TV(wire.AttrEncapsulation, uint16(wire.EncapUDPTransport)), wire.TV(wire.AttrAuthAlgorithm, uint16(wire.AuthHMACSHA2256)), wire.TV(wire.AttrIPsecKeyLength, 256)}},
			{Number: 2, ID: wire.ESP_3DES, Attributes: []wire.Attribute{wire.TV(wire.AttrEncapsulation, uint16(wire.EncapUDPTransportDraft)), wire.TV(wire.AttrAuthAlgorithm, uint16(wire.AuthHMACSHA))}}}},
		{Number: 2, Protocol: wire.ProtoIPsecESP, SPI: []byte{0xc1, 0, 0, 2}, Transforms: []wire.Transform{
			{Number: 1, ID: wire.ESP_AES, Attributes: []wire.Attribute{wire.TV(wire.AttrEncapsulation, uint16(wire.EncapTunnel)), wire.TV(wire.AttrAuthAlgorithm, uint16(wire.AuthHMACSHA)), wire.TV(wire.AttrIPsecKeyLength, 128)}}}}}}
	idr, _ := wire.IDFromRange(netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.20"), 0, 0)
	type step struct {
		m      *wire.Message
		sealed bool
	}
	steps := []step{
		{&wire.Message{Header: hdr(wire.Main, 0, false), Payloads: append([]wire.Payload{sa}, vids...)}, false},
		{&wire.Message{Header: hdr(wire.Main, 0, true), Payloads: []wire.Payload{sa, &wire.VendorID{Data: wire.VIDDPD}}}, false},
		{&wire.Message{Header: hdr(wire.Main, 0, true), Payloads: []wire.Payload{&wire.KE{Data: gxi}, nonce(1), &wire.NATD{Hash: make([]byte, 32)}, &wire.NATD{Hash: make([]byte, 32)}}}, false},
		{&wire.Message{Header: hdr(wire.Main, 0, true), Payloads: []wire.Payload{&wire.KE{Data: gxr}, nonce(2), &wire.CertReq{Encoding: wire.CertX509Signature}, &wire.NATD{Hash: make([]byte, 32)}}}, false},
		{&wire.Message{Header: hdr(wire.Main, 0, true), Payloads: []wire.Payload{&wire.ID{IDType: wire.IDIPv4Addr, Protocol: 17, Port: 500, Data: []byte{192, 0, 2, 1}}, hash,
			&wire.Notify{DOI: 1, Protocol: wire.ProtoISAKMP, SPI: append(encCKYI[:], encCKYR[:]...), NotifyType: wire.INITIAL_CONTACT}}}, true},
		{&wire.Message{Header: hdr(wire.Main, 0, true), Payloads: []wire.Payload{&wire.ID{IDType: wire.IDFQDN, Data: []byte("vpn.example.com")}, hash}}, true},
		{&wire.Message{Header: hdr(wire.QuickMode, 0x0a0b0c0d, true), Payloads: []wire.Payload{hash, esp, nonce(3), &wire.KE{Data: gxi},
			wire.IDFromPrefix(netip.MustParsePrefix("192.0.2.1/32"), 17, 1701), idr,
			&wire.NATOA{Addr: netip.MustParseAddr("192.0.2.1")}, &wire.NATOA{Addr: netip.MustParseAddr("203.0.113.5")}}}, true},
		{&wire.Message{Header: hdr(wire.QuickMode, 0x0a0b0c0d, true), Payloads: []wire.Payload{hash, nonce(4),
			wire.IDFromPrefix(netip.MustParsePrefix("2001:db8::/32"), 0, 0), wire.IDFromPrefix(netip.MustParsePrefix("10.1.0.0/16"), 0, 0)}}, true},
		{&wire.Message{Header: hdr(wire.Informational, 0x01020304, true), Payloads: []wire.Payload{hash,
			&wire.Notify{DOI: 1, Protocol: wire.ProtoISAKMP, SPI: append(encCKYI[:], encCKYR[:]...), NotifyType: wire.R_U_THERE, Data: []byte{0, 0, 0, 7}},
			&wire.Delete{DOI: 1, Protocol: wire.ProtoIPsecESP, SPIs: [][]byte{{0xc1, 0, 0, 1}, {0xc1, 0, 0, 2}}}}}, true},
		{&wire.Message{Header: hdr(wire.Transaction, 0x05060708, true), Payloads: []wire.Payload{hash,
			&wire.Attributes{CfgType: wire.CFG_REQUEST, Identifier: 0x77, Attrs: []wire.Attribute{
				wire.TLV(wire.INTERNAL_IP4_ADDRESS, nil), wire.TLV(wire.INTERNAL_IP4_DNS, nil), wire.TLV(wire.UNITY_BANNER, nil), wire.TV(wire.XAUTH_TYPE, 0)}}}}, true},
		// Plaintext: the signature-mode payloads and the draft numbers.
		{&wire.Message{Header: hdr(wire.Aggressive, 0, true), Payloads: []wire.Payload{&wire.KE{Data: gxr}, nonce(5),
			&wire.ID{IDType: wire.IDKeyID, Data: []byte("group")}, &wire.Cert{Encoding: wire.CertX509Signature, Data: []byte{0x30, 0x00}},
			&wire.Sig{Data: make([]byte, 64)}, &wire.NATD{Hash: make([]byte, 32), Draft: true}, &wire.NATOA{Addr: netip.MustParseAddr("2001:db8::5"), Draft: true},
			&wire.Notify{DOI: 1, Protocol: wire.ProtoIPsecESP, SPI: []byte{1, 2, 3, 4}, NotifyType: wire.RESPONDER_LIFETIME, Data: []byte{0x80, 1, 0, 1, 0x80, 2, 0x0e, 0x10}}}}, false},
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		t.Fatal(err)
	}
	ini := wire.NewCrypto(block, sha256.New, gxi, gxr)
	for _, s := range steps {
		b, err := s.m.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.sealed {
			if b, err = ini.Seal(nil, b); err != nil {
				t.Fatal(err)
			}
		}
		raw = append(raw, b)
		plain = append(plain, s.m)
	}
	return raw, plain
}

// TestTsharkEncoded lets tshark dissect messages we encode, with every
// payload type, and decrypt those we sealed (Wireshark computes the IVs
// itself from the KE payloads and the negotiated SHA2-256): an independent
// check of the encoder, of the phase 1 and Quick Mode IVs and of padding.
func TestTsharkEncoded(t *testing.T) {
	needTshark(t)
	raw, plain := encodedExchange(t)
	// Messages 2, 4, 6 and 8 are the responder's (0-based: odd up to 7).
	path := writePcap(t, raw, func(i int) bool { return i < 8 && i%2 == 1 })
	ts := runTshark(t, path, "-o", "uat:ikev1_decryption_table:"+hex.EncodeToString(encCKYI[:])+","+hex.EncodeToString(encKey))
	for i, m := range plain {
		frame := i + 1
		got, ok := ts[frame]
		if !ok {
			t.Fatalf("frame %d not dissected", frame)
		}
		// Our decoding of what we sent (before sealing: decrypting our own
		// sealed messages is covered by TestCryptoConfirm), with the header
		// as sent.
		b, err := m.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := wire.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := wire.ParseHeader(raw[i])
		if err != nil {
			t.Fatal(err)
		}
		want := ourFields(&wire.Message{Header: h}, pm.Payloads)
		if d := cmp.Diff(got, want); d != "" {
			t.Errorf("frame %d (%s) (-tshark +ours):\n%s", frame, m.Summary(), d)
		}
	}
}

// TestTsharkVendorIDs checks our table of well-known vendor IDs against
// Wireshark's: tshark must name every one (not as an unknown vendor ID).
func TestTsharkVendorIDs(t *testing.T) {
	tshark := needTshark(t)
	raw, _ := encodedExchange(t)
	path := writePcap(t, raw[:1], nil)
	out, err := execOutput(tshark, "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "isakmp.vid_string")
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Split(strings.TrimSpace(out), "|")
	if len(names) != 21 {
		t.Fatalf("%d vendor IDs dissected: %q", len(names), names)
	}
	for i, n := range names {
		if n == "" || strings.Contains(strings.ToLower(n), "unknown") {
			t.Errorf("vendor ID %d not known to tshark: %q", i, n)
		}
		t.Logf("%d: %s", i, n)
	}
}
