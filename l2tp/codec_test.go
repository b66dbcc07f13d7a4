package l2tp

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex reads hex with spaces and newlines.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Apple's SCCRQ as CLIENTS.md 8.2 describes it: Message Type, Protocol
// Version, Framing Caps 3, Host Name with its trailing NUL, Assigned
// Tunnel ID, RWS 4, nothing else.
const appleSCCRQ = `
c802 0040 0000 0000 0000 0000
8008 0000 0000 0001
8008 0000 0002 0100
800a 0000 0003 00000003
800a 0000 0007 6d616300
8008 0000 0009 1234
8008 0000 000a 0004`

// Windows' SCCRQ (CLIENTS.md 8.3, 108 bytes): Framing sync only, Bearer
// Caps 0, Firmware 0x0a00, Host Name, Vendor "Microsoft", Tunnel ID 1,
// RWS 8.
const windowsSCCRQ = `
c802 006c 0000 0000 0000 0000
8008 0000 0000 0001
8008 0000 0002 0100
800a 0000 0003 00000001
800a 0000 0004 00000000
0008 0000 0006 0a00
8015 0000 0007 57494e2d544553544d414348494e45
000f 0000 0008 4d6963726f736f6674
8008 0000 0009 0001
8008 0000 000a 0008`

// Android's SCCRQ (CLIENTS.md 8.4): Host Name "anonymous", RWS 1 and a
// Challenge (shortened to 4 bytes here).
const androidSCCRQ = `
c802 004f 0000 0000 0000 0000
8008 0000 0000 0001
8008 0000 0002 0100
800f 0000 0007 616e6f6e796d6f7573
800a 0000 0003 00000003
8008 0000 0009 beef
8008 0000 000a 0001
800a 0000 000b 01020304`

func TestParseClientSCCRQs(t *testing.T) {
	for _, tc := range []struct {
		name, hex, host, vendor string
		tid, rws                uint16
		challenge               bool
	}{
		{"apple", appleSCCRQ, "mac", "", 0x1234, 4, false},
		{"windows", windowsSCCRQ, "WIN-TESTMACHINE", "Microsoft", 1, 8, false},
		{"android", androidSCCRQ, "anonymous", "", 0xbeef, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			m, err := Parse(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != MsgSCCRQ || m.ZLB || !m.Header.Control || int(m.Header.Length) != len(b) {
				t.Fatalf("message %+v", m)
			}
			info, err := decodeSCCRQ(m)
			if err != nil {
				t.Fatal(err)
			}
			if info.hostName != tc.host || info.vendor != tc.vendor || info.rws != tc.rws || (info.challenge != nil) != tc.challenge {
				t.Fatalf("decoded %+v", info)
			}
			if got, _, _ := u16AVP(m, AVPAssignedTunnelID); got != tc.tid {
				t.Fatalf("tunnel ID %#x", got)
			}
			if _, bad := m.UnknownMandatory(); bad {
				t.Fatalf("a known AVP taken for unknown")
			}
			// Every strict prefix fails with a typed error.
			for i := range len(b) {
				_, err := Parse(b[:i], nil)
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("prefix %d: %v", i, err)
				}
			}
		})
	}
}

func TestWindowsEmptyBearerCaps(t *testing.T) {
	// A zero-length Bearer Capabilities and Firmware Revision are ignored.
	b := unhex(t, `c802 0038 0000 0000 0000 0000
		8008 0000 0000 0001
		8008 0000 0002 0100
		8006 0000 0004
		0006 0000 0006
		8008 0000 0009 0001
		8008 0000 000a 0008`)
	m, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeSCCRQ(m); err != nil {
		t.Fatal(err)
	}
}

func TestParseZLBAndData(t *testing.T) {
	zlb := unhex(t, "c802 000c 1234 0000 0003 0005")
	m, err := Parse(zlb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ZLB || m.Header.TunnelID != 0x1234 || m.Header.Ns != 3 || m.Header.Nr != 5 {
		t.Fatalf("ZLB %+v", m)
	}
	// Data with L, S, O bits and 2 bytes of offset padding.
	d := unhex(t, "4a02 0016 0001 0002 0007 0000 0002 abcd ff03 c021 0102")
	m, err = Parse(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if h.Control || !h.HasLength || !h.HasSeq || !h.HasOffset || h.Ns != 7 || h.TunnelID != 1 || h.SessionID != 2 {
		t.Fatalf("header %+v", h)
	}
	if !bytes.Equal(m.Payload, unhex(t, "ff03 c021 0102")) {
		t.Fatalf("payload %x", m.Payload)
	}
	// Data with no optional field at all; the P bit.
	m, err = Parse(unhex(t, "0102 0001 0002 c021 01"), nil)
	if err != nil || !m.Header.Priority || !bytes.Equal(m.Payload, unhex(t, "c021 01")) {
		t.Fatalf("minimal data: %+v %v", m, err)
	}
	// Length shorter than the datagram: the rest is ignored.
	m, err = Parse(unhex(t, "4002 0008 0001 0002 eeee"), nil)
	if err != nil || len(m.Payload) != 0 {
		t.Fatalf("trailing bytes: %+v %v", m, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hex    string
		secret string
		off    int
		avp    AVPType
		hasAVP bool
		want   error
	}{
		{"short", "c802 00", "", 0, 0, false, ErrShort},
		{"version 3", "c803 000c 0000 0000 0000 0000", "", 1, 0, false, ErrVersion},
		{"control without L", "8802 0000 0000 0000 0000", "", 0, 0, false, ErrControlBits},
		{"control with O", "ca02 000e 0000 0000 0000 0000 0000", "", 0, 0, false, ErrControlBits},
		{"length past end", "c802 ffff 0000 0000 0000 0000", "", 2, 0, false, ErrShort},
		{"length below header", "c802 0008 0000 0000 0000 0000", "", 2, 0, false, ErrLength},
		{"offset past end", "0202 0001 0002 00ff 00", "", 6, 0, false, ErrLength},
		{"AVP length 5", "c802 0014 0000 0000 0000 0000 8005 0000 0000 0001", "", 12, AVPMessageType, true, ErrLength},
		{"AVP length 1023", "c802 0014 0000 0000 0000 0000 83ff 0000 0000 0001", "", 12, AVPMessageType, true, ErrShort},
		{"AVP header cut", "c802 0011 0000 0000 0000 0000 8008 0000 00", "", 12, 0, false, ErrShort},
		{"first not Message Type", "c802 0014 0000 0000 0000 0000 8008 0000 0009 0001", "", 12, AVPAssignedTunnelID, true, ErrFirstAVP},
		{"Message Type hidden", "c802 0014 0000 0000 0000 0000 c008 0000 0000 0001", "", 12, AVPMessageType, true, ErrFirstAVP},
		{"Message Type 3 bytes", "c802 0015 0000 0000 0000 0000 8009 0000 0000 000100", "", 12, AVPMessageType, true, ErrAVPValue},
		{"hidden without secret", "c802 0026 0000 0000 0000 0000 8008 0000 0000 0001 800a 0000 0024 01020304 c008 0000 0009 0102", "", 30, AVPAssignedTunnelID, true, ErrHiddenNoSecret},
		{"hidden without RV", "c802 001c 0000 0000 0000 0000 8008 0000 0000 0001 c008 0000 0009 0102", "s", 20, AVPAssignedTunnelID, true, ErrHiddenNoRandomVector},
		{"empty RV", "c802 001a 0000 0000 0000 0000 8008 0000 0000 0001 8006 0000 0024", "s", 20, AVPRandomVector, true, ErrAVPValue},
		{"vendor AVP cut", "c802 001c 0000 0000 0000 0000 8008 0000 0000 0001 800c 0137 0001 0102", "", 20, 1, true, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			_, err := Parse(b, []byte(tc.secret))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is no ParseError", err)
			}
			if !errors.Is(err, tc.want) || pe.Offset != tc.off || pe.HasAVP != tc.hasAVP || (tc.hasAVP && pe.AVP != tc.avp) {
				t.Fatalf("got %+v (%v), want %v at %d AVP %v", pe, err, tc.want, tc.off, tc.avp)
			}
			if pe.Error() == "" || !strings.HasPrefix(pe.Error(), "l2tp: ") {
				t.Fatalf("message %q", pe.Error())
			}
		})
	}
}

func TestHiddenAVP(t *testing.T) {
	secret := []byte("tunnel secret")
	rv := unhex(t, "00112233445566778899aabbccddeeff")
	plain := []byte("a host name longer than sixteen bytes")
	// The RFC 2661 section 4.3 computation written out: subformat is
	// length || value; block 1 xor MD5(type || secret || RV), block i
	// xor MD5(secret || previous cipher block).
	sub := append([]byte{0, byte(len(plain))}, plain...)
	want := make([]byte, len(sub))
	k := md5.Sum(append(append([]byte{0, 7}, secret...), rv...))
	for i := range sub {
		if i > 0 && i%16 == 0 {
			k = md5.Sum(append(bytes.Clone(secret), want[i-16:i]...))
		}
		want[i] = sub[i] ^ k[i%16]
	}
	w := beginControl(nil, 1, 0, 0, 0)
	w.u16(AVPMessageType, uint16(MsgSCCRQ), false)
	w.raw(0x80, AVPRandomVector, rv)
	w.raw(0x80|0x40, AVPHostName, want)
	b := w.finish()
	m, err := Parse(b, secret)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := m.Find(AVPHostName)
	if !ok || !a.Hidden || !bytes.Equal(a.Value, plain) {
		t.Fatalf("revealed %q hidden=%v", a.Value, a.Hidden)
	}
	// Our builder hides the same way.
	w = beginControl(nil, 1, 0, 0, 0)
	w.u16(AVPMessageType, uint16(MsgSCCRQ), false)
	w.secret, w.hide, w.rand = secret, true, bytes.NewReader(rv)
	w.avp(true, AVPHostName, plain, true)
	if got := w.finish(); !bytes.Equal(got, b) {
		t.Fatalf("builder hides as\n%x\nwant\n%x", got, b)
	}
	// A wrong secret reveals garbage, usually an impossible length.
	if m, err := Parse(b, []byte("wrong")); err == nil {
		if a, _ := m.Find(AVPHostName); bytes.Equal(a.Value, plain) {
			t.Fatalf("wrong secret revealed the value")
		}
	} else if !errors.Is(err, ErrHiddenLength) {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestMandatoryBit(t *testing.T) {
	base := "8008 0000 0000 0001"
	for _, tc := range []struct {
		name    string
		avp     string
		unknown bool
	}{
		{"unknown optional", "0008 0000 00c8 0000", false},
		{"unknown mandatory", "8008 0000 00c8 0000", true},
		{"vendor mandatory", "8008 0137 0001 0000", true},
		{"vendor optional", "0008 0137 0001 0000", false},
		{"known mandatory", "8008 0000 0009 0001", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := unhex(t, base+tc.avp)
			b := append(unhex(t, "c802 0000 0000 0000 0000 0000"), body...)
			b[3] = byte(len(b))
			m, err := Parse(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, got := m.UnknownMandatory(); got != tc.unknown {
				t.Fatalf("UnknownMandatory = %v", got)
			}
		})
	}
}

func TestBuilderRoundTrip(t *testing.T) {
	w := beginControl(nil, 0x1111, 0x2222, 3, 4)
	w.u16(AVPMessageType, uint16(MsgCDN), false)
	w.avp(true, AVPResultCode, resultValue(cdnGeneralError, errCodeUnknownMAVP, "why"), false)
	w.u16(AVPAssignedSessionID, 9, false)
	b := w.finish()
	want := unhex(t, `c802 0029 1111 2222 0003 0004
		8008 0000 0000 000e
		800d 0000 0001 0002 0008 776879
		8008 0000 000e 0009`)
	if !bytes.Equal(b, want) {
		t.Fatalf("got\n%x\nwant\n%x", b, want)
	}
	m, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := m.ResultCode()
	if !ok || r.Code != cdnGeneralError || r.Error != errCodeUnknownMAVP || r.Message != "why" {
		t.Fatalf("result %+v", r)
	}
	d := appendData(nil, 5, 6, true, 7, []byte{0xc0, 0x21})
	if !bytes.Equal(d, unhex(t, "0802 0005 0006 0007 0000 ff03 c021")) {
		t.Fatalf("data %x", d)
	}
}

func TestNames(t *testing.T) {
	if MsgSCCRQ.String() != "SCCRQ" || MessageType(99).String() != "MessageType(99)" {
		t.Error("message type names")
	}
	if AVPHostName.String() != "Host Name" || AVPType(20).String() != "AVP(20)" || AVPType(20).Known() {
		t.Error("AVP names")
	}
}
