package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// v1Client is a strongSwan IKEv1 client (kernel-libipsec) with its own
// inside address on lo, as the ikev1-* profiles have it.
type v1Client struct {
	p      persona
	inside netip.Addr
	cli    *strongswan.Charon
}

// connectV1 starts the client's charon, brings up Main Mode and Quick
// Mode, and pings testnet.Inner4 (on the server's lo, inside the server's
// side of the tunnel) from its inside address.
func connectV1(t *testing.T, c *v1Client, resp *responderProcess) {
	t.Helper()
	c.p.ns.AddAddr("lo", c.inside.String()+"/32")
	c.p.vars["CLIENT_TS"] = c.inside.String() + "/32"
	c.cli = startPersona(t, c.p, resp)
	if out, err := c.cli.Initiate(c.p.profile, 30*time.Second); err != nil {
		t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", c.p.profile, err, out, c.cli.Log(), resp.Stderr.String())
	}
	if err := strongswan.V1Established(c.cli.ListSAs(), c.p.profile); err != nil {
		t.Fatalf("%v\n%s", err, c.cli.ListSAs())
	}
	if err := c.ping(); err != nil {
		t.Fatal(err)
	}
}

// ping sends three echo requests through the tunnel, all to be answered.
func (c *v1Client) ping() error {
	out, err := c.p.ns.Try("ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", c.inside.String(), testnet.Inner4.String())
	if sent, recv := strongswan.ParsePing(out); err != nil || sent == 0 || recv != sent {
		return fmt.Errorf("%s: ping %v -> %v through the tunnel: %v\n%s", c.p.profile, c.inside, testnet.Inner4, err, out)
	}
	return nil
}

// TestEndToEndIKEv1 runs the responder as its own process with an
// ikev1: section that names the IKEv1 clients' inside network and
// otherwise its defaults: strongSwan IKEv1 clients connect with Main Mode
// and the demo pre-shared key from the how-to, and with Main Mode RSA
// signatures and a client certificate from the demo CA, while an iOS
// IKEv2 persona connects on the same ports; all three ping through their
// tunnels at the same time. A replayed Main Mode request from a public
// capture gets an answer. status lists the IKEv1 SAs as #v1-N beside the
// IKEv2 one, and `terminate v1-N` ends the PSK client's SAs only.
func TestEndToEndIKEv1(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state := t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	// One uplink each for the RSA client and the IKEv2 client: each
	// charon owns UDP 500 in its namespace.
	type uplink struct {
		ns             *testnet.NS
		server, client string
	}
	var ups []uplink
	for i, tag := range []string{"v1rsa", "v2ios"} {
		ns := testnet.NewNS(t, tag)
		dev := fmt.Sprintf("eth%d", i+1)
		testnet.Link(t, ns, "eth0", topo.Server, dev)
		base := 64 * (i + 1)
		srv, cli := fmt.Sprintf("203.0.113.%d", base+1), fmt.Sprintf("203.0.113.%d", base+2)
		topo.Server.AddAddr(dev, srv+"/26")
		ns.AddAddr("eth0", cli+"/26")
		ups = append(ups, uplink{ns, srv, cli})
	}
	cfgFile := filepath.Join(t.TempDir(), "responder.yaml")
	// The clients' inside addresses (203.0.113.2 and .3, no route to
	// them outside the tunnel) are the only non-default IKEv1 setting.
	if err := os.WriteFile(cfgFile, []byte("ikev1:\n  client_subnets: [203.0.113.0/30]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := []string{testnet.ServerAddr4.String(), ups[0].server, ups[1].server}
	resp := startResponder(t, topo.Server, "-config", cfgFile, "-state", state, "-name", "vpn.example.com",
		"-listen", strings.Join(listen, ","), "-pool", testnet.Pool4.String()+","+testnet.Pool6.String(), "-dns", testnet.DNS4.String())
	out := resp.Stdout.String()
	psk, ok := strings.CutSuffix(howTo(out, "IKEv1 PSK"), " (every client address)")
	if !ok || len(psk) < minPSKLength {
		t.Fatalf("no demo IKEv1 key in the how-to:\n%s", out)
	}
	if v1 := howTo(out, "IKEv1"); !strings.Contains(v1, "Main Mode") || !strings.Contains(v1, "transport mode for L2TP/IPsec") {
		t.Errorf("the how-to's IKEv1 line: %q", v1)
	}
	if l := howTo(out, "L2TP/IPsec"); !strings.Contains(l, "MS-CHAPv2") || !strings.Contains(l, "export apple|windows --type l2tp") {
		t.Errorf("the how-to's L2TP/IPsec line: %q", l)
	}
	if c := howTo(out, "Cisco IPSec"); !strings.Contains(c, "group name blank (Main Mode)") || !strings.Contains(c, "secret the IKEv1 PSK") {
		t.Errorf("the how-to's Cisco IPSec line: %q", c)
	}
	password := howTo(out, "password")

	// Main Mode PSK (Apple's proposals, ID = own address) and Main Mode
	// RSA (client certificate from the demo CA, ID = its subject DN).
	pskClient := &v1Client{inside: netip.MustParseAddr("203.0.113.2"),
		p: persona{profile: "ikev1-main-psk", ns: topo.Client, server: testnet.ServerAddr4.String(), vars: map[string]string{"PSK": psk}}}
	const certUser = "carol"
	mac := macPersona(t, ups[0].ns, ups[0].server, state, certUser)
	rsaClient := &v1Client{inside: netip.MustParseAddr("203.0.113.3"),
		p: persona{profile: "ikev1-main-rsa", ns: ups[0].ns, server: ups[0].server, files: mac.files,
			vars: map[string]string{"CLIENT_DN": "O=goipsec responder, CN=" + certUser}}}
	connectV1(t, pskClient, resp)
	connectV1(t, rsaClient, resp)
	ios := eapPersona("ios-ikev2-eap", ups[1].ns, ups[1].server, demoUserName, password)
	iosCli, _ := connectPersona(t, ios, resp)
	for _, c := range []*v1Client{pskClient, rsaClient} {
		if err := c.ping(); err != nil {
			t.Errorf("after the IKEv2 client connected: %v", err)
		}
	}

	// A Main Mode request replayed from a public capture is answered (it
	// was dropped before the responder spoke IKEv1).
	replayV1(t, topo.Client, netip.AddrPortFrom(testnet.ServerAddr4, 500))

	cmd := func(args ...string) (int, string) {
		var o, e bytes.Buffer
		code := run(context.Background(), append(args, "-state", state), &o, &e)
		return code, o.String() + e.String()
	}
	code, st := cmd("status")
	if code != 0 || strings.Count(st, ", IKEv1, ") != 2 || strings.Count(st, ", IKEv2, ") != 1 {
		t.Fatalf("status: want two IKEv1 SAs and one IKEv2 SA: %d\n%s", code, st)
	}
	for _, want := range []string{"[CN=" + certUser + ",O=goipsec responder]", "[" + testnet.ClientAddr4.String() + "]", "203.0.113.2/32", "203.0.113.3/32"} {
		if !strings.Contains(st, want) {
			t.Errorf("status does not show %q:\n%s", want, st)
		}
	}
	// The PSK client's session: the block whose remote is its address.
	m := regexp.MustCompile(`(?m)^#(v1-\d+): ESTABLISHED, IKEv1,.*\n.*\n  remote ` + regexp.QuoteMeta(testnet.ClientAddr4.String()) + `:`).FindStringSubmatch(st)
	if m == nil {
		t.Fatalf("no IKEv1 session of %v in status:\n%s", testnet.ClientAddr4, st)
	}
	if code, o := cmd("terminate", m[1]); code != 0 || !strings.Contains(o, "terminated session #"+m[1]) {
		t.Fatalf("terminate %s: %d %s", m[1], code, o)
	}
	if !waitFor(5*time.Second, func() bool { return !strongswan.ParseSAs(pskClient.cli.ListSAs(), pskClient.p.profile).IKEUp }) {
		t.Errorf("the PSK client still has its SAs after terminate:\n%s", pskClient.cli.ListSAs())
	}
	if code, st := cmd("status"); code != 0 || strings.Count(st, ", IKEv1, ") != 1 || strings.Count(st, ", IKEv2, ") != 1 {
		t.Errorf("status after terminate %s: %d\n%s", m[1], code, st)
	}
	if err := rsaClient.ping(); err != nil {
		t.Errorf("the RSA client after the PSK client's end: %v", err)
	}
	checkPersona(t, ios, iosCli)
}

// replayV1 sends the first message of the public Main Mode capture to
// server from an ephemeral port in ns and wants an IKEv1 answer to its
// initiator cookie: the responder's SA (or a refusal) within 5 s.
func replayV1(t *testing.T, ns *testnet.NS, server netip.AddrPort) {
	t.Helper()
	ps, err := capture.ReadFile("../../ikev1/wire/testdata/ipsec-ikev1-isakmp-main-mode.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var req []byte
	for _, p := range ps {
		if len(p.Payload) > 28 && p.Payload[17]>>4 == 1 {
			req = p.Payload
			break
		}
	}
	h, err := wire.ParseHeader(req)
	if err != nil || h.Exchange != wire.IdentityProtection || h.RCookie != ([8]byte{}) {
		t.Fatalf("the capture's first IKEv1 message is no Main Mode request: %+v %v", h, err)
	}
	var answer []byte
	err = ns.Do(func() error {
		c, err := net.ListenUDP("udp4", nil)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.WriteToUDPAddrPort(req, server); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 65535)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return fmt.Errorf("no answer to the replayed Main Mode request: %w", err)
		}
		answer = buf[:n]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ah, err := wire.ParseHeader(answer)
	if err != nil || ah.ICookie != h.ICookie {
		t.Fatalf("answer to the replayed request: %+v %v (initiator cookie %x)", ah, err, h.ICookie)
	}
	m, err := wire.Parse(answer)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	t.Logf("replayed capture answered: %s", m.Summary())
}

// TestEndToEndIKEv1Aggressive: with ikev1.allow_aggressive and a key for
// a group name, a strongSwan client in Aggressive Mode with that KEY_ID
// (what Apple's "Cisco IPSec" sends with a group name) connects and
// pings; the start and the connection are logged as weaker than Main
// Mode. The keys come from the file (one by a psk_file relative to it),
// so there is no demo key.
func TestEndToEndIKEv1Aggressive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	const groupKey = "group-key-of-ExampleGroup-0123456789"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.psk"), []byte("main-mode-key-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `ikev1:
  allow_aggressive: true
  client_subnets: [203.0.113.0/30]
  psks:
    - {peer: "*", psk_file: main.psk}
    - {id: "keyid:ExampleGroup", psk: "` + groupKey + `"}
`
	cfgFile := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	resp := startResponder(t, topo.Server, "-config", cfgFile, "-state", t.TempDir(), "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String(), "-pool", testnet.Pool4.String())
	if got := howTo(resp.Stdout.String(), "IKEv1 PSK"); got != "as configured (ikev1.psks, ikev1.group_secret)" {
		t.Errorf("how-to IKEv1 PSK %q with keys in the file", got)
	}
	c := &v1Client{inside: netip.MustParseAddr("203.0.113.2"),
		p: persona{profile: "ikev1-aggr-keyid", ns: topo.Client, server: testnet.ServerAddr4.String(), vars: map[string]string{"PSK": groupKey, "GROUP_ID": "ExampleGroup"}}}
	connectV1(t, c, resp)
	log := resp.Stderr.String()
	for _, want := range []string{"IKEv1 Aggressive Mode is allowed", "a client used Aggressive Mode with a pre-shared key"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, groupKey) || strings.Contains(log, "main-mode-key-0123456789abcdef") {
		t.Errorf("a pre-shared key is in the log")
	}
}

// TestEndToEndIKEv1BehindNAT: a Main Mode PSK client behind a NAT that
// changes its ports connects with the demo key (ID: its private address)
// and pings; status marks it as behind a NAT.
func TestEndToEndIKEv1BehindNAT(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	cfgFile := filepath.Join(t.TempDir(), "responder.yaml")
	if err := os.WriteFile(cfgFile, []byte("ikev1:\n  client_subnets: [203.0.113.0/30]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	topo := testnet.New(t, testnet.NATRandomPort)
	resp := startResponder(t, topo.Server, "-config", cfgFile, "-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String(), "-pool", testnet.Pool4.String())
	psk, _ := strings.CutSuffix(howTo(resp.Stdout.String(), "IKEv1 PSK"), " (every client address)")
	c := &v1Client{inside: netip.MustParseAddr("203.0.113.2"),
		p: persona{profile: "ikev1-main-psk", ns: topo.Client, server: testnet.ServerAddr4.String(), vars: map[string]string{"PSK": psk}}}
	connectV1(t, c, resp)
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &o, &e); code != 0 ||
		!strings.Contains(o.String(), "["+topo.ClientAddr4.String()+"] (behind NAT)") || !strings.Contains(o.String(), "TUNNEL-in-UDP") {
		t.Errorf("status: %d\n%s%s", code, o.String(), e.String())
	}
}

// TestEndToEndIKEv1SameInsideAddress: a second IKEv1 client naming the
// inside address a first one holds (both have the demo key) is ended
// with a warning; the first keeps its tunnel and its traffic.
func TestEndToEndIKEv1SameInsideAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	cfgFile := filepath.Join(t.TempDir(), "responder.yaml")
	if err := os.WriteFile(cfgFile, []byte("ikev1:\n  client_subnets: [203.0.113.0/30]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	ns := testnet.NewNS(t, "v1two")
	testnet.Link(t, ns, "eth0", topo.Server, "eth1")
	topo.Server.AddAddr("eth1", "203.0.113.65/26")
	ns.AddAddr("eth0", "203.0.113.66/26")
	resp := startResponder(t, topo.Server, "-config", cfgFile, "-state", t.TempDir(), "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String()+",203.0.113.65", "-pool", testnet.Pool4.String())
	psk, _ := strings.CutSuffix(howTo(resp.Stdout.String(), "IKEv1 PSK"), " (every client address)")
	inside := netip.MustParseAddr("203.0.113.2")
	first := &v1Client{inside: inside, p: persona{profile: "ikev1-main-psk", ns: topo.Client, server: testnet.ServerAddr4.String(), vars: map[string]string{"PSK": psk}}}
	connectV1(t, first, resp)

	second := &v1Client{inside: inside, p: persona{profile: "ikev1-main-psk", ns: ns, server: "203.0.113.65", vars: map[string]string{"PSK": psk}}}
	ns.AddAddr("lo", inside.String()+"/32")
	second.p.vars["CLIENT_TS"] = inside.String() + "/32"
	second.cli = startPersona(t, second.p, resp)
	// The responder refuses the Quick Mode before installing anything.
	second.cli.Initiate(second.p.profile, 30*time.Second)
	if strongswan.ParseSAs(second.cli.ListSAs(), second.p.profile).ChildUp {
		t.Errorf("the second client got its IPsec SA:\n%s", second.cli.ListSAs())
	}
	if !strings.Contains(resp.Stderr.String(), "a client asked for the inside address of another client: refused") {
		t.Errorf("no warning in the log")
	}
	if err := first.ping(); err != nil {
		t.Errorf("the first client after the second one's attempt: %v", err)
	}
}
