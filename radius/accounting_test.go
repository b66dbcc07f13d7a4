package radius

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
)

func TestAccountingRecordAttributes(t *testing.T) {
	var lost atomic.Int32
	lost.Store(1)
	srv := newFakeServer(t, "acct", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		if err := VerifyRequest(p, s.secret, false); err != nil {
			t.Errorf("server: %v", err)
			return nil
		}
		if lost.Add(-1) >= 0 {
			return nil // lose the first try
		}
		return [][]byte{s.answer(p, &Packet{Code: CodeAccountingResponse})}
	})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("acct"), Timeout: 100 * time.Millisecond, Retries: 2}}, NASIdentifier: "gw"})
	defer c.Close()
	base := time.Unix(1700000000, 0)
	var tick atomic.Int64
	// Every reading of the clock is a second later: the retransmission
	// sees a larger Acct-Delay-Time.
	c.now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Second) }
	a := NewAccounting(c, AccountingConfig{})
	a.Send(AccountingRecord{
		Status: AcctStop, NAS: testNAS, UserName: "alice", Class: [][]byte{[]byte("c1"), []byte("c2")},
		FramedIP: netip.MustParseAddr("10.9.0.5"), SessionTime: 90 * time.Second,
		InputOctets: 5<<32 + 1000, OutputOctets: 2000, InputPackets: 10, OutputPackets: 20,
		TerminateCause: CauseUserRequest, Time: base,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Sent != 1 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
	got := srv.received()
	if len(got) != 2 {
		t.Fatalf("%d tries", len(got))
	}
	p0, _ := Parse(got[0])
	p1, _ := Parse(got[1])
	d0, _ := p0.Uint32(TypeAcctDelayTime)
	d1, _ := p1.Uint32(TypeAcctDelayTime)
	if d1 <= d0 || p0.Identifier == p1.Identifier {
		t.Errorf("retransmission: delay %d -> %d, id %d -> %d; want a larger delay and a new Identifier", d0, d1, p0.Identifier, p1.Identifier)
	}
	want := map[Type]uint32{
		TypeAcctStatusType: 2, TypeAcctSessionTime: 90, TypeAcctInputOctets: 1000, TypeAcctInputGigawords: 5,
		TypeAcctOutputOctets: 2000, TypeAcctOutputGigawords: 0, TypeAcctInputPackets: 10, TypeAcctOutputPackets: 20,
		TypeAcctTerminateCause: 1, TypeNASPort: 7, TypeEventTimestamp: uint32(base.Unix()),
	}
	for typ, v := range want {
		if got, ok := p1.Uint32(typ); !ok || got != v {
			t.Errorf("%s = %d, want %d", typ, got, v)
		}
	}
	for typ, v := range map[Type]string{TypeAcctSessionID: "0000000000001234", TypeUserName: "alice", TypeFramedIPAddress: "\x0a\x09\x00\x05", TypeCallingStationID: "198.51.100.2"} {
		if got, _ := p1.Get(typ); string(got) != v {
			t.Errorf("%s = %q, want %q", typ, got, v)
		}
	}
	if cl := p1.GetAll(TypeClass); len(cl) != 2 || string(cl[0]) != "c1" || string(cl[1]) != "c2" {
		t.Errorf("Class %q", cl)
	}
}

func TestAccountingQueueDropsInterimFirst(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	srv := newFakeServer(t, "acct", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		<-release
		st, _ := p.Uint32(TypeAcctStatusType)
		sid, _ := p.Get(TypeAcctSessionID)
		mu.Lock()
		seen = append(seen, AcctStatus(st).String()+":"+string(sid))
		mu.Unlock()
		return [][]byte{s.answer(p, &Packet{Code: CodeAccountingResponse})}
	})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: srv.addr(), Secret: ipsec.Secret("acct"), Timeout: 10 * time.Second}}})
	defer c.Close()
	a := NewAccounting(c, AccountingConfig{QueueLen: 3})
	start := time.Now()
	a.Send(AccountingRecord{Status: AcctStart, SessionID: "s"})
	// Wait until the sender holds Start (the server got it).
	for len(srv.received()) == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	a.Send(AccountingRecord{Status: AcctInterim, SessionID: "i1"})
	a.Send(AccountingRecord{Status: AcctInterim, SessionID: "i2"})
	a.Send(AccountingRecord{Status: AcctStop, SessionID: "s"})     // drops i1
	a.Send(AccountingRecord{Status: AcctInterim, SessionID: "i3"}) // drops i2
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Send blocked for %v", d)
	}
	if st := a.Stats(); st.Dropped != 2 || st.Queued != 3 {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"Start:s", "Stop:s", "Interim-Update:i3"}
	if len(seen) != len(want) {
		t.Fatalf("server saw %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("server saw %q, want %q", seen, want)
		}
	}
}

func TestAccountingCloseHonoursContext(t *testing.T) {
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: unusedAddr(t), Secret: ipsec.Secret("x"), Timeout: time.Second}}})
	defer c.Close()
	a := NewAccounting(c, AccountingConfig{})
	a.Send(AccountingRecord{Status: AcctStart, SessionID: "s"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := a.Close(ctx); err == nil {
		t.Fatal("Close reported success with a record unsent")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}
