package radius

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
)

var testNAS = eap.NAS{
	ClientAddr: netip.MustParseAddrPort("198.51.100.2:4500"),
	LocalAddr:  netip.MustParseAddrPort("192.0.2.1:4500"),
	SessionID:  0x1234, Port: 7,
}

// papServer accepts alice/wonderland with a fixed address and rejects
// everything else; it checks the request's Message-Authenticator.
func papServer(t *testing.T) *fakeServer {
	return newFakeServer(t, "testing123", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		if err := VerifyRequest(p, s.secret, true); err != nil {
			t.Errorf("server: %v", err)
			return nil
		}
		user, _ := p.Get(TypeUserName)
		hidden, _ := p.Get(TypeUserPassword)
		pw, err := RevealPassword(hidden, s.secret, p.Authenticator)
		resp := &Packet{Code: CodeAccessReject}
		resp.Add(TypeMessageAuthenticator, nil)
		if err == nil && string(user) == "alice" && string(pw) == "wonderland" {
			resp.Code = CodeAccessAccept
			resp.Add(TypeFramedIPAddress, []byte{10, 9, 0, 5})
			resp.AddUint32(TypeSessionTimeout, 60)
		}
		return [][]byte{s.answer(p, resp)}
	})
}

func TestClientPAPAndNASAttributes(t *testing.T) {
	srv := papServer(t)
	c, err := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("testing123")}}, NASIdentifier: "gw1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := eap.ContextWithNAS(context.Background(), testNAS)
	r, err := c.PAP(ctx, "alice", ipsec.Secret("wonderland"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Accepted || r.FramedIP != netip.MustParseAddr("10.9.0.5") || r.SessionTimeout != time.Minute {
		t.Fatalf("reply %s", r)
	}
	r, err = c.PAP(ctx, "alice", ipsec.Secret("wrong"))
	if err != nil || r.Accepted || r.Code != CodeAccessReject {
		t.Fatalf("wrong password: %v %v", r, err)
	}
	req, _ := Parse(srv.received()[0])
	want := map[Type]string{
		TypeNASIdentifier: "gw1", TypeNASIPAddress: "\xc0\x00\x02\x01", TypeNASPort: "\x00\x00\x00\x07",
		TypeNASPortType: "\x00\x00\x00\x05", TypeCalledStationID: "192.0.2.1", TypeCallingStationID: "198.51.100.2",
		TypeServiceType: "\x00\x00\x00\x02", TypeFramedProtocol: "\x00\x00\x00\x01", TypeAcctSessionID: "0000000000001234",
		TypeUserName: "alice",
	}
	for typ, v := range want {
		got, ok := req.Get(typ)
		if !ok || string(got) != v {
			t.Errorf("%s = %q, want %q", typ, got, v)
		}
	}
	if bytes.Contains(srv.received()[0], []byte("wonderland")) {
		t.Error("password in clear on the wire")
	}
}

func TestClientRetransmitsSamePacket(t *testing.T) {
	var n atomic.Int32
	srv := newFakeServer(t, "s", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		if n.Add(1) < 3 {
			return nil // lose the first two
		}
		return [][]byte{s.answer(p, &Packet{Code: CodeAccessReject})}
	})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("s"), Timeout: 50 * time.Millisecond, Retries: 3}}})
	defer c.Close()
	r, err := c.PAP(context.Background(), "bob", ipsec.Secret("pw"))
	if err != nil || r.Accepted {
		t.Fatalf("%v %v", r, err)
	}
	got := srv.received()
	if len(got) != 3 || !bytes.Equal(got[0], got[1]) || !bytes.Equal(got[1], got[2]) {
		t.Fatalf("%d tries, identical: %t", len(got), len(got) == 3 && bytes.Equal(got[0], got[2]))
	}
	st := c.Stats()[0]
	if st.Requests != 1 || st.Retransmissions != 2 || st.Responses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClientFailoverAndRevive(t *testing.T) {
	srv := papServer(t)
	dead := unusedAddr(t)
	c, _ := NewClient(ClientConfig{
		Servers: []Server{
			{Addr: dead, Secret: ipsec.Secret("testing123"), Timeout: 50 * time.Millisecond, Retries: 1},
			{Addr: srv.addr(), Secret: ipsec.Secret("testing123")},
		},
		DeadTime: time.Hour,
	})
	defer c.Close()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, now.Load()) }
	r, err := c.PAP(context.Background(), "alice", ipsec.Secret("wonderland"))
	if err != nil || !r.Accepted {
		t.Fatalf("%v %v", r, err)
	}
	st := c.Stats()
	if !st[0].Dead || st[0].Timeouts != 1 || st[0].Requests != 1 || st[1].Dead || st[1].Responses != 1 {
		t.Fatalf("stats after failover %+v", st)
	}
	// The dead server is skipped during its hold-down.
	if _, err := c.PAP(context.Background(), "alice", ipsec.Secret("wonderland")); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st[0].Requests != 1 || st[1].Responses != 2 {
		t.Fatalf("dead server tried again: %+v", st)
	}
	// After the hold-down it is revived and tried first again.
	now.Add(int64(2 * time.Hour))
	if st := c.Stats(); st[0].Dead {
		t.Fatal("still dead after the hold-down")
	}
	if _, err := c.PAP(context.Background(), "alice", ipsec.Secret("wonderland")); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st[0].Requests != 2 || !st[0].Dead {
		t.Fatalf("not revived: %+v", st)
	}
	// All servers down: ErrTimeout.
	c2, _ := NewClient(ClientConfig{Servers: []Server{{Addr: dead, Secret: ipsec.Secret("x"), Timeout: 20 * time.Millisecond, Retries: -1}}})
	defer c2.Close()
	if _, err := c2.PAP(context.Background(), "alice", ipsec.Secret("pw")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("all down: %v", err)
	}
}

func TestClientDropsForgedResponses(t *testing.T) {
	srv := newFakeServer(t, "right", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		var out [][]byte
		out = append(out, []byte("garbage"), make([]byte, 5000))
		// A flood with wrong Identifiers.
		for i := range 200 {
			q := &Packet{Code: CodeAccessAccept, Identifier: p.Identifier + 1 + uint8(i%200)}
			b, _ := EncodeResponse(nil, q, p.Authenticator, s.secret)
			out = append(out, b)
		}
		// Forged with another secret, a length lie, a wrong code, and
		// an Accept whose Message-Authenticator is wrong.
		f, _ := EncodeResponse(nil, &Packet{Code: CodeAccessAccept, Identifier: p.Identifier}, p.Authenticator, ipsec.Secret("wrong"))
		out = append(out, f)
		lie := s.answer(p, &Packet{Code: CodeAccessAccept})
		lie[3] += 10
		out = append(out, lie)
		out = append(out, s.answer(p, &Packet{Code: CodeAccountingResponse}))
		badMA := &Packet{Code: CodeAccessAccept}
		badMA.Add(TypeMessageAuthenticator, nil)
		b := s.answer(p, badMA)
		b[HeaderLen+2] ^= 1 // breaks the HMAC; the Response Authenticator is recomputed
		copy(b[4:20], p.Authenticator[:])
		fixResponseAuth(b, s.secret)
		out = append(out, b)
		// Finally the real answer: a Reject.
		return append(out, s.answer(p, &Packet{Code: CodeAccessReject}))
	})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("right"), Timeout: 2 * time.Second}}})
	defer c.Close()
	r, err := c.PAP(context.Background(), "alice", ipsec.Secret("pw"))
	if err != nil || r.Code != CodeAccessReject {
		t.Fatalf("%v %v", r, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for c.Stats()[0].Dropped < 206 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := c.Stats()[0]; st.Dropped != 206 || st.Responses != 1 {
		t.Fatalf("stats %+v, want 206 dropped", st)
	}
}

// fixResponseAuth recomputes the Response Authenticator of b, whose
// Authenticator field holds the request's.
func fixResponseAuth(b []byte, secret ipsec.Secret) {
	copy(b[4:20], md5sum(b, secret))
}

func TestClientOutstandingBound(t *testing.T) {
	var got atomic.Int32
	srv := newFakeServer(t, "s", func(*fakeServer, *Packet, netip.AddrPort) [][]byte { got.Add(1); return nil })
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("s"), Timeout: time.Minute}}})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range maxIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.PAP(ctx, "u", ipsec.Secret("p"))
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < maxIDs && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got.Load() != maxIDs {
		t.Fatalf("%d requests outstanding", got.Load())
	}
	// Every Identifier is taken: the next request waits and honours
	// its context.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if _, err := c.PAP(short, "u", ipsec.Secret("p")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("257th request: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v", d)
	}
	if got.Load() != maxIDs {
		t.Fatalf("a 257th request was sent")
	}
	cancel()
	wg.Wait()
	// Identifiers came back: a request goes out again.
	short3, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	c.PAP(short3, "u", ipsec.Secret("p"))
	if got.Load() != maxIDs+1 {
		t.Fatalf("identifiers not released: %d", got.Load())
	}
}

func TestNoSecretsInLogsOrStrings(t *testing.T) {
	srv := papServer(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := ClientConfig{
		Servers: []Server{
			{Addr: unusedAddr(t), Secret: ipsec.Secret("testing123"), Timeout: 30 * time.Millisecond, Retries: -1},
			{Addr: srv.addr(), Secret: ipsec.Secret("testing123")},
		},
		Logger: logger,
	}
	c, _ := NewClient(cfg)
	defer c.Close()
	r, err := c.PAP(context.Background(), "alice", ipsec.Secret("wonderland"))
	if err != nil || !r.Accepted {
		t.Fatal(r, err)
	}
	ac, _ := NewClient(ClientConfig{Servers: []Server{{Addr: unusedAddr(t), Secret: ipsec.Secret("testing123"), Timeout: 10 * time.Millisecond, Retries: -1}}, Logger: logger})
	defer ac.Close()
	a := NewAccounting(ac, AccountingConfig{Logger: logger, QueueLen: 1})
	a.Send(AccountingRecord{Status: AcctStart})
	a.Send(AccountingRecord{Status: AcctStart})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a.Close(ctx)
	mu.Lock()
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", cfg, cfg.Servers, cfg.Servers[0], r)
	mu.Unlock()
	if !strings.Contains(out, "marked dead") {
		t.Fatalf("expected log lines, got:\n%s", out)
	}
	for _, secret := range []string{"testing123", "wonderland"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%q appears in:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
