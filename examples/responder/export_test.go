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
