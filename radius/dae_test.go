package radius

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
)

var daeFrom = netip.MustParseAddrPort("192.0.2.10:40000")

func newTestDAE(t *testing.T, coa bool) (*DAEServer, *[]SessionQuery) {
	t.Helper()
	var calls []SessionQuery
	cfg := DAEConfig{
		Addr:          "127.0.0.1:0",
		Clients:       []DAEClient{{Addr: daeFrom.Addr(), Secret: ipsec.Secret("dae")}},
		NASIdentifier: "gw1",
		Disconnect: func(_ context.Context, q SessionQuery) error {
			calls = append(calls, q)
			if q.UserName == "alice" || q.SessionID == "0000000000001234" {
				return nil
			}
			if q.UserName == "broken" {
				return errors.New("data plane failed")
			}
			return ErrSessionNotFound
		},
	}
	if coa {
		cfg.CoA = func(_ context.Context, q SessionQuery, c CoA) error {
			calls = append(calls, q)
			if c.SessionTimeout != time.Hour {
				return errors.New("unexpected")
			}
			return nil
		}
	}
	d, err := NewDAEServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, &calls
}

func daeRequest(t *testing.T, code Code, id uint8, secret string, attrs ...Attribute) []byte {
	t.Helper()
	p := &Packet{Code: code, Identifier: id, Attributes: attrs}
	b, err := EncodeRequest(nil, p, ipsec.Secret(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func str(t Type, s string) Attribute { return Attribute{Type: t, Value: []byte(s)} }

func u32a(t Type, v uint32) Attribute {
	return Attribute{Type: t, Value: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}
}

// answer parses and verifies a DAE answer; it returns the code and the
// Error-Cause (0 when absent).
func daeAnswer(t *testing.T, req, resp []byte) (Code, uint32) {
	t.Helper()
	if resp == nil {
		t.Fatal("no answer")
	}
	rq, _ := Parse(req)
	p, err := Parse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyResponse(p, rq.Authenticator, ipsec.Secret("dae"), false); err != nil {
		t.Fatalf("answer does not verify: %v", err)
	}
	if p.Identifier != rq.Identifier {
		t.Fatalf("answer id %d, request %d", p.Identifier, rq.Identifier)
	}
	ec, _ := p.Uint32(TypeErrorCause)
	return p.Code, ec
}

func TestDAE(t *testing.T) {
	d, calls := newTestDAE(t, false)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		code  Code
		attrs []Attribute
		want  Code
		cause uint32
	}{
		{"disconnect by user", CodeDisconnectRequest, []Attribute{str(TypeUserName, "alice")}, CodeDisconnectACK, 0},
		{"disconnect by session", CodeDisconnectRequest, []Attribute{str(TypeAcctSessionID, "0000000000001234"), str(TypeNASIdentifier, "gw1")}, CodeDisconnectACK, 0},
		{"no such session", CodeDisconnectRequest, []Attribute{str(TypeUserName, "nobody")}, CodeDisconnectNAK, 503},
		{"callback error", CodeDisconnectRequest, []Attribute{str(TypeUserName, "broken")}, CodeDisconnectNAK, 506},
		{"unsupported attribute", CodeDisconnectRequest, []Attribute{str(TypeUserName, "alice"), str(TypeFilterID, "x")}, CodeDisconnectNAK, 401},
		{"no identification", CodeDisconnectRequest, []Attribute{u32a(TypeEventTimestamp, 1)}, CodeDisconnectNAK, 402},
		{"other NAS", CodeDisconnectRequest, []Attribute{str(TypeUserName, "alice"), str(TypeNASIdentifier, "gw2")}, CodeDisconnectNAK, 403},
		{"CoA without a callback", CodeCoARequest, []Attribute{str(TypeUserName, "alice"), u32a(TypeSessionTimeout, 3600)}, CodeCoANAK, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := daeRequest(t, tc.code, 1, "dae", tc.attrs...)
			code, cause := daeAnswer(t, req, d.Handle(ctx, req, daeFrom))
			if code != tc.want || cause != tc.cause {
				t.Fatalf("%s Error-Cause %d, want %s %d", code, cause, tc.want, tc.cause)
			}
		})
	}
	if len(*calls) != 4 || (*calls)[0].UserName != "alice" || (*calls)[1].SessionID != "0000000000001234" {
		t.Errorf("callbacks %+v", *calls)
	}
	// Dropped: another source, a wrong secret, a truncated packet, an
	// Access-Request.
	req := daeRequest(t, CodeDisconnectRequest, 2, "dae", str(TypeUserName, "alice"))
	for name, tc := range map[string]struct {
		b    []byte
		from netip.AddrPort
	}{
		"unknown client": {req, netip.MustParseAddrPort("203.0.113.9:1")},
		"wrong secret":   {daeRequest(t, CodeDisconnectRequest, 2, "other", str(TypeUserName, "alice")), daeFrom},
		"truncated":      {req[:len(req)-1], daeFrom},
		"access request": {daeRequest(t, CodeStatusServer, 2, "dae"), daeFrom},
	} {
		if d.Handle(ctx, tc.b, tc.from) != nil {
			t.Errorf("%s: answered", name)
		}
	}
	n := len(*calls)
	// A retransmission gets the same answer without a second callback.
	r1 := d.Handle(ctx, req, daeFrom)
	r2 := d.Handle(ctx, req, daeFrom)
	if string(r1) != string(r2) || len(*calls) != n+1 {
		t.Errorf("duplicate: same answer %t, callbacks %d", string(r1) == string(r2), len(*calls)-n)
	}
	st := d.Stats()
	if st.Dropped != 4 || st.Duplicates != 1 || st.ACKs != 3 || st.NAKs != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestDAECoA(t *testing.T) {
	d, calls := newTestDAE(t, true)
	req := daeRequest(t, CodeCoARequest, 5, "dae", str(TypeUserName, "alice"), u32a(TypeSessionTimeout, 3600), Attribute{Type: TypeProxyState, Value: []byte("ps")})
	resp := d.Handle(context.Background(), req, daeFrom)
	code, cause := daeAnswer(t, req, resp)
	if code != CodeCoAACK || cause != 0 || len(*calls) != 1 {
		t.Fatalf("%s %d calls %d", code, cause, len(*calls))
	}
	p, _ := Parse(resp)
	if ps, _ := p.Get(TypeProxyState); string(ps) != "ps" {
		t.Errorf("Proxy-State not echoed")
	}
	req = daeRequest(t, CodeCoARequest, 6, "dae", str(TypeUserName, "alice"))
	if code, cause := daeAnswer(t, req, d.Handle(context.Background(), req, daeFrom)); code != CodeCoANAK || cause != 402 {
		t.Fatalf("CoA without a change: %s %d", code, cause)
	}
}
