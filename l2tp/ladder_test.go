package l2tp

import (
	"bytes"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// newTestServer makes a server on link with the handlers recorder.
func newTestServer(t testing.TB, link *lossyLink, cfg Config) (*Server, *handlers) {
	t.Helper()
	h := &handlers{}
	if cfg.NewSession == nil {
		cfg.NewSession = h.newSession
	}
	srv, err := NewServer(link, cfg)
	if err != nil {
		t.Fatal(err)
	}
	link.srv = srv
	return srv, h
}

// runLadder runs a whole session: SCCRQ..ICCN, data both ways, HELLO,
// CDN, StopCCN, and a second tunnel closed by Server.Close.
func runLadder(t *testing.T, link *lossyLink, secret []byte, hide bool) {
	runLadderRWS(t, link, secret, hide, 4)
}

func runLadderRWS(t *testing.T, link *lossyLink, secret []byte, hide bool, rws uint16) {
	srv, h := newTestServer(t, link, Config{
		Secret: secret, HideAVPs: hide, HelloInterval: 20 * time.Second,
		MaxRetransmits: 10,
	})
	c := newLAC(link, lacPeer, 0x1234)
	c.secret, c.hide, c.rws = secret, hide, rws
	defer c.stop()
	srvSID := c.establish(t, 0x77)

	if secret != nil {
		sccrp := c.gotType(MsgSCCRP)
		a, ok := sccrp.Find(AVPChallengeResponse)
		if !ok || !bytes.Equal(a.Value, expectedResponse(2, secret, c.challenge)) {
			t.Fatalf("SCCRP Challenge Response wrong or missing: %x", a.Value)
		}
		// SCCRP hides nothing (xl2tpd cannot reveal it, see
		// sendSCCRP); later messages hide with HideAVPs.
		for _, a := range sccrp.AVPs {
			if a.Hidden {
				t.Errorf("SCCRP hides %v", a.Type)
			}
		}
		icrp, _ := c.gotType(MsgICRP).Find(AVPAssignedSessionID)
		if icrp.Hidden != hide {
			t.Errorf("ICRP's Assigned Session ID hidden = %v with HideAVPs %v", icrp.Hidden, hide)
		}
	}
	waitFor(t, "NewSession", func() bool { return h.get(0) != nil })
	rec := h.get(0)
	tun := srv.Tunnels()
	if len(tun) != 1 || tun[0].State != "established" || tun[0].HostName != "lac" || tun[0].RemoteID != 0x1234 || tun[0].PeerWindow != rws {
		t.Fatalf("Tunnels() = %+v", tun)
	}
	if secret != nil && !tun[0].Authenticated {
		t.Errorf("tunnel not marked authenticated")
	}
	if len(tun[0].Sessions) != 1 || tun[0].Sessions[0].RemoteID != 0x77 || tun[0].Sessions[0].LocalID != srvSID {
		t.Fatalf("Sessions = %+v", tun[0].Sessions)
	}

	// Data both ways, with and without FF 03.
	const n = 30
	for i := range n {
		c.sendData(srvSID, []byte{0xc0, 0x21, byte(i)}, i%2 == 0)
	}
	for i := range n {
		if err := rec.sess.WriteFrame([]byte{0x00, 0x21, byte(i), 0xaa}); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
	}
	time.Sleep(time.Second)
	frames, _ := rec.snapshot()
	checkFrames(t, "LAC->LNS", frames, n, link.loss, func(i int) []byte { return []byte{0xc0, 0x21, byte(i)} })
	var out [][]byte
	for _, p := range c.dataFrames() {
		if !bytes.HasPrefix(p, []byte{0xff, 0x03}) {
			t.Fatalf("data to the LAC without FF 03: %x", p)
		}
		out = append(out, p[2:])
	}
	checkFrames(t, "LNS->LAC", out, n, link.loss, func(i int) []byte { return []byte{0x00, 0x21, byte(i), 0xaa} })

	// Idle: the server sends HELLO, the LAC acks it.
	time.Sleep(45 * time.Second)
	if c.gotType(MsgHello) == nil {
		t.Fatalf("no HELLO after an idle HelloInterval")
	}

	// CDN from the LAC closes the FrameHandler.
	c.send(MsgCDN, srvSID, func(w *builder) {
		w.avp(true, AVPResultCode, resultValue(cdnAdministrative, 0, ""), false)
		w.u16(AVPAssignedSessionID, 0x77, true)
	})
	waitFor(t, "FrameHandler closed", func() bool { _, closed := rec.snapshot(); return closed == 1 })
	if st := srv.Stats(); st.Sessions != 0 {
		t.Fatalf("sessions after CDN: %d", st.Sessions)
	}

	// StopCCN from the LAC: acked, the tunnel goes away.
	c.send(MsgStopCCN, 0, func(w *builder) {
		w.avp(true, AVPResultCode, resultValue(stopGeneralClear, 0, ""), false)
		w.u16(AVPAssignedTunnelID, 0x1234, true)
	})
	waitFor(t, "StopCCN acked", c.allAcked)
	waitFor(t, "tunnel removed", func() bool { return srv.Stats().Tunnels == 0 })

	// A second tunnel, closed by Server.Close: the LAC gets StopCCN.
	c2 := newLAC(link, Peer{Addr: otherAddr, Local: lnsAddr}, 0x4321)
	c2.secret, c2.hide = secret, hide
	defer c2.stop()
	c2.establish(t, 0x88)
	waitFor(t, "second NewSession", func() bool { return h.get(1) != nil })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if c2.gotType(MsgStopCCN) == nil {
		// Close's bounded wait may end before a lossy link delivers.
		waitFor(t, "StopCCN at the LAC", func() bool { return c2.gotType(MsgStopCCN) != nil })
	}
	r, ok := c2.gotType(MsgStopCCN).ResultCode()
	if !ok || r.Code != stopShuttingDown {
		t.Errorf("StopCCN result = %+v", r)
	}
	if _, closed := h.get(1).snapshot(); closed != 1 {
		t.Errorf("second FrameHandler closed %d times", closed)
	}
	if st := srv.Stats(); st.Tunnels != 0 || st.Sessions != 0 || st.TunnelsOpened != 2 || st.SessionsOpened != 2 {
		t.Errorf("Stats after Close = %+v", st)
	}
	if link.loss > 0 {
		link.mu.Lock()
		dropped, duplicated, delayed := link.dropped, link.duplicated, link.delayed
		link.mu.Unlock()
		st := srv.Stats()
		t.Logf("link dropped %d, duplicated %d, delayed %d; server retransmitted %d, dropped %d",
			dropped, duplicated, delayed, st.Retransmits, st.Dropped)
		if dropped == 0 || duplicated == 0 || delayed == 0 || st.Retransmits == 0 {
			t.Errorf("a lossy run without loss, duplicates, reordering or retransmissions")
		}
	}
}

// checkFrames: every delivered frame is one that was sent, no frame
// arrives more often than the link could duplicate it, and a lossless
// link delivers all of them.
func checkFrames(t *testing.T, dir string, got [][]byte, n int, loss float64, want func(i int) []byte) {
	t.Helper()
	seen := map[string]int{}
	valid := map[string]bool{}
	for i := range n {
		valid[string(want(i))] = true
	}
	for _, f := range got {
		if !valid[string(f)] {
			t.Fatalf("%s: unexpected frame %x", dir, f)
		}
		seen[string(f)]++
	}
	if loss == 0 && len(seen) != n {
		t.Fatalf("%s: %d of %d frames on a lossless link", dir, len(seen), n)
	}
	if len(seen) == 0 {
		t.Fatalf("%s: no frame delivered", dir)
	}
}

func TestLadderClean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runLadder(t, newLink(1, 0, 0, 0), nil, false)
	})
}

func TestLadderLossy(t *testing.T) {
	for seed := range uint64(9) {
		rws := []uint16{1, 4, 8}[seed%3] // Android, Apple, Windows
		t.Run(fmt.Sprintf("seed%d-rws%d", seed, rws), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runLadderRWS(t, newLink(seed, 0.2, 0.15, 0.3), nil, false, rws)
			})
		})
	}
}

func TestLadderAuthHidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runLadder(t, newLink(3, 0.1, 0.1, 0.2), []byte("tunnel secret"), true)
	})
}
