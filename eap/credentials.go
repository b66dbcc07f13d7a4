package eap

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/goipsec/ipsec"
)

// LookupUser finds name in store the way every method here does: first
// the name exactly as the client sent it, then, if that is unknown and
// the name has a Windows "DOMAIN\" prefix, the bare user name. So an
// operator may list "CORP\alice" to admit only that domain, or "alice"
// to admit her from any. Errors other than ipsec.ErrUnknownUser (a
// backend outage) are returned as they are.
func LookupUser(ctx context.Context, store ipsec.UserStore, name string) (*ipsec.User, error) {
	u, err := store.LookupUser(ctx, name)
	if err == nil || !errors.Is(err, ipsec.ErrUnknownUser) {
		return u, err
	}
	if bare := mschapUserName(name); bare != name && bare != "" {
		return store.LookupUser(ctx, bare)
	}
	return nil, err
}

// ntHashOf returns the NT hash of u: the stored one, or computed from the
// clear password. ok is false when u has neither.
func ntHashOf(u *ipsec.User) (ipsec.Secret, bool) {
	if len(u.NTHash) == 16 {
		return u.NTHash, true
	}
	if len(u.Password) > 0 {
		return NTHash(u.Password), true
	}
	return nil, false
}

// ParseUsers reads accounts, one per line, in the form
//
//	name:password [address...]
//	name:nthash:0123456789abcdef0123456789abcdef [address...]
//
// where the optional addresses are fixed virtual IPs. Blank lines and
// lines starting with '#' are skipped. A name may contain a "DOMAIN\"
// prefix but no ':'; a password may contain anything but a line break or
// a leading "nthash:". Errors name the line, never its password.
func ParseUsers(r io.Reader) ([]ipsec.User, error) {
	var users []ipsec.User
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("eap: users line %d: want name:password", n)
		}
		u := ipsec.User{Name: name}
		// Addresses are the trailing whitespace-separated words that parse
		// as IP addresses; everything before them is the password (which
		// may itself contain spaces).
		rest = strings.TrimSpace(rest)
		for {
			i := strings.LastIndexAny(rest, " \t")
			if i < 0 {
				break
			}
			a, err := netip.ParseAddr(rest[i+1:])
			if err != nil {
				break
			}
			u.Addresses = append([]netip.Addr{a}, u.Addresses...)
			rest = strings.TrimRight(rest[:i], " \t")
		}
		if h, ok := strings.CutPrefix(rest, "nthash:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 16 {
				return nil, fmt.Errorf("eap: users line %d (%q): NT hash must be 32 hex digits", n, name)
			}
			u.NTHash = b
		} else {
			if rest == "" {
				return nil, fmt.Errorf("eap: users line %d (%q): empty password", n, name)
			}
			u.Password = ipsec.Secret(rest)
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eap: users: %w", err)
	}
	return users, nil
}

// CertVerifier checks EAP-TLS client certificates: the chain against
// Roots, the extended key usage, and that the certificate names the EAP
// identity. Windows sends the certificate's subject CN as its EAP
// identity; strongSwan and Android send an e-mail or DNS SAN; all three
// are accepted (case-insensitively for e-mail and DNS names).
type CertVerifier struct {
	// Roots are the trusted CAs (required).
	Roots *x509.CertPool
	// Intermediates are extra intermediates beside those the client sends.
	Intermediates *x509.CertPool
	// KeyUsages are the accepted extended key usages
	// (x509.ExtKeyUsageClientAuth when empty; ExtKeyUsageAny disables the
	// check).
	KeyUsages []x509.ExtKeyUsage
	// Users, if set, must know the identity (through LookupUser); the
	// account's attributes (fixed address) end up in Result.User.
	// Without it any certificate from Roots naming the identity passes.
	Users ipsec.UserStore
	// Now is the validation time (time.Now when nil).
	Now func() time.Time
}

// ErrCertIdentity means the client certificate does not name the EAP
// identity the client claimed.
var ErrCertIdentity = errors.New("eap: certificate does not match the identity")

// Verify checks chain (leaf first) and binds it to identity. An empty
// identity (the server skipped the Identity exchange and IKE had none)
// is replaced by the leaf's CN, or its first e-mail SAN. It returns the
// identity the certificate proved.
func (v *CertVerifier) Verify(identity string, chain []*x509.Certificate) (string, error) {
	id, _, err := v.verify(context.Background(), identity, chain)
	return id, err
}

func (v *CertVerifier) verify(ctx context.Context, identity string, chain []*x509.Certificate) (string, *ipsec.User, error) {
	id, err := v.verifyChain(identity, chain)
	if err != nil || v.Users == nil {
		return id, nil, err
	}
	u, err := LookupUser(ctx, v.Users, id)
	if err != nil {
		return "", nil, fmt.Errorf("eap: certificate identity %q: %w", id, err)
	}
	return id, u, nil
}

func (v *CertVerifier) verifyChain(identity string, chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", errors.New("eap: no client certificate")
	}
	if v.Roots == nil {
		return "", errors.New("eap: CertVerifier.Roots not set")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	inter := x509.NewCertPool()
	if v.Intermediates != nil {
		inter = v.Intermediates.Clone()
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	usages := v.KeyUsages
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: v.Roots, Intermediates: inter, CurrentTime: now(), KeyUsages: usages}); err != nil {
		return "", fmt.Errorf("eap: client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	return bindIdentity(identity, leaf)
}

func bindIdentity(identity string, leaf *x509.Certificate) (string, error) {
	if identity == "" {
		if leaf.Subject.CommonName != "" {
			return leaf.Subject.CommonName, nil
		}
		if len(leaf.EmailAddresses) > 0 {
			return leaf.EmailAddresses[0], nil
		}
		return "", fmt.Errorf("%w: certificate has neither CN nor e-mail", ErrCertIdentity)
	}
	if identity == leaf.Subject.CommonName {
		return identity, nil
	}
	for _, n := range leaf.EmailAddresses {
		if strings.EqualFold(n, identity) {
			return identity, nil
		}
	}
	for _, n := range leaf.DNSNames {
		if strings.EqualFold(n, identity) {
			return identity, nil
		}
	}
	return "", fmt.Errorf("%w: identity %q, certificate CN %q", ErrCertIdentity, identity, leaf.Subject.CommonName)
}
