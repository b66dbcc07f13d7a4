package main

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestConfigL2TPErrors: every bad l2tp: value stops the start with one
// line naming the key.
func TestConfigL2TPErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"l2tp:\n  auth: [mschapv2, eap]\n", "l2tp.auth[1]"},
		{"l2tp:\n  auth: [chap, chap]\n", "l2tp.auth[1]"},
		{"l2tp:\n  mtu: 9000\n", "l2tp.mtu"},
		{"l2tp:\n  hello_interval: 1s\n", "l2tp.hello_interval"},
		{"l2tp:\n  max_sessions: -1\n", "l2tp.max_sessions"},
		{"l2tp:\n  device: goipsec0\n", "l2tp.device"},
		{"l2tp:\n  device: \"a b\"\n", "l2tp.device"},
		{"l2tp:\n  tunnel_secret: x\n  tunnel_secret_file: y\n", "l2tp.tunnel_secret_file"},
		{"ikev1:\n  enabled: false\n", "l2tp.enabled"},
		{"pools: [\"2001:db8:100:1::/120\"]\n", "l2tp.enabled"},
	} {
		c, err := parseConfig(defaultConfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeInto(c, []byte(tc.yaml)); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		_, err = c.validate([]netip.Prefix{uplink})
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.field)
		}
	}
	// Off: IKEv1 may be off too, and the transport SA is not offered.
	c, _ := parseConfig(defaultConfig)
	if err := decodeInto(c, []byte("l2tp:\n  enabled: false\nikev1:\n  enabled: false\n")); err != nil {
		t.Fatal(err)
	}
	s, err := c.validate([]netip.Prefix{uplink})
	if err != nil || s.l2tp.enabled {
		t.Fatalf("l2tp off: %+v %v", s.l2tp, err)
	}
	// A tunnel secret from a file; pap allowed when listed.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("tunnel-secret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ = parseConfig(defaultConfig)
	if err := decodeInto(c, []byte("l2tp:\n  auth: [pap]\n  tunnel_secret_file: "+filepath.Join(dir, "secret")+"\n  device: ppp-clients\n")); err != nil {
		t.Fatal(err)
	}
	if s, err = c.validate([]netip.Prefix{uplink}); err != nil {
		t.Fatal(err)
	}
	if string(s.l2tp.secret) != "tunnel-secret" || len(s.l2tp.auth) != 1 || s.l2tp.auth[0].String() != "PAP" || s.l2tp.device != "ppp-clients" || !s.v1.l2tp {
		t.Errorf("l2tp settings %+v", s.l2tp)
	}
}

// TestExportL2TP: export apple|windows --type l2tp writes the built-in
// L2TP/IPsec client's profile with the key every address gets (the demo
// key here) and the user's name; the password only on request.
func TestExportL2TP(t *testing.T) {
	state := t.TempDir()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(state, "r.yaml")}, io.Discard, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	demo, _, err := ensureDemoUser(state)
	if err != nil {
		t.Fatal(err)
	}
	psk, _, err := ensureDemoV1PSK(state)
	if err != nil {
		t.Fatal(err)
	}
	export := func(kind string, args ...string) (string, []byte) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"export", kind, "--type", "l2tp", "-state", state, "-name", "vpn.example.com"}, args...)
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr.String())
		}
		path := filepath.Join(state, "profiles", "demo-l2tp"+profileKinds[kind])
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: %v (stdout %q)", args, err, stdout.String())
		}
		return stdout.String(), data
	}

	_, data := export("apple")
	v, err := parsePlist(data)
	if err != nil {
		t.Fatalf("not a property list: %v", err)
	}
	var vpn map[string]any
	for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
		if m := p.(map[string]any); m["PayloadType"] == "com.apple.vpn.managed" {
			vpn = m
		}
	}
	if vpn["VPNType"] != "L2TP" {
		t.Fatalf("VPNType %v", vpn["VPNType"])
	}
	pppd, _ := vpn["PPP"].(map[string]any)
	if pppd["AuthName"] != "demo" || pppd["CommRemoteAddress"] != "vpn.example.com" || pppd["AuthPassword"] != nil {
		t.Errorf("PPP %v", pppd)
	}
	ipsecd, _ := vpn["IPSec"].(map[string]any)
	if s, _ := ipsecd["SharedSecret"].([]byte); ipsecd["AuthenticationMethod"] != "SharedSecret" || string(s) != psk {
		t.Errorf("IPSec %v: want the demo key", ipsecd)
	}
	if bytes.Contains(data, []byte(demo.Password)) {
		t.Error("the password is in the profile without -include-password")
	}
	_, data = export("apple", "-include-password")
	if !bytes.Contains(data, []byte("<key>AuthPassword</key>")) || !bytes.Contains(data, []byte(demo.Password)) {
		t.Error("-include-password: no AuthPassword")
	}

	// A client certificate instead of the key: the CA and the PKCS#12.
	var cout, cerr bytes.Buffer
	certPath := filepath.Join(t.TempDir(), "cert.mobileconfig")
	if code := run(context.Background(), []string{"export", "apple", "--type", "l2tp", "--auth", "cert", "--user", "demo", "-state", state, "-name", "vpn.example.com", "-o", certPath}, &cout, &cerr); code != 0 {
		t.Fatalf("export --auth cert --type l2tp: %s", cerr.String())
	}
	cdata, _ := os.ReadFile(certPath)
	for _, want := range []string{"<string>Certificate</string>", "com.apple.security.pkcs12", "com.apple.security.root", "<string>L2TP</string>"} {
		if !bytes.Contains(cdata, []byte(want)) {
			t.Errorf("certificate L2TP profile lacks %s", want)
		}
	}
	if bytes.Contains(cdata, []byte("SharedSecret")) {
		t.Error("certificate L2TP profile carries a shared secret")
	}

	_, data = export("windows")
	ps := string(data)
	for _, want := range []string{"-TunnelType L2tp", "-L2tpPsk $psk", "-AuthenticationMethod MSChapv2", "-EncryptionLevel Required",
		"$psk = " + psQuote(psk), "AssumeUDPEncapsulationContextOnSendRule", "$server = 'vpn.example.com'"} {
		if !strings.Contains(ps, want) {
			t.Errorf("windows script lacks %q:\n%s", want, ps)
		}
	}
	if strings.Contains(ps, demo.Password) {
		t.Error("the user's password is in the Windows script")
	}

	// Not for the other kinds; not when L2TP is off.
	for _, args := range [][]string{
		{"export", "android", "--type", "l2tp", "-state", state},
		{"export", "linux", "--type", "l2tp", "-state", state},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), args, &o, &e); code != 2 || !strings.Contains(e.String(), "--type l2tp") {
			t.Errorf("%v: %d %q", args, code, e.String())
		}
	}
	off := filepath.Join(t.TempDir(), "off.yaml")
	if err := os.WriteFile(off, []byte("l2tp:\n  enabled: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"export", "windows", "--type", "l2tp", "-state", state, "-config", off}, &o, &e); code == 0 || !strings.Contains(e.String(), "l2tp.enabled") {
		t.Errorf("export with L2TP off: %d %q", code, e.String())
	}
}

// TestWindowsL2TPScriptBehindNAT: for a server behind a NAT the script
// sets the registry value Windows needs (error 809 otherwise); else it
// only shows it, commented out.
func TestWindowsL2TPScriptBehindNAT(t *testing.T) {
	set := "\nSet-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent' -Name AssumeUDPEncapsulationContextOnSendRule"
	nat := string(windowsL2TPScript("vpn.example.com", "demo", []byte("k"), nil, false, true))
	if !strings.Contains(nat, set) || !strings.Contains(nat, "Reboot") {
		t.Errorf("behind a NAT:\n%s", nat)
	}
	direct := string(windowsL2TPScript("vpn.example.com", "demo", []byte("k"), nil, false, false))
	if strings.Contains(direct, set) || !strings.Contains(direct, "# Set-ItemProperty") {
		t.Errorf("not behind a NAT:\n%s", direct)
	}
	// The user name is quoted for PowerShell.
	odd := string(windowsL2TPScript("vpn.example.com", "o'hara \"x\"", []byte("k"), nil, false, false))
	if !strings.Contains(odd, "'o''hara `\"x`\"'") {
		t.Errorf("user name quoting:\n%s", odd)
	}
}

// TestNftRulesetL2TP: on the kernel data plane only IPsec-protected L2TP
// datagrams reach the L2TP socket, and the PPP clients' device gets the
// MSS clamping; nftables accepts the ruleset.
func TestNftRulesetL2TP(t *testing.T) {
	testnet.Require(t, "nft")
	ns := testnet.NewNS(t, "nftl")
	for _, f := range []forwardRules{
		{uplink: "eth0", pools: testPools, l2tpOnlyIPsec: true, pppDevice: "goipsec0l"},
		{uplink: "eth0", device: "goipsec0", pools: testPools, pppDevice: "goipsec0l"},
	} {
		rules := appliedRuleset(t, ns, f)
		// nft lists "meta secpath" as "meta ipsec".
		if f.l2tpOnlyIPsec != strings.Contains(rules, `udp dport 1701 meta ipsec missing counter drop comment "L2TP only through IPsec"`) {
			t.Errorf("L2TP input rule (want %v):\n%s", f.l2tpOnlyIPsec, rules)
		}
		if f.l2tpOnlyIPsec && !strings.Contains(rules, "type filter hook input priority filter; policy accept;") {
			t.Errorf("no input chain:\n%s", rules)
		}
		if f.device != "" && !strings.Contains(rules, `iifname "goipsec0l" tcp flags syn tcp option maxseg size set rt mtu`) {
			t.Errorf("no MSS clamping on the L2TP device:\n%s", rules)
		}
	}
}

// TestStatusL2TP: an L2TP session is shown under the IKEv1 SA whose
// transport SA has its ReqID (two clients behind one NAT share the
// address), or, without a ReqID (kernel data plane), under the IKEv1 SA
// from its address; the peer's strings are escaped.
func TestStatusL2TP(t *testing.T) {
	nat := netip.MustParseAddrPort("192.0.2.2:4500")
	sa := func(id uint64, remote netip.AddrPort, reqID uint32) saStatus {
		return saStatus{IKESAInfo: ipsec.IKESAInfo{Version: 1, SessionID: id, State: "ESTABLISHED", Remote: remote,
			Children: []ipsec.ChildSAInfo{{Name: "l2tp", Transport: true, ReqID: reqID}}}}
	}
	sas := []saStatus{sa(1, nat, 0x10001), sa(2, netip.MustParseAddrPort("192.0.2.2:4501"), 0x10002), sa(3, netip.MustParseAddrPort("192.0.2.9:500"), 0x10003)}
	up := time.Now().Add(-time.Minute)
	sessions := []l2tpSessionStatus{
		{User: "bob", Addr: "198.51.100.67", Auth: "MS-CHAPv2", State: "Network", Tunnel: 2, Session: 3, HostName: "WIN\x1b[2J", Up: up, reqID: 0x10002, peerAddr: nat.Addr()},
		{User: "alice", Addr: "198.51.100.66", Auth: "MS-CHAPv2", State: "Network", Tunnel: 1, Session: 1, Up: up, reqID: 0x10001, peerAddr: nat.Addr()},
		{User: "carol", Auth: "", State: "Authenticate", Tunnel: 4, Session: 5, peerAddr: netip.MustParseAddr("192.0.2.9")},
		{User: "nobody", peerAddr: netip.MustParseAddr("203.0.113.1")},
	}
	attachL2TP(sas, sessions)
	if len(sas[0].L2TP) != 1 || sas[0].L2TP[0].User != "alice" || len(sas[1].L2TP) != 1 || sas[1].L2TP[0].User != "bob" ||
		len(sas[2].L2TP) != 1 || sas[2].L2TP[0].User != "carol" {
		t.Fatalf("attached: %+v / %+v / %+v", sas[0].L2TP, sas[1].L2TP, sas[2].L2TP)
	}
	var b bytes.Buffer
	printStatus(&b, sas, time.Now())
	out := b.String()
	for _, want := range []string{"L2TP: [alice] MS-CHAPv2, 198.51.100.66, Network, tunnel 1 session 1", "L2TP: [carol] , no address yet, Authenticate", `host [WIN\x1b[2J]`} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nobody") {
		t.Errorf("a session without an IKE SA is shown:\n%s", out)
	}
}
