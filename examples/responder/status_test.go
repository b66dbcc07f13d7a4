package main

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goipsec/ipsec"
)

func TestStatusSocket(t *testing.T) {
	state := t.TempDir()
	now := time.Now()
	info := ipsec.IKESAInfo{
		Version: 2, State: "ESTABLISHED", SPIi: 0x0102030405060708, SPIr: 0x1112131415161718,
		Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("198.51.100.7:61000"), NATRemote: true,
		LocalID: ipsec.FQDN("vpn.example.com"), RemoteID: ipsec.AddrID(netip.MustParseAddr("10.0.0.5")), EAPIdentity: "alice",
		Proposal: "aes256-sha256-prfsha256-modp2048", VirtualIPs: []netip.Addr{netip.MustParseAddr("198.51.100.66")},
		Established: now.Add(-90 * time.Second),
		Children: []ipsec.ChildSAInfo{{
			Name: "rw", State: "INSTALLED", UDPEncap: true, SPIIn: 0xc1c2c3c4, SPIOut: 0xd1d2d3d4, Proposal: "aes256-sha256",
			LocalTS: []string{"0.0.0.0/0"}, RemoteTS: []string{"198.51.100.66/32"}, BytesIn: 1234, PacketsIn: 5, BytesOut: 4321, PacketsOut: 6,
			Established: now.Add(-80 * time.Second),
		}},
	}
	stop, err := serveStatus(state, func() []ipsec.IKESAInfo { return []ipsec.IKESAInfo{info} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, controlSocket)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v %v", fi.Mode(), err)
	}
	// A second server on the same state directory is refused.
	if _, err := serveStatus(state, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "another responder") {
		t.Errorf("second server: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &out, &errb); code != 0 {
		t.Fatalf("status: %d %s", code, errb.String())
	}
	for _, want := range []string{
		"#1: ESTABLISHED, IKEv2, 0102030405060708_i 1112131415161718_r, up 1m30s",
		"local  192.0.2.1:4500 [vpn.example.com]",
		"remote 198.51.100.7:61000 [10.0.0.5] (behind NAT) EAP: [alice]",
		"virtual IPs 198.51.100.66",
		"rw: INSTALLED, TUNNEL-in-UDP, SPIs c1c2c3c4_i d1d2d3d4_o, aes256-sha256",
		"in  1234 bytes, 5 packets", "out 4321 bytes, 6 packets", "remote 198.51.100.66/32",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	stop()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"status", "-state", state}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "is the responder running") {
		t.Errorf("status without a server: %d %q", code, errb.String())
	}
	// A stale socket of a killed instance does not block a new start.
	stale, err := serveStatus(state, func() []ipsec.IKESAInfo { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stale()
	out.Reset()
	if code := run(context.Background(), []string{"status", "-state", state}, &out, &errb); code != 0 || !strings.Contains(out.String(), "no clients connected") {
		t.Errorf("empty status: %d %q", code, out.String())
	}
}

// hostileSA is an SA whose peer chose identities with terminal escapes
// (a DN in its certificate, its EAP identity), a bidi override and
// invalid UTF-8, beside ordinary non-ASCII text.
func hostileSA(t *testing.T) ipsec.IKESAInfo {
	t.Helper()
	dn, err := asn1.Marshal(pkix.Name{CommonName: "Jürgen \x1b]0;owned\x07 日本", Organization: []string{"evil\x1b[2J\x7f"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	return ipsec.IKESAInfo{
		Version: 2, State: "ESTABLISHED",
		Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("198.51.100.7:61000"),
		LocalID: ipsec.FQDN("vpn.example.com"), RemoteID: ipsec.Identity{Type: ipsec.IDDERASN1DN, Data: dn},
		EAPIdentity: "bob\r\n#2: ESTABLISHED\u009b31m\u202egnp.exe\xff\\",
		Children:    []ipsec.ChildSAInfo{{Name: "rw\x1b[1A", State: "INSTALLED"}},
	}
}

// checkVisible fails when out holds a control character other than a
// newline, DEL, a C1 control, a format character such as a bidi override,
// or invalid UTF-8.
func checkVisible(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if r == utf8.RuneError || r == 0x7f || (r < 0x20 && r != '\n') || (r >= 0x80 && !unicode.IsPrint(r)) {
			t.Errorf("raw %U at byte %d of:\n%s", r, i, out)
			return
		}
	}
}

func TestStatusEscapesPeerStrings(t *testing.T) {
	var out bytes.Buffer
	printStatus(&out, []saStatus{{IKESAInfo: hostileSA(t), LocalID: "vpn.example.com", RemoteID: hostileSA(t).RemoteID.String()}}, time.Now())
	checkVisible(t, out.String())
	for _, want := range []string{
		"Jürgen \\x1b]0\\;owned\\x07 日本", // ordinary UTF-8 stays readable
		"\\x7f", "bob\\r\\n#2: ESTABLISHED\\u009b31m\\u202egnp.exe\\xff\\]", "rw\\x1b[1A: INSTALLED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "\n#"); n != 0 {
		t.Errorf("a peer string started %d forged lines:\n%s", n, out.String())
	}
}

// TestStatusJSONEscapesPeerStrings: -json output is valid JSON that
// decodes to the peer's strings, with nothing a terminal interprets.
func TestStatusJSONEscapesPeerStrings(t *testing.T) {
	state := t.TempDir()
	info := hostileSA(t)
	stop, err := serveStatus(state, func() []ipsec.IKESAInfo { return []ipsec.IKESAInfo{info} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state, "-json"}, &out, &errb); code != 0 {
		t.Fatalf("status -json: %d %s", code, errb.String())
	}
	checkVisible(t, out.String())
	var got []saStatus
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("status -json is not JSON: %v\n%s", err, out.String())
	}
	// JSON replaces invalid UTF-8 with U+FFFD; everything else survives.
	wantEAP := strings.ToValidUTF8(info.EAPIdentity, "\uFFFD")
	if len(got) != 1 || got[0].EAPIdentity != wantEAP || got[0].RemoteID != info.RemoteID.String() || got[0].Children[0].Name != info.Children[0].Name {
		t.Errorf("decoded %+v", got)
	}
}
