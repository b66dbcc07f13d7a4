package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// parsePlist decodes an XML property list into Go values: map[string]any
// for dict, []any for array, string, int64, bool and []byte. It is
// independent of the writer, so the test checks the document, not the
// writer's own idea of it.
func parsePlist(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("root element %q", se.Name.Local)
			}
			v, end, err := plistValue(d)
			if err != nil || end {
				return nil, fmt.Errorf("plist body: %v", err)
			}
			return v, nil
		}
	}
}

// plistValue reads one value; end reports a closing tag instead.
func plistValue(d *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, true, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "dict":
				m := map[string]any{}
				for {
					var key string
					tok, err := d.Token()
					if err != nil {
						return nil, false, err
					}
					if _, ok := tok.(xml.EndElement); ok {
						return m, false, nil
					}
					se, ok := tok.(xml.StartElement)
					if !ok {
						continue // whitespace
					}
					if se.Name.Local != "key" {
						return nil, false, fmt.Errorf("dict holds <%s> where a key belongs", se.Name.Local)
					}
					if err := d.DecodeElement(&key, &se); err != nil {
						return nil, false, err
					}
					if _, dup := m[key]; dup {
						return nil, false, fmt.Errorf("key %q twice", key)
					}
					val, end, err := plistValue(d)
					if err != nil || end {
						return nil, false, fmt.Errorf("key %q without value: %v", key, err)
					}
					m[key] = val
				}
			case "array":
				var a []any
				for {
					val, end, err := plistValue(d)
					if err != nil {
						return nil, false, err
					}
					if end {
						return a, false, nil
					}
					a = append(a, val)
				}
			case "true", "false":
				if err := d.Skip(); err != nil {
					return nil, false, err
				}
				return t.Name.Local == "true", false, nil
			case "string", "integer", "data":
				var s string
				if err := d.DecodeElement(&s, &t); err != nil {
					return nil, false, err
				}
				switch t.Name.Local {
				case "integer":
					n, err := strconv.ParseInt(s, 10, 64)
					return n, false, err
				case "data":
					b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
					return b, false, err
				}
				return s, false, nil
			default:
				return nil, false, fmt.Errorf("unknown element <%s>", t.Name.Local)
			}
		}
	}
}

func TestExportApple(t *testing.T) {
	state := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(state, "r.yaml")}, io.Discard, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	if code := run(context.Background(), []string{"export", "apple", "--user", "demo", "-state", state, "-name", "vpn.example.com"}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: %d %s", code, stderr.String())
	}
	path := filepath.Join(state, "profiles", "demo.mobileconfig")
	if !strings.Contains(stdout.String(), path) {
		t.Errorf("export did not say where the profile is: %q", stdout.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	demo, _, err := ensureDemoUser(state)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(demo.Password)) {
		t.Error("the password is in the profile without -include-password")
	}
	v, err := parsePlist(data)
	if err != nil {
		t.Fatalf("not a property list: %v", err)
	}
	top := v.(map[string]any)
	if top["PayloadType"] != "Configuration" || top["PayloadVersion"] != int64(1) {
		t.Errorf("top level: %v", top)
	}
	uuid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	uuids := map[any]bool{top["PayloadUUID"]: true}
	payloads, _ := top["PayloadContent"].([]any)
	if len(payloads) != 2 {
		t.Fatalf("%d payloads, want the CA and the VPN", len(payloads))
	}
	byType := map[any]map[string]any{}
	for _, p := range payloads {
		m := p.(map[string]any)
		byType[m["PayloadType"]] = m
		uuids[m["PayloadUUID"]] = true
		for _, k := range []string{"PayloadIdentifier", "PayloadUUID", "PayloadDisplayName"} {
			if s, _ := m[k].(string); s == "" {
				t.Errorf("payload %v lacks %s", m["PayloadType"], k)
			}
		}
	}
	for u := range uuids {
		if s, _ := u.(string); !uuid.MatchString(s) {
			t.Errorf("PayloadUUID %v is not a version 4 UUID", u)
		}
	}
	if len(uuids) != 3 {
		t.Errorf("payload UUIDs are not unique: %v", uuids)
	}
	caPayload := byType["com.apple.security.root"]
	caDER, _ := caPayload["PayloadContent"].([]byte)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("CA payload: %v", err)
	}
	caPEM, _ := loadChain(filepath.Join(state, caCertFile))
	if !ca.Equal(caPEM[0]) {
		t.Error("the CA payload is not the state directory's CA")
	}
	vpn := byType["com.apple.vpn.managed"]
	if vpn["VPNType"] != "IKEv2" {
		t.Errorf("VPNType %v", vpn["VPNType"])
	}
	ike, _ := vpn["IKEv2"].(map[string]any)
	for k, want := range map[string]any{
		"RemoteAddress": "vpn.example.com", "RemoteIdentifier": "vpn.example.com", "AuthenticationMethod": "Certificate",
		"ExtendedAuthEnabled": int64(1), "AuthName": "demo", "ServerCertificateIssuerCommonName": ca.Subject.CommonName,
		"ServerCertificateCommonName": "vpn.example.com",
	} {
		if ike[k] != want {
			t.Errorf("IKEv2.%s = %v, want %v", k, ike[k], want)
		}
	}
	// The SA parameters must be something the responder accepts: map
	// Apple's names to strongSwan keywords and select through the
	// proposal package against the default configuration's proposals.
	cfg, _ := parseConfig(defaultConfig)
	s, err := cfg.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	encr := map[any]string{"AES-256": "aes256", "AES-128": "aes128", "AES-256-GCM": "aes256gcm16"}
	integ := map[any]string{"SHA2-256": "sha256", "SHA2-384": "sha384", "SHA1-96": "sha1"}
	for _, c := range []struct {
		key   string
		proto proposal.Protocol
		local proposal.List
	}{{"IKESecurityAssociationParameters", proposal.ProtoIKE, s.ike}, {"ChildSecurityAssociationParameters", proposal.ProtoESP, s.esp}} {
		p, _ := ike[c.key].(map[string]any)
		group, _ := p["DiffieHellmanGroup"].(int64)
		kw := fmt.Sprintf("%s-%s-%s", encr[p["EncryptionAlgorithm"]], integ[p["IntegrityAlgorithm"]], proposal.Keyword(proposal.Transform{Type: proposal.TypeKE, ID: uint16(group)}))
		if p["EncryptionAlgorithm"] != "AES-256" || p["IntegrityAlgorithm"] != "SHA2-256" || group != 14 {
			t.Errorf("%s: %v", c.key, p)
		}
		peer, err := proposal.Parse(kw, c.proto)
		if err != nil {
			t.Fatalf("%s as %q: %v", c.key, kw, err)
		}
		// ESP with the KE: what a PFS rekey (EnablePFS) sends.
		if _, err := proposal.Select(c.local, peer, proposal.SelectOptions{}); err != nil {
			t.Errorf("%s (%s) is not accepted by the responder: %v", c.key, kw, err)
		}
	}

	// -include-password puts it in; a missing user is refused.
	stdout.Reset()
	if code := run(context.Background(), []string{"export", "apple", "--user", "demo", "-state", state, "-o", "-", "-include-password"}, &stdout, &stderr); code != 0 {
		t.Fatalf("export to stdout: %s", stderr.String())
	}
	v, err = parsePlist(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	vpn = v.(map[string]any)["PayloadContent"].([]any)[1].(map[string]any)
	if vpn["IKEv2"].(map[string]any)["AuthPassword"] != demo.Password {
		t.Error("-include-password did not include the password")
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"export", "apple", "--user", "mallory", "-state", state}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), `"mallory"`) {
		t.Errorf("unknown user: %d %q", code, stderr.String())
	}
}

func TestPlistEscaping(t *testing.T) {
	p := &appleProfile{server: "vpn.example.com", user: `a<b>&"c"`, password: "p&ss<word>"}
	v, err := parsePlist(p.mobileconfig())
	if err != nil {
		t.Fatal(err)
	}
	ike := v.(map[string]any)["PayloadContent"].([]any)[0].(map[string]any)["IKEv2"].(map[string]any)
	if ike["AuthName"] != p.user || ike["AuthPassword"] != p.password {
		t.Errorf("round trip: %q %q", ike["AuthName"], ike["AuthPassword"])
	}
	if _, ok := ike["ServerCertificateIssuerCommonName"]; ok {
		t.Error("issuer name without a CA")
	}
}

func TestFileSafe(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "../etc/passwd": "___etc_passwd", `DOM\bob`: "DOM_bob", "a@b.c": "a@b_c"} {
		if got := fileSafe(in); got != want {
			t.Errorf("fileSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExportAppleCiscoIPSec: export apple --type ikev1 writes the "Cisco
// IPSec" profile of Apple's Configuration Profile Reference (VPNType
// IPSec, the IPSec dictionary): with a group name, the group as a KeyID
// LocalIdentifier and its secret; with a blank group name (the default
// configuration), no LocalIdentifier and the demo key; with --auth cert,
// the client certificate and the CA instead of a secret; XAuth with the
// user's name, the password only with -include-password. It sits beside
// the user's IKEv2 profile.
func TestExportAppleCiscoIPSec(t *testing.T) {
	state := t.TempDir()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com", "-o", filepath.Join(state, "r.yaml")}, io.Discard, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	demo, _, err := ensureDemoUser(state)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "group-secret-0123456789abcdef"
	cfg := filepath.Join(t.TempDir(), "responder.yaml")
	if err := os.WriteFile(cfg, []byte("ikev1:\n  allow_aggressive: true\n  group_name: Sales\n  group_secret: "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	export := func(args ...string) (map[string]any, map[any]map[string]any, []byte) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"export", "apple", "--type", "ikev1", "-state", state, "-name", "vpn.example.com"}, args...)
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr.String())
		}
		path := filepath.Join(state, "profiles", "demo-ikev1.mobileconfig")
		if slices.Contains(args, "-o") {
			path = args[slices.Index(args, "-o")+1]
		}
		if !strings.Contains(stdout.String(), path) {
			t.Errorf("export did not say where the profile is: %q", stdout.String())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := parsePlist(data)
		if err != nil {
			t.Fatalf("not a property list: %v", err)
		}
		byType := map[any]map[string]any{}
		for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
			m := p.(map[string]any)
			byType[m["PayloadType"]] = m
		}
		vpn := byType["com.apple.vpn.managed"]
		if vpn["VPNType"] != "IPSec" || vpn["IKEv2"] != nil {
			t.Errorf("VPNType %v, IKEv2 %v", vpn["VPNType"], vpn["IKEv2"])
		}
		if v4, _ := vpn["IPv4"].(map[string]any); v4["OverridePrimary"] != int64(1) {
			t.Errorf("IPv4 %v: not all traffic through the VPN", vpn["IPv4"])
		}
		d, _ := vpn["IPSec"].(map[string]any)
		for k, want := range map[string]any{"RemoteAddress": "vpn.example.com", "XAuthEnabled": int64(1), "XAuthName": "demo"} {
			if d[k] != want {
				t.Errorf("IPSec.%s = %v, want %v", k, d[k], want)
			}
		}
		return d, byType, data
	}

	// A group: Aggressive Mode with the group name as KEY_ID.
	d, byType, data := export("-config", cfg)
	if d["AuthenticationMethod"] != "SharedSecret" || d["LocalIdentifier"] != "Sales" || d["LocalIdentifierType"] != "KeyID" {
		t.Errorf("group profile: %v", d)
	}
	if s, _ := d["SharedSecret"].([]byte); string(s) != secret {
		t.Errorf("SharedSecret %q, want the group secret", s)
	}
	if _, ok := d["XAuthPassword"]; ok || bytes.Contains(data, []byte(demo.Password)) {
		t.Error("the XAuth password is in the profile without -include-password")
	}
	if len(byType) != 1 {
		t.Errorf("payloads %v: want only the VPN (no certificate is used)", byType)
	}
	if _, err := os.Stat(filepath.Join(state, "profiles", "demo.mobileconfig")); err == nil {
		t.Error("the IKEv1 export wrote the IKEv2 profile's file")
	}

	// The default configuration: a blank group name (Main Mode) and the
	// demo key, which the responder uses for every address.
	d, _, _ = export("-include-password")
	psk, _, err := ensureDemoV1PSK(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d["LocalIdentifier"]; ok || d["AuthenticationMethod"] != "SharedSecret" {
		t.Errorf("blank group profile: %v", d)
	}
	if s, _ := d["SharedSecret"].([]byte); string(s) != psk {
		t.Errorf("SharedSecret is not the demo IKEv1 key")
	}
	if d["XAuthPassword"] != demo.Password {
		t.Errorf("-include-password: XAuthPassword missing")
	}

	// A client certificate (XAUTHInitRSA): the PKCS#12 and the CA.
	out := filepath.Join(t.TempDir(), "cert.mobileconfig")
	d, byType, _ = export("--auth", "cert", "-o", out)
	p12 := byType["com.apple.security.pkcs12"]
	if d["AuthenticationMethod"] != "Certificate" || p12 == nil || d["PayloadCertificateUUID"] != p12["PayloadUUID"] || byType["com.apple.security.root"] == nil {
		t.Errorf("certificate profile: %v, payloads %v", d, byType)
	}
	if _, ok := d["SharedSecret"]; ok {
		t.Error("a shared secret in the certificate profile")
	}

	for _, args := range [][]string{{"export", "windows", "--type", "ikev1"}, {"export", "apple", "--type", "ikev3"}} {
		if code := run(context.Background(), append(args, "-state", state), io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
