package xauth

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec"
)

// fakeVerifier is a UserStore that also checks passwords itself, as a
// RADIUS client does: LookupUser knows nobody.
type fakeVerifier struct {
	password string
	err      error // returned instead of deciding
	reqs     []ipsec.PasswordRequest
}

func (f *fakeVerifier) LookupUser(context.Context, string) (*ipsec.User, error) {
	return nil, ipsec.ErrUnknownUser
}

func (f *fakeVerifier) VerifyPassword(_ context.Context, r *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	c := *r
	c.Password = append(ipsec.Secret(nil), r.Password...)
	f.reqs = append(f.reqs, c)
	if f.err != nil {
		return nil, f.err
	}
	if string(r.Password) != f.password {
		return nil, ipsec.ErrPasswordRejected
	}
	return &ipsec.PasswordResult{User: &ipsec.User{Name: r.Name, Addresses: []netip.Addr{netip.MustParseAddr("10.9.0.5")}, Groups: []string{"staff"}}}, nil
}

// A store that implements ipsec.PasswordVerifier decides instead of
// LookupUser: its User (fixed address, groups) is the result, a
// rejection asks again, an outage fails at once.
func TestLadderPasswordVerifier(t *testing.T) {
	f := &fakeVerifier{password: "radius-secret"}
	srv, cli, errs := ladder(t, ServerConfig{Users: f}, ClientConfig{Name: "carol", Password: ipsec.Secret("radius-secret")})
	if srv.Status != StatusSuccess || cli.Status != StatusSuccess || len(errs) != 0 {
		t.Fatalf("server %v, client %v, errs %v", srv, cli, errs)
	}
	if srv.User == nil || srv.User.Name != "carol" || len(srv.User.Addresses) != 1 || srv.User.Addresses[0] != netip.MustParseAddr("10.9.0.5") || len(srv.User.Groups) != 1 {
		t.Errorf("user %+v", srv.User)
	}
	if len(f.reqs) != 1 || f.reqs[0].Method != ipsec.PasswordPAP || f.reqs[0].Name != "carol" || string(f.reqs[0].Password) != "radius-secret" {
		t.Errorf("requests %+v", f.reqs)
	}

	f = &fakeVerifier{password: "radius-secret"}
	srv, cli, _ = ladder(t, ServerConfig{Users: f, MaxAttempts: 2}, ClientConfig{Name: "carol", Password: ipsec.Secret("wrong")})
	if srv.Status != StatusFailure || cli.Status != StatusFailure || !errors.Is(srv.Err, ErrAuthFailed) || len(f.reqs) != 2 {
		t.Errorf("wrong password: server %v, client %v, %d requests", srv, cli, len(f.reqs))
	}

	outage := errors.New("radius: no server answered")
	f = &fakeVerifier{err: outage}
	srv, _, _ = ladder(t, ServerConfig{Users: f, MaxAttempts: 3}, ClientConfig{Name: "carol", Password: ipsec.Secret("radius-secret")})
	if srv.Status != StatusFailure || !errors.Is(srv.Err, outage) || errors.Is(srv.Err, ErrAuthFailed) || len(f.reqs) != 1 {
		t.Errorf("outage: server %v, %d requests", srv, len(f.reqs))
	}
}
