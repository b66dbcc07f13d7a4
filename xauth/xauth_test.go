package xauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

const testPassword = "correct horse battery"

func testUsers() *ipsec.Users {
	return ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret(testPassword)},
		ipsec.User{Name: "hashonly", NTHash: ipsec.Secret(make([]byte, 16))},
	)
}

// wire moves m through the byte codec, as the engine does.
func wire(t *testing.T, m *Message) *Message {
	t.Helper()
	b, err := Append(nil, m)
	if err != nil {
		t.Fatalf("Append(%v): %v", m, err)
	}
	out, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%x): %v", b, err)
	}
	return out
}

// ladder runs a Server and a Client against each other until both are
// done and returns their results.
func ladder(t *testing.T, scfg ServerConfig, ccfg ClientConfig) (srv, cli Result, srvErrs []error) {
	t.Helper()
	s, err := NewServer(scfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		out, cres, err := c.Process(wire(t, msg))
		cli = cres
		if err != nil || out == nil {
			return s.Result(), cli, append(srvErrs, err)
		}
		msg, srv, err = s.Process(context.Background(), wire(t, out))
		if err != nil {
			srvErrs = append(srvErrs, err)
		}
		if msg == nil {
			return srv, cli, srvErrs
		}
	}
	t.Fatal("exchange did not end")
	return
}

func TestLadderSuccess(t *testing.T) {
	srv, cli, errs := ladder(t, ServerConfig{Users: testUsers()}, ClientConfig{Name: "alice", Password: ipsec.Secret(testPassword)})
	if srv.Status != StatusSuccess || cli.Status != StatusSuccess || len(errs) != 0 {
		t.Fatalf("server %v, client %v, errs %v", srv, cli, errs)
	}
	if srv.User == nil || srv.User.Name != "alice" || srv.Attempts != 1 {
		t.Errorf("server result %v", srv)
	}
}

func TestLadderDomainPrefix(t *testing.T) {
	srv, cli, _ := ladder(t, ServerConfig{Users: testUsers()}, ClientConfig{Name: `CORP\alice`, Password: ipsec.Secret(testPassword)})
	if srv.Status != StatusSuccess || cli.Status != StatusSuccess || srv.Name != `CORP\alice` || srv.User.Name != "alice" {
		t.Fatalf("server %v client %v", srv, cli)
	}
}

// A wrong password gets MaxAttempts REQUESTs, then STATUS FAIL, and the
// client sees the failure.
func TestLadderWrongPassword(t *testing.T) {
	for _, tc := range []struct {
		name, user, pass string
		max              int
	}{
		{"wrong password", "alice", "wrong", 0},
		{"unknown user", "mallory", testPassword, 0},
		{"hash only", "hashonly", testPassword, 0},
		{"one attempt", "alice", "wrong", 1},
		{"five attempts", "alice", "wrong", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(ServerConfig{Users: testUsers(), MaxAttempts: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := NewClient(ClientConfig{Name: tc.user, Password: ipsec.Secret(tc.pass), MaxRequests: 10})
			msg, _ := s.Start()
			requests := 0
			var srv, cli Result
			for msg != nil {
				if msg.Type == CfgRequest {
					requests++
				}
				var out *Message
				out, cli, err = c.Process(wire(t, msg))
				if err != nil {
					t.Fatal(err)
				}
				msg, srv, err = s.Process(context.Background(), wire(t, out))
				if err != nil {
					t.Fatal(err)
				}
			}
			want := tc.max
			if want == 0 {
				want = DefaultMaxAttempts
			}
			if requests != want || srv.Attempts != want {
				t.Errorf("%d requests, %d attempts, want %d", requests, srv.Attempts, want)
			}
			if srv.Status != StatusFailure || !errors.Is(srv.Err, ErrAuthFailed) || !errors.Is(srv.Err, ErrTooManyAttempts) || srv.User != nil {
				t.Errorf("server %v", srv)
			}
			if cli.Status != StatusFailure || !errors.Is(cli.Err, ErrAuthFailed) {
				t.Errorf("client %v", cli)
			}
			if want > 1 {
				if m := c.Messages(); len(m) == 0 || !strings.Contains(m[0], "try again") {
					t.Errorf("client saw messages %q", m)
				}
			}
		})
	}
}

// wrongThenRight answers the first REQUEST with a wrong password and
// the second with the right one.
func TestRetryThenSuccess(t *testing.T) {
	s, _ := NewServer(ServerConfig{Users: testUsers()})
	req, _ := s.Start()
	bad := &Message{Type: CfgReply, Identifier: req.Identifier, Attrs: []Attribute{Long(XAuthUserName, []byte("alice")), Long(XAuthUserPassword, []byte("nope"))}}
	req2, res, err := s.Process(context.Background(), bad)
	if err != nil || res.Status != StatusContinue || req2.Type != CfgRequest || req2.Identifier == req.Identifier || !req2.Has(XAuthMessage) {
		t.Fatalf("retry: %v %v %v", req2, res, err)
	}
	// The old REPLY again (a retransmission) is discarded.
	if _, _, err := s.Process(context.Background(), bad); !errors.Is(err, ErrDiscarded) {
		t.Fatalf("stale reply: %v", err)
	}
	c, _ := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret(testPassword)})
	out, _, _ := c.Process(req2)
	set, res, err := s.Process(context.Background(), out)
	if err != nil || set.Type != CfgSet {
		t.Fatal(res, err)
	}
	if v, _ := set.Attrs[0].Uint16(); v != StatusOK || res.Attempts != 2 {
		t.Errorf("status %d, attempts %d", v, res.Attempts)
	}
	ack, res, _ := c.Process(set)
	if res.Status != StatusSuccess {
		t.Fatal(res)
	}
	// A lost ACK: the SET comes again and gets the same ACK.
	ack2, _, err := c.Process(set)
	if err != nil || ack2 != ack {
		t.Errorf("repeated SET: %v %v", ack2, err)
	}
	if _, res, err := s.Process(context.Background(), ack); err != nil || res.Status != StatusSuccess {
		t.Fatal(res, err)
	}
	if _, _, err := s.Process(context.Background(), ack); !errors.Is(err, ErrFinished) {
		t.Errorf("after the end: %v", err)
	}
}

func TestServerDiscards(t *testing.T) {
	s, _ := NewServer(ServerConfig{Users: testUsers()})
	if _, _, err := s.Process(context.Background(), &Message{}); err == nil {
		t.Error("Process before Start accepted")
	}
	req, _ := s.Start()
	for _, m := range []*Message{
		nil,
		{Type: CfgReply, Identifier: req.Identifier + 1},
		{Type: CfgAck, Identifier: req.Identifier},
		{Type: CfgRequest, Identifier: req.Identifier},
	} {
		if _, _, err := s.Process(context.Background(), m); !errors.Is(err, ErrDiscarded) {
			t.Errorf("%v: %v", m, err)
		}
	}
	if s.Pending() != req {
		t.Error("pending request changed")
	}
}

// Unsupported methods and broken replies end with STATUS FAIL at once.
func TestServerFailsAtOnce(t *testing.T) {
	name := Long(XAuthUserName, []byte("alice"))
	for _, tc := range []struct {
		name  string
		attrs []Attribute
		want  error
	}{
		{"CHAP", []Attribute{Short(XAuthType, TypeRADIUSCHAP), name, Long(XAuthUserPassword, []byte("x"))}, ErrUnsupported},
		{"OTP", []Attribute{Short(XAuthType, TypeOTP), name}, ErrUnsupported},
		{"S/KEY", []Attribute{Short(XAuthType, TypeSKey), name}, ErrUnsupported},
		{"passcode", []Attribute{name, Long(XAuthPasscode, []byte("123456"))}, ErrUnsupported},
		{"next pin", []Attribute{name, Long(XAuthNextPIN, []byte("1234"))}, ErrUnsupported},
		{"answer", []Attribute{name, Long(XAuthAnswer, []byte("42"))}, ErrUnsupported},
		{"no password", []Attribute{name}, ErrProtocol},
		{"empty", nil, ErrProtocol},
		{"TV name", []Attribute{Short(XAuthUserName, 1), Long(XAuthUserPassword, []byte("x"))}, ErrProtocol},
		{"bad type length", []Attribute{Long(XAuthType, []byte{0}), name}, ErrMalformed},
		{"long name", []Attribute{Long(XAuthUserName, make([]byte, MaxNameLen+1)), Long(XAuthUserPassword, []byte("x"))}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := NewServer(ServerConfig{Users: testUsers()})
			req, _ := s.Start()
			set, res, err := s.Process(context.Background(), &Message{Type: CfgReply, Identifier: req.Identifier, Attrs: tc.attrs})
			if err != nil || set == nil || set.Type != CfgSet {
				t.Fatalf("%v %v %v", set, res, err)
			}
			if v, _ := set.Attrs[0].Uint16(); v != StatusFail || res.Attempts != 1 {
				t.Errorf("status %d attempts %d", v, res.Attempts)
			}
			if !errors.Is(res.Err, tc.want) {
				t.Errorf("err %v, want %v", res.Err, tc.want)
			}
			_, res, _ = s.Process(context.Background(), &Message{Type: CfgAck, Identifier: set.Identifier})
			if res.Status != StatusFailure {
				t.Errorf("final %v", res)
			}
		})
	}
}

type fakeBackend struct {
	nas     NAS
	hasNAS  bool
	calls   int
	outage  bool
	lastLen int
}

func (b *fakeBackend) Authenticate(ctx context.Context, name string, pw ipsec.Secret) (*ipsec.User, error) {
	b.calls++
	b.nas, b.hasNAS = NASFromContext(ctx)
	b.lastLen = len(pw)
	if b.outage {
		return nil, errors.New("radius: no answer")
	}
	if name == "bob" && string(pw) == "pw" {
		return &ipsec.User{Name: "bob", Groups: []string{"staff"}}, nil
	}
	return nil, fmt.Errorf("radius: Access-Reject: %w", ErrAuthFailed)
}

func TestBackend(t *testing.T) {
	b := &fakeBackend{}
	s, _ := NewServer(ServerConfig{Backend: b})
	req, _ := s.Start()
	nas := NAS{SessionID: 7, Port: 3, CookieI: 1, CookieR: 2}
	ctx := ContextWithNAS(context.Background(), nas)
	set, res, err := s.Process(ctx, &Message{Type: CfgReply, Identifier: req.Identifier, Attrs: []Attribute{Long(XAuthUserName, []byte("bob")), Long(XAuthUserPassword, []byte("pw"))}})
	if err != nil || set.Type != CfgSet || res.User == nil || res.User.Groups[0] != "staff" {
		t.Fatal(set, res, err)
	}
	if !b.hasNAS || b.nas != nas || b.lastLen != 2 {
		t.Errorf("backend saw nas=%v %+v len=%d", b.hasNAS, b.nas, b.lastLen)
	}

	// An outage does not retry.
	b = &fakeBackend{outage: true}
	s, _ = NewServer(ServerConfig{Backend: b})
	req, _ = s.Start()
	set, res, _ = s.Process(ctx, &Message{Type: CfgReply, Identifier: req.Identifier, Attrs: []Attribute{Long(XAuthUserName, []byte("bob")), Long(XAuthUserPassword, []byte("pw"))}})
	if v, _ := set.Attrs[0].Uint16(); set.Type != CfgSet || v != StatusFail || b.calls != 1 || errors.Is(res.Err, ErrAuthFailed) {
		t.Errorf("outage: %v %v calls=%d", set, res, b.calls)
	}
}

func TestClientErrors(t *testing.T) {
	newc := func() *Client {
		c, err := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret(testPassword), MaxRequests: 2})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	user, pass := Attribute{Type: XAuthUserName}, Attribute{Type: XAuthUserPassword}
	for _, tc := range []struct {
		name  string
		in    *Message
		want  error
		final bool
	}{
		{"OTP", &Message{Type: CfgRequest, Attrs: []Attribute{Short(XAuthType, TypeOTP), user, pass}}, ErrUnsupported, true},
		{"next pin", &Message{Type: CfgRequest, Attrs: []Attribute{user, {Type: XAuthNextPIN}}}, ErrUnsupported, true},
		{"long type", &Message{Type: CfgRequest, Attrs: []Attribute{Long(XAuthType, []byte{0, 0}), user, pass}}, ErrMalformed, false},
		{"nothing asked", &Message{Type: CfgRequest, Attrs: []Attribute{Long(XAuthMessage, []byte("hi"))}}, ErrProtocol, false},
		{"SET without status", &Message{Type: CfgSet}, ErrProtocol, false},
		{"bad status", &Message{Type: CfgSet, Attrs: []Attribute{Long(XAuthStatus, []byte{1})}}, ErrMalformed, false},
		{"REPLY", &Message{Type: CfgReply}, ErrDiscarded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, res, err := newc().Process(tc.in)
			if !errors.Is(err, tc.want) || out != nil {
				t.Fatalf("%v %v, want %v", out, err, tc.want)
			}
			if (res.Status == StatusFailure) != tc.final {
				t.Errorf("status %v", res.Status)
			}
		})
	}
	// Bounded requests; a repeated one is answered from the cache.
	c := newc()
	req := &Message{Type: CfgRequest, Identifier: 1, Attrs: []Attribute{user, pass}}
	a, _, _ := c.Process(req)
	b, _, err := c.Process(req)
	if err != nil || a != b {
		t.Fatalf("repeat: %v", err)
	}
	for id := uint16(2); id < 5; id++ {
		_, res, err := c.Process(&Message{Type: CfgRequest, Identifier: id, Attrs: []Attribute{user, pass}})
		if id == 3 && (!errors.Is(err, ErrTooManyAttempts) || res.Status != StatusFailure) {
			t.Errorf("request %d: %v %v", id, res, err)
		}
		if id == 4 && !errors.Is(err, ErrFinished) {
			t.Errorf("after end: %v", err)
		}
	}
	// A bare SET(STATUS OK), as on a Phase 1 rekey, is acknowledged.
	c = newc()
	ack, res, err := c.Process(&Message{Type: CfgSet, Identifier: 9, Attrs: []Attribute{Short(XAuthStatus, StatusOK)}})
	if err != nil || res.Status != StatusSuccess || ack.Type != CfgAck || ack.Identifier != 9 {
		t.Errorf("bare SET: %v %v %v", ack, res, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []ServerConfig{
		{},
		{Users: testUsers(), MaxAttempts: -1},
		{Users: testUsers(), Message: strings.Repeat("x", 2000)},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%+v) accepted", cfg)
		}
	}
	for _, cfg := range []ClientConfig{
		{},
		{Name: strings.Repeat("x", MaxNameLen+1)},
		{Name: "a", Password: make(ipsec.Secret, MaxPasswordLen+1)},
		{Name: "a", MaxRequests: -1},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient accepted %q", cfg.Name)
		}
	}
	s, _ := NewServer(ServerConfig{Users: testUsers(), Rand: strings.NewReader("")})
	if _, err := s.Start(); err == nil {
		t.Error("Start without randomness succeeded")
	}
}

// TestNoPasswordInOutput renders every result, error and message of a
// failed and a successful exchange in every way a log line could, and
// looks for the password.
func TestNoPasswordInOutput(t *testing.T) {
	var seen []string
	record := func(vs ...any) {
		for _, v := range vs {
			seen = append(seen, fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
		}
	}
	for _, pass := range []string{testPassword, "wrong-" + testPassword} {
		s, _ := NewServer(ServerConfig{Users: testUsers(), MaxAttempts: 2})
		c, _ := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret(pass)})
		msg, _ := s.Start()
		for msg != nil {
			out, cres, err := c.Process(msg)
			record(out, cres, err, cres.Err)
			if out != nil {
				record(out.Attrs, out.Attrs[0])
			}
			var sres Result
			msg, sres, err = s.Process(context.Background(), out)
			record(msg, sres, err, sres.Err, sres.User)
		}
	}
	for _, s := range seen {
		if strings.Contains(s, testPassword) {
			t.Fatalf("password in output: %s", s)
		}
	}
	if len(seen) < 8 {
		t.Fatalf("only %d renderings checked", len(seen))
	}
}

// TestReplyWithIdentifierZero: strongSwan's XAuth client answers with
// Identifier 0 (found against strongSwan 5.9.8); the server takes it, as
// the Transaction exchange's message ID binds it to the REQUEST.
func TestReplyWithIdentifierZero(t *testing.T) {
	s, _ := NewServer(ServerConfig{Users: testUsers(), Rand: bytes.NewReader(bytes.Repeat([]byte{0x5a}, 64))})
	req, _ := s.Start()
	if req.Identifier == 0 {
		t.Fatal("the fixed random source gave Identifier 0")
	}
	reply := &Message{Type: CfgReply, Identifier: 0, Attrs: []Attribute{Long(XAuthUserName, []byte("alice")), Long(XAuthUserPassword, []byte(testPassword))}}
	set, res, err := s.Process(context.Background(), reply)
	if err != nil || set == nil || set.Type != CfgSet || res.Status != StatusContinue {
		t.Fatalf("REPLY with Identifier 0: %v %v %v", set, res, err)
	}
	if _, res, err := s.Process(context.Background(), &Message{Type: CfgAck, Identifier: 0}); err != nil || res.Status != StatusSuccess {
		t.Fatalf("ACK with Identifier 0: %v %v", res, err)
	}
}
