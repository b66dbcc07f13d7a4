package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"time"
)

// finding is one problem lint reports: which clients reject the
// certificate, and why.
type finding struct {
	Clients string
	Problem string
}

// lintCert checks a server certificate against what the native clients
// require of it, for a server reached as name and at addrs.
func lintCert(leaf *x509.Certificate, name string, addrs []netip.Addr, now time.Time) []finding {
	var out []finding
	add := func(clients, format string, args ...any) {
		out = append(out, finding{clients, fmt.Sprintf(format, args...)})
	}
	for _, n := range append([]string{name}, addrStrings(addrs)...) {
		if leaf.VerifyHostname(n) != nil {
			add("all (iOS, macOS, Windows, Android)", "the SAN does not contain %s, which clients connect to", n)
			continue
		}
		// An address typed as server name is matched against dNSName by
		// some clients (strongSwan, older Windows), against iPAddress by
		// others: both should be there.
		if _, err := netip.ParseAddr(n); err == nil && !slices.Contains(leaf.DNSNames, n) {
			add("Windows, Android", "%s is in the SAN as iPAddress but not as dNSName", n)
		}
	}
	if leaf.Subject.CommonName != name {
		add("Windows", "the subject CN is %q, not the server name %q", leaf.Subject.CommonName, name)
	}
	if len(leaf.ExtKeyUsage) > 0 || len(leaf.UnknownExtKeyUsage) > 0 {
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			add("iOS, macOS, Windows", "the certificate lacks the serverAuth extended key usage")
		}
		if !slices.ContainsFunc(leaf.UnknownExtKeyUsage, oidIKEIntermediate.Equal) {
			add("macOS (older), Windows (some versions)", "the certificate lacks the ikeIntermediate extended key usage (1.3.6.1.5.5.8.2.2)")
		}
	} else {
		add("iOS, macOS, Windows", "the certificate has no extended key usage: add serverAuth and ikeIntermediate")
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		add("all", "the key usage does not allow digitalSignature, which IKE AUTH needs")
	}
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			add("iOS, macOS", "the RSA key has %d bits; Apple requires at least 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		add("Windows (default settings)", "an ECDSA key: Windows' built-in client needs RSA unless configured otherwise")
	case ed25519.PublicKey:
		add("iOS, macOS, Windows", "an Ed25519 key: the built-in clients do not support it")
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour {
		add("iOS, macOS", "valid for %d days; Apple rejects server certificates valid for more than 825", int(d.Hours()/24))
	}
	if now.After(leaf.NotAfter) {
		add("all", "expired on %s", leaf.NotAfter.Format(time.DateOnly))
	} else if now.Before(leaf.NotBefore) {
		add("all", "not valid before %s", leaf.NotBefore.Format(time.DateOnly))
	} else if leaf.NotAfter.Sub(now) < 30*24*time.Hour {
		add("all (soon)", "expires on %s", leaf.NotAfter.Format(time.DateOnly))
	}
	if leaf.SignatureAlgorithm == x509.SHA1WithRSA || leaf.SignatureAlgorithm == x509.MD5WithRSA {
		add("iOS, macOS, Windows", "signed with %s, which clients no longer accept", leaf.SignatureAlgorithm)
	}
	return out
}

// runLint checks the configured (or demo) server certificate.
func runLint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("responder lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the responder's configuration `file`")
	stateDir := fs.String("state", defaultStateDir, "the responder's state `directory`")
	certPath := fs.String("cert", "", "check this PEM certificate `file` instead of the configured one")
	var o overrides
	fs.StringVar(&o.name, "name", "", "server `name` (server.name), as the responder is started with")
	fs.StringVar(&o.listen, "listen", "", "listen `addresses` (server.listen), as the responder is started with")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "responder lint: config %v\n", err)
		return 1
	}
	o.apply(cfg)
	s, err := cfg.validate(nil)
	if err != nil {
		fmt.Fprintf(stderr, "responder lint: config: %v\n", err)
		return 1
	}
	name, addrs := serverIdentity(s)
	path := *certPath
	if path == "" {
		path = s.certFile
	}
	var leaf *x509.Certificate
	if path == "" && s.pkcs12File != "" {
		// The server's PKCS#12 (server.pkcs12), with its password.
		path = s.pkcs12File
		sc, err := s.loadServerCert()
		if err != nil {
			fmt.Fprintf(stderr, "responder lint: %v\n", err)
			return 1
		}
		leaf = sc.leaf
	} else {
		if path == "" {
			path = filepath.Join(*stateDir, serverCertFile)
		}
		chain, err := loadChain(path)
		if err != nil {
			fmt.Fprintf(stderr, "responder lint: %v\n", err)
			return 1
		}
		leaf = chain[0]
	}
	code := 0
	findings := lintCert(leaf, name, addrs, timeNow())
	if len(findings) == 0 {
		fmt.Fprintf(stdout, "%s: fine for %s (%s): every built-in client accepts it\n", path, name, joinAddrs(addrs))
	} else {
		fmt.Fprintf(stdout, "%s for %s (%s):\n", path, name, joinAddrs(addrs))
		for _, f := range findings {
			fmt.Fprintf(stdout, "  rejected by %s: %s\n", f.Clients, f.Problem)
		}
		code = 1
	}
	if s.radius != nil && !lintRadius(context.Background(), s.radius, stdout) {
		code = 1
	}
	return code
}

func joinAddrs(a []netip.Addr) string {
	if len(a) == 0 {
		return "no addresses"
	}
	return fmt.Sprint(addrStrings(a))
}
