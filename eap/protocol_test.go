package eap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/goipsec/ipsec"
)

func TestParsePacket(t *testing.T) {
	golden := []byte{2, 5, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'}
	p, err := Parse(golden)
	if err != nil || p.Code != CodeResponse || p.Identifier != 5 || p.Type != TypeIdentity || string(p.Data) != "alice" {
		t.Fatalf("%v %v", p, err)
	}
	if b, err := p.Marshal(); err != nil || !bytes.Equal(b, golden) {
		t.Errorf("re-encoding %x %v", b, err)
	}
	for n := range len(golden) {
		if _, err := Parse(golden[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("prefix %d: %v", n, err)
		}
	}
	// Octets beyond Length are link padding (RFC 3748 section 4).
	if p, err := Parse(append(golden, 0, 0)); err != nil || string(p.Data) != "alice" {
		t.Errorf("padding: %v %v", p, err)
	}
	for _, bad := range [][]byte{{3, 1, 0, 5, 0}, {5, 1, 0, 4}, {1, 1, 0, 4}, {1, 1, 0, 3, 1}} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	if p, err := Parse([]byte{3, 9, 0, 4}); err != nil || p.Code != CodeSuccess || p.String() != "EAP/SUCC id=9" {
		t.Errorf("success: %v %v", p, err)
	}
	if _, err := (&Packet{Code: CodeRequest, Type: TypeTLS, Data: make([]byte, MaxPacketLen)}).Marshal(); err == nil {
		t.Error("oversized packet encoded")
	}
}

// TestDuplicatesAndLoss plays the EAP part of lost and duplicated
// messages: a retransmitted request gets the very same response (the
// MSCHAPv2 response carries a fresh random peer challenge, so
// reprocessing would change it), a stale response is ignored, and the
// server's Pending() is what an engine retransmits.
func TestDuplicatesAndLoss(t *testing.T) {
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers()})
	p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland")})
	idReq, _ := s.Start("")
	idResp, _, err := p.Process(idReq)
	if err != nil {
		t.Fatal(err)
	}
	chal, _, err := s.Process(idResp)
	if err != nil {
		t.Fatal(err)
	}
	// The challenge is lost: the engine retransmits Pending().
	if !bytes.Equal(s.Pending(), chal) {
		t.Fatal("Pending is not the outstanding request")
	}
	resp1, _, err := p.Process(s.Pending())
	if err != nil {
		t.Fatal(err)
	}
	// Our response is lost: the server retransmits, the peer answers the same.
	resp2, _, err := p.Process(chal)
	if err != nil || !bytes.Equal(resp1, resp2) {
		t.Fatalf("retransmitted request got a different response (%v)", err)
	}
	// A stale response (the earlier Identity response) is discarded.
	out, res, err := s.Process(idResp)
	if out != nil || !errors.Is(err, ErrDiscarded) || res.Status != StatusContinue {
		t.Fatalf("stale response: out %x res %v err %v", out, res, err)
	}
	// So is a response with a wrong Identifier.
	bad := bytes.Clone(resp1)
	bad[1]++
	if out, _, err := s.Process(bad); out != nil || !errors.Is(err, ErrDiscarded) {
		t.Fatalf("wrong id: %x %v", out, err)
	}
	succReq, _, err := s.Process(resp1)
	if err != nil {
		t.Fatal(err)
	}
	// Duplicate of the response we already processed: discarded, state kept.
	if out, _, err := s.Process(resp1); out != nil || !errors.Is(err, ErrDiscarded) {
		t.Fatalf("duplicate response: %x %v", out, err)
	}
	succResp, _, err := p.Process(succReq)
	if err != nil {
		t.Fatal(err)
	}
	final, sres, err := s.Process(succResp)
	if err != nil || sres.Status != StatusSuccess {
		t.Fatalf("server %v %v", sres, err)
	}
	if _, pres, err := p.Process(final); err != nil || pres.Status != StatusSuccess || !bytes.Equal(pres.MSK, sres.MSK) {
		t.Fatalf("peer %v %v", pres, err)
	}
	// After the end, Pending is the final packet and Process refuses.
	if !bytes.Equal(s.Pending(), final) {
		t.Error("Pending after success is not the Success packet")
	}
	if _, _, err := s.Process(succResp); !errors.Is(err, ErrFinished) {
		t.Errorf("process after end: %v", err)
	}
}

func TestPeerNotificationAndDiscard(t *testing.T) {
	p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("pw")})
	resp, _, err := p.Process([]byte{1, 3, 0, 9, 2, 'h', 'e', 'y', '!'})
	if err != nil || !bytes.Equal(resp, []byte{2, 3, 0, 5, 2}) {
		t.Fatalf("notification answer %x %v", resp, err)
	}
	for _, bad := range [][]byte{{1, 3, 0}, {2, 4, 0, 5, 1}, {1, 5, 0, 6, 3, 26}} {
		resp, res, err := p.Process(bad)
		if resp != nil || !errors.Is(err, ErrDiscarded) || res.Status != StatusContinue {
			t.Errorf("%x: %x %v %v", bad, resp, res, err)
		}
	}
	// EAP-Success before any method is refused: a forged Success must not
	// let a client skip the server's proof.
	_, res, err := p.Process([]byte{3, 4, 0, 4})
	if res.Status != StatusFailure || !errors.Is(err, ErrServerAuth) {
		t.Errorf("early success: %v %v", res, err)
	}
}

func TestServerMalformedEndsWithFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp func(id uint8) []byte
		want error
	}{
		{"truncated header", func(id uint8) []byte { return []byte{2, id} }, ErrMalformed},
		{"request instead of response", func(id uint8) []byte { return []byte{1, id, 0, 5, 1} }, ErrProtocol},
		{"wrong type", func(id uint8) []byte { return []byte{2, id, 0, 5, 4} }, ErrProtocol},
		{"identity too long", func(id uint8) []byte {
			p := Packet{Code: CodeResponse, Identifier: id, Type: TypeIdentity, Data: bytes.Repeat([]byte{'a'}, MaxIdentityLen+1)}
			b, _ := p.Marshal()
			return b
		}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers()})
			req, _ := s.Start("")
			out, res, err := s.Process(tc.resp(req[1]))
			if !errors.Is(err, tc.want) || res.Status != StatusFailure || !errors.Is(res.Err, tc.want) {
				t.Fatalf("res %v err %v", res, err)
			}
			if !bytes.Equal(out, []byte{4, req[1], 0, 4}) {
				t.Errorf("out %x, want EAP-Failure", out)
			}
		})
	}
	// Malformed method data in the middle of MSCHAPv2.
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers(), SkipIdentity: true})
	req, _ := s.Start("alice")
	out, res, err := s.Process([]byte{2, req[1], 0, 8, 26, 2, 0, 0})
	if !errors.Is(err, ErrMalformed) || res.Status != StatusFailure || out[0] != byte(CodeFailure) {
		t.Errorf("bad MSCHAPv2 response: %x %v %v", out, res, err)
	}
}

func TestMaxRounds(t *testing.T) {
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers(), MaxRounds: 2})
	p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland")})
	sres, _, serr, _, _ := ladder(t, s, p, "")
	if sres.Status != StatusFailure || !errors.Is(serr, ErrTooManyRounds) {
		t.Errorf("server %v %v", sres, serr)
	}
	p = NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("pw"), MaxRounds: 1})
	p.Process([]byte{1, 1, 0, 5, 1})
	if _, res, err := p.Process([]byte{1, 2, 0, 5, 1}); res.Status != StatusFailure || !errors.Is(err, ErrTooManyRounds) {
		t.Errorf("peer %v %v", res, err)
	}
}

func TestSkipIdentity(t *testing.T) {
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers(), SkipIdentity: true})
	p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland")})
	sres, _, serr, _, wire := ladder(t, s, p, "alice")
	if serr != nil || sres.Status != StatusSuccess {
		t.Fatalf("%v %v", sres, serr)
	}
	if first, _ := Parse(wire[0].pkt); first.Type != TypeMSCHAPv2 || len(wire) != 5 {
		t.Errorf("wire %q", summary(wire))
	}
	// Without a hint the identity is still asked for.
	s = newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers(), SkipIdentity: true})
	req, _ := s.Start("")
	if q, _ := Parse(req); q.Type != TypeIdentity {
		t.Errorf("first request %v", q)
	}
}

func TestMD5AndGTC(t *testing.T) {
	for _, m := range []Type{TypeMD5Challenge, TypeGTC} {
		for _, tc := range []struct {
			identity, password string
			ok                 bool
		}{
			{"alice", "wonderland", true},
			{"alice", "wrong", false},
			{"nobody", "wonderland", false},
			{"bob", "builder", m == TypeGTC}, // NT hash only: GTC can check it, MD5 cannot
		} {
			t.Run(fmt.Sprintf("%s/%s/%s", m, tc.identity, tc.password), func(t *testing.T) {
				s := newServer(t, ServerConfig{Methods: []Type{m}, Users: mschapUsers()})
				p := NewPeer(PeerConfig{Identity: tc.identity, Password: ipsec.Secret(tc.password), Methods: []Type{m}})
				sres, pres, serr, _, _ := ladder(t, s, p, "")
				if (sres.Status == StatusSuccess) != tc.ok || (pres.Status == StatusSuccess) != tc.ok {
					t.Fatalf("server %v peer %v, want success %t", sres, pres, tc.ok)
				}
				if !tc.ok && !errors.Is(serr, ErrAuthFailed) {
					t.Errorf("server error %v", serr)
				}
				if tc.ok && (sres.MSK != nil || pres.MSK != nil || sres.Method != m || m.DerivesMSK()) {
					t.Errorf("%s derived an MSK or wrong method: %v", m, sres)
				}
			})
		}
	}
	// GTC "RESPONSE=user\0password" form.
	s := newServer(t, ServerConfig{Methods: []Type{TypeGTC}, Users: mschapUsers(), SkipIdentity: true})
	req, _ := s.Start("alice")
	resp, _ := (&Packet{Code: CodeResponse, Identifier: req[1], Type: TypeGTC, Data: []byte("RESPONSE=alice\x00wonderland")}).Marshal()
	if _, res, err := s.Process(resp); err != nil || res.Status != StatusSuccess {
		t.Errorf("RESPONSE= form: %v %v", res, err)
	}
	s = newServer(t, ServerConfig{Methods: []Type{TypeGTC}, Users: mschapUsers(), SkipIdentity: true})
	req, _ = s.Start("alice")
	resp, _ = (&Packet{Code: CodeResponse, Identifier: req[1], Type: TypeGTC, Data: []byte("RESPONSE=bob\x00wonderland")}).Marshal()
	if _, res, _ := s.Process(resp); res.Status != StatusFailure {
		t.Errorf("RESPONSE= for another user: %v", res)
	}
}

// innerBackend is a Backend that runs a second, local Server: what a
// RADIUS client would do with a remote one.
type innerBackend struct {
	cfg    ServerConfig
	closed int
}

type innerConv struct {
	b     *innerBackend
	s     *Server
	first []byte
}

func (b *innerBackend) Start(_ context.Context, identity string) (BackendConversation, error) {
	cfg := b.cfg
	cfg.SkipIdentity = true
	s, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	first, err := s.Start(identity)
	if err != nil {
		return nil, err
	}
	return &innerConv{b: b, s: s, first: first}, nil
}

func (c *innerConv) Exchange(ctx context.Context, resp []byte) ([]byte, Result, error) {
	if c.first != nil {
		out := c.first
		c.first = nil
		return out, Result{}, nil
	}
	out, res, err := c.s.ProcessContext(ctx, resp)
	if out == nil {
		return nil, res, err
	}
	return out, res, nil
}

func (c *innerConv) Close() error { c.b.closed++; return c.s.Close() }

func TestBackend(t *testing.T) {
	for _, pw := range []string{"wonderland", "wrong"} {
		b := &innerBackend{cfg: ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers()}}
		s := newServer(t, ServerConfig{Backend: b})
		p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret(pw)})
		sres, pres, _, _, _ := ladder(t, s, p, "")
		ok := pw == "wonderland"
		if (sres.Status == StatusSuccess) != ok || (pres.Status == StatusSuccess) != ok {
			t.Fatalf("%s: server %v peer %v", pw, sres, pres)
		}
		if ok && (!bytes.Equal(sres.MSK, pres.MSK) || len(sres.MSK) != MSKLen || sres.User == nil || sres.Method != TypeMSCHAPv2) {
			t.Errorf("backend result %v", sres)
		}
		if b.closed != 1 {
			t.Errorf("conversation closed %d times", b.closed)
		}
	}
}

func TestNewServerValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{}, "Methods"},
		{ServerConfig{Methods: []Type{TypeMSCHAPv2}}, "Users"},
		{ServerConfig{Methods: []Type{TypeTLS}}, "TLS"},
		{ServerConfig{Methods: []Type{TypeIdentity}, Users: mschapUsers()}, "cannot be offered"},
		{ServerConfig{Methods: []Type{TypeGTC, TypeGTC}, Users: mschapUsers()}, "twice"},
	} {
		if _, err := NewServer(tc.cfg); err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%+v: %v, want mention of %s", tc.cfg.Methods, err, tc.want)
		}
	}
}
