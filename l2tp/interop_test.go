package l2tp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// logTap is a slog.Handler that keeps the messages and attributes, so the
// interop tests can see what the server received.
type logTap struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTap) Enabled(context.Context, slog.Level) bool { return true }
func (l *logTap) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logTap) WithGroup(string) slog.Handler            { return l }
func (l *logTap) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

func (l *logTap) has(sub ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		ok := true
		for _, s := range sub {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return true
		}
	}
	return false
}

func (l *logTap) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// tapConn counts the control messages the server sends, by type.
type tapConn struct {
	PacketConn
	mu   sync.Mutex
	sent map[string]int
}

func (c *tapConn) WriteTo(b []byte, to Peer) error {
	if m, err := Parse(b, nil); err == nil && m.Header.Control {
		name := m.Type.String()
		if m.ZLB {
			name = "ZLB"
		}
		c.mu.Lock()
		c.sent[name]++
		c.mu.Unlock()
	} else if err != nil && len(b) > 0 && b[0]&bitT != 0 {
		// Hidden AVPs: parsed without the secret only up to them.
		c.mu.Lock()
		c.sent["hidden"]++
		c.mu.Unlock()
	}
	return c.PacketConn.WriteTo(b, to)
}

func (c *tapConn) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[name]
}

type xl2tpdCase struct {
	name      string
	rws       int
	secret    string // challenge = yes with this secret
	hidden    bool
	closeByUs bool // Server.Close while the tunnel is up
}

// TestInteropXL2TPD runs xl2tpd 1.3.18 as LAC in a network namespace
// against our Server over plain UDP/1701.
func TestInteropXL2TPD(t *testing.T) {
	testnet.Require(t, "xl2tpd", "ip")
	for _, tc := range []xl2tpdCase{
		{name: "rws1", rws: 1},
		{name: "rws4-auth", rws: 4, secret: "l2tp-tunnel-secret"},
		{name: "rws8-auth-hidden", rws: 8, secret: "l2tp-tunnel-secret", hidden: true},
		{name: "close", rws: 4, closeByUs: true},
	} {
		t.Run(tc.name, func(t *testing.T) { runXL2TPD(t, tc) })
	}
}

func runXL2TPD(t *testing.T, tc xl2tpdCase) {
	topo := testnet.New(t, testnet.NoNAT)
	var uc *net.UDPConn
	if err := topo.Server.Do(func() error {
		var err error
		uc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: testnet.ServerAddr4.AsSlice(), Port: 1701})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	tap := &logTap{}
	conn := &tapConn{PacketConn: NewUDPConn(uc), sent: map[string]int{}}
	h := &handlers{}
	cfg := Config{
		HostName:      "goipsec-lns",
		HelloInterval: 2 * time.Second,
		NewSession:    h.newSession,
		Logger:        slog.New(tap),
	}
	if tc.secret != "" {
		cfg.Secret = []byte(tc.secret)
		cfg.HideAVPs = tc.hidden
	}
	srv, err := NewServer(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- NewUDPConn(uc).Serve(ctx, srv) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	dir := t.TempDir()
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	conf := fmt.Sprintf(`[global]
port = 1701
access control = no
debug avp = yes
debug network = yes
debug state = yes
debug tunnel = yes
[lac vpn]
lns = %s
autodial = yes
redial = no
length bit = yes
tunnel rws = %d
hostname = WIN-TEST
challenge = %s
hidden bit = %s
pppoptfile = %s/options
name = alice
`, testnet.ServerAddr4, tc.rws, yes(tc.secret != ""), yes(tc.hidden), dir)
	files := map[string]string{
		"xl2tpd.conf":  conf,
		"l2tp-secrets": "* * " + tc.secret + "\n",
		"options":      "noauth\nname alice\npassword password\nnoccp\nnodetach\n",
	}
	if tc.secret == "" {
		files["l2tp-secrets"] = ""
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := topo.Client.Start(nil, "xl2tpd", "-D",
		"-c", filepath.Join(dir, "xl2tpd.conf"),
		"-s", filepath.Join(dir, "l2tp-secrets"),
		"-p", filepath.Join(dir, "xl2tpd.pid"),
		"-C", filepath.Join(dir, "l2tp-control"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Terminate(5 * time.Second)
		if t.Failed() {
			t.Logf("xl2tpd:\n%s\n%s", p.Stdout, p.Stderr)
			t.Logf("server:\n%s", tap)
		}
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("tunnel up", func() bool { return tap.has("l2tp: tunnel up", "host=WIN-TEST") })
	if tc.secret != "" && !tap.has("l2tp: tunnel up", "authenticated=true") {
		t.Errorf("tunnel not authenticated")
	}
	tun := srv.Tunnels()
	if len(tun) != 1 || tun[0].PeerWindow != uint16(tc.rws) || tun[0].Peer.Addr != netip.AddrPortFrom(testnet.ClientAddr4, 1701) {
		t.Fatalf("Tunnels() = %+v", tun)
	}
	// SCCRQ..ICCN complete: NewSession ran; SCCCN and ICCN were acked
	// with ZLBs at once (the ack of SCCCN is the first ZLB we send).
	wait("session up", func() bool { return h.get(0) != nil })
	if n := conn.count("ZLB"); n < 2 {
		t.Errorf("%d ZLBs sent, want acks of SCCCN and ICCN", n)
	}
	if tc.hidden {
		// xl2tpd 1.3.18 sends Random Vectors with "hidden bit = yes"
		// but hides nothing itself (only when built with TEST_HIDDEN);
		// what it can show is that it reveals ours.
		if conn.count("hidden") == 0 {
			t.Errorf("we sent no message with hidden AVPs")
		}
		wait("xl2tpd revealing our ICRP", func() bool { return strings.Contains(p.Stderr.String(), "assigned_call_avp: using peer's call") })
	}
	// pppd cannot run on this host: xl2tpd clears the call with CDN.
	wait("CDN from xl2tpd", func() bool { return tap.has("l2tp: CDN received") })
	wait("FrameHandler closed", func() bool { _, closed := h.get(0).snapshot(); return closed == 1 })
	// Idle: our HELLO is answered (xl2tpd's log shows it, no
	// retransmission needed, the tunnel stays).
	wait("HELLO at xl2tpd", func() bool { return strings.Contains(p.Stderr.String(), "message type 6 (Hello)") })
	time.Sleep(500 * time.Millisecond)
	if st := srv.Stats(); st.Tunnels != 1 || st.TimedOut != 0 || st.Retransmits != 0 {
		t.Errorf("after HELLO: %+v", st)
	}
	if tc.closeByUs {
		start := time.Now()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v: StopCCN not acknowledged", d)
		}
		wait("StopCCN at xl2tpd", func() bool {
			return strings.Contains(p.Stderr.String(), "message type 4 (Stop-Control-Connection-Notification)")
		})
		if st := srv.Stats(); st.Tunnels != 0 || st.TimedOut != 0 {
			t.Errorf("after Close: %+v", st)
		}
		return
	}
	// xl2tpd shutting down clears the tunnel with StopCCN.
	if err := p.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	wait("StopCCN from xl2tpd", func() bool { return tap.has("l2tp: StopCCN received") })
	wait("tunnel removed", func() bool { return srv.Stats().Tunnels == 0 })
}
