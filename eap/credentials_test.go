package eap

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testpki"
)

func TestParseUsers(t *testing.T) {
	in := `# accounts
alice:wonderland
bob:two words 198.51.100.20 2001:db8::20
CORP\carol:nthash:44EBBA8D5312B8D611474411F56989AE
dave:pass:with:colons 203.0.113.9

`
	users, err := ParseUsers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 4 {
		t.Fatalf("%d users", len(users))
	}
	check := func(u ipsec.User, name, pw string, addrs ...string) {
		t.Helper()
		if u.Name != name || string(u.Password) != pw || len(u.Addresses) != len(addrs) {
			t.Errorf("user %q: name %q, password ok %t, %d addresses", name, u.Name, string(u.Password) == pw, len(u.Addresses))
			return
		}
		for i, a := range addrs {
			if u.Addresses[i] != netip.MustParseAddr(a) {
				t.Errorf("%s address %d = %v", name, i, u.Addresses[i])
			}
		}
	}
	check(users[0], "alice", "wonderland")
	check(users[1], "bob", "two words", "198.51.100.20", "2001:db8::20")
	check(users[2], `CORP\carol`, "")
	check(users[3], "dave", "pass:with:colons", "203.0.113.9")
	// The NT hash line is RFC 2759's "clientPass".
	if !bytes.Equal(users[2].NTHash, NTHash([]byte("clientPass"))) {
		t.Errorf("NT hash %x", []byte(users[2].NTHash))
	}
	for _, bad := range []string{"nocolon", ":pw", "x:", "x:nthash:abcd", "x:nthash:zz112233445566778899aabbccddeeff"} {
		if _, err := ParseUsers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		} else if strings.Contains(err.Error(), "112233") {
			t.Errorf("error quotes the hash: %v", err)
		}
	}
	// The parsed users work end to end.
	store := ipsec.NewUsers(users...)
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: store})
	p := NewPeer(PeerConfig{Identity: `CORP\carol`, Password: ipsec.Secret("clientPass")})
	if sres, _, _, _, _ := ladder(t, s, p, ""); sres.Status != StatusSuccess {
		t.Errorf("carol: %v", sres)
	}
}

func TestLookupUser(t *testing.T) {
	store := ipsec.NewUsers(ipsec.User{Name: "alice"}, ipsec.User{Name: `CORP\bob`}, ipsec.User{Name: "eve", Disabled: true})
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
	}{
		{"alice", "alice"},
		{`CORP\alice`, "alice"},
		{`A\B\alice`, ""}, // the domain ends at the first backslash: "B\alice" is unknown
		{`CORP\bob`, `CORP\bob`},
		{"bob", ""},
		{`OTHER\bob`, ""},
		{"eve", ""},
		{`CORP\`, ""},
	} {
		u, err := LookupUser(ctx, store, tc.name)
		switch {
		case tc.want == "" && !errors.Is(err, ipsec.ErrUnknownUser):
			t.Errorf("%q: %v, want ErrUnknownUser", tc.name, err)
		case tc.want != "" && (err != nil || u.Name != tc.want):
			t.Errorf("%q: %v %v, want %s", tc.name, u, err, tc.want)
		}
	}
}

func TestNTHash(t *testing.T) {
	// MD4 of UTF-16LE; non-ASCII and non-BMP characters become one or two
	// UTF-16 units.
	if got, want := NTHash([]byte("ä")), md4Sum([]byte{0xe4, 0x00}); !bytes.Equal(got, want) {
		t.Errorf("ä: %x", []byte(got))
	}
	if got, want := NTHash([]byte("😀")), md4Sum([]byte{0x3d, 0xd8, 0x00, 0xde}); !bytes.Equal(got, want) {
		t.Errorf("emoji: %x", []byte(got))
	}
	if got, want := NTHash([]byte{0xff}), md4Sum([]byte{0xfd, 0xff}); !bytes.Equal(got, want) {
		t.Errorf("invalid UTF-8: %x", []byte(got))
	}
}

func TestCertVerifier(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA.Cert)
	chain := []*x509.Certificate{pki.Client.Cert}
	v := &CertVerifier{Roots: pool}
	for _, tc := range []struct {
		identity, want string
		err            error
	}{
		{"alice@example.com", "alice@example.com", nil}, // CN and e-mail SAN
		{"ALICE@example.com", "ALICE@example.com", nil}, // e-mail SAN, case-insensitive
		{"", "alice@example.com", nil},                  // no identity: the CN
		{"bob@example.com", "", ErrCertIdentity},
	} {
		got, err := v.Verify(tc.identity, chain)
		if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%q: %q %v", tc.identity, got, err)
		}
	}
	if _, err := (&CertVerifier{Roots: pool}).Verify("vpn.example.com", []*x509.Certificate{pki.Server.Cert}); err == nil {
		t.Error("server certificate accepted for client auth")
	}
	if _, err := (&CertVerifier{Roots: pool, Now: func() time.Time { return time.Now().Add(5 * 365 * 24 * time.Hour) }}).Verify("alice@example.com", chain); err == nil {
		t.Error("expired certificate accepted")
	}
	if _, err := (&CertVerifier{Roots: x509.NewCertPool()}).Verify("alice@example.com", chain); err == nil {
		t.Error("untrusted certificate accepted")
	}
	if _, err := v.Verify("alice@example.com", nil); err == nil {
		t.Error("empty chain accepted")
	}
	// With Users, the identity must be a known account.
	vu := &CertVerifier{Roots: pool, Users: ipsec.NewUsers(ipsec.User{Name: "bob"})}
	if _, err := vu.Verify("alice@example.com", chain); !errors.Is(err, ipsec.ErrUnknownUser) {
		t.Errorf("unknown user accepted: %v", err)
	}
}
