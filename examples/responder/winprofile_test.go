package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// exportFor runs `responder export KIND` against a fresh state directory
// and returns the file, the state's CA and the user.
func exportFor(t *testing.T, kind string) ([]byte, *x509.Certificate, UserConfig) {
	t.Helper()
	state := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "-state", state, "-name", "vpn.example.com"}, io.Discard, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	if code := run(context.Background(), []string{"export", kind, "-state", state, "-name", "vpn.example.com"}, &stdout, &stderr); code != 0 {
		t.Fatalf("export %s: %s", kind, stderr.String())
	}
	path := filepath.Join(state, "profiles", demoUserName+profileKinds[kind])
	if !strings.Contains(stdout.String(), path) {
		t.Errorf("export did not name %s: %q", path, stdout.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := loadChain(filepath.Join(state, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := ensureDemoUser(state)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(u.Password)) {
		t.Errorf("the %s profile contains the password", kind)
	}
	return data, chain[0], u
}

func TestExportWindows(t *testing.T) {
	script, ca, u := exportFor(t, "windows")
	s := string(script)
	for _, want := range []string{
		"Add-VpnConnection -Name $name -ServerAddress $server -TunnelType Ikev2 -AuthenticationMethod Eap",
		"$server = 'vpn.example.com'", "Cert:\\LocalMachine\\Root", "Set-VpnConnectionIPsecConfiguration -ConnectionName $name",
		u.Name,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	// The CA in the here-string is the state directory's.
	block, _ := pem.Decode([]byte(s[strings.Index(s, "-----BEGIN"):]))
	if block == nil {
		t.Fatal("no CA in the script")
	}
	if c, err := x509.ParseCertificate(block.Bytes); err != nil || !c.Equal(ca) {
		t.Errorf("CA in the script: %v", err)
	}
	// Read the cipher suite back from the script, translate Windows'
	// names with this test's own table (from Microsoft's
	// Set-VpnConnectionIPsecConfiguration reference) and select against
	// the responder's default proposals through the proposal package.
	param := func(name string) string {
		m := regexp.MustCompile(`-` + name + ` (\S+)`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("script does not set -%s", name)
		}
		return m[1]
	}
	ikeEncr := map[string]string{"AES256": "aes256", "AES128": "aes128", "GCMAES256": "aes256gcm16", "DES3": "3des"}
	ikeInteg := map[string]string{"SHA256": "sha256", "SHA384": "sha384", "SHA196": "sha1", "MD5": "md5"}
	dh := map[string]string{"Group14": "modp2048", "Group2": "modp1024", "ECP256": "ecp256", "ECP384": "ecp384", "Group24": "modp2048s256"}
	espEncr := map[string]string{"AES256": "aes256", "AES128": "aes128", "GCMAES256": "aes256gcm16"}
	espInteg := map[string]string{"SHA256128": "sha256", "SHA196": "sha1", "GCMAES256": ""}
	pfs := map[string]string{"PFS2048": "modp2048", "PFS2": "modp1024", "ECP256": "ecp256", "ECP384": "ecp384", "None": ""}
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, "-")
	}
	ikeKW := join(ikeEncr[param("EncryptionMethod")], ikeInteg[param("IntegrityCheckMethod")], dh[param("DHGroup")])
	espKW := join(espEncr[param("CipherTransformConstants")], espInteg[param("AuthenticationTransformConstants")], pfs[param("PfsGroup")])
	cfg, _ := parseConfig(defaultConfig)
	set, err := cfg.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kw    string
		proto proposal.Protocol
		local proposal.List
		opts  proposal.SelectOptions
	}{
		{ikeKW, proposal.ProtoIKE, set.ike, proposal.SelectOptions{}},
		{espKW, proposal.ProtoESP, set.esp, proposal.SelectOptions{SkipKE: true}}, // IKE_AUTH
		{espKW, proposal.ProtoESP, set.esp, proposal.SelectOptions{}},             // rekey with PFS
	} {
		peer, err := proposal.Parse(c.kw, c.proto)
		if err != nil {
			t.Fatalf("%q: %v", c.kw, err)
		}
		chosen, err := proposal.Select(c.local, peer, c.opts)
		if err != nil {
			t.Errorf("Windows' %s suite %q is not accepted: %v", c.proto, c.kw, err)
			continue
		}
		for _, ke := range chosen.KE {
			if ke == proposal.KEMODP1024 {
				t.Errorf("%s suite negotiates MODP-1024", c.proto)
			}
		}
	}
	if ikeKW != winIKEProposalKeywords || espKW != winESPProposalKeywords {
		t.Errorf("script suite %q/%q, documented %q/%q", ikeKW, espKW, winIKEProposalKeywords, winESPProposalKeywords)
	}
}

func TestPowerShellQuoting(t *testing.T) {
	if got := psQuote(`it's $(evil)`); got != `'it''s $(evil)'` {
		t.Errorf("psQuote = %s", got)
	}
}

func TestExportAndroid(t *testing.T) {
	data, ca, u := exportFor(t, "android")
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	remote, _ := p["remote"].(map[string]any)
	local, _ := p["local"].(map[string]any)
	if p["type"] != "ikev2-eap" || remote["addr"] != "vpn.example.com" || remote["id"] != "vpn.example.com" || local["eap_id"] != u.Name {
		t.Errorf("profile: %s", data)
	}
	if s, _ := p["uuid"].(string); !regexp.MustCompile(`^[0-9A-Fa-f-]{36}$`).MatchString(s) {
		t.Errorf("uuid %q", p["uuid"])
	}
	certB64, _ := remote["cert"].(string)
	der, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		t.Fatalf("remote.cert: %v", err)
	}
	if c, err := x509.ParseCertificate(der); err != nil || !c.Equal(ca) {
		t.Errorf("remote.cert is not the CA: %v", err)
	}
}

func TestExportUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"export", "blackberry"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "apple|windows|android") {
		t.Errorf("unknown kind: %d %q", code, stderr.String())
	}
}
