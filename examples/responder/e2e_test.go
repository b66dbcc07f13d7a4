package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/pkcs12"

	"go.yaml.in/yaml/v3"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// reexecEnv makes the test binary run the responder's main instead of the
// tests, so the end-to-end test starts the program as a separate process
// inside the server namespace, exactly as an operator would.
const reexecEnv = "GOIPSEC_RESPONDER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// responderProcess is the responder running in a namespace.
type responderProcess struct {
	*testnet.Process
	ns      *testnet.NS
	stopped bool
}

// startResponder runs `responder args...` in ns and waits for its
// how-to-connect block. It is stopped at the end of the test if the test
// did not stop it.
func startResponder(t *testing.T, ns *testnet.NS, args ...string) *responderProcess {
	t.Helper()
	proc, err := ns.Start([]string{reexecEnv + "=1"}, os.Args[0], args...)
	if err != nil {
		t.Fatal(err)
	}
	p := &responderProcess{Process: proc, ns: ns}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("responder log:\n%s", p.Stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second) // first start generates two RSA keys
	for !strings.Contains(p.Stdout.String(), "listening on:") {
		select {
		case err := <-p.Done:
			p.stopped = true
			t.Fatalf("responder exited early: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout.String(), p.Stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder did not start within 60 s\n%s", p.Stderr.String())
		}
	}
	return p
}

// stop sends SIGTERM, as systemd or Ctrl-C would, and checks for a clean
// exit, an orderly stop in the log and a removed TUN device.
func (p *responderProcess) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	if inTime, err := p.Terminate(20 * time.Second); !inTime {
		t.Errorf("responder did not stop within 20 s of SIGTERM")
	} else if err != nil {
		t.Errorf("responder exited with %v after SIGTERM", err)
	}
	for _, dev := range []string{"goipsec0", "goipsec0l"} { // the data plane's, L2TP's
		if out, err := p.ns.Try("ip", "link", "show", dev); err == nil {
			t.Errorf("TUN device %s still present after shutdown:\n%s", dev, out)
		}
	}
	if !strings.Contains(p.Stderr.String(), "responder stopped") {
		t.Errorf("no orderly stop in the log")
	}
}

// howTo returns the value of a "key: value" line of the how-to block.
func howTo(out, key string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// persona is one strongSwan client impersonating a native client.
type persona struct {
	profile string
	ns      *testnet.NS
	server  string // the address it connects to
	// vars are the profile's placeholders besides SERVER and SERVER_ID
	// (EAP_USER, EAP_PASS, CLIENT_ID, PSK).
	vars map[string]string
	// files go into the swanctl directory besides the CA (client
	// certificates and keys).
	files strongswan.Files
}

// eapPersona is a persona logging in with EAP as user.
func eapPersona(profile string, ns *testnet.NS, server, user, password string) persona {
	return persona{profile: profile, ns: ns, server: server, vars: map[string]string{"EAP_USER": user, "EAP_PASS": password}}
}

// startPersona starts the persona's charon with the CA from the
// how-to; it does not connect yet.
func startPersona(t *testing.T, c persona, resp *responderProcess) *strongswan.Charon {
	t.Helper()
	p, files := renderPersona(t, c, resp)
	return strongswan.Start(t, c.ns, p, "", files)
}

// renderPersona renders the persona's profile against the responder and
// collects its files: the CA from the how-to and the persona's own.
func renderPersona(t *testing.T, c persona, resp *responderProcess) (*strongswan.Profile, strongswan.Files) {
	t.Helper()
	files := strongswan.Files{}
	if f := strings.Fields(howTo(resp.Stdout.String(), "CA certificate")); len(f) > 0 {
		ca, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatalf("CA file from the how-to: %v", err)
		}
		files["x509ca/ca.pem"] = ca
	}
	vars := map[string]string{"SERVER": c.server, "SERVER_ID": "vpn.example.com"}
	for k, v := range c.vars {
		vars[k] = v
	}
	p, err := strongswan.Render("client", c.profile, vars)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.files {
		files[k] = v
	}
	return p, files
}

// checkPersona checks a connected persona's SAs, virtual IPs and DNS and
// pings the server's inside addresses through the tunnel.
func checkPersona(t *testing.T, c persona, cli *strongswan.Charon) []netip.Addr {
	t.Helper()
	st := strongswan.ParseSAs(cli.ListSAs(), c.profile)
	if !st.IKEUp || !st.ChildUp {
		t.Errorf("%s: SAs not up: %+v\n%s", c.profile, st, cli.ListSAs())
		return nil
	}
	gw4, gw6 := testnet.Pool4.Addr().Next(), testnet.Pool6.Addr().Next()
	var vips []netip.Addr
	for _, v6 := range []bool{false, true} {
		vip, ok := st.VIP(v6)
		if !ok {
			t.Errorf("%s: no virtual IP (IPv6 %v)", c.profile, v6)
			continue
		}
		vips = append(vips, vip)
		pool, dst := testnet.Pool4, gw4
		if v6 {
			pool, dst = testnet.Pool6, gw6
		}
		if !pool.Contains(vip) || vip == dst {
			t.Errorf("%s: virtual IP %v not a client address of %v", c.profile, vip, pool)
		}
		if out, err := c.ns.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), dst.String()); err != nil {
			t.Errorf("%s: ping %v from %v through the tunnel: %v\n%s", c.profile, dst, vip, err, out)
		}
	}
	if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
		t.Errorf("%s: DNS server not delivered: %q", c.profile, r)
	}
	t.Logf("%s: IKE %s, ESP %s, virtual IPs %v, pings to %v and %v ok", c.profile, st.IKEAlg, st.ESPAlg, st.VIPs, gw4, gw6)
	return vips
}

// connectPersona starts the persona, connects it and checks it.
func connectPersona(t *testing.T, c persona, resp *responderProcess) (*strongswan.Charon, []netip.Addr) {
	t.Helper()
	cli := startPersona(t, c, resp)
	if out, err := cli.Initiate(c.profile, 30*time.Second); err != nil {
		t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", c.profile, err, out, cli.Log(), resp.Stderr.String())
	}
	return cli, checkPersona(t, c, cli)
}

// connectAll initiates every persona at the same moment, one goroutine
// each, and checks them once all are connected.
func connectAll(t *testing.T, resp *responderProcess, ps ...persona) ([]*strongswan.Charon, [][]netip.Addr) {
	t.Helper()
	clis := make([]*strongswan.Charon, len(ps))
	for i, p := range ps {
		clis[i] = startPersona(t, p, resp)
	}
	type result struct {
		out string
		err error
	}
	res := make([]result, len(ps))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range ps {
		wg.Go(func() {
			<-start
			out, err := clis[i].Initiate(p.profile, 30*time.Second)
			res[i] = result{out, err}
		})
	}
	close(start)
	wg.Wait()
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", ps[i].profile, r.err, r.out, clis[i].Log(), resp.Stderr.String())
		}
	}
	vips := make([][]netip.Addr, len(ps))
	for i, p := range ps {
		vips[i] = checkPersona(t, p, clis[i])
	}
	return clis, vips
}

// scrapeMetrics fetches /metrics from addr inside ns (the socket is
// opened in the namespace) and parses the text exposition format:
// sample lines "name{labels} value", each after its family's TYPE line.
func scrapeMetrics(t *testing.T, ns *testnet.NS, addr string) map[string]float64 {
	t.Helper()
	var body []byte
	err := ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		if err := req.Write(c); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
			return fmt.Errorf("status %s, content type %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		body, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return parseMetrics(t, string(body))
}

var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)

// parseMetrics checks the text format and returns the samples keyed by
// name and labels as written.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	typed := map[string]bool{}
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			if typ != "gauge" && typ != "counter" {
				t.Errorf("metric %s: type %q", name, typ)
			}
			typed[name] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := metricLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a sample line: %q", line)
			continue
		}
		if !typed[m[1]] {
			t.Errorf("sample %q before its TYPE line", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("sample %q: %v", line, err)
		}
		key := m[1] + m[2]
		if _, dup := out[key]; dup {
			t.Errorf("sample %q twice", key)
		}
		out[key] = v
	}
	return out
}

// macPersona is the macOS persona with the client certificate from an
// exported Apple profile: it exports `apple --auth cert` for user,
// takes the PKCS#12 payload out of the .mobileconfig and decodes it
// with the printed password, as the Mac would on install.
func macPersona(t *testing.T, ns *testnet.NS, server, state, user string) persona {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mac.mobileconfig")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"export", "apple", "--auth", "cert", "--user", user, "-state", state, "-name", "vpn.example.com", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export apple --auth cert: %d %s", code, stderr.String())
	}
	pw := howTo(stdout.String(), "PKCS#12 password")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parsePlist(data)
	if err != nil {
		t.Fatal(err)
	}
	var pfx []byte
	var localID any
	for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
		m := p.(map[string]any)
		switch m["PayloadType"] {
		case "com.apple.security.pkcs12":
			pfx, _ = m["PayloadContent"].([]byte)
		case "com.apple.vpn.managed":
			localID = m["IKEv2"].(map[string]any)["LocalIdentifier"]
		}
	}
	key, cert, err := pkcs12.Decode(pfx, pw)
	if err != nil {
		t.Fatalf("the profile's PKCS#12 with the printed password %q: %v", pw, err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return persona{
		profile: "macos-ikev2-cert", ns: ns, server: server,
		vars: map[string]string{"CLIENT_ID": fmt.Sprint(localID)},
		files: strongswan.Files{
			"x509/client.pem":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
			"private/client.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}),
		},
	}
}

// TestEndToEndNativePersonas starts the responder as the README does, on
// its built-in configuration with the test network's addresses given by
// flag, and has strongSwan impersonate the iOS, macOS (certificate from
// the exported Apple profile), Windows and Android built-in clients,
// each from its own namespace. They connect at the same moment (iOS,
// Windows and Android as the demo user with the printed password), get
// distinct virtual IPs and the DNS server, and ping the server's inside
// addresses; `status` lists all four and the metrics endpoint counts
// them. SIGTERM deletes their SAs. A second start reuses the state: the
// same user, the password no longer printed, a wrong password counted
// as an authentication failure, and Windows, Android and a Linux client
// configured by `export linux` get in from behind a NAT.
func TestEndToEndNativePersonas(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	state := t.TempDir()
	args := func(listen ...netip.Addr) []string {
		return []string{
			"-state", state, "-name", "vpn.example.com",
			"-listen", strings.Join(addrStrings(listen), ","),
			"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
			"-dns", testnet.DNS4.String() + "," + testnet.DNS6.String(),
			"-metrics", "127.0.0.1:9100",
		}
	}
	var password string
	t.Run("first-start-ios-macos-windows-android-at-once", func(t *testing.T) {
		topo := testnet.New(t, testnet.NoNAT)
		// One uplink per further persona: each charon owns UDP 500 in
		// its namespace.
		type uplink struct {
			ns             *testnet.NS
			server, client string
		}
		var ups []uplink
		for i, tag := range []string{"win", "mac", "and"} {
			ns := testnet.NewNS(t, tag)
			dev := fmt.Sprintf("eth%d", i+1)
			testnet.Link(t, ns, "eth0", topo.Server, dev)
			base := 64 * i
			srv, cli := fmt.Sprintf("203.0.113.%d", base+1), fmt.Sprintf("203.0.113.%d", base+2)
			topo.Server.AddAddr(dev, srv+"/26")
			ns.AddAddr("eth0", cli+"/26")
			ups = append(ups, uplink{ns, srv, cli})
		}
		listen := []netip.Addr{testnet.ServerAddr4, testnet.ServerAddr6}
		for _, u := range ups {
			listen = append(listen, netip.MustParseAddr(u.server))
		}
		resp := startResponder(t, topo.Server, args(listen...)...)
		out := resp.Stdout.String()
		if got := howTo(out, "user"); got != demoUserName {
			t.Fatalf("printed user %q, want %q:\n%s", got, demoUserName, out)
		}
		if got := howTo(out, "server address"); got != "vpn.example.com" {
			t.Errorf("printed server address %q", got)
		}
		if !strings.Contains(howTo(out, "certificates"), "--auth cert") {
			t.Errorf("the how-to does not say how to get a client certificate:\n%s", out)
		}
		profile := filepath.Join(state, "profiles", demoUserName+".mobileconfig")
		for _, ext := range []string{".ps1", ".sswan"} {
			if _, err := os.Stat(filepath.Join(state, "profiles", demoUserName+ext)); err != nil {
				t.Errorf("profile: %v", err)
			}
		}
		if !strings.Contains(howTo(out, "client profiles"), filepath.Join(state, "profiles")) {
			t.Errorf("the how-to does not say where the profiles are:\n%s", out)
		}
		if data, err := os.ReadFile(profile); err != nil {
			t.Errorf("Apple profile: %v", err)
		} else if v, err := parsePlist(data); err != nil {
			t.Errorf("Apple profile: %v", err)
		} else if vpn := v.(map[string]any)["PayloadContent"].([]any)[1].(map[string]any); vpn["IKEv2"].(map[string]any)["RemoteAddress"] != "vpn.example.com" {
			t.Errorf("Apple profile names %v", vpn["IKEv2"])
		}
		password = howTo(out, "password")
		if len(password) < 16 {
			t.Fatalf("printed password %q", password)
		}
		const macUser = "alice@example.com"
		personas := []persona{
			eapPersona("ios-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), demoUserName, password),
			macPersona(t, ups[1].ns, ups[1].server, state, macUser),
			eapPersona("windows-ikev2-eap", ups[0].ns, ups[0].server, demoUserName, password),
			eapPersona("android-ikev2-eap", ups[2].ns, ups[2].server, demoUserName, password),
		}
		began := time.Now()
		clis, vips := connectAll(t, resp, personas...)
		t.Logf("four clients connected and checked in %v", time.Since(began).Round(time.Millisecond))
		seen := map[netip.Addr]string{}
		for i, vs := range vips {
			for _, a := range vs {
				if other, dup := seen[a]; dup {
					t.Errorf("%s and %s both got %v", other, personas[i].profile, a)
				}
				seen[a] = personas[i].profile
			}
		}
		// All still up: each pings again now that all four are in.
		for i, p := range personas {
			if len(vips[i]) == 0 {
				continue
			}
			if out, err := p.ns.Try("ping", "-c", "1", "-W", "2", "-I", vips[i][0].String(), testnet.Pool4.Addr().Next().String()); err != nil {
				t.Errorf("%s ping with all four connected: %v\n%s", p.profile, err, out)
			}
		}
		if !waitFor(5*time.Second, func() bool { return strings.Count(resp.Stderr.String(), "client connected") >= 4 }) {
			t.Error("the responder's log does not show four connections")
		}
		// `responder status` lists all four, with their virtual IPs.
		var status, serr bytes.Buffer
		if code := run(context.Background(), []string{"status", "-state", state}, &status, &serr); code != 0 {
			t.Errorf("status: %d %s", code, serr.String())
		}
		st := status.String()
		if strings.Contains(st, " 0 packets") {
			t.Errorf("status shows a CHILD SA without traffic after the pings:\n%s", st)
		}
		if strings.Count(st, "ESTABLISHED") != 4 || strings.Count(st, "EAP: ["+demoUserName+"]") != 3 || strings.Count(st, "INSTALLED") != 4 ||
			!strings.Contains(st, "["+macUser+"]") {
			t.Errorf("status does not list four established clients (three EAP, one certificate):\n%s", st)
		}
		for a := range seen {
			if !strings.Contains(st, a.String()) {
				t.Errorf("status lacks virtual IP %v:\n%s", a, st)
			}
		}
		t.Logf("responder status:\n%s", st)
		// The metrics agree.
		m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100")
		for k, want := range map[string]float64{
			`goipsec_ike_sas{state="ESTABLISHED"}`:                                 4,
			`goipsec_child_sas{state="INSTALLED"}`:                                 4,
			`goipsec_ike_sas_half_open`:                                            0,
			`goipsec_auth_failures_total`:                                          0,
			`goipsec_pool_addresses_leased{pool="` + testnet.Pool4.String() + `"}`: 4,
			`goipsec_pool_addresses_leased{pool="` + testnet.Pool6.String() + `"}`: 4,
			`goipsec_pool_addresses{pool="` + testnet.Pool4.String() + `"}`:        61, // /26 without network, broadcast, server
			// A handful of pings loses nothing in our path.
			`goipsec_dataplane_drops_total{direction="in",reason="socket"}`: 0,
			`goipsec_dataplane_drops_total{direction="in",reason="auth"}`:   0,
			`goipsec_dataplane_drops_total{direction="out",reason="tun"}`:   0,
			`goipsec_transport_recv_drops_total`:                            0,
		} {
			if got, ok := m[k]; !ok || got != want {
				t.Errorf("metric %s = %v (present %v), want %v", k, got, ok, want)
			}
		}
		for _, k := range []string{`goipsec_esp_packets{direction="in"}`, `goipsec_esp_packets{direction="out"}`, `goipsec_esp_bytes{direction="in"}`, `goipsec_esp_bytes{direction="out"}`} {
			if m[k] < 4*6 { // each client pinged twice three times and once more
				t.Errorf("metric %s = %v after the pings", k, m[k])
			}
		}
		if !strings.Contains(resp.Stderr.String(), "MODP-1024") {
			t.Error("no warning that MODP-1024 is accepted")
		}
		if strings.Contains(resp.Stderr.String(), password) {
			t.Error("the password appears in the log")
		}
		resp.stop(t)
		// Graceful shutdown told every client.
		for i, p := range personas {
			if !waitFor(10*time.Second, func() bool { return !strongswan.ParseSAs(clis[i].ListSAs(), p.profile).IKEUp }) {
				t.Errorf("%s still has its IKE SA after the responder stopped:\n%s", p.profile, clis[i].ListSAs())
			}
		}
	})
	if password == "" {
		t.FailNow()
	}
	t.Run("second-start-windows-android-behind-nat", func(t *testing.T) {
		topo := testnet.New(t, testnet.NATRandomPort)
		// An "Internet" host behind the server's third interface, which
		// knows no route to the pools: only masquerading gets replies
		// back to the clients.
		inet := testnet.NewNS(t, "inet")
		testnet.Link(t, inet, "eth0", topo.Server, "eth2")
		topo.Server.AddAddr("eth2", "198.51.100.193/27")
		inet.AddAddr("eth0", "198.51.100.194/27")
		fwdBefore := topo.Server.Run("cat", sysctlForward4)
		// No -listen this time, as the README starts it: every address,
		// and a server certificate reissued for this namespace's
		// addresses under the CA from the first start.
		t.Cleanup(func() {
			// Registered before the responder starts, so it runs after
			// the responder's stop (cleanups run last first): the table
			// is gone and forwarding is as it was.
			if out, err := topo.Server.Try("nft", "list", "table", "inet", nftTable); err == nil {
				t.Errorf("nftables table left behind:\n%s", out)
			}
			if got := topo.Server.Run("cat", sysctlForward4); got != fwdBefore {
				t.Errorf("ip_forward %q after stop, %q before", got, fwdBefore)
			}
		})
		resp := startResponder(t, topo.Server, append(slices.DeleteFunc(args(), func(a string) bool { return a == "-listen" || a == "" }), "-masquerade", "eth2")...)
		if !strings.Contains(howTo(resp.Stdout.String(), "also reachable"), testnet.ServerAddr4.String()) {
			t.Errorf("the how-to does not list the server's address:\n%s", resp.Stdout.String())
		}
		out := resp.Stdout.String()
		if strings.Contains(out, password) {
			t.Error("the password is printed again on a later start")
		}
		if !strings.Contains(howTo(out, "password"), filepath.Join(state, demoUserFile)) {
			t.Errorf("the how-to does not point to the password file:\n%s", out)
		}
		var u UserConfig
		data, err := os.ReadFile(filepath.Join(state, demoUserFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &u); err != nil || u.Password != password || u.Name != demoUserName {
			t.Fatalf("demo user changed between starts (%v)", err)
		}
		win, winVIPs := connectPersona(t, eapPersona("windows-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), u.Name, u.Password), resp)
		if len(winVIPs) > 0 {
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", winVIPs[0].String(), "198.51.100.194"); err != nil {
				t.Errorf("ping to the Internet host through the tunnel and the masquerade: %v\n%s\n%s", err, out, topo.Server.Run("nft", "list", "ruleset"))
			}
		}
		// The Android strongSwan app next, from the same namespace (one
		// charon per namespace owns UDP 500).
		win.Stop()
		// A wrong password first: refused, and counted.
		bad := eapPersona("android-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), u.Name, u.Password+"x")
		badCli := startPersona(t, bad, resp)
		if out, err := badCli.Initiate(bad.profile, 20*time.Second); err == nil {
			t.Errorf("a wrong password connected:\n%s", out)
		}
		badCli.Stop()
		if m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100"); m["goipsec_auth_failures_total"] != 1 || m[`goipsec_alerts_total{kind="auth-failed"}`] != 1 {
			t.Errorf("after one wrong password: auth failures %v, alerts %v", m["goipsec_auth_failures_total"], m[`goipsec_alerts_total{kind="auth-failed"}`])
		}
		android, _ := connectPersona(t, eapPersona("android-ikev2-eap", topo.Client, testnet.ServerAddr4.String(), u.Name, u.Password), resp)
		android.Stop()

		// A Linux strongSwan client set up only from `export linux`, with
		// EAP and then with a client certificate.
		for _, auth := range []struct{ name, user string }{{"eap", u.Name}, {"cert", "linux-laptop.example.com"}} {
			dir := filepath.Join(t.TempDir(), "swanctl")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"export", "linux", "--auth", auth.name, "--user", auth.user, "-state", state, "-name", "vpn.example.com", "-include-password", "-o", dir}, &stdout, &stderr); code != 0 {
				t.Fatalf("export linux --auth %s: %d %s", auth.name, code, stderr.String())
			}
			cli := startExportedLinux(t, topo.Client, dir, testnet.ServerAddr4.String())
			if out, err := cli.Initiate(linuxConnName, 30*time.Second); err != nil {
				t.Fatalf("Linux client (%s) from the exported configuration: %v\n%s\n%s", auth.name, err, out, cli.Log())
			}
			checkPersona(t, persona{profile: linuxConnName, ns: topo.Client}, cli)
			cli.Stop()
		}

		// Windows with the machine certificate of `export windows --auth
		// cert`: subject DN as IDi, its certificate only when asked.
		// With the script's cipher suite, and with Windows' default
		// proposals (a connection made by hand in the Settings app).
		const winHost = "win-laptop.example.com"
		for _, scriptSuite := range []bool{true, false} {
			win = startWindowsCertPersona(t, topo.Client, resp, state, winHost, scriptSuite)
			if out, err := win.Initiate(windowsCertProfile, 30*time.Second); err != nil {
				t.Fatalf("Windows machine-certificate persona (script's suite %v): %v\n%s\nclient log:\n%s\nresponder log:\n%s", scriptSuite, err, out, win.Log(), resp.Stderr.String())
			}
			checkPersona(t, persona{profile: windowsCertProfile, ns: topo.Client}, win)
			var status, serr bytes.Buffer
			if code := run(context.Background(), []string{"status", "-state", state}, &status, &serr); code != 0 {
				t.Errorf("status: %d %s", code, serr.String())
			}
			if !strings.Contains(status.String(), "[CN="+winHost+",O=goipsec responder]") {
				t.Errorf("status does not show the Windows client by its subject DN:\n%s", status.String())
			}
			win.Stop()
		}
	})
}

// windowsCertProfile is the connection name of the Windows
// machine-certificate persona.
const windowsCertProfile = "windows-ikev2-cert"

// startWindowsCertPersona exports `windows --auth cert` for host, takes
// the PKCS#12 the script embeds and decodes it with the printed
// password, as the script's Import-PfxCertificate does, and starts a
// strongSwan persona configured like Windows after that script: the
// windows-ikev2-eap persona (no IDr, send_certreq, Windows' proposals,
// or with scriptSuite the script's Set-VpnConnectionIPsecConfiguration
// suite), with machine-certificate authentication: IDi = the certificate's subject
// DN exactly as encoded in the certificate (ID_DER_ASN1_DN), and
// send_cert = ifasked, so the certificate goes out only because the
// responder's CERTREQ names its CA. It does not connect yet.
func startWindowsCertPersona(t *testing.T, ns *testnet.NS, resp *responderProcess, state, host string, scriptSuite bool) *strongswan.Charon {
	t.Helper()
	out := filepath.Join(t.TempDir(), "win.ps1")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"export", "windows", "--auth", "cert", "--user", host, "-state", state, "-name", "vpn.example.com", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export windows --auth cert: %d %s", code, stderr.String())
	}
	script, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\[Convert\]::FromBase64String\(@'\n(.*?)\n'@\)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("no PKCS#12 in the exported script")
	}
	pfx, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(m[1]), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := pkcs12.Decode(pfx, howTo(stdout.String(), "PKCS#12 password"))
	if err != nil {
		t.Fatalf("the script's PKCS#12 with the printed password: %v", err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	eap, err := strongswan.Render("client", "windows-ikev2-eap", map[string]string{"SERVER": testnet.ServerAddr4.String(), "EAP_PASS": "unused"})
	if err != nil {
		t.Fatal(err)
	}
	conf := eap.Conf
	type edit struct{ re, with string }
	edits := []edit{
		{`windows-ikev2-eap`, windowsCertProfile},
		{`send_cert = never`, "send_cert = ifasked"},
		{`(?s)local \{.*?\n    \}`, "local {\n      auth = pubkey\n      certs = client.pem\n      id = \"asn1dn:#" + hex.EncodeToString(cert.RawSubject) + "\"\n    }"},
		{`(?s)\nsecrets \{.*$`, "\n"},
	}
	if scriptSuite {
		edits = append(edits,
			edit{`(?m)^(\s*)proposals = .*$`, "${1}proposals = " + winIKEProposalKeywords},
			edit{`(?m)^(\s*)esp_proposals = .*$`, "${1}esp_proposals = " + winESPProposalKeywords})
	}
	for _, r := range edits {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(conf) {
			t.Fatalf("the windows-ikev2-eap persona has no %q any more:\n%s", r.re, conf)
		}
		conf = re.ReplaceAllString(conf, r.with)
	}
	files := strongswan.Files{
		"x509/client.pem":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		"private/client.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}),
	}
	f := strings.Fields(howTo(resp.Stdout.String(), "CA certificate"))
	if len(f) == 0 {
		t.Fatalf("no CA certificate in the how-to:\n%s", resp.Stdout.String())
	}
	if files["x509ca/ca.pem"], err = os.ReadFile(f[0]); err != nil {
		t.Fatal(err)
	}
	return strongswan.Start(t, ns, &strongswan.Profile{Name: windowsCertProfile, Charon: eap.Charon, Conf: conf}, "", files)
}

// TestEndToEndConfigFile starts the responder from a configuration file
// with the server certificate as PKCS#12, the demo CA as client_cas and
// a PSK peer: a Linux PSK client and the macOS certificate persona
// connect at the same time; the PSK appears nowhere in the output.
func TestEndToEndConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	// The demo PKI, made by init, provides the server certificate (as
	// PKCS#12) and the CA for client certificates.
	state, dir := initState(t), t.TempDir()
	leaf, key, err := loadPair(filepath.Join(state, serverCertFile), filepath.Join(state, serverKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	const p12Pass = "p12-Pa55word"
	pfx, err := encodePKCS12(leaf, key, p12Pass)
	if err != nil {
		t.Fatal(err)
	}
	const psk = "0123456789abcdef-psk-for-the-linux-peer"
	for name, data := range map[string][]byte{"server.p12": pfx, "peer.psk": []byte(psk + "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`server:
  name: vpn.example.com
  pkcs12: server.p12
  pkcs12_password: %q
client_cas: [%s]
psk_peers:
  - id: linux@example.com
    psk_file: peer.psk
pools: [%s, %s]
dns: [%s]
metrics: 127.0.0.1:9100
`, p12Pass, filepath.Join(state, caCertFile), testnet.Pool4, testnet.Pool6, testnet.DNS4)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	topo := testnet.New(t, testnet.NoNAT)
	mac := testnet.NewNS(t, "mac")
	testnet.Link(t, mac, "eth0", topo.Server, "eth1")
	topo.Server.AddAddr("eth1", "203.0.113.1/24")
	mac.AddAddr("eth0", "203.0.113.2/24")
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state)
	if !strings.Contains(howTo(resp.Stdout.String(), "certificates"), "client_cas") {
		t.Errorf("the how-to does not mention the client CAs:\n%s", resp.Stdout.String())
	}
	ca, err := os.ReadFile(filepath.Join(state, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	macP := macPersona(t, mac, "203.0.113.1", state, "bob@example.com")
	macP.files["x509ca/ca.pem"] = ca
	linux := persona{profile: "linux-ikev2-psk", ns: topo.Client, server: testnet.ServerAddr4.String(),
		vars: map[string]string{"CLIENT_ID": "linux@example.com", "PSK": psk}}
	clis, _ := connectAll(t, resp, linux, macP)
	var status, serr bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &status, &serr); code != 0 {
		t.Errorf("status: %d %s", code, serr.String())
	}
	if st := status.String(); strings.Count(st, "ESTABLISHED") != 2 || !strings.Contains(st, "[linux@example.com]") || !strings.Contains(st, "[bob@example.com]") {
		t.Errorf("status does not list the PSK and the certificate client:\n%s", st)
	}
	if m := scrapeMetrics(t, topo.Server, "127.0.0.1:9100"); m[`goipsec_ike_sas{state="ESTABLISHED"}`] != 2 {
		t.Errorf("metrics: %v established IKE SAs, want 2", m[`goipsec_ike_sas{state="ESTABLISHED"}`])
	}
	// The same PSK peer again, now configured only by `export linux
	// --auth psk` from the same configuration file.
	clis[0].Stop()
	exported := filepath.Join(t.TempDir(), "swanctl")
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"export", "linux", "--auth", "psk", "--user", "linux@example.com", "-config", confPath, "-state", state, "-include-password", "-o", exported}, &stdout, &serr); code != 0 {
		t.Fatalf("export linux --auth psk: %d %s", code, serr.String())
	}
	if strings.Contains(stdout.String(), psk) {
		t.Error("export printed the PSK")
	}
	cli := startExportedLinux(t, topo.Client, exported, testnet.ServerAddr4.String())
	if out, err := cli.Initiate(linuxConnName, 30*time.Second); err != nil {
		t.Fatalf("Linux PSK client from the exported configuration: %v\n%s\n%s", err, out, cli.Log())
	}
	checkPersona(t, persona{profile: linuxConnName, ns: topo.Client}, cli)
	resp.stop(t)
	if strings.Contains(resp.Stderr.String()+resp.Stdout.String(), psk) || strings.Contains(resp.Stderr.String(), p12Pass) {
		t.Error("a secret appears in the responder's output")
	}
}

// readExportedLinux reads a directory written by `export linux`: the
// configuration conf.d/goipsec.conf, and every other file as it goes into
// the swanctl directory.
func readExportedLinux(t *testing.T, dir string) (conf string, files strongswan.Files) {
	t.Helper()
	files = strongswan.Files{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == filepath.Join("conf.d", linuxConnName+".conf") {
			conf = string(data)
		} else {
			files[rel] = data
		}
		return nil
	})
	if err != nil || conf == "" {
		t.Fatalf("exported directory %s: %v (configuration found: %v)", dir, err, conf != "")
	}
	return conf, files
}

// startExportedLinux starts charon with an exported swanctl directory:
// conf.d/goipsec.conf is the configuration, the rest goes into the
// swanctl directory as exported. The server address is replaced, since
// the export names the server by its DNS name, which the test network
// cannot resolve.
func startExportedLinux(t *testing.T, ns *testnet.NS, dir, server string) *strongswan.Charon {
	t.Helper()
	conf, files := readExportedLinux(t, dir)
	conf = strings.Replace(conf, `remote_addrs = "vpn.example.com"`, `remote_addrs = "`+server+`"`, 1)
	return strongswan.Start(t, ns, &strongswan.Profile{Name: linuxConnName, Conf: conf}, "", files)
}
func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

// TestKernelDataPlaneStart starts the program with -dataplane kernel in
// a namespace. On a kernel without ESP (this project's CI machine: XFRM
// answers, but installing a state fails) the start must fail with one
// line naming the field and the reason, and leave nothing behind: no
// state directory, no device. On a kernel with ESP it must start, put
// the inside addresses on its dummy device and remove it at stop.
func TestKernelDataPlaneStart(t *testing.T) {
	testnet.Require(t, "ip")
	topo := testnet.New(t, testnet.NoNAT)
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"-dataplane", "kernel", "-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String(), "-pool", testnet.Pool4.String() + "," + testnet.Pool6.String()}
	cmd := topo.Server.Command(context.Background(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	var stdout, stderr testnet.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		got := stderr.String()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit %v, want status 1; stderr %q", err, got)
		}
		if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "responder: config: dataplane: kernel: ") {
			t.Errorf("stderr %q: want one line naming dataplane: kernel and the reason", got)
		}
		t.Logf("kernel without ESP support: %s", strings.TrimSpace(got))
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Errorf("state directory created by a failed start: %v", err)
		}
		if out, err := topo.Server.Try("ip", "link", "show", "goipsec0"); err == nil {
			t.Errorf("device left behind by a failed start:\n%s", out)
		}
		if out := topo.Server.Run("ip", "xfrm", "state"); strings.TrimSpace(out) != "" {
			t.Errorf("XFRM states left behind:\n%s", out)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("neither failed nor started within 60 s:\n%s", stderr.String())
	case <-waitChan(func() bool { return strings.Contains(stdout.String(), "listening on:") }, 60*time.Second):
		t.Logf("this kernel has ESP: the kernel data plane started")
		if out, err := topo.Server.Try("ip", "addr", "show", "goipsec0"); err != nil || !strings.Contains(out, testnet.Pool4.Addr().Next().String()) {
			t.Errorf("dummy device without the inside address: %v\n%s", err, out)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-done; err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
		if out, err := topo.Server.Try("ip", "link", "show", "goipsec0"); err == nil {
			t.Errorf("dummy device left after stop:\n%s", out)
		}
	}
}

// waitChan closes the returned channel once f reports true (polled),
// and never if d passes first.
func waitChan(f func() bool, d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		if waitFor(d, f) {
			close(c)
		}
	}()
	return c
}
