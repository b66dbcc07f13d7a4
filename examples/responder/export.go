package main

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// appleProfile is what the Apple export needs to know.
type appleProfile struct {
	server     string // RemoteAddress and RemoteIdentifier
	user       string
	password   string // empty: iOS asks on first connection
	ca         *x509.Certificate
	serverCN   string
	uuidSource io.Reader
}

func randReader() io.Reader { return rand.Reader }

// uuid4 returns a random RFC 9562 version 4 UUID, as profile payloads
// need one each.
func uuid4(r io.Reader) string {
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		panic(err) // crypto/rand does not fail
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// saParams are the IKE and CHILD SA parameters of the profile:
// AES-256-CBC, SHA2-256 and MODP-2048 (group 14), which the responder's
// proposals accept (the export test checks it through the proposal
// package) and which replace iOS' default list headed by weaker groups.
func saParams(minutes int) plistDict {
	return plistDict{
		{"DiffieHellmanGroup", 14},
		{"EncryptionAlgorithm", "AES-256"},
		{"IntegrityAlgorithm", "SHA2-256"},
		{"LifeTimeInMinutes", minutes},
	}
}

// mobileconfig builds an Apple configuration profile: the CA as a
// trusted root and an IKEv2 VPN that authenticates the server by
// certificate and the user by EAP (AuthenticationMethod Certificate with
// ExtendedAuthEnabled and no client certificate, as strongSwan's Apple
// profile documentation describes EAP-only).
func (p *appleProfile) mobileconfig() []byte {
	r := p.uuidSource
	if r == nil {
		r = randReader()
	}
	id := "org.goipsec.responder." + p.server
	ikev2 := plistDict{
		{"AuthName", p.user},
	}
	if p.password != "" {
		ikev2 = append(ikev2, plistEntry{"AuthPassword", p.password})
	}
	ikev2 = append(ikev2,
		plistEntry{"AuthenticationMethod", "Certificate"},
		plistEntry{"ChildSecurityAssociationParameters", saParams(480)},
		plistEntry{"DeadPeerDetectionRate", "Medium"},
		plistEntry{"DisableMOBIKE", 0},
		plistEntry{"DisableRedirect", 0},
		plistEntry{"EnableCertificateRevocationCheck", 0},
		plistEntry{"EnablePFS", 1},
		plistEntry{"ExtendedAuthEnabled", 1},
		plistEntry{"IKESecurityAssociationParameters", saParams(1440)},
		plistEntry{"LocalIdentifier", p.user},
		plistEntry{"RemoteAddress", p.server},
		plistEntry{"RemoteIdentifier", p.server},
	)
	if p.ca != nil {
		ikev2 = append(ikev2, plistEntry{"ServerCertificateIssuerCommonName", p.ca.Subject.CommonName})
	}
	if p.serverCN != "" {
		ikev2 = append(ikev2, plistEntry{"ServerCertificateCommonName", p.serverCN})
	}
	ikev2 = append(ikev2, plistEntry{"UseConfigurationAttributeInternalIPSubnet", 0})
	slices.SortStableFunc(ikev2, func(a, b plistEntry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	var content []any
	if p.ca != nil {
		content = append(content, plistDict{
			{"PayloadCertificateFileName", "goipsec-ca.cer"},
			{"PayloadContent", p.ca.Raw},
			{"PayloadDescription", "Trusts the certificate authority of the VPN server " + p.server},
			{"PayloadDisplayName", p.ca.Subject.CommonName},
			{"PayloadIdentifier", id + ".ca"},
			{"PayloadType", "com.apple.security.root"},
			{"PayloadUUID", uuid4(r)},
			{"PayloadVersion", 1},
		})
	}
	content = append(content, plistDict{
		{"IKEv2", ikev2},
		{"IPv4", plistDict{{"OverridePrimary", 1}}},
		{"PayloadDescription", "IKEv2 VPN to " + p.server},
		{"PayloadDisplayName", "VPN " + p.server},
		{"PayloadIdentifier", id + ".vpn"},
		{"PayloadType", "com.apple.vpn.managed"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
		{"UserDefinedName", "VPN " + p.server},
		{"VPNType", "IKEv2"},
	})
	return plistDocument(plistDict{
		{"PayloadContent", content},
		{"PayloadDisplayName", "VPN " + p.server + " (" + p.user + ")"},
		{"PayloadIdentifier", id},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
	})
}

// profileKinds are the client profiles export writes, with their file
// name extension.
var profileKinds = map[string]string{"apple": ".mobileconfig", "windows": ".ps1", "android": ".sswan"}

// runExport writes a client profile: `export apple|windows|android --user NAME`.
func runExport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || profileKinds[args[0]] == "" {
		fmt.Fprintln(stderr, "responder export: usage: responder export apple|windows|android [--user NAME] [-config FILE] [-state DIR] [-name NAME] [-o FILE] [-include-password]")
		return 2
	}
	kind := args[0]
	fs := flag.NewFlagSet("responder export "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user `name` the profile is for (default: the demo user)")
	configPath := fs.String("config", "", "the responder's configuration `file`")
	stateDir := fs.String("state", defaultStateDir, "the responder's state `directory`")
	out := fs.String("o", "", "output `file`; - for standard output (default: STATE/profiles/USER"+profileKinds[kind]+")")
	withPassword := fs.Bool("include-password", false, "apple: put the password into the profile (anyone with the file can log in)")
	var o overrides
	fs.StringVar(&o.name, "name", "", "server `name` (server.name), as the responder is started with")
	fs.StringVar(&o.listen, "listen", "", "listen `addresses` (server.listen), as the responder is started with")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := exportProfile(kind, *configPath, *stateDir, *user, *out, *withPassword, o, stdout); err != nil {
		fmt.Fprintf(stderr, "responder export: %v\n", err)
		return 1
	}
	return 0
}

// exportProfile resolves the server, the user and the certificates as
// the responder would and writes the profile of one kind.
func exportProfile(kind, configPath, stateDir, user, out string, withPassword bool, o overrides, stdout io.Writer) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	o.apply(cfg)
	s, err := cfg.validate(nil)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	name, _ := serverIdentity(s)
	users := s.users
	if len(users) == 0 {
		demo, _, err := ensureDemoUser(stateDir)
		if err != nil {
			return err
		}
		users = []UserConfig{demo}
	}
	if user == "" {
		user = users[0].Name
	}
	i := slices.IndexFunc(users, func(u UserConfig) bool { return u.Name == user })
	if i < 0 {
		return fmt.Errorf("no user %q in the configuration", user)
	}
	var sc *serverCert
	if s.certFile == "" {
		caCert, _, err := loadPair(filepath.Join(stateDir, caCertFile), filepath.Join(stateDir, caKeyFile))
		if err != nil {
			return fmt.Errorf("demo CA (start the responder or run init first): %w", err)
		}
		leaf, _, err := loadPair(filepath.Join(stateDir, serverCertFile), filepath.Join(stateDir, serverKeyFile))
		if err != nil {
			return fmt.Errorf("demo server certificate (start the responder or run init first): %w", err)
		}
		sc = &serverCert{leaf: leaf, root: caCert}
	} else if sc, err = loadServerCert(s.certFile, s.keyFile); err != nil {
		return err
	}
	var data []byte
	var hint string
	switch kind {
	case "apple":
		p := newAppleProfile(sc, name, users[i].Name)
		if withPassword {
			p.password = users[i].Password
		}
		data = p.mobileconfig()
		hint = "open it on the iPhone or Mac (AirDrop, mail attachment) and install it in Settings"
	case "windows":
		data = windowsScript(sc, name, users[i].Name)
		hint = "run it on the Windows PC in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File %s"
	case "android":
		data, err = androidProfile(sc, name, users[i].Name)
		if err != nil {
			return err
		}
		hint = "open it with the strongSwan VPN Client app (Import VPN profile)"
	}
	if out == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if out == "" {
		if out, err = writeProfile(stateDir, users[i].Name, profileKinds[kind], data); err != nil {
			return err
		}
	} else if err := writeFileAtomic(out, data, 0o600); err != nil {
		return err
	}
	if strings.Contains(hint, "%s") {
		hint = fmt.Sprintf(hint, filepath.Base(out))
	}
	fmt.Fprintf(stdout, "wrote %s: %s\n", out, hint)
	return nil
}

func newAppleProfile(sc *serverCert, server, user string) *appleProfile {
	return &appleProfile{server: server, user: user, ca: sc.root, serverCN: sc.leaf.Subject.CommonName}
}

// writeProfile stores a user's profile in STATE/profiles.
func writeProfile(stateDir, user, ext string, data []byte) (string, error) {
	dir := filepath.Join(stateDir, "profiles")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	out := filepath.Join(dir, fileSafe(user)+ext)
	return out, writeFileAtomic(out, data, 0o600)
}

// fileSafe keeps a user name from leaving the profiles directory
// ("../x", "a/b") or producing awkward file names.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '@' {
			return r
		}
		return '_'
	}, name)
}
