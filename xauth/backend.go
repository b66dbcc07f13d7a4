package xauth

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/goipsec/ipsec"
)

// Backend checks XAuth credentials somewhere else than a local
// ipsec.UserStore: a RADIUS client sending an Access-Request with
// User-Name and User-Password (RFC 2865), a PAM or LDAP bridge. When
// ServerConfig.Backend is set the Server asks it instead of the store.
//
// The context carries the access request's NAS information when an IKE
// engine drives the Server (see NAS and NASFromContext).
type Backend interface {
	// Authenticate checks a user name and password. It returns the
	// account (for fixed addresses and groups; it may be a bare
	// &ipsec.User{Name: name}), an error wrapping ErrAuthFailed for wrong
	// credentials, or another error for an outage (the Server then fails
	// the exchange at once instead of asking again). It must not keep
	// password after it returns.
	Authenticate(ctx context.Context, name string, password ipsec.Secret) (*ipsec.User, error)
}

// NAS is what the gateway knows about the access request beside the
// credentials, as a RADIUS client puts it into an Access-Request. It
// mirrors eap.NAS (xauth may not import eap); the IKEv1 engine attaches
// it with ContextWithNAS.
type NAS struct {
	// ClientAddr is the client's outer address and port (behind a NAT,
	// the NAT's).
	ClientAddr netip.AddrPort
	// LocalAddr is our address the client reached.
	LocalAddr netip.AddrPort
	// CookieI and CookieR identify the ISAKMP SA being authenticated.
	CookieI, CookieR uint64
	// SessionID is the session's accounting number.
	SessionID uint64
	// Port is the session's NAS-Port.
	Port uint32
}

type nasKey struct{}

// ContextWithNAS returns a copy of ctx that carries nas for a Backend.
func ContextWithNAS(ctx context.Context, nas NAS) context.Context {
	return context.WithValue(ctx, nasKey{}, nas)
}

// NASFromContext returns the NAS attached by ContextWithNAS; ok is false
// when there is none.
func NASFromContext(ctx context.Context) (nas NAS, ok bool) {
	nas, ok = ctx.Value(nasKey{}).(NAS)
	return nas, ok
}

var unknownUserPassword = make(ipsec.Secret, MaxPasswordLen)

// storeBackend checks passwords against an ipsec.UserStore.
type storeBackend struct{ users ipsec.UserStore }

func (s storeBackend) Authenticate(ctx context.Context, name string, password ipsec.Secret) (*ipsec.User, error) {
	u, err := lookupUser(ctx, s.users, name)
	if errors.Is(err, ipsec.ErrUnknownUser) {
		// Same answer and the same comparison as for a wrong password, so
		// names cannot be probed.
		_ = unknownUserPassword.Equal(password)
		return nil, ErrAuthFailed
	}
	if err != nil {
		return nil, err
	}
	// Accounts that keep only an NT hash cannot check a clear password
	// here; they fail like a wrong password.
	if u.Disabled || len(u.Password) == 0 || !u.Password.Equal(password) {
		return nil, ErrAuthFailed
	}
	return u, nil
}

// lookupUser asks the store for name as sent, then, for a Windows-style
// "DOMAIN\user", for the bare user name: the rule eap.LookupUser follows,
// so one user table admits the same names for EAP and XAuth.
func lookupUser(ctx context.Context, store ipsec.UserStore, name string) (*ipsec.User, error) {
	u, err := store.LookupUser(ctx, name)
	if err == nil || !errors.Is(err, ipsec.ErrUnknownUser) {
		return u, err
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 && i+1 < len(name) {
		return store.LookupUser(ctx, name[i+1:])
	}
	return nil, err
}

// verifierBackend hands the password to an ipsec.PasswordVerifier.
type verifierBackend struct{ v ipsec.PasswordVerifier }

func (b verifierBackend) Authenticate(ctx context.Context, name string, password ipsec.Secret) (*ipsec.User, error) {
	res, err := b.v.VerifyPassword(ctx, &ipsec.PasswordRequest{Name: name, Method: ipsec.PasswordPAP, Password: password})
	switch {
	case errors.Is(err, ipsec.ErrPasswordRejected), errors.Is(err, ipsec.ErrUnknownUser):
		return nil, ErrAuthFailed
	case err != nil:
		return nil, err
	case res == nil || res.User == nil:
		return &ipsec.User{Name: name}, nil
	}
	return res.User, nil
}
