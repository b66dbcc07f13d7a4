package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// ClientCertConfig is what the responder demands of client certificates
// beyond a chain to a client CA (YAML key client_certs). The files are
// read at start and again on SIGHUP.
type ClientCertConfig struct {
	// CRL is a certificate revocation list file, PEM ("X509 CRL" blocks,
	// one per client CA if needed) or DER, signed by a client CA (the
	// demo CA, or one of client_cas).
	CRL string `yaml:"crl"`
	// RevokedSerials is a file of revoked serial numbers, one a line, in
	// hexadecimal (colons, a 0x or serial= prefix allowed; what `openssl
	// x509 -serial` prints); # starts a comment. They apply to
	// certificates of every client CA.
	RevokedSerials string `yaml:"revoked_serials"`
	// RequireUser accepts a certificate client only when its identity
	// (e-mail address or DNS name, or the subject's CN for a DN
	// identity) is the name of a configured user (users).
	RequireUser bool `yaml:"require_user"`
}

// Field names for errors.
const (
	fieldCRL         = "client_certs.crl"
	fieldSerials     = "client_certs.revoked_serials"
	fieldRequireUser = "client_certs.require_user"
)

// check validates what needs no file: require_user needs users.
func (c ClientCertConfig) check(haveUsers bool) error {
	if c.RequireUser && !haveUsers {
		return fieldErr(fieldRequireUser, "needs users: the configured users are the accepted certificate identities")
	}
	return nil
}

// configured reports whether any client certificate check is set.
func (c ClientCertConfig) configured() bool {
	return c.CRL != "" || c.RevokedSerials != "" || c.RequireUser
}

// revocation is the revoked certificates as loaded from the files.
type revocation struct {
	// byIssuer maps the CA that signed a CRL (caKey) to the serial
	// numbers (big.Int.Text(16)) it revoked.
	byIssuer map[string]map[string]bool
	// serials are revoked whoever issued them.
	serials map[string]bool
}

// caKey identifies a CA by name and key, so that two CAs of the same
// name do not revoke each other's certificates.
func caKey(ca *x509.Certificate) string {
	return string(ca.RawSubject) + string(ca.RawSubjectPublicKeyInfo)
}

// revoked reports why c, issued by issuer (the next certificate of the
// verified chain), is revoked, "" if not.
func (r *revocation) revoked(c, issuer *x509.Certificate) string {
	sn := c.SerialNumber.Text(16)
	if r.serials[sn] {
		return "serial " + sn + " is in " + fieldSerials
	}
	if r.byIssuer[caKey(issuer)][sn] {
		return "serial " + sn + " is revoked by the CRL of " + issuer.Subject.String()
	}
	return ""
}

// loadRevocation reads the CRL and serials files of cfg; each CRL must be
// signed by one of cas. Errors name the configuration key.
func loadRevocation(cfg ClientCertConfig, cas []*x509.Certificate, now time.Time, log *slog.Logger) (*revocation, error) {
	r := &revocation{byIssuer: map[string]map[string]bool{}, serials: map[string]bool{}}
	if cfg.CRL != "" {
		if len(cas) == 0 {
			return nil, fieldErr(fieldCRL, "there are no certificate clients (no demo PKI and no client_cas) whose CA could sign it")
		}
		data, err := readFileLimited(cfg.CRL, maxCredentialFile)
		if err != nil {
			return nil, &fieldError{Field: fieldCRL, Err: err}
		}
		ders, err := crlBlocks(data)
		if err != nil {
			return nil, fieldErr(fieldCRL, "%s: %v", cfg.CRL, err)
		}
		for i, der := range ders {
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return nil, fieldErr(fieldCRL, "%s: CRL %d: %v", cfg.CRL, i+1, err)
			}
			ca, err := crlSigner(crl, cas)
			if err != nil {
				return nil, fieldErr(fieldCRL, "%s: CRL %d of %q: %v", cfg.CRL, i+1, crl.Issuer.String(), err)
			}
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) && log != nil {
				// Still used: an old list is better than none.
				log.Warn("the CRL is past its next update: issue a new one", "file", cfg.CRL, "issuer", crl.Issuer.String(), "next_update", crl.NextUpdate)
			}
			set := r.byIssuer[caKey(ca)]
			if set == nil {
				set = map[string]bool{}
				r.byIssuer[caKey(ca)] = set
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil {
					set[e.SerialNumber.Text(16)] = true
				}
			}
		}
	}
	if cfg.RevokedSerials != "" {
		data, err := readFileLimited(cfg.RevokedSerials, maxCredentialFile)
		if err != nil {
			return nil, &fieldError{Field: fieldSerials, Err: err}
		}
		if r.serials, err = parseSerials(data); err != nil {
			return nil, fieldErr(fieldSerials, "%s: %v", cfg.RevokedSerials, err)
		}
	}
	return r, nil
}

// crlBlocks returns the DER CRLs of a PEM file (X509 CRL blocks) or the
// file itself when it is DER.
func crlBlocks(data []byte) ([][]byte, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return [][]byte{data}, nil
	}
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM \"X509 CRL\" block")
	}
	return out, nil
}

// crlSigner returns the client CA that issued crl, whose signature it
// checks.
func crlSigner(crl *x509.RevocationList, cas []*x509.Certificate) (*x509.Certificate, error) {
	var last error
	for _, ca := range cas {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		if last = crl.CheckSignatureFrom(ca); last == nil {
			return ca, nil
		}
	}
	if last != nil {
		return nil, fmt.Errorf("signature does not verify with the client CA: %v", last)
	}
	return nil, errors.New("not issued by a client CA (the demo CA or client_cas)")
}

// parseSerials reads a revoked-serials file.
func parseSerials(data []byte) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		s := strings.ToLower(line)
		s = strings.TrimPrefix(s, "serial=")
		s = strings.TrimPrefix(s, "0x")
		s = strings.ReplaceAll(s, ":", "")
		v, ok := new(big.Int).SetString(s, 16)
		if !ok || v.Sign() < 0 {
			return nil, fmt.Errorf("line %d: %q is not a hexadecimal serial number", n, line)
		}
		out[v.Text(16)] = true
	}
	return out, sc.Err()
}

// certPolicy is the check ike runs on every certificate client
// (RemoteAuth.VerifyCertificate): revocation, reloaded on SIGHUP, and,
// with require_user, the identity among the users.
type certPolicy struct {
	cfg   ClientCertConfig
	cas   []*x509.Certificate
	users map[string]bool // lower-case names, for require_user
	log   *slog.Logger
	cur   atomic.Pointer[revocation]
}

// newCertPolicy loads the revocation files; cas are the client CAs.
func newCertPolicy(cfg ClientCertConfig, cas []*x509.Certificate, users []UserConfig, log *slog.Logger) (*certPolicy, error) {
	p := &certPolicy{cfg: cfg, cas: cas, users: map[string]bool{}, log: log}
	for _, u := range users {
		p.users[strings.ToLower(u.Name)] = true
	}
	r, err := loadRevocation(cfg, cas, timeNow(), log)
	if err != nil {
		return nil, err
	}
	p.cur.Store(r)
	return p, nil
}

// reload reads the files again; on an error the previous lists stay.
func (p *certPolicy) reload() error {
	r, err := loadRevocation(p.cfg, p.cas, timeNow(), p.log)
	if err != nil {
		return err
	}
	p.cur.Store(r)
	return nil
}

// verify is the ike.RemoteAuth.VerifyCertificate of certificate clients.
func (p *certPolicy) verify(id ipsec.Identity, chain []*x509.Certificate) error {
	r := p.cur.Load()
	// Every certificate below the trust anchor: a revoked intermediate
	// takes its clients along.
	for i := range max(len(chain)-1, 1) {
		if why := r.revoked(chain[i], chain[min(i+1, len(chain)-1)]); why != "" {
			return fmt.Errorf("certificate %q revoked: %s", chain[i].Subject.String(), why)
		}
	}
	if p.cfg.RequireUser {
		name := string(id.Data)
		switch id.Type {
		case ipsec.IDDERASN1DN:
			name = chain[0].Subject.CommonName
		case ipsec.IDIPv4Addr, ipsec.IDIPv6Addr:
			name = id.String()
		}
		if !p.users[strings.ToLower(name)] {
			return fmt.Errorf("identity %s (%q) is not a configured user (%s)", id, name, fieldRequireUser)
		}
	}
	return nil
}

// applyCertPolicy installs the client certificate checks of s on the
// certificate configurations among peers (cas: their CAs) and reloads
// the revocation files on SIGHUP until the returned stop is called. With
// nothing configured it installs no check, and SIGHUP only logs.
func applyCertPolicy(s *settings, peers []*ike.PeerConfig, cas []*x509.Certificate, log *slog.Logger) (stop func(), err error) {
	var p *certPolicy
	if s.clientCerts.configured() {
		if p, err = newCertPolicy(s.clientCerts, cas, s.users, log); err != nil {
			return nil, err
		}
		for _, c := range peers {
			if c.Remote.Method == ike.AuthPubkey {
				c.Remote.VerifyCertificate = p.verify
			}
		}
		log.Info("client certificate checks", "crl", s.clientCerts.CRL, "revoked_serials", s.clientCerts.RevokedSerials, "require_user", s.clientCerts.RequireUser)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			switch {
			case p == nil:
				log.Info("SIGHUP: no client_certs files to reload")
			default:
				if err := p.reload(); err != nil {
					log.Error("SIGHUP: reloading the client certificate revocation failed; the previous lists stay in force", "err", err)
					continue
				}
				log.Info("SIGHUP: client certificate revocation reloaded", "crl", s.clientCerts.CRL, "revoked_serials", s.clientCerts.RevokedSerials)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}, nil
}

// retireRevokedClientCert moves user's stored client certificate and key
// aside (NAME-SERIAL.pem.revoked, NAME-SERIAL.key.revoked) when
// client_certs revokes it, so that `export --auth cert` issues a new
// certificate instead of handing out the revoked one again. It reports
// whether it did.
func retireRevokedClientCert(s *settings, stateDir, user string) (bool, error) {
	if s.clientCerts.CRL == "" && s.clientCerts.RevokedSerials == "" {
		return false, nil
	}
	ca, _, err := loadPair(filepath.Join(stateDir, caCertFile), filepath.Join(stateDir, caKeyFile))
	if err != nil {
		return false, nil // no demo CA: issuing reports it
	}
	base := filepath.Join(stateDir, clientDir, fileSafe(user))
	cert, _, err := loadPair(base+".pem", base+".key")
	if err != nil {
		return false, nil // none yet, or broken: issuing replaces it
	}
	r, err := loadRevocation(s.clientCerts, []*x509.Certificate{ca}, timeNow(), nil)
	if err != nil {
		return false, err
	}
	if r.revoked(cert, ca) == "" {
		return false, nil
	}
	aside := base + "-" + cert.SerialNumber.Text(16)
	for _, ext := range []string{".pem", ".key"} {
		if err := os.Rename(base+ext, aside+ext+".revoked"); err != nil {
			return false, err
		}
	}
	return true, nil
}
