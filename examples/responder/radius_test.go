package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/radius"
)

const testRadiusSecret = "rad1us-shared-s3cret"

// fakeRadius is a RADIUS server on loopback: it accepts PAP logins of
// user/password and rejects everything else, with reply attributes.
type fakeRadius struct {
	conn     *net.UDPConn
	secret   ipsec.Secret
	user, pw string
	reply    func(p *radius.Packet) // adds attributes to an Access-Accept
}

func newFakeRadius(t *testing.T, user, pw string, reply func(*radius.Packet)) *fakeRadius {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRadius{conn: conn, secret: ipsec.Secret(testRadiusSecret), user: user, pw: pw, reply: reply}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req, err := radius.Parse(buf[:n])
			if err != nil || req.Code != radius.CodeAccessRequest {
				continue
			}
			resp := &radius.Packet{Code: radius.CodeAccessReject, Identifier: req.Identifier}
			name, _ := req.Get(radius.TypeUserName)
			hidden, ok := req.Get(radius.TypeUserPassword)
			if ok && string(name) == f.user {
				if pw, err := radius.RevealPassword(hidden, f.secret, req.Authenticator); err == nil && string(pw) == f.pw {
					resp.Code = radius.CodeAccessAccept
					if f.reply != nil {
						f.reply(resp)
					}
				}
			}
			resp.Add(radius.TypeMessageAuthenticator, make([]byte, 16))
			b, err := radius.EncodeResponse(nil, resp, req.Authenticator, f.secret)
			if err == nil {
				conn.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	return f
}

func (f *fakeRadius) addr() string { return f.conn.LocalAddr().String() }

// deadUDPAddr is a loopback port nobody listens on.
func deadUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().String()
	c.Close()
	return a
}

func TestRadiusConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "radius-secret")
	if err := os.WriteFile(secretFile, []byte(testRadiusSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "responder.yaml")
	yaml := `pools: [198.51.100.0/24]
radius:
  servers:
    - {address: 192.0.2.10, secret_file: radius-secret, timeout: 2s, retries: 1}
    - {address: "[2001:db8::10]:11812", secret: other-secret, acct_port: 11813}
  nas_identifier: vpn-gw-1
  eap: true
  xauth: true
  ppp: true
  accounting: {enabled: true, interim: 10m}
  dae: {listen: "127.0.0.1:3799", clients: [{address: 192.0.2.10, secret_file: radius-secret}]}
`
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate([]netip.Prefix{uplink})
	if err != nil {
		t.Fatal(err)
	}
	r := s.radius
	if r == nil || !r.eap || !r.xauth || !r.ppp || !r.accounting || r.interim != 10*time.Minute || r.nasID != "vpn-gw-1" || r.daeListen != "127.0.0.1:3799" {
		t.Fatalf("settings %+v", r)
	}
	wantAuth := []string{"192.0.2.10:1812", "[2001:db8::10]:11812"}
	wantAcct := []string{"192.0.2.10:1813", "[2001:db8::10]:11813"}
	for i := range 2 {
		if r.auth[i].Addr != wantAuth[i] || r.acct[i].Addr != wantAcct[i] {
			t.Errorf("server %d: auth %s acct %s, want %s %s", i, r.auth[i].Addr, r.acct[i].Addr, wantAuth[i], wantAcct[i])
		}
	}
	if string(r.auth[0].Secret) != testRadiusSecret || r.auth[0].Timeout != 2*time.Second || r.auth[0].Retries != 1 || string(r.auth[1].Secret) != "other-secret" {
		t.Errorf("server 0: timeout %v retries %d", r.auth[0].Timeout, r.auth[0].Retries)
	}
	if len(r.daeClients) != 1 || r.daeClients[0].Addr != netip.MustParseAddr("192.0.2.10") || string(r.daeClients[0].Secret) != testRadiusSecret {
		t.Errorf("dae clients %v", r.daeClients)
	}

	// The default has no radius: at all.
	c, _ = parseConfig(defaultConfig)
	if s, err := c.validate(nil); err != nil || s.radius != nil {
		t.Errorf("default: radius %+v, err %v", s.radius, err)
	}
}

func TestRadiusConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	const srv = "{address: 192.0.2.10, secret: " + testRadiusSecret + "}"
	for _, c := range []struct{ name, yaml, want string }{
		{"eap-without-servers", "radius: {eap: true}", "radius.eap"},
		{"xauth-without-servers", "radius: {xauth: true}", "radius.xauth"},
		{"ppp-without-servers", "radius: {ppp: true}", "radius.ppp"},
		{"accounting-without-servers", "radius: {accounting: {enabled: true}}", "radius.accounting.enabled"},
		{"address", "radius: {servers: [{address: 'not a host!', secret: x}]}", "radius.servers[0].address"},
		{"port", "radius: {servers: [{address: '192.0.2.10:99999', secret: x}]}", "radius.servers[0].address"},
		{"no-secret", "radius: {servers: [{address: 192.0.2.10}]}", "radius.servers[0].secret"},
		{"both-secrets", "radius: {servers: [{address: 192.0.2.10, secret: " + testRadiusSecret + ", secret_file: " + missing + "}]}", "radius.servers[0].secret_file"},
		{"secret-file", "radius: {servers: [{address: 192.0.2.10, secret_file: " + missing + "}]}", "radius.servers[0].secret_file"},
		{"timeout", "radius: {servers: [{address: 192.0.2.10, secret: " + testRadiusSecret + ", timeout: forever}]}", "radius.servers[0].timeout"},
		{"retries", "radius: {servers: [{address: 192.0.2.10, secret: " + testRadiusSecret + ", retries: 99}]}", "radius.servers[0].retries"},
		{"acct-port", "radius: {servers: [{address: 192.0.2.10, secret: " + testRadiusSecret + ", acct_port: 70000}]}", "radius.servers[0].acct_port"},
		{"interim-short", "radius: {servers: [" + srv + "], accounting: {enabled: true, interim: 5s}}", "radius.accounting.interim"},
		{"interim-without-accounting", "radius: {servers: [" + srv + "], accounting: {interim: 5m}}", "radius.accounting.interim"},
		{"dae-listen", "radius: {dae: {listen: 3799, clients: [" + srv + "]}}", "radius.dae.listen"},
		{"dae-no-clients", "radius: {dae: {listen: ':3799'}}", "radius.dae.clients"},
		{"dae-client-address", "radius: {dae: {listen: ':3799', clients: [{address: radius.example.com, secret: x}]}}", "radius.dae.clients[0].address"},
		{"dae-client-secret", "radius: {dae: {listen: ':3799', clients: [{address: 192.0.2.10}]}}", "radius.dae.clients[0].secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig([]byte("pools: [198.51.100.0/24]\n" + c.yaml + "\n"))
			if err == nil {
				_, err = cfg.validate([]netip.Prefix{uplink})
			}
			var fe *fieldError
			if err == nil || !errors.As(err, &fe) || !strings.HasPrefix(c.want, fe.Field) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line naming %q", err, c.want)
			}
			if strings.Contains(err.Error(), testRadiusSecret) {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}

// lint asks every server about a made-up user: a Reject is an answer,
// silence a finding; the secret is not printed.
func TestRadiusLint(t *testing.T) {
	good := newFakeRadius(t, "alice", "wonderland", nil)
	r := &radiusSettings{nasID: "goipsec", auth: []radius.Server{
		{Addr: good.addr(), Secret: ipsec.Secret(testRadiusSecret), Timeout: 300 * time.Millisecond, Retries: -1},
		{Addr: deadUDPAddr(t), Secret: ipsec.Secret(testRadiusSecret), Timeout: 300 * time.Millisecond, Retries: -1},
		{Addr: good.addr(), Secret: ipsec.Secret("a-different-secret"), Timeout: 300 * time.Millisecond, Retries: -1},
	}}
	var out bytes.Buffer
	if lintRadius(context.Background(), r, &out) {
		t.Errorf("lint passed with a dead server:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "radius.servers[0] "+good.addr()+": answers (Access-Reject") ||
		!strings.Contains(lines[1], "radius.servers[1]") || !strings.Contains(lines[1], "no valid answer") ||
		!strings.Contains(lines[2], "radius.servers[2]") || !strings.Contains(lines[2], "no valid answer") {
		t.Errorf("lint output:\n%s", out.String())
	}
	if strings.Contains(out.String(), testRadiusSecret) || strings.Contains(out.String(), "a-different-secret") {
		t.Errorf("lint output reveals a secret:\n%s", out.String())
	}
	out.Reset()
	if !lintRadius(context.Background(), &radiusSettings{auth: r.auth[:1]}, &out) {
		t.Errorf("lint failed with a server that answers:\n%s", out.String())
	}
}

// The XAuth/PPP adapter hands the password to the RADIUS servers and
// turns the Access-Accept into the account: Framed-IP-Address as fixed
// address, Filter-Id and Class as groups; a Reject is a wrong password;
// neither the password nor the secret reaches the log.
func TestRadiusVerifier(t *testing.T) {
	f := newFakeRadius(t, "carol", "carols-password", func(p *radius.Packet) {
		p.Add(radius.TypeFramedIPAddress, []byte{10, 9, 0, 5})
		p.AddString(radius.TypeFilterID, "staff")
		p.AddString(radius.TypeClass, "vpn-users")
	})
	var logs bytes.Buffer
	c, err := radius.NewClient(radius.ClientConfig{Servers: []radius.Server{{Addr: f.addr(), Secret: ipsec.Secret(testRadiusSecret), Timeout: time.Second}},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := radiusVerifier{UserStore: ipsec.NewUsers(), c: c}
	res, err := v.VerifyPassword(context.Background(), &ipsec.PasswordRequest{Name: "carol", Method: ipsec.PasswordPAP, Password: ipsec.Secret("carols-password")})
	if err != nil {
		t.Fatal(err)
	}
	if u := res.User; u.Name != "carol" || !slices.Equal(u.Addresses, []netip.Addr{netip.MustParseAddr("10.9.0.5")}) || !slices.Equal(u.Groups, []string{"staff", "vpn-users"}) {
		t.Errorf("user %+v", u)
	}
	_, err = v.VerifyPassword(context.Background(), &ipsec.PasswordRequest{Name: "carol", Method: ipsec.PasswordPAP, Password: ipsec.Secret("wrong-guess")})
	if !errors.Is(err, ipsec.ErrPasswordRejected) {
		t.Errorf("wrong password: %v", err)
	}
	for _, s := range []string{"carols-password", "wrong-guess", testRadiusSecret} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log reveals %q:\n%s", s, logs.String())
		}
	}
	if logs.Len() == 0 {
		t.Error("no debug log at all: the secret check proves nothing")
	}
}

// The accounting adapter: one Acct-Session-Id per session, the Class
// and User-Name of the Access-Accept, cumulative counters, the virtual
// addresses, and the cause of the end.
func TestRadiusAccountingRecords(t *testing.T) {
	rs := newRadiusSessions(slog.New(slog.DiscardHandler))
	ctx := eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 42})
	rs.onAccept(ctx, "alice", &radius.Reply{Accepted: true, UserName: "alice@corp", Class: [][]byte{[]byte("staff")}, FramedIP: netip.MustParseAddr("10.9.0.5")})
	a := &radiusAccounting{sessions: rs}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := ipsec.IKESAInfo{SessionID: 42, EAPIdentity: "alice", Remote: netip.MustParseAddrPort("192.0.2.7:4500"), Local: netip.MustParseAddrPort("198.51.100.1:4500"),
		// The engine lists pool leases only: the fixed 10.9.0.5 comes
		// from the Access-Accept.
		VirtualIPs: []netip.Addr{netip.MustParseAddr("2001:db8::5")}, BytesIn: 5 << 30, BytesOut: 1234, PacketsIn: 7, PacketsOut: 9}
	r := ike.AccountingRecord{SessionID: 42, NASPort: 3, Started: t0, Time: t0.Add(90 * time.Second), Info: info}
	rec := a.record(radius.AcctInterim, r, rs.started(42))
	if rec.SessionID != radius.SessionID(42) || rec.UserName != "alice@corp" || len(rec.Class) != 1 || string(rec.Class[0]) != "staff" ||
		rec.FramedIP != netip.MustParseAddr("10.9.0.5") || rec.FramedIPv6 != netip.MustParseAddr("2001:db8::5") ||
		rec.InputOctets != 5<<30 || rec.OutputOctets != 1234 || rec.InputPackets != 7 || rec.OutputPackets != 9 ||
		rec.SessionTime != 90*time.Second || rec.NAS.Port != 3 || rec.NAS.ClientAddr != info.Remote || rec.NAS.SessionID != 42 {
		t.Errorf("record %+v", rec)
	}
	// Without an Access-Accept (a certificate client): the identity.
	rec = a.record(radius.AcctStart, ike.AccountingRecord{SessionID: 43, Info: ipsec.IKESAInfo{RemoteID: ipsec.FQDN("gw.example.com")}}, acctInfo{})
	if rec.UserName != "gw.example.com" || rec.SessionID != radius.SessionID(43) || rec.SessionTime != 0 {
		t.Errorf("record without accept %+v", rec)
	}
	rs.setCause(42, radius.CauseAdminReset)
	if acc := rs.stopped(42); acc.cause != radius.CauseAdminReset {
		t.Errorf("cause %v", acc.cause)
	}
	if rs.get(42).userName != "" {
		t.Error("session kept after Stop")
	}
	for err, want := range map[error]radius.TerminateCause{
		nil: radius.CauseUserRequest, ike.ErrTerminated: radius.CauseAdminReset,
		ike.ErrTimeout: radius.CauseLostCarrier, ike.ErrClosed: radius.CauseAdminReboot, errors.New("x"): radius.CauseNASError,
	} {
		if got := terminateCause(err); got != want {
			t.Errorf("terminateCause(%v) = %v, want %v", err, got, want)
		}
	}
}

// Session-Timeout of the Access-Accept ends the session once it is up,
// with the cause Session-Timeout; accepts whose SA never came up are
// forgotten.
func TestRadiusSessionTimeout(t *testing.T) {
	rs := newRadiusSessions(slog.New(slog.DiscardHandler))
	ended := make(chan uint64, 1)
	rs.terminate = func(_ context.Context, id uint64) error { ended <- id; return nil }
	rs.onAccept(eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 7}), "bob", &radius.Reply{Accepted: true, SessionTimeout: 50 * time.Millisecond})
	select {
	case <-ended:
		t.Fatal("ended before it started")
	case <-time.After(100 * time.Millisecond):
	}
	// Without accounting (acct nil) the adapter still follows the
	// session's start, which arms the Session-Timeout.
	a := &radiusAccounting{sessions: rs}
	a.Start(ike.AccountingRecord{SessionID: 7})
	select {
	case id := <-ended:
		if id != 7 {
			t.Errorf("ended session %d", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Session-Timeout did not end the session")
	}
	if acc := rs.get(7); acc.cause != radius.CauseSessionTimeout {
		t.Errorf("cause %v", acc.cause)
	}
	a.Stop(ike.AccountingRecord{SessionID: 7, Err: ike.ErrTerminated})
	if rs.get(7).cause != 0 {
		t.Error("session kept after Stop")
	}

	now := time.Now()
	rs.now = func() time.Time { return now }
	rs.onAccept(eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 8}), "bob", &radius.Reply{Accepted: true})
	now = now.Add(unstartedTTL + time.Second)
	rs.onAccept(eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 9}), "bob", &radius.Reply{Accepted: true})
	rs.mu.Lock()
	_, kept := rs.m[8]
	rs.mu.Unlock()
	if kept {
		t.Error("an accept whose SA never came up is kept forever")
	}
}

func TestRadiusDAEMatch(t *testing.T) {
	rs := newRadiusSessions(slog.New(slog.DiscardHandler))
	rs.onAccept(eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 5}), "alice", &radius.Reply{Accepted: true, UserName: "alice@corp", FramedIP: netip.MustParseAddr("10.9.0.5")})
	info := ipsec.IKESAInfo{SessionID: 5, EAPIdentity: "alice", Remote: netip.MustParseAddrPort("192.0.2.7:4500"), VirtualIPs: []netip.Addr{netip.MustParseAddr("2001:db8::5")}}
	for _, c := range []struct {
		q    radius.SessionQuery
		want bool
	}{
		{radius.SessionQuery{SessionID: radius.SessionID(5)}, true},
		{radius.SessionQuery{SessionID: radius.SessionID(6)}, false},
		{radius.SessionQuery{UserName: "alice"}, true},
		{radius.SessionQuery{UserName: "alice@corp"}, true},
		{radius.SessionQuery{UserName: "bob"}, false},
		{radius.SessionQuery{FramedIP: netip.MustParseAddr("10.9.0.5")}, true},
		{radius.SessionQuery{UserName: "alice", FramedIP: netip.MustParseAddr("10.9.0.6")}, false},
		{radius.SessionQuery{CallingStationID: "192.0.2.7"}, true},
		{radius.SessionQuery{FramedIPv6: netip.MustParseAddr("2001:db8::5")}, true},
		{radius.SessionQuery{CallingStationID: "192.0.2.8"}, false},
		{radius.SessionQuery{}, false}, // nothing named: nothing matches
	} {
		if got := daeMatch(c.q, rs)(info); got != c.want {
			t.Errorf("%+v: %v, want %v", c.q, got, c.want)
		}
	}
}
