package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
)

// sessionOf returns the responder's snapshot of the IKE SA whose peer
// identity is id.
func sessionOf(t *testing.T, r *ike.Responder, id ipsec.Identity) ipsec.IKESAInfo {
	t.Helper()
	for _, info := range r.SAs() {
		if info.RemoteID.Equal(id) {
			return info
		}
	}
	t.Fatalf("no IKE SA of %s", id)
	return ipsec.IKESAInfo{}
}

func TestTerminate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var rec ikeDownRecorder
		p := newPair(t, respCfg, ike.WithHooks(rec.hooks()))
		sas := dialClients(t, p, initCfg, 3)
		victim := sessionOf(t, p.resp, ipsec.Email("c1@example.com"))
		ids := map[uint64]bool{}
		for _, info := range p.resp.SAs() {
			ids[info.SessionID] = true
		}
		if len(ids) != 3 || ids[0] {
			t.Fatalf("session IDs %v: want 3 distinct, none 0", ids)
		}
		var (
			mu   sync.Mutex // the SAs' goroutines send
			msgs []string
		)
		p.net.SetFilter(func(pkt *ike.Packet) bool {
			if m, err := wire.ParseHeader(pkt.Data); err == nil {
				mu.Lock()
				msgs = append(msgs, m.Exchange.String())
				mu.Unlock()
			}
			return true
		})
		if err := p.resp.Terminate(context.Background(), victim.SessionID); err != nil {
			t.Fatalf("Terminate: %v", err)
		}
		synctest.Wait() // the client destroys its SA after its answer
		mu.Lock()
		got := slices.Clone(msgs)
		mu.Unlock()
		if want := []string{"INFORMATIONAL", "INFORMATIONAL"}; !slices.Equal(got, want) {
			t.Errorf("messages %v, want a Delete and its answer", got)
		}
		select {
		case <-sas[1].Done():
		default:
			t.Error("the terminated client still has its IKE SA")
		}
		for _, i := range []int{0, 2} {
			select {
			case <-sas[i].Done():
				t.Errorf("client %d lost its IKE SA", i)
			default:
			}
		}
		downs, n := rec.get()
		if n != 1 || !errors.Is(downs[victim.SessionID], ike.ErrTerminated) {
			t.Errorf("IKEDown: %d calls, %v; want one with ErrTerminated for session %d", n, downs, victim.SessionID)
		}
		if got := len(p.resp.SAs()); got != 2 {
			t.Errorf("%d SAs left, want 2", got)
		}
		for _, s := range p.respDP.SAs() {
			if slices.Contains([]uint32{victim.Children[0].SPIIn, victim.Children[0].SPIOut}, s.SPI) {
				t.Errorf("ESP SA %08x of the terminated session is still installed", s.SPI)
			}
		}
		if n := len(p.respDP.SAs()); n != 4 {
			t.Errorf("%d ESP SAs installed, want 4 of the other two sessions", n)
		}
		for _, id := range []uint64{victim.SessionID, 0, 1 << 40} {
			if err := p.resp.Terminate(context.Background(), id); !errors.Is(err, ike.ErrSANotFound) {
				t.Errorf("Terminate(%d) = %v, want ErrSANotFound", id, err)
			}
		}
	})
}

// The session ID stays when the IKE SA and its CHILD SAs are rekeyed (by
// either side), and Terminate finds the session by it.
func TestSessionIDSurvivesRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first := p.resp.SAs()[0]
		clientFirst := sa.Info()
		if err := sa.Rekey(context.Background(), ike.RekeyIKE|ike.RekeyChildren); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := p.resp.Rekey(context.Background(), ike.RekeyIKE|ike.RekeyChildren, func(ipsec.IKESAInfo) bool { return true }); n != 1 {
			t.Fatalf("responder rekeyed %d SAs", n)
		}
		time.Sleep(time.Minute) // the superseded SAs are deleted
		synctest.Wait()
		now := p.resp.SAs()
		if len(now) != 1 || now[0].SPIi == first.SPIi || now[0].Children[0].SPIIn == first.Children[0].SPIIn {
			t.Fatalf("after two rekeys: %+v, first %+v", now, first)
		}
		if now[0].SessionID != first.SessionID {
			t.Errorf("responder session ID %d after rekeys, was %d", now[0].SessionID, first.SessionID)
		}
		if got := sa.Info().SessionID; got != clientFirst.SessionID || got == 0 {
			t.Errorf("client session ID %d after rekeys, was %d", got, clientFirst.SessionID)
		}
		if err := p.resp.Terminate(context.Background(), first.SessionID); err != nil {
			t.Fatalf("Terminate by the first session ID: %v", err)
		}
		<-sa.Done()
	})
}

// A client that reauthenticates (make before break) keeps its session ID
// on both sides.
func TestSessionIDSurvivesReauthentication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		respCfg.Pools = []ipsec.AddressPool{mustPool(t, "198.51.100.64/26")}
		initCfg.VirtualIPs = []netip.Addr{netip.IPv4Unspecified()}
		initCfg.ReauthTime = 5 * time.Minute
		p := newPair(t, respCfg)
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatal(err)
		}
		first, clientFirst := p.resp.SAs()[0], sa.Info()
		time.Sleep(7 * time.Minute)
		synctest.Wait()
		now := p.resp.SAs()
		if len(now) != 1 || now[0].SPIi == first.SPIi {
			t.Fatalf("no reauthentication: %+v", now)
		}
		if now[0].SessionID != first.SessionID {
			t.Errorf("responder session ID %d after reauthentication, was %d", now[0].SessionID, first.SessionID)
		}
		if c := sa.Info(); c.SPIi == clientFirst.SPIi || c.SessionID != clientFirst.SessionID {
			t.Errorf("client: SPI %x session %d, was %x %d", c.SPIi, c.SessionID, clientFirst.SPIi, clientFirst.SessionID)
		}
		// A new login of the same identity from elsewhere without the
		// address is a new session.
		cfg := *initCfg
		cfg.VirtualIPs = nil
		other := dialClients(t, p, &cfg, 1)[0]
		defer other.Close(context.Background())
		ids := map[uint64]bool{}
		for _, info := range p.resp.SAs() {
			ids[info.SessionID] = true
		}
		if len(ids) != 2 {
			t.Errorf("session IDs %v, want 2", ids)
		}
	})
}

// A peer that does not answer the Delete loses its SA after a short wait.
func TestTerminateUnansweredPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var rec ikeDownRecorder
		p := newPair(t, respCfg, ike.WithHooks(rec.hooks()))
		if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatal(err)
		}
		id := p.resp.SAs()[0].SessionID
		p.net.SetFilter(func(*ike.Packet) bool { return false })
		start := time.Now()
		if err := p.resp.Terminate(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second || d > 10*time.Second {
			t.Errorf("Terminate took %v, want a short wait", d)
		}
		if n := len(p.resp.SAs()) + len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d SAs left", n)
		}
		if downs, n := rec.get(); n != 1 || !errors.Is(downs[id], ike.ErrTerminated) {
			t.Errorf("IKEDown %v (%d calls)", downs, n)
		}
		// ctx ending cuts the wait short.
		p.net.SetFilter(nil)
		dialClients(t, p, initCfg, 1)
		id = p.resp.SAs()[0].SessionID
		p.net.SetFilter(func(*ike.Packet) bool { return false })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		if err := p.resp.Terminate(ctx, id); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Terminate took %v with a 100ms ctx", d)
		}
		if n := len(p.resp.SAs()); n != 0 {
			t.Errorf("%d SAs left", n)
		}
	})
}

// Revoking an account: the embedder removes the user from its store and
// ends its sessions.
func TestTerminateUser(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, respCfg)
		alice := dialClients(t, p, initCfg, 2) // two devices
		bobCfg := *initCfg
		bobCfg.Local.EAPIdentity, bobCfg.Local.EAPPassword = "bob", ipsec.Secret("battery staple")
		bob, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &bobCfg)
		if err != nil {
			t.Fatal(err)
		}
		respCfg.Remote.Users.(*ipsec.Users).Delete("alice")
		if n := p.resp.TerminateUser(context.Background(), "alice"); n != 2 {
			t.Errorf("TerminateUser ended %d sessions, want 2", n)
		}
		synctest.Wait() // the clients destroy their SAs after their answers
		for i, sa := range alice {
			select {
			case <-sa.Done():
			default:
				t.Errorf("alice's device %d still connected", i)
			}
		}
		select {
		case <-bob.Done():
			t.Error("bob lost his session")
		default:
		}
		if got := p.resp.SAs(); len(got) != 1 || got[0].EAPIdentity != "bob" {
			t.Errorf("SAs left: %+v", got)
		}
		if n := p.resp.TerminateUser(context.Background(), "alice"); n != 0 {
			t.Errorf("second TerminateUser ended %d", n)
		}
		if n := p.resp.TerminateMatching(context.Background(), func(i ipsec.IKESAInfo) bool { return i.EAPIdentity == "bob" }); n != 1 {
			t.Errorf("TerminateMatching ended %d", n)
		}
		<-bob.Done()
	})
}
