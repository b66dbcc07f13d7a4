package main

import (
	"crypto"
	"crypto/ecdsa"
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
	"time"

	"github.com/goipsec/ipsec"
)

// appleProfile is what the Apple export needs to know.
type appleProfile struct {
	server     string // RemoteAddress and RemoteIdentifier
	user       string
	password   string // empty: iOS asks on first connection
	ca         *x509.Certificate
	serverCN   string
	uuidSource io.Reader
	// cert, when set, makes the profile authenticate with this client
	// certificate (a com.apple.security.pkcs12 payload) instead of EAP;
	// includeP12Password puts the PKCS#12 password into the payload, so
	// the install does not ask for it.
	cert               *clientCredential
	includeP12Password bool
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
	var ikev2 plistDict
	certUUID := ""
	if p.cert != nil {
		// Certificate authentication (no EAP): the identity is the
		// certificate's SAN, which the responder matches against IDi.
		certUUID = uuid4(r)
		ikev2 = plistDict{
			{"AuthenticationMethod", "Certificate"},
			{"CertificateType", certificateType(p.cert.cert)},
			{"ExtendedAuthEnabled", 0},
			{"LocalIdentifier", p.cert.identity},
			{"PayloadCertificateUUID", certUUID},
		}
	} else {
		ikev2 = plistDict{{"AuthName", p.user}}
		if p.password != "" {
			ikev2 = append(ikev2, plistEntry{"AuthPassword", p.password})
		}
		ikev2 = append(ikev2,
			plistEntry{"AuthenticationMethod", "Certificate"},
			plistEntry{"ExtendedAuthEnabled", 1},
			plistEntry{"LocalIdentifier", p.user},
		)
	}
	ikev2 = append(ikev2,
		plistEntry{"ChildSecurityAssociationParameters", saParams(480)},
		plistEntry{"DeadPeerDetectionRate", "Medium"},
		plistEntry{"DisableMOBIKE", 0},
		plistEntry{"DisableRedirect", 0},
		plistEntry{"EnableCertificateRevocationCheck", 0},
		plistEntry{"EnablePFS", 1},
		plistEntry{"IKESecurityAssociationParameters", saParams(1440)},
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
		content = append(content, p.caPayload(id, r))
	}
	if p.cert != nil {
		content = append(content, p.p12Payload(id, certUUID))
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

// ciscoProfile is what the "Cisco IPSec" (IKEv1) Apple profile needs
// besides the appleProfile: the group name (empty: Main Mode) and the
// group's shared secret, both unused with a client certificate.
type ciscoProfile struct {
	group  string
	secret []byte
}

// ciscoMobileconfig builds an Apple configuration profile for the
// built-in IKEv1 client ("Cisco IPSec" on macOS, "IPSec" on iOS): VPNType
// IPSec, the group name as a KEY_ID LocalIdentifier with the shared secret,
// or a client certificate (with the CA that checks the server's), then
// XAuth with the user's name (and password when included). Keys as in
// Apple's Configuration Profile Reference, com.apple.vpn.managed IPSec.
func (p *appleProfile) ciscoMobileconfig(c ciscoProfile) []byte {
	r := p.uuidSource
	if r == nil {
		r = randReader()
	}
	id := "org.goipsec.responder." + p.server + ".ikev1"
	var ipsecDict plistDict
	var content []any
	if p.cert != nil {
		content, ipsecDict = p.ikev1CertPayloads(id, r)
	} else {
		ipsecDict = plistDict{{"AuthenticationMethod", "SharedSecret"}}
		if c.group != "" {
			// A group name makes the client use Aggressive Mode with it
			// as ID_KEY_ID; without one it uses Main Mode.
			ipsecDict = append(ipsecDict, plistEntry{"LocalIdentifier", c.group}, plistEntry{"LocalIdentifierType", "KeyID"})
		}
		ipsecDict = append(ipsecDict, plistEntry{"SharedSecret", c.secret})
	}
	ipsecDict = append(ipsecDict,
		plistEntry{"RemoteAddress", p.server},
		plistEntry{"XAuthEnabled", 1},
		plistEntry{"XAuthName", p.user},
	)
	if p.password != "" {
		ipsecDict = append(ipsecDict, plistEntry{"XAuthPassword", p.password})
	}
	content = append(content, plistDict{
		{"IPSec", ipsecDict},
		{"IPv4", plistDict{{"OverridePrimary", 1}}},
		{"PayloadDescription", "Cisco IPSec (IKEv1) VPN to " + p.server},
		{"PayloadDisplayName", "VPN " + p.server + " (IKEv1)"},
		{"PayloadIdentifier", id + ".vpn"},
		{"PayloadType", "com.apple.vpn.managed"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
		{"UserDefinedName", "VPN " + p.server + " (IKEv1)"},
		{"VPNType", "IPSec"},
	})
	return plistDocument(plistDict{
		{"PayloadContent", content},
		{"PayloadDisplayName", "VPN " + p.server + " IKEv1 (" + p.user + ")"},
		{"PayloadIdentifier", id},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
	})
}

// certificateType is the Apple profile's CertificateType for the
// client's key: RSA, or ECDSA256/384/521 by curve.
func certificateType(c *x509.Certificate) string {
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
		return fmt.Sprintf("ECDSA%d", k.Curve.Params().BitSize)
	}
	return "RSA"
}

// profileKinds are the client profiles export writes, with their file
// name extension. linux writes a directory laid out like /etc/swanctl.
var profileKinds = map[string]string{"apple": ".mobileconfig", "windows": ".ps1", "android": ".sswan", "linux": "-swanctl"}

const exportUsage = "responder export apple|windows|android|linux [--user NAME] [--auth eap|cert|psk] [--type ikev2|ikev1|l2tp] [-config FILE] [-state DIR] [-name NAME] [-listen ADDRS] [-o FILE] [-include-password]"

// exportRequest is what runExport collected from the command line.
type exportRequest struct {
	kind, configPath, stateDir, user, out string
	// auth is "eap" (user name and password) or "cert" (a client
	// certificate issued by the demo CA, delivered as PKCS#12).
	auth         string
	withPassword bool
	o            overrides
	// ikeVersion is "ikev2", or "ikev1" for Apple's "Cisco IPSec"
	// profile (XAuth with a user of the configuration).
	ikeVersion string
}

// runExport writes a client profile: `export apple|windows|android|linux --user NAME`.
func runExport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || profileKinds[args[0]] == "" {
		fmt.Fprintln(stderr, "responder export: usage: "+exportUsage)
		return 2
	}
	r := exportRequest{kind: args[0]}
	fs := flag.NewFlagSet("responder export "+r.kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&r.user, "user", "", "user `name` the profile is for (default: the demo user; with --auth cert any name, which becomes the certificate's identity)")
	fs.StringVar(&r.auth, "auth", "eap", "how the client authenticates: eap (user name and password), cert (a client certificate from the demo CA; for windows a machine certificate) or psk (the pre-shared key of the psk_peers entry whose id is --user; linux)")
	fs.StringVar(&r.ikeVersion, "type", "ikev2", "apple: ikev2, or ikev1 for the built-in \"Cisco IPSec\" client (group name and secret, or --auth cert, then the user's name and password by XAuth); apple, windows: l2tp for the built-in L2TP/IPsec client (pre-shared key or --auth cert, then the user's name and password by PPP)")
	fs.StringVar(&r.configPath, "config", "", "the responder's configuration `file`")
	fs.StringVar(&r.stateDir, "state", defaultStateDir, "the responder's state `directory`")
	def := "STATE/profiles/USER" + profileKinds[r.kind]
	if r.kind == "linux" {
		def += "/ (a directory)"
	}
	fs.StringVar(&r.out, "o", "", "output `file`; - for standard output (default: "+def+")")
	fs.BoolVar(&r.withPassword, "include-password", false, "apple, linux, windows (cert): put the password (EAP) or the PKCS#12 password (cert) into the profile (anyone with the file can log in)")
	fs.StringVar(&r.o.name, "name", "", "server `name` (server.name), as the responder is started with")
	fs.StringVar(&r.o.listen, "listen", "", "listen `addresses` (server.listen), as the responder is started with")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "responder export: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	switch {
	case r.auth != "eap" && r.auth != "cert" && r.auth != "psk":
		fmt.Fprintf(stderr, "responder export: --auth %q: want eap, cert or psk\n", r.auth)
		return 2
	case r.ikeVersion != "ikev2" && r.ikeVersion != "ikev1" && r.ikeVersion != "l2tp":
		fmt.Fprintf(stderr, "responder export: --type %q: want ikev2, ikev1 or l2tp\n", r.ikeVersion)
		return 2
	case r.ikeVersion == "l2tp" && r.kind != "apple" && r.kind != "windows":
		fmt.Fprintf(stderr, "responder export: --type l2tp is for apple and windows (their built-in L2TP/IPsec clients)\n")
		return 2
	case r.ikeVersion == "ikev1" && r.kind != "apple":
		fmt.Fprintf(stderr, "responder export: --type ikev1 is for apple (the \"Cisco IPSec\" client)\n")
		return 2
	case r.auth == "psk" && r.kind != "linux":
		fmt.Fprintf(stderr, "responder export: --auth psk is for linux (the built-in clients of the other systems use EAP or certificates)\n")
		return 2
	case r.auth == "cert" && r.out == "-" && !r.withPassword:
		// The password is printed after the file; on standard output it
		// would run into the profile.
		fmt.Fprintf(stderr, "responder export: --auth cert with -o - needs -include-password (the PKCS#12 password is printed otherwise)\n")
		return 2
	case r.kind == "linux" && r.out == "-":
		fmt.Fprintf(stderr, "responder export linux writes a directory; -o - is not possible\n")
		return 2
	}
	if err := exportProfile(r, stdout); err != nil {
		fmt.Fprintf(stderr, "responder export: %v\n", err)
		return 1
	}
	return 0
}

// clientCredential is a certificate client's PKCS#12 and its password.
type clientCredential struct {
	identity string // the IKE identity: the certificate's SAN
	cert     *x509.Certificate
	key      crypto.Signer
	pfx      []byte
	password string
}

// issueClientCredential loads or issues user's client certificate under
// the demo CA and packs it as PKCS#12 in the profile the export kind's
// importers take (p12ProfileFor) with a fresh random password.
func issueClientCredential(stateDir, user, kind string, now time.Time) (*clientCredential, error) {
	caCert, caKey, err := loadPair(filepath.Join(stateDir, caCertFile), filepath.Join(stateDir, caKeyFile))
	if err != nil {
		return nil, fmt.Errorf("demo CA, which issues client certificates (start the responder or run init first): %w", err)
	}
	cert, key, err := ensureClientCert(stateDir, user, caCert, caKey, timeNow())
	if err != nil {
		return nil, err
	}
	pw := randomPassword(20)
	pfx, err := p12ProfileFor(kind).encode(cert, key, pw)
	if err != nil {
		return nil, err
	}
	return &clientCredential{identity: user, cert: cert, key: key, pfx: pfx, password: pw}, nil
}

// exportProfile resolves the server, the user and the certificates as
// the responder would and writes the profile of one kind.
func exportProfile(r exportRequest, stdout io.Writer) error {
	cfg, err := loadConfig(r.configPath)
	if err != nil {
		return fmt.Errorf("config %w", err)
	}
	r.o.apply(cfg)
	s, err := cfg.validate(nil)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	name, _ := serverIdentity(s)
	user := UserConfig{Name: r.user}
	cisco, l2tpType := r.ikeVersion == "ikev1", r.ikeVersion == "l2tp"
	// A Cisco IPSec client logs in by XAuth also with a certificate, an
	// L2TP/IPsec client by PPP.
	if r.auth == "eap" || cisco || l2tpType {
		users := s.users
		if len(users) == 0 {
			demo, _, err := ensureDemoUser(r.stateDir)
			if err != nil {
				return err
			}
			users = []UserConfig{demo}
		}
		if user.Name == "" {
			user.Name = users[0].Name
		}
		i := slices.IndexFunc(users, func(u UserConfig) bool { return u.Name == user.Name })
		if i < 0 {
			return fmt.Errorf("no user %q in the configuration", user.Name)
		}
		user = users[i]
	} else if r.auth == "psk" {
		id, err := ipsec.ParseIdentity(user.Name)
		if user.Name == "" || err != nil {
			return errors.New("--auth psk needs --user ID: the id of a psk_peers entry")
		}
		i := slices.IndexFunc(s.pskPeers, func(p pskPeer) bool { return p.id.String() == id.String() })
		if i < 0 {
			return fmt.Errorf("no psk_peers entry with id %q in the configuration", user.Name)
		}
		user.Password = string(s.pskPeers[i].psk)
	} else if user.Name == "" {
		return errors.New("--auth cert needs --user NAME: the name the client certificate is issued to")
	}
	var sc *serverCert
	if s.certFile == "" && s.pkcs12File == "" {
		caCert, _, err := loadPair(filepath.Join(r.stateDir, caCertFile), filepath.Join(r.stateDir, caKeyFile))
		if err != nil {
			return fmt.Errorf("demo CA (start the responder or run init first): %w", err)
		}
		leaf, _, err := loadPair(filepath.Join(r.stateDir, serverCertFile), filepath.Join(r.stateDir, serverKeyFile))
		if err != nil {
			return fmt.Errorf("demo server certificate (start the responder or run init first): %w", err)
		}
		sc = &serverCert{leaf: leaf, root: caCert}
	} else if sc, err = s.loadServerCert(); err != nil {
		return err
	}
	var cred *clientCredential
	if r.auth == "cert" {
		if s.certFile != "" || s.pkcs12File != "" || len(s.clientCAs) > 0 {
			return errors.New("--auth cert issues certificates from the demo CA, which this configuration does not use (own server certificate or client_cas): issue client certificates with your CA")
		}
		if retired, err := retireRevokedClientCert(s, r.stateDir, user.Name); err != nil {
			return err
		} else if retired {
			fmt.Fprintf(stdout, "the stored certificate of %s is revoked (client_certs): issuing a new one\n", user.Name)
		}
		if cred, err = issueClientCredential(r.stateDir, user.Name, r.kind, timeNow()); err != nil {
			return err
		}
	}
	var data []byte
	var hint string
	kind := r.kind
	if cisco {
		kind = "apple-ikev1"
	}
	var psk ipsec.Secret
	if l2tpType {
		kind += "-l2tp"
		if cred == nil {
			if psk, err = l2tpPSK(s, r.stateDir); err != nil {
				return err
			}
		}
	}
	switch kind {
	case "apple-l2tp":
		p := newAppleProfile(sc, name, user.Name)
		if cred != nil {
			p.cert = cred
			p.includeP12Password = r.withPassword
		}
		if r.withPassword {
			p.password = user.Password
		}
		data = p.l2tpMobileconfig(psk)
		hint = "open it on the iPhone or Mac (AirDrop, mail attachment) and install it in Settings"
		if cred == nil {
			hint += "; it holds the pre-shared key: keep it secret"
		}
	case "windows-l2tp":
		data = windowsL2TPScript(name, user.Name, psk, cred, r.withPassword, behindNAT(s))
		hint = "run it on the Windows PC in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File %s; it holds the pre-shared key: keep it secret"
		if cred != nil {
			hint = "run it on the Windows PC in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File %s (it imports the machine certificate)"
		}
	case "apple-ikev1":
		p := newAppleProfile(sc, name, user.Name)
		var c ciscoProfile
		if cred != nil {
			p.cert = cred
			p.includeP12Password = r.withPassword
		} else if c, err = ciscoGroup(s, r.stateDir); err != nil {
			return err
		}
		if r.withPassword {
			p.password = user.Password
		}
		data = p.ciscoMobileconfig(c)
		hint = "open it on the iPhone or Mac (AirDrop, mail attachment) and install it in Settings"
		if cred == nil {
			hint += "; it holds the group secret: keep it secret"
		}
	case "apple":
		p := newAppleProfile(sc, name, user.Name)
		if cred != nil {
			p.cert = cred
			p.includeP12Password = r.withPassword
		} else if r.withPassword {
			p.password = user.Password
		}
		data = p.mobileconfig()
		hint = "open it on the iPhone or Mac (AirDrop, mail attachment) and install it in Settings"
	case "windows":
		if cred != nil {
			// Windows' IKEv2 machine-certificate authentication sends
			// the certificate's subject as IDi (ID_DER_ASN1_DN), which
			// the responder matches against the subject.
			cred.identity = cred.cert.Subject.String()
		}
		data = windowsScript(sc, name, user.Name, cred, r.withPassword)
		hint = "run it on the Windows PC in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File %s"
		switch {
		case cred != nil && r.withPassword:
			hint += " (it imports the machine certificate)"
		case cred != nil:
			hint += " (it imports the machine certificate and asks for the PKCS#12 password)"
		}
	case "android":
		data, err = androidProfile(sc, name, user.Name, cred)
		if err != nil {
			return err
		}
		hint = "open it with the strongSwan VPN Client app (Import VPN profile)"
		if cred != nil {
			hint += "; it asks for the PKCS#12 password"
		}
	case "linux":
		dir := r.out
		if dir == "" {
			dir = filepath.Join(r.stateDir, "profiles", fileSafe(user.Name)+profileKinds["linux"])
		}
		files, err := linuxProfile(sc, name, user, cred, r.auth == "psk", r.withPassword)
		if err != nil {
			return err
		}
		if err := writeTree(dir, files); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: copy it over /etc/swanctl on the Linux client (sudo cp -r %s/. /etc/swanctl/), then: sudo swanctl --load-all && sudo swanctl --initiate --child %s\n", dir, dir, linuxConnName)
		printCredentialHint(stdout, user, cred, r.withPassword)
		return nil
	}
	if r.out == "-" {
		_, err := stdout.Write(data)
		return err
	}
	out := r.out
	if out == "" {
		ext := profileKinds[r.kind]
		if cisco {
			ext = "-ikev1" + ext // beside the IKEv2 profile
		}
		if l2tpType {
			ext = "-l2tp" + ext
		}
		if out, err = writeProfile(r.stateDir, user.Name, ext, data); err != nil {
			return err
		}
	} else if err := writeFileAtomic(out, data, 0o600); err != nil {
		return err
	}
	if strings.Contains(hint, "%s") {
		hint = fmt.Sprintf(hint, filepath.Base(out))
	}
	fmt.Fprintf(stdout, "wrote %s: %s\n", out, hint)
	// The .sswan format has no place for the PKCS#12 password.
	printCredentialHint(stdout, user, cred, r.withPassword && (r.kind == "apple" || r.kind == "windows"))
	return nil
}

// ciscoGroup is the group name and secret a Cisco IPSec profile carries:
// the configured group (Aggressive Mode) with its secret or the demo key,
// or a blank group name (Main Mode) with the key every address gets.
func ciscoGroup(s *settings, stateDir string) (ciscoProfile, error) {
	v := s.v1
	switch {
	case v == nil || !v.enabled:
		return ciscoProfile{}, errors.New("--type ikev1: IKEv1 is off (ikev1.enabled)")
	case !v.xauth:
		return ciscoProfile{}, errors.New("--type ikev1: Cisco IPSec clients are off (ikev1.xauth)")
	case v.groupSecret != nil:
		return ciscoProfile{group: v.groupName, secret: v.groupSecret}, nil
	case v.needsDemoPSK():
		psk, _, err := ensureDemoV1PSK(stateDir)
		if err != nil {
			return ciscoProfile{}, err
		}
		return ciscoProfile{group: v.groupName, secret: []byte(psk)}, nil
	}
	for _, k := range v.byAddr {
		if k.any {
			return ciscoProfile{secret: k.psk}, nil
		}
	}
	return ciscoProfile{}, errors.New("--type ikev1: no group_name with a group_secret and no psks entry for every address (peer \"*\"): the profile would need the key of the client's address")
}

// printCredentialHint tells the operator the PKCS#12 password (which is
// not stored anywhere else) or where the EAP password is.
func printCredentialHint(w io.Writer, user UserConfig, cred *clientCredential, included bool) {
	switch {
	case cred != nil && included:
		fmt.Fprintf(w, "client certificate for %s (identity %s), valid until %s; its PKCS#12 password is in the profile: keep the file secret\n", user.Name, cred.identity, cred.cert.NotAfter.Format(time.DateOnly))
	case cred != nil:
		fmt.Fprintf(w, "client certificate for %s (identity %s), valid until %s\nPKCS#12 password: %s\n(the client asks for it when installing; it is not stored anywhere else)\n", user.Name, cred.identity, cred.cert.NotAfter.Format(time.DateOnly), cred.password)
	}
}

// writeTree writes files (relative path -> content) under dir: keys and
// secrets 0600, the rest 0644, directories 0700.
func writeTree(dir string, files map[string][]byte) error {
	for rel, data := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if strings.HasPrefix(rel, "x509") {
			mode = 0o644
		}
		if err := writeFileAtomic(p, data, mode); err != nil {
			return err
		}
	}
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

// ikev1CertPayloads are the payloads of an IKEv1 profile (Cisco IPSec or
// L2TP) with a client certificate: the CA that checks the server's (when
// known) and the client's PKCS#12, with the IPSec dictionary's entries
// that name the certificate.
func (p *appleProfile) ikev1CertPayloads(id string, r io.Reader) ([]any, plistDict) {
	var content []any
	certUUID := uuid4(r)
	if p.ca != nil {
		content = append(content, p.caPayload(id, r))
	}
	content = append(content, p.p12Payload(id, certUUID))
	return content, plistDict{
		{"AuthenticationMethod", "Certificate"},
		{"PayloadCertificateUUID", certUUID},
	}
}

// caPayload trusts the CA that issued the server certificate.
func (p *appleProfile) caPayload(id string, r io.Reader) plistDict {
	return plistDict{
		{"PayloadCertificateFileName", "goipsec-ca.cer"},
		{"PayloadContent", p.ca.Raw},
		{"PayloadDescription", "Trusts the certificate authority of the VPN server " + p.server},
		{"PayloadDisplayName", p.ca.Subject.CommonName},
		{"PayloadIdentifier", id + ".ca"},
		{"PayloadType", "com.apple.security.root"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
	}
}

// p12Payload is the client's certificate and key (PKCS#12), with its
// password when the profile may carry it.
func (p *appleProfile) p12Payload(id, certUUID string) plistDict {
	pk := plistDict{}
	if p.includeP12Password {
		pk = append(pk, plistEntry{"Password", p.cert.password})
	}
	return append(pk,
		plistEntry{"PayloadCertificateFileName", fileSafe(p.cert.identity) + ".p12"},
		plistEntry{"PayloadContent", p.cert.pfx},
		plistEntry{"PayloadDescription", "The client certificate of " + p.cert.identity + " for the VPN server " + p.server},
		plistEntry{"PayloadDisplayName", p.cert.identity},
		plistEntry{"PayloadIdentifier", id + ".client"},
		plistEntry{"PayloadType", "com.apple.security.pkcs12"},
		plistEntry{"PayloadUUID", certUUID},
		plistEntry{"PayloadVersion", 1},
	)
}
