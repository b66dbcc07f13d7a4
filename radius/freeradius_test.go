package radius

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/internal/freeradius"
	"github.com/goipsec/ipsec/internal/mschapv2"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

// Interop with a real FreeRADIUS 3.2 (the Debian package), started in a
// network namespace with a generated configuration: users, clients and
// the accounting detail files live in a temporary directory.

const frSecret = "testing123"

type freeRADIUS struct {
	ns  *testnet.NS
	dir string
	pki *testpki.PKI
}

// frUsers is the authorize ("users") file.
const frUsers = `alice	Cleartext-Password := "wonderland"
	Framed-IP-Address = 10.9.0.5,
	Session-Timeout = 3600,
	Class = "staff",
	Filter-Id = "vpn-users"

bob	Cleartext-Password := "builder"
`

func startFreeRADIUS(t *testing.T) *freeRADIUS {
	t.Helper()
	s := freeradius.Start(t, nil, freeradius.Config{Users: frUsers, Secret: frSecret})
	return &freeRADIUS{ns: s.NS, dir: s.Dir, pki: s.PKI}
}

// client returns a Client for servers whose sockets live in the
// namespace.
func (fr *freeRADIUS) client(t *testing.T, servers ...Server) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{Servers: servers, NASIdentifier: "goipsec-test", DeadTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := fr.ns.Do(c.Connect); err != nil {
		t.Fatal(err)
	}
	return c
}

// frSignsEverything reports the FreeRADIUS version and whether it adds
// Message-Authenticator to every Access-Accept/Reject (3.2.5 and later).
func frSignsEverything(fr *freeRADIUS) (string, bool) {
	out, _ := exec.Command("freeradius", "-v").Output()
	m := regexp.MustCompile(`Version 3\.(\d+)\.(\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		return "", false
	}
	minor, patch := 0, 0
	fmt.Sscan(m[1], &minor)
	fmt.Sscan(m[2], &patch)
	return m[0], minor > 2 || minor == 2 && patch >= 5
}

func TestFreeRADIUS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test; run without -short")
	}
	fr := startFreeRADIUS(t)
	auth := Server{Addr: "127.0.0.1:1812", Secret: ipsec.Secret(frSecret), Timeout: 2 * time.Second}
	c := fr.client(t, auth)
	ctx := eap.ContextWithNAS(context.Background(), testNAS)

	t.Run("PAP", func(t *testing.T) {
		r, err := c.PAP(ctx, "alice", ipsec.Secret("wonderland"))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Accepted || r.FramedIP != netip.MustParseAddr("10.9.0.5") || r.SessionTimeout != time.Hour {
			t.Fatalf("reply %s", r)
		}
		if g := r.Groups(); len(g) != 2 || g[0] != "vpn-users" || g[1] != "staff" {
			t.Errorf("groups %q", g)
		}
		r, err = c.PAP(ctx, "alice", ipsec.Secret("wrong"))
		if err != nil || r.Accepted || r.Code != CodeAccessReject {
			t.Fatalf("wrong password: %v %v", r, err)
		}
		r, err = c.PAP(ctx, "mallory", ipsec.Secret("wonderland"))
		if err != nil || r.Accepted {
			t.Fatalf("unknown user: %v %v", r, err)
		}
	})

	t.Run("CHAP", func(t *testing.T) {
		challenge := make([]byte, 16)
		rand.Read(challenge)
		for _, tc := range []struct {
			pw string
			ok bool
		}{{"builder", true}, {"wrong", false}} {
			resp := CHAPPassword(9, []byte(tc.pw), challenge)
			r, err := c.CHAP(ctx, "bob", 9, challenge, resp[1:])
			if err != nil || r.Accepted != tc.ok {
				t.Fatalf("password %q: %v %v", tc.pw, r, err)
			}
		}
	})

	t.Run("MSCHAPv2", func(t *testing.T) {
		for _, tc := range []struct {
			pw string
			ok bool
		}{{"wonderland", true}, {"wrong", false}} {
			authC, peerC := make([]byte, 16), make([]byte, 16)
			rand.Read(authC)
			rand.Read(peerC)
			nt := mschapv2.NTHash([]byte(tc.pw))
			ntResp := mschapv2.NTResponse(authC, peerC, "alice", nt)
			r, err := c.MSCHAPv2(ctx, "alice", 5, authC, peerC, ntResp)
			if err != nil || r.Accepted != tc.ok {
				t.Fatalf("password %q: %v %v", tc.pw, r, err)
			}
			if !tc.ok {
				if !strings.Contains(r.MSCHAPError, "E=691") {
					t.Errorf("MS-CHAP-Error %q", r.MSCHAPError)
				}
				continue
			}
			want := mschapv2.AuthenticatorResponse(nt, ntResp, peerC, authC, "alice")
			if len(r.MSCHAP2Success) < 1 || r.MSCHAP2Success[0] != 5 || string(r.MSCHAP2Success[1:]) != want {
				t.Errorf("MS-CHAP2-Success %q, want ident 5 and %q", r.MSCHAP2Success, want)
			}
			if len(r.MPPESendKey) == 0 || len(r.MPPERecvKey) == 0 {
				t.Errorf("no MPPE keys")
			}
		}
	})

	t.Run("EAP-MSCHAPv2", func(t *testing.T) {
		var got *Reply
		backend := &EAPBackend{Client: c, OnAccept: func(_ context.Context, _ string, r *Reply) { got = r }}
		for _, tc := range []struct {
			pw string
			ok bool
		}{{"wonderland", true}, {"wrong", false}} {
			srv, err := eap.NewServer(eap.ServerConfig{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			peer := eap.NewPeer(eap.PeerConfig{Identity: "alice", Password: ipsec.Secret(tc.pw), Methods: []eap.Type{eap.TypeMSCHAPv2}})
			sres, pres, serr := runEAP(t, ctx, srv, peer)
			srv.Close()
			peer.Close()
			if !tc.ok {
				if sres.Status != eap.StatusFailure || sres.MSK != nil {
					t.Fatalf("wrong password: %v %v", sres, serr)
				}
				continue
			}
			if serr != nil || sres.Status != eap.StatusSuccess || pres.Status != eap.StatusSuccess {
				t.Fatalf("server %v %v peer %v", sres, serr, pres)
			}
			if len(sres.MSK) != 64 || !bytes.Equal(sres.MSK, pres.MSK) {
				t.Fatalf("MSK from FreeRADIUS (%d octets) differs from the peer's (%d)", len(sres.MSK), len(pres.MSK))
			}
			if sres.User == nil || len(sres.User.Addresses) != 1 || sres.User.Addresses[0] != netip.MustParseAddr("10.9.0.5") {
				t.Errorf("user %+v", sres.User)
			}
			if got == nil || got.SessionTimeout != time.Hour {
				t.Errorf("OnAccept %v", got)
			}
		}
	})

	t.Run("EAP-TLS", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(fr.pki.CA.Cert)
		srv, err := eap.NewServer(eap.ServerConfig{Backend: &EAPBackend{Client: c}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		// An identity without a realm: the stock proxy.conf would proxy
		// "@example.com" to a realm.
		peer := eap.NewPeer(eap.PeerConfig{Identity: "alice", Methods: []eap.Type{eap.TypeTLS}, TLS: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{fr.pki.Client.DER}, PrivateKey: fr.pki.Client.Key}},
			RootCAs:      pool, ServerName: "radius.example.com", MaxVersion: tls.VersionTLS12,
		}})
		defer peer.Close()
		sres, pres, serr := runEAP(t, ctx, srv, peer)
		if serr != nil || sres.Status != eap.StatusSuccess || pres.Status != eap.StatusSuccess {
			t.Fatalf("server %v %v peer %v", sres, serr, pres)
		}
		if len(sres.MSK) != 64 || !bytes.Equal(sres.MSK, pres.MSK) {
			t.Fatalf("MSK from FreeRADIUS (%d octets) differs from the peer's", len(sres.MSK))
		}
	})

	t.Run("accounting", func(t *testing.T) {
		ac := fr.client(t, Server{Addr: "127.0.0.1:1813", Secret: ipsec.Secret(frSecret), Timeout: 2 * time.Second})
		a := NewAccounting(ac, AccountingConfig{})
		nas := testNAS
		nas.SessionID = 0xabcdef
		start := time.Now()
		rec := AccountingRecord{NAS: nas, UserName: "alice", Class: [][]byte{[]byte("staff")}, FramedIP: netip.MustParseAddr("10.9.0.5")}
		rec.Status = AcctStart
		a.Send(rec)
		rec.Status, rec.InputOctets, rec.OutputOctets, rec.InputPackets, rec.OutputPackets, rec.SessionTime = AcctInterim, 123456, 654321, 100, 200, 60*time.Second
		a.Send(rec)
		rec.Status, rec.InputOctets, rec.OutputOctets, rec.InputPackets, rec.OutputPackets, rec.SessionTime = AcctStop, 5<<32+777, 888999, 300, 400, 120*time.Second
		rec.TerminateCause = CauseUserRequest
		a.Send(rec)
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(cctx); err != nil {
			t.Fatal(err)
		}
		if st := a.Stats(); st.Sent != 3 {
			t.Fatalf("stats %+v", st)
		}
		files, _ := filepath.Glob(filepath.Join(fr.dir, "log/radacct/*/detail-*"))
		if len(files) == 0 {
			t.Fatalf("no detail file below %s/log/radacct", fr.dir)
		}
		var detail string
		for _, f := range files {
			b, _ := os.ReadFile(f)
			detail += string(b)
		}
		records := strings.Split(strings.TrimSpace(detail), "\n\n")
		if len(records) != 3 {
			t.Fatalf("%d records in the detail file:\n%s", len(records), detail)
		}
		for i, want := range [][]string{
			{"Acct-Status-Type = Start", `Acct-Session-Id = "0000000000ABCDEF"`, `User-Name = "alice"`, "Framed-IP-Address = 10.9.0.5", "Class = 0x7374616666", "NAS-Port-Type = Virtual"},
			{"Acct-Status-Type = Interim-Update", "Acct-Input-Octets = 123456", "Acct-Output-Octets = 654321", "Acct-Input-Packets = 100", "Acct-Session-Time = 60"},
			{"Acct-Status-Type = Stop", "Acct-Input-Octets = 777", "Acct-Input-Gigawords = 5", "Acct-Output-Octets = 888999", "Acct-Terminate-Cause = User-Request", "Acct-Session-Time = 120"},
		} {
			for _, w := range want {
				if !strings.Contains(records[i], "\t"+w+"\n") {
					t.Errorf("record %d lacks %q:\n%s", i, w, records[i])
				}
			}
		}
		_ = start
	})

	t.Run("Message-Authenticator required", func(t *testing.T) {
		// The Blast-RADIUS defence needs a server that signs every
		// answer; FreeRADIUS 3.2.1 (Debian 12) signs only answers
		// carrying EAP, so a client that requires the signature drops
		// its PAP answers (and counts them) until the server is
		// upgraded (3.2.5 adds it). This pins that behaviour down.
		strict := auth
		strict.Timeout, strict.Retries = 500*time.Millisecond, -1
		rc, err := NewClient(ClientConfig{Servers: []Server{strict}, RequireMessageAuthenticator: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := fr.ns.Do(rc.Connect); err != nil {
			t.Fatal(err)
		}
		r, err := rc.PAP(ctx, "alice", ipsec.Secret("wonderland"))
		st := rc.Stats()[0]
		if _, sigs := frSignsEverything(fr); sigs {
			if err != nil || !r.Accepted {
				t.Fatalf("%v %v", r, err)
			}
			return
		}
		if !errors.Is(err, ErrTimeout) || st.Dropped != 1 {
			t.Fatalf("unsigned Access-Accept: %v %v, dropped %d", r, err, st.Dropped)
		}
	})

	t.Run("failover", func(t *testing.T) {
		dead := Server{Addr: "127.0.0.1:11812", Secret: ipsec.Secret(frSecret), Timeout: 300 * time.Millisecond, Retries: 1}
		fc := fr.client(t, dead, auth)
		r, err := fc.PAP(ctx, "alice", ipsec.Secret("wonderland"))
		if err != nil || !r.Accepted {
			t.Fatalf("%v %v", r, err)
		}
		st := fc.Stats()
		if !st[0].Dead || st[0].Timeouts != 1 || st[1].Responses != 1 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("radclient Disconnect-Request", func(t *testing.T) {
		var mu sync.Mutex
		var asked []SessionQuery
		var coas []CoA
		var conn net.PacketConn
		if err := fr.ns.Do(func() (err error) {
			conn, err = net.ListenPacket("udp", "127.0.0.1:3799")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		d, err := NewDAEServer(DAEConfig{
			Conn:    conn,
			Clients: []DAEClient{{Addr: netip.MustParseAddr("127.0.0.1"), Secret: ipsec.Secret("daesecret")}},
			Disconnect: func(_ context.Context, q SessionQuery) error {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, q)
				if q.SessionID == "0000000000ABCDEF" {
					return nil
				}
				return ErrSessionNotFound
			},
			CoA: func(_ context.Context, q SessionQuery, c CoA) error {
				mu.Lock()
				defer mu.Unlock()
				coas = append(coas, c)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Serve(sctx) }()
		defer func() { cancel(); <-done }()
		radclientCmd := func(attrs, kind, secret string) string {
			cmd := fr.ns.Command(context.Background(), "sh", "-c", fmt.Sprintf("echo '%s' | radclient -x -r 1 -t 2 127.0.0.1:3799 %s %s", attrs, kind, secret))
			out, _ := cmd.CombinedOutput()
			return string(out)
		}
		radclient := func(attrs, secret string) string {
			return radclientCmd(attrs, "disconnect", secret)
		}
		out := radclient(`User-Name = "alice", Acct-Session-Id = "0000000000ABCDEF"`, "daesecret")
		if !strings.Contains(out, "Received Disconnect-ACK") {
			t.Fatalf("radclient:\n%s", out)
		}
		out = radclient(`Acct-Session-Id = "0000000000000BAD"`, "daesecret")
		if !strings.Contains(out, "Received Disconnect-NAK") || !strings.Contains(out, "Error-Cause = Session-Context-Not-Found") {
			t.Fatalf("radclient, unknown session:\n%s", out)
		}
		out = radclientCmd(`User-Name = "alice", Session-Timeout = 600`, "coa", "daesecret")
		if !strings.Contains(out, "Received CoA-ACK") {
			t.Fatalf("radclient coa:\n%s", out)
		}
		out = radclient(`User-Name = "alice"`, "wrongsecret")
		if strings.Contains(out, "Received") {
			t.Fatalf("answered a request with the wrong secret:\n%s", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(coas) != 1 || coas[0].SessionTimeout != 10*time.Minute {
			t.Errorf("CoA callbacks %+v", coas)
		}
		if len(asked) != 2 || asked[0].UserName != "alice" || asked[0].SessionID != "0000000000ABCDEF" {
			t.Errorf("callbacks %+v", asked)
		}
		if st := d.Stats(); st.ACKs != 2 || st.NAKs != 1 || st.Dropped < 1 {
			t.Errorf("stats %+v", st)
		}
	})
}
