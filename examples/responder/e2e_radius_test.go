package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/freeradius"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// e2eRadiusSecret and e2eDAESecret are the shared secrets of the
// FreeRADIUS the end-to-end test starts; e2eRadiusPassword is alice's.
const (
	e2eRadiusSecret   = "fr-shared-s3cret-e2e"
	e2eDAESecret      = "dae-shared-s3cret-e2e"
	e2eRadiusPassword = "alice-in-w0nderland"
	e2eXAuthPassword  = "bob-the-bu1lder"
)

// e2eFramedIP is alice's Framed-IP-Address: inside the pool, away from
// the addresses a lease would give first.
var e2eFramedIP = netip.MustParseAddr("198.51.100.114")

// TestEndToEndRadius runs the responder against a real FreeRADIUS in
// its namespace, with a dead server listed first (failover): the iOS
// persona logs in by EAP-MSCHAPv2 relayed to FreeRADIUS and gets its
// Framed-IP-Address; a wrong password is refused; accounting Start and,
// after pings, a CHILD rekey, more pings and a disconnect, Stop reach
// FreeRADIUS's detail file with the byte counts the responder's metrics
// showed; radclient's
// Disconnect-Request ends the next session (Admin-Reset); the Cisco
// IPSec persona logs in with XAuth checked by FreeRADIUS; `lint` finds
// the dead server. No secret or password is in the responder's log.
func TestEndToEndRadius(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping", "radclient")
	topo := testnet.New(t, testnet.NoNAT)
	users := fmt.Sprintf(`alice	Cleartext-Password := %q
	Framed-IP-Address = %s,
	Class = "staff",
	Filter-Id = "vpn-users"

bob	Cleartext-Password := %q
`, e2eRadiusPassword, e2eFramedIP, e2eXAuthPassword)
	fr := freeradius.Start(t, topo.Server, freeradius.Config{Users: users, Secret: e2eRadiusSecret})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "radius-secret"), []byte(e2eRadiusSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ciscoConfig + fmt.Sprintf(`radius:
  servers:
    - {address: "127.0.0.1:11812", acct_port: 11813, secret_file: radius-secret, timeout: 300ms, retries: -1}
    - {address: 127.0.0.1, secret_file: radius-secret, timeout: 2s}
  nas_identifier: goipsec-e2e
  eap: true
  xauth: true
  accounting: {enabled: true}
  dae: {listen: "127.0.0.1:3799", clients: [{address: 127.0.0.1, secret: %s}]}
`, e2eDAESecret)
	cfgFile := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	resp := startResponder(t, topo.Server, "-config", cfgFile, "-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String(), "-pool", testnet.Pool4.String()+","+testnet.Pool6.String(),
		"-dns", testnet.DNS4.String(), "-metrics", "127.0.0.1:9100", "-log-level", "debug")
	if _, err := os.Stat(filepath.Join(state, demoUserFile)); err == nil {
		t.Error("a demo user was created although RADIUS checks the EAP passwords")
	}

	records := func() []string { return fr.Detail() }
	waitRecords := func(n int) []string {
		t.Helper()
		if !waitFor(15*time.Second, func() bool { return len(records()) >= n }) {
			t.Fatalf("%d accounting records, want %d:\n%s", len(records()), n, strings.Join(records(), "\n\n"))
		}
		return records()
	}

	t.Run("eap-mschapv2-framed-ip-accounting", func(t *testing.T) {
		p := eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), "alice", e2eRadiusPassword)
		cli, vips := connectPersona(t, p, resp)
		if len(vips) == 0 || vips[0] != e2eFramedIP {
			t.Fatalf("virtual IPs %v, want FreeRADIUS's Framed-IP-Address %v first", vips, e2eFramedIP)
		}
		if err := pingFrom(topo.Client, e2eFramedIP, 5); err != nil {
			t.Fatal(err)
		}
		// A CHILD rekey, then more traffic: the Stop's counters are the
		// session's, over both CHILD SAs.
		if out, err := cli.Swanctl(20*time.Second, "--rekey", "--child", p.profile); err != nil {
			t.Fatalf("swanctl --rekey: %v\n%s", err, out)
		}
		if !waitFor(10*time.Second, func() bool {
			return scrapeMetrics(t, topo.Server, "127.0.0.1:9100")[`goipsec_rekeys_total{scope="child"}`] >= 1
		}) {
			t.Fatal("the CHILD SA was not rekeyed")
		}
		if err := pingFrom(topo.Client, e2eFramedIP, 4); err != nil {
			t.Fatalf("after the CHILD rekey: %v", err)
		}
		if !strings.Contains(resp.Stderr.String(), "radius server marked dead") {
			t.Error("the dead first server was not marked dead: no failover happened")
		}
		recs := waitRecords(1)
		start := recs[0]
		for _, w := range []string{"Acct-Status-Type = Start", `User-Name = "alice"`, "Framed-IP-Address = " + e2eFramedIP.String(), "Class = 0x7374616666", `NAS-Identifier = "goipsec-e2e"`} {
			if !strings.Contains(start, "\t"+w+"\n") {
				t.Errorf("Start record lacks %q:\n%s", w, start)
			}
		}
		sessionID := attr(start, "Acct-Session-Id")
		m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100")
		in, out := m[`goipsec_esp_bytes{direction="in"}`], m[`goipsec_esp_bytes{direction="out"}`]
		if in == 0 || out == 0 {
			t.Fatalf("no ESP bytes in the metrics after the pings: in %v out %v", in, out)
		}
		if _, err := cli.Swanctl(15*time.Second, "--terminate", "--ike", p.profile); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
		recs = waitRecords(2)
		stop := recs[1]
		for _, w := range []string{"Acct-Status-Type = Stop", "Acct-Session-Id = " + sessionID, "Acct-Terminate-Cause = User-Request", "Class = 0x7374616666",
			fmt.Sprintf("Acct-Input-Octets = %d", int64(in)), fmt.Sprintf("Acct-Output-Octets = %d", int64(out))} {
			if !strings.Contains(stop, "\t"+w+"\n") {
				t.Errorf("Stop record lacks %q (metrics: in %v, out %v):\n%s", w, in, out, stop)
			}
		}
		cli.Stop()
	})

	t.Run("wrong-password", func(t *testing.T) {
		p := eapPersona("windows-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), "alice", "not-alices-password")
		cli := startPersona(t, p, resp)
		if out, err := cli.Initiate(p.profile, 20*time.Second); err == nil || strongswan.ParseSAs(cli.ListSAs(), p.profile).IKEUp {
			t.Fatalf("a wrong password got in: %v\n%s", err, out)
		}
		if !strings.Contains(resp.Stderr.String(), "EAP authentication failed") {
			t.Error("the responder does not log the refused login")
		}
		cli.Stop()
	})

	t.Run("radclient-disconnect", func(t *testing.T) {
		p := eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), "alice", e2eRadiusPassword)
		cli, _ := connectPersona(t, p, resp)
		n := len(waitRecords(3))
		sessionID := attr(records()[n-1], "Acct-Session-Id")
		radclient := func(attrs, secret string) string {
			cmd := topo.Server.Command(context.Background(), "sh", "-c", fmt.Sprintf("echo '%s' | radclient -x -r 1 -t 3 127.0.0.1:3799 disconnect %s", attrs, secret))
			out, _ := cmd.CombinedOutput()
			return string(out)
		}
		if out := radclient(`Acct-Session-Id = "0000000000000BAD"`, e2eDAESecret); !strings.Contains(out, "Received Disconnect-NAK") {
			t.Errorf("unknown session: %s", out)
		}
		if out := radclient(`User-Name = "alice", Acct-Session-Id = `+sessionID, e2eDAESecret); !strings.Contains(out, "Received Disconnect-ACK") {
			t.Fatalf("radclient:\n%s\nresponder log:\n%s", out, resp.Stderr.String())
		}
		if !waitFor(10*time.Second, func() bool { return !strongswan.ParseSAs(cli.ListSAs(), p.profile).IKEUp }) {
			t.Errorf("the client keeps its SA after the Disconnect-ACK:\n%s", cli.ListSAs())
		}
		recs := waitRecords(n + 1)
		if stop := recs[n]; !strings.Contains(stop, "\tAcct-Status-Type = Stop\n") || !strings.Contains(stop, "\tAcct-Terminate-Cause = Admin-Reset\n") ||
			!strings.Contains(stop, "\tAcct-Session-Id = "+sessionID+"\n") {
			t.Errorf("Stop after the Disconnect-Request:\n%s", stop)
		}
		cli.Stop()
	})

	t.Run("cisco-ipsec-xauth", func(t *testing.T) {
		psk, _ := strings.CutSuffix(howTo(resp.Stdout.String(), "IKEv1 PSK"), " (every client address)")
		p := persona{profile: "ios-ikev1-xauth-main", ns: topo.Client, server: testnet.ServerAddr4.String(),
			vars: map[string]string{"PSK": psk, "GROUP_ID": "ExampleGroup", "EAP_USER": "bob", "EAP_PASS": e2eXAuthPassword}}
		cli, _ := connectCisco(t, p, resp)
		var o, e bytes.Buffer
		if code := run(context.Background(), []string{"status", "-state", state}, &o, &e); code != 0 || !strings.Contains(o.String(), "XAuth: [bob]") {
			t.Errorf("status: %d\n%s%s", code, o.String(), e.String())
		}
		if !strings.Contains(fr.Proc.Stdout.String(), `User-Name = "bob"`) {
			t.Error("FreeRADIUS never saw bob's Access-Request")
		}
		cli.Stop()
	})

	t.Run("lint", func(t *testing.T) {
		var o, e bytes.Buffer
		var code int
		if err := topo.Server.Do(func() error {
			code = run(context.Background(), []string{"lint", "-config", cfgFile, "-state", state, "-name", "vpn.example.com", "-listen", testnet.ServerAddr4.String()}, &o, &e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if code != 1 || !regexp.MustCompile(`radius.servers\[0\] 127.0.0.1:11812: no valid answer`).MatchString(o.String()) ||
			!strings.Contains(o.String(), "radius.servers[1] 127.0.0.1:1812: answers (Access-Reject") {
			t.Errorf("lint: %d\n%s%s", code, o.String(), e.String())
		}
	})

	log := resp.Stderr.String()
	for _, secret := range []string{e2eRadiusSecret, e2eDAESecret, e2eRadiusPassword, e2eXAuthPassword, "not-alices-password"} {
		if strings.Contains(log, secret) {
			t.Errorf("the responder's log contains a secret or password (%d characters)", len(secret))
		}
	}
}

// attr returns the value of a detail-file attribute line.
func attr(record, name string) string {
	for _, l := range strings.Split(record, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+" = "); ok {
			return v
		}
	}
	return ""
}
