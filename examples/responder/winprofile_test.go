package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/pkcs12"

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
	checkWindowsSuite(t, s)
}

// checkWindowsSuite reads the cipher suite back from a script,
// translates Windows' names with this test's own table (from Microsoft's
// Set-VpnConnectionIPsecConfiguration reference) and selects against
// the responder's default proposals through the proposal package.
func checkWindowsSuite(t *testing.T, s string) {
	t.Helper()
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

// checkPowerShellShape is a lexical check of a generated script, as far
// as it goes without PowerShell: param(...), if present, is the first
// statement (PowerShell requires it there), every here-string is closed
// by its terminator at the start of a line, and braces and parentheses
// balance outside strings and comments.
func checkPowerShellShape(t *testing.T, s string) {
	t.Helper()
	inHere, first := false, true
	depth := map[rune]int{}
	for i, line := range strings.Split(s, "\n") {
		if inHere {
			if strings.HasPrefix(line, "'@") {
				inHere = false
				line = line[2:]
			} else {
				continue
			}
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if strings.Contains(line, "param(") && !first {
			t.Errorf("line %d: param block after the first statement", i+1)
		}
		first = false
		inQuote := false
	chars:
		for _, r := range line {
			switch {
			case r == '\'':
				inQuote = !inQuote
			case inQuote:
			case r == '#':
				break chars // a comment to the end of the line
			case r == '{' || r == '(':
				depth[r]++
			case r == '}':
				depth['{']--
			case r == ')':
				depth['(']--
			}
		}
		if strings.HasSuffix(line, "@'") {
			inHere, inQuote = true, false
		}
		if inQuote {
			t.Errorf("line %d: unterminated string: %s", i+1, line)
		}
	}
	if inHere || depth['{'] != 0 || depth['('] != 0 {
		t.Errorf("script shape: here-string open %v, braces %d, parentheses %d", inHere, depth['{'], depth['('])
	}
}

// TestExportWindowsCert checks the machine-certificate script: a param
// block for the PKCS#12 password (asked for, never embedded unless
// -include-password), the CA into LocalMachine\Root, the embedded
// PKCS#12 into LocalMachine\My, decodable with the printed password and
// holding a clientAuth certificate from the demo CA whose subject is the
// identity export names, and the EAP script's cipher suite.
func TestExportWindowsCert(t *testing.T) {
	state := initState(t)
	ca, err := loadChain(filepath.Join(state, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "laptop.ps1")
	export := func(extra ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"export", "windows", "--auth", "cert", "--user", "laptop.example.com", "-state", state, "-name", "vpn.example.com", "-o", out}, extra...)
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr.String())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
			t.Errorf("script mode %v: it holds a private key", fi.Mode().Perm())
		}
		return string(data), stdout.String()
	}
	// pfxOf returns the PKCS#12 the script imports.
	pfxOf := func(s string) []byte {
		t.Helper()
		m := regexp.MustCompile(`(?s)\[Convert\]::FromBase64String\(@'\n(.*?)\n'@\)`).FindStringSubmatch(s)
		if m == nil {
			t.Fatal("no embedded PKCS#12 in the script")
		}
		der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(m[1], "\n", ""))
		if err != nil {
			t.Fatalf("embedded PKCS#12: %v", err)
		}
		return der
	}
	s, stdout := export()
	checkPowerShellShape(t, s)
	pw := howTo(stdout, "PKCS#12 password")
	if len(pw) != 20 {
		t.Fatalf("printed PKCS#12 password %q:\n%s", pw, stdout)
	}
	if strings.Contains(s, pw) {
		t.Error("the PKCS#12 password is in the script without -include-password")
	}
	firstStmt := ""
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			firstStmt = l
			break
		}
	}
	if firstStmt != "param(" {
		t.Errorf("first statement %q, want the param block", firstStmt)
	}
	for _, want := range []string{
		"[SecureString]$Password",
		"Read-Host -AsSecureString",
		"Import-Certificate -FilePath $caFile -CertStoreLocation Cert:\\LocalMachine\\Root",
		"Import-PfxCertificate -FilePath $pfxFile -CertStoreLocation Cert:\\LocalMachine\\My -Password $Password",
		"Add-VpnConnection -Name $name -ServerAddress $server -TunnelType Ikev2 -AuthenticationMethod MachineCertificate -EncryptionLevel Required -AllUserConnection\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(s, "-AuthenticationMethod Eap") {
		t.Error("certificate script configures EAP")
	}
	key, cert, err := pkcs12.Decode(pfxOf(s), pw)
	if err != nil {
		t.Fatalf("embedded PKCS#12 with the printed password: %v", err)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Errorf("machine certificate EKU %v, key usage %v: Windows needs clientAuth and digitalSignature", cert.ExtKeyUsage, cert.KeyUsage)
	}
	if cert.CheckSignatureFrom(ca[0]) != nil {
		t.Error("machine certificate not issued by the demo CA")
	}
	if pub, ok := key.(interface{ Public() crypto.PublicKey }); !ok || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub.Public()) {
		t.Error("the PKCS#12's key does not belong to its certificate")
	}
	// Windows sends the subject as IDi; export names it so.
	if id := cert.Subject.String(); !strings.Contains(stdout, "(identity "+id+")") || !strings.Contains(id, "CN=laptop.example.com") {
		t.Errorf("identity %q not printed as the certificate's subject:\n%s", id, stdout)
	}
	checkWindowsSuite(t, s)

	// -include-password: the password is in the script (as the
	// parameter's fallback), not printed; the certificate is reused.
	s2, stdout2 := export("-include-password")
	checkPowerShellShape(t, s2)
	m := regexp.MustCompile(`ConvertTo-SecureString -String '([^']+)' -AsPlainText -Force`).FindStringSubmatch(s2)
	if m == nil || strings.Contains(s2, "Read-Host") {
		t.Fatalf("-include-password: no embedded password, or still a prompt:\n%s", s2[:min(len(s2), 2000)])
	}
	if strings.Contains(stdout2, m[1]) {
		t.Error("the embedded password is printed too")
	}
	if _, cert2, err := pkcs12.Decode(pfxOf(s2), m[1]); err != nil || !cert2.Equal(cert) {
		t.Errorf("-include-password: PKCS#12 with the embedded password: %v (same certificate %v)", err, err == nil && cert2.Equal(cert))
	}
}
