package radius

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 2865 section 7.1: an Access-Request for "nemo" with password
// "arctangent", shared secret "xyzzy5461", and its Access-Accept.
const (
	rfc71Request = `01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
		98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
		93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
		01 10 05 06 00 00 00 03`
	rfc71Accept = `02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
		9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
		0e 06 c0 a8 01 03`
	// Section 7.2: CHAP for "flopsy" and its Access-Accept.
	rfc72Request = `01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
		0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
		75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
		06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
		02 07 06 00 00 00 01`
	rfc72Accept = `02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0
		3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01
		08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00
		00 01 0c 06 00 00 05 dc`
)

var rfcSecret = ipsec.Secret("xyzzy5461")

func TestRFC2865AccessRequest(t *testing.T) {
	raw := unhex(t, rfc71Request)
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Code != CodeAccessRequest || p.Identifier != 0 || len(p.Attributes) != 4 {
		t.Fatalf("got %s", p)
	}
	if v, _ := p.Get(TypeUserName); string(v) != "nemo" {
		t.Errorf("User-Name %q", v)
	}
	if n, ok := p.Uint32(TypeNASPort); !ok || n != 3 {
		t.Errorf("NAS-Port %d %t", n, ok)
	}
	hidden, _ := p.Get(TypeUserPassword)
	pw, err := RevealPassword(hidden, rfcSecret, p.Authenticator)
	if err != nil || string(pw) != "arctangent" {
		t.Fatalf("RevealPassword: %v", err)
	}
	// Re-encode: HidePassword and the encoder reproduce the RFC bytes.
	h, err := HidePassword([]byte("arctangent"), rfcSecret, p.Authenticator)
	if err != nil || !bytes.Equal(h, hidden) {
		t.Fatalf("HidePassword = %x, want %x (%v)", h, hidden, err)
	}
	q := &Packet{Code: CodeAccessRequest, Authenticator: p.Authenticator}
	q.AddString(TypeUserName, "nemo")
	q.Add(TypeUserPassword, h)
	q.Add(TypeNASIPAddress, []byte{192, 168, 1, 16})
	q.AddUint32(TypeNASPort, 3)
	out, err := EncodeRequest(nil, q, rfcSecret, nil)
	if err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("EncodeRequest = %x, want %x (%v)", out, raw, err)
	}
	if err := VerifyRequest(p, rfcSecret, false); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
}

func TestRFC2865Responses(t *testing.T) {
	for _, tc := range []struct{ name, req, resp string }{{"7.1", rfc71Request, rfc71Accept}, {"7.2", rfc72Request, rfc72Accept}} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse(unhex(t, tc.req))
			if err != nil {
				t.Fatal(err)
			}
			raw := unhex(t, tc.resp)
			resp, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyResponse(resp, req.Authenticator, rfcSecret, false); err != nil {
				t.Fatalf("VerifyResponse: %v", err)
			}
			if err := VerifyResponse(resp, req.Authenticator, ipsec.Secret("wrong"), false); !errors.Is(err, ErrAuthenticator) {
				t.Fatalf("wrong secret: %v", err)
			}
			if err := VerifyResponse(resp, req.Authenticator, rfcSecret, true); !errors.Is(err, ErrMessageAuthenticator) {
				t.Fatalf("required Message-Authenticator: %v", err)
			}
			// Re-encoding the attributes reproduces the Response
			// Authenticator.
			q := &Packet{Code: resp.Code, Identifier: resp.Identifier, Attributes: resp.Attributes}
			out, err := EncodeResponse(nil, q, req.Authenticator, rfcSecret)
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("EncodeResponse = %x, want %x (%v)", out, raw, err)
			}
		})
	}
	// 7.2's CHAP-Password verifies with the password of the example.
	req, _ := Parse(unhex(t, rfc72Request))
	cp, _ := req.Get(TypeCHAPPassword)
	if len(cp) != 17 {
		t.Fatalf("CHAP-Password %d octets", len(cp))
	}
}

func TestParseRejectsHostileInput(t *testing.T) {
	good := unhex(t, rfc71Request)
	// Every strict prefix fails.
	for i := range len(good) {
		if _, err := Parse(good[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	// Octets beyond Length are padding (RFC 2865 section 3).
	p, err := Parse(append(bytes.Clone(good), 0xde, 0xad))
	if err != nil || len(p.Raw) != len(good) {
		t.Fatalf("padding: %v", err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"length below header":  mut(func(b []byte) []byte { b[2], b[3] = 0, 19; return b }),
		"length above 4096":    append(mut(func(b []byte) []byte { b[2], b[3] = 0x10, 0x01; return b }), make([]byte, 4096)...),
		"length beyond data":   mut(func(b []byte) []byte { b[3]++; return b }),
		"attribute length 0":   mut(func(b []byte) []byte { b[21] = 0; return b }),
		"attribute length 1":   mut(func(b []byte) []byte { b[21] = 1; return b }),
		"attribute overruns":   mut(func(b []byte) []byte { b[len(b)-5] = 7; return b }),
		"NAS-Port of 3 octets": mut(func(b []byte) []byte { b[len(b)-5] = 5; b[3]--; return b[:len(b)-1] }),
		"half an attribute":    mut(func(b []byte) []byte { b[3]++; return append(b, 1) }),
	}
	for name, b := range cases {
		_, err := Parse(b)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a ParseError", name, err)
		}
	}
}

func TestMessageAuthenticatorRoundTrip(t *testing.T) {
	secret := ipsec.Secret("s3cret")
	req := &Packet{Code: CodeAccessRequest, Identifier: 9}
	req.Add(TypeMessageAuthenticator, nil)
	req.AddString(TypeUserName, "alice")
	req.Attributes = append(req.Attributes, SplitEAP(bytes.Repeat([]byte{2, 1, 0x02, 0x00}, 150)[:600])...)
	b, err := EncodeRequest(nil, req, secret, strings.NewReader(strings.Repeat("r", 16)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyRequest(p, secret, true); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if n := len(p.GetAll(TypeEAPMessage)); n != 3 {
		t.Fatalf("%d EAP-Message attributes, want 3 (253+253+94)", n)
	}
	// Flip one bit anywhere after the header: the HMAC catches it.
	for i := HeaderLen; i < len(b); i += 37 {
		c := bytes.Clone(b)
		c[i] ^= 1
		q, err := Parse(c)
		if err != nil {
			continue
		}
		if err := VerifyRequest(q, secret, true); err == nil {
			t.Fatalf("bit flip at %d verified", i)
		}
	}
	// A response signed against the request verifies; against another
	// request it does not.
	resp := &Packet{Code: CodeAccessChallenge, Identifier: 9}
	resp.Add(TypeMessageAuthenticator, nil)
	resp.Add(TypeState, []byte("st"))
	rb, err := EncodeResponse(nil, resp, p.Authenticator, secret)
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := Parse(rb)
	if err := VerifyResponse(rp, p.Authenticator, secret, true); err != nil {
		t.Fatal(err)
	}
	other := p.Authenticator
	other[0] ^= 1
	if err := VerifyResponse(rp, other, secret, false); err == nil {
		t.Fatal("response verified against another request")
	}
	// Accounting-Request: Request Authenticator over the packet,
	// Message-Authenticator with a zero authenticator (RFC 5176 3.1).
	acct := &Packet{Code: CodeDisconnectRequest, Identifier: 3}
	acct.Add(TypeMessageAuthenticator, nil)
	acct.AddString(TypeAcctSessionID, "0000000000000001")
	ab, err := EncodeRequest(nil, acct, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	ap, _ := Parse(ab)
	if err := VerifyRequest(ap, secret, true); err != nil {
		t.Fatalf("Disconnect-Request: %v", err)
	}
	if err := VerifyRequest(ap, ipsec.Secret("other"), false); !errors.Is(err, ErrAuthenticator) {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestSplitJoinEAP(t *testing.T) {
	for _, n := range []int{4, 253, 254, 506, 1020} {
		eap := make([]byte, n)
		eap[0], eap[1], eap[2], eap[3] = 1, 7, byte(n>>8), byte(n)
		for i := 4; i < n; i++ {
			eap[i] = byte(i)
		}
		p := &Packet{Code: CodeAccessChallenge, Attributes: SplitEAP(eap)}
		for _, a := range p.Attributes {
			if len(a.Value) > MaxAttrValueLen {
				t.Fatalf("fragment of %d octets", len(a.Value))
			}
		}
		got, err := JoinEAP(p)
		if err != nil || !bytes.Equal(got, eap) {
			t.Fatalf("n=%d: %v", n, err)
		}
		// A missing fragment makes the EAP length lie: rejected.
		if len(p.Attributes) > 1 {
			p.Attributes = p.Attributes[:len(p.Attributes)-1]
			if _, err := JoinEAP(p); !errors.Is(err, ErrMalformed) {
				t.Fatalf("n=%d truncated: %v", n, err)
			}
		}
	}
}

func TestSaltedKeys(t *testing.T) {
	secret := ipsec.Secret("s3cret")
	var auth [16]byte
	copy(auth[:], "0123456789abcdef")
	key := bytes.Repeat([]byte{0xa5}, 32)
	enc, err := EncryptSalted(key, secret, auth, [2]byte{0x01, 0x02})
	if err != nil {
		t.Fatal(err)
	}
	if enc[0]&0x80 == 0 || len(enc) != 2+48 {
		t.Fatalf("salt %x, %d octets", enc[:2], len(enc))
	}
	got, err := DecryptSalted(enc, secret, auth)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("DecryptSalted: %v", err)
	}
	if _, err := DecryptSalted(enc[:len(enc)-1], secret, auth); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short: %v", err)
	}
	// Tunnel-Password: a tag, then the same cipher.
	tp := append([]byte{7}, enc...)
	tag, pw, err := DecryptTunnelPassword(tp, secret, auth)
	if err != nil || tag != 7 || !bytes.Equal(pw, key) {
		t.Fatalf("DecryptTunnelPassword: %d %v", tag, err)
	}
}

func TestDecodeReply(t *testing.T) {
	secret := ipsec.Secret("s3cret")
	var auth [16]byte
	auth[3] = 9
	p := &Packet{Code: CodeAccessAccept}
	p.Add(TypeFramedIPAddress, []byte{198, 51, 100, 77})
	v6 := netip.MustParseAddr("2001:db8::77").As16()
	p.Add(TypeFramedIPv6Address, v6[:])
	p.Add(TypeFramedIPv6Prefix, AppendIPv6Prefix(nil, netip.MustParsePrefix("2001:db8:1::/48")))
	p.AddString(TypeFramedPool, "staff")
	p.AddUint32(TypeSessionTimeout, 3600)
	p.AddUint32(TypeAcctInterimInterval, 600)
	p.AddString(TypeClass, "engineering")
	p.Add(TypeClass, []byte{0, 1, 2, 0xff})
	p.AddString(TypeFilterID, "vpn-users")
	p.AddString(TypeReplyMessage, "hello")
	recv := bytes.Repeat([]byte{1}, 32)
	send := bytes.Repeat([]byte{2}, 32)
	er, _ := EncryptSalted(recv, secret, auth, [2]byte{0x80, 1})
	es, _ := EncryptSalted(send, secret, auth, [2]byte{0x80, 2})
	p.AddVendor(VendorMicrosoft, MSMPPERecvKey, er)
	p.AddVendor(VendorMicrosoft, MSMPPESendKey, es)
	b, err := EncodeResponse(nil, p, auth, secret)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeReply(pp, secret, auth)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Accepted || r.FramedIP != netip.MustParseAddr("198.51.100.77") || r.FramedIPv6 != netip.MustParseAddr("2001:db8::77") {
		t.Errorf("addresses: %s", r)
	}
	if len(r.FramedIPv6Prefixes) != 1 || r.FramedIPv6Prefixes[0] != netip.MustParsePrefix("2001:db8:1::/48") {
		t.Errorf("prefixes %v", r.FramedIPv6Prefixes)
	}
	if r.FramedPool != "staff" || r.SessionTimeout.Seconds() != 3600 || r.InterimInterval.Seconds() != 600 || r.ReplyMessage != "hello" {
		t.Errorf("scalars: %s", r)
	}
	if len(r.Class) != 2 || string(r.Class[0]) != "engineering" || !bytes.Equal(r.Class[1], []byte{0, 1, 2, 0xff}) {
		t.Errorf("Class %q", r.Class)
	}
	if g := r.Groups(); len(g) != 2 || g[0] != "vpn-users" || g[1] != "engineering" {
		t.Errorf("Groups %q", g)
	}
	msk := r.MSK()
	if len(msk) != 64 || !bytes.Equal(msk[:32], recv) || !bytes.Equal(msk[32:], send) {
		t.Errorf("MSK is not Recv||Send")
	}
	u := r.User("alice")
	if u.Name != "alice" || len(u.Addresses) != 2 || len(u.Groups) != 2 {
		t.Errorf("User %+v", u)
	}
	s := r.String() + r.GoString()
	for _, bad := range []string{"\x01\x01", "engineering"} {
		if strings.Contains(s, bad) {
			t.Errorf("String reveals %q: %s", bad, s)
		}
	}
	// "NAS assigns" is not a fixed address.
	q := &Packet{Code: CodeAccessAccept}
	q.Add(TypeFramedIPAddress, []byte{255, 255, 255, 254})
	qb, _ := EncodeResponse(nil, q, auth, secret)
	qp, _ := Parse(qb)
	if r, _ := DecodeReply(qp, secret, auth); r.FramedIP.IsValid() {
		t.Errorf("255.255.255.254 taken as an address")
	}
}

func TestMSKPadsShortKeys(t *testing.T) {
	// FreeRADIUS's EAP-MSCHAPv2 sends 16-octet MPPE keys; the MSK is
	// Recv || Send || 32 zero octets.
	r := &Reply{MPPERecvKey: bytes.Repeat([]byte{1}, 16), MPPESendKey: bytes.Repeat([]byte{2}, 16)}
	want := append(append(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)...), make([]byte, 32)...)
	if got := r.MSK(); !bytes.Equal(got, want) {
		t.Fatalf("MSK %x", []byte(got))
	}
	if (&Reply{MPPERecvKey: []byte{1}}).MSK() != nil {
		t.Fatal("MSK from one key")
	}
}

func TestDecodeReplyOfHandBuiltPacket(t *testing.T) {
	// A Packet that did not come from Parse may hold short values:
	// DecodeReply reports them instead of panicking.
	for _, typ := range []Type{TypeFramedIPAddress, TypeFramedIPv6Address, TypeSessionTimeout, TypeAcctInterimInterval} {
		p := &Packet{Code: CodeAccessAccept, Attributes: []Attribute{{Type: typ, Value: []byte{1}}}}
		if _, err := DecodeReply(p, ipsec.Secret("s"), [16]byte{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", typ, err)
		}
	}
}
