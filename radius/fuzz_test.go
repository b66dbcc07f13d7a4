package radius

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{rfc71Request, rfc71Accept, rfc72Request, rfc72Accept} {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		f.Add(b)
	}
	p := &Packet{Code: CodeAccessAccept}
	p.Add(TypeMessageAuthenticator, nil)
	p.Attributes = append(p.Attributes, SplitEAP(append([]byte{3, 1, 0x01, 0x04}, make([]byte, 256)...))...)
	p.AddVendor(VendorMicrosoft, MSMPPERecvKey, make([]byte, 34))
	p.Add(TypeFramedIPv6Prefix, []byte{0, 64, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0})
	b, _ := EncodeResponse(nil, p, [16]byte{}, ipsec.Secret("s"))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if len(p.Raw) > MaxPacketLen {
			t.Fatalf("accepted %d octets", len(p.Raw))
		}
		// Re-encoding what was parsed gives the same bytes (the
		// Message-Authenticator value is zeroed by the encoder).
		if _, ok := p.Get(TypeMessageAuthenticator); !ok {
			out, err := p.appendRaw(nil)
			if err != nil || !bytes.Equal(out, p.Raw) {
				t.Fatalf("re-encoding differs: %v", err)
			}
		}
		_ = VerifyResponse(p, [16]byte{}, ipsec.Secret("s"), false)
		_ = VerifyRequest(p, ipsec.Secret("s"), false)
		_, _ = JoinEAP(p)
		if r, err := DecodeReply(p, ipsec.Secret("s"), [16]byte{}); err == nil {
			_ = r.Groups()
			_ = r.String()
		}
		for _, a := range p.Attributes {
			if a.Type == TypeVendorSpecific {
				_ = VendorAttributes(a.Value, VendorMicrosoft)
			}
		}
	})
}

func FuzzDAE(f *testing.F) {
	d, err := NewDAEServer(DAEConfig{
		Conn:       nopConn{},
		Clients:    []DAEClient{{Addr: daeFrom.Addr(), Secret: ipsec.Secret("dae")}},
		Disconnect: func(context.Context, SessionQuery) error { return ErrSessionNotFound },
		CoA:        func(context.Context, SessionQuery, CoA) error { return nil },
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, attrs := range [][]Attribute{
		{str(TypeUserName, "alice")},
		{str(TypeAcctSessionID, "1"), u32a(TypeSessionTimeout, 5), {Type: TypeMessageAuthenticator}},
		{{Type: TypeFramedIPAddress, Value: []byte{1, 2, 3, 4}}, {Type: TypeProxyState, Value: []byte("x")}},
	} {
		for _, code := range []Code{CodeDisconnectRequest, CodeCoARequest} {
			p := &Packet{Code: code, Identifier: 1, Attributes: attrs}
			b, _ := EncodeRequest(nil, p, ipsec.Secret("dae"), nil)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Sign whatever parses, so the fuzzer reaches the decision
		// logic, not only the authenticator check.
		if p, err := Parse(b); err == nil && (p.Code == CodeDisconnectRequest || p.Code == CodeCoARequest) {
			q := &Packet{Code: p.Code, Identifier: p.Identifier, Attributes: p.Attributes}
			if sb, err := EncodeRequest(nil, q, ipsec.Secret("dae"), nil); err == nil {
				b = sb
			}
		}
		resp := d.Handle(context.Background(), b, daeFrom)
		if resp == nil {
			return
		}
		rp, err := Parse(resp)
		if err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if rp.Code != CodeDisconnectACK && rp.Code != CodeDisconnectNAK && rp.Code != CodeCoAACK && rp.Code != CodeCoANAK {
			t.Fatalf("answer %s", rp.Code)
		}
	})
}
