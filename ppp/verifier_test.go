package ppp

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/mschapv2"
)

// fakeVerifier decides like a RADIUS server holding the clear password:
// it recomputes the client's answer from the challenge it is given.
// LookupUser knows nobody, so a success proves the verifier was asked.
type fakeVerifier struct {
	password string
	fixed    netip.Addr
	err      error
	mu       sync.Mutex
	reqs     []ipsec.PasswordRequest
}

func (f *fakeVerifier) LookupUser(context.Context, string) (*ipsec.User, error) {
	return nil, ipsec.ErrUnknownUser
}

func (f *fakeVerifier) VerifyPassword(_ context.Context, r *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, ipsec.PasswordRequest{Name: r.Name, Method: r.Method, ID: r.ID,
		Challenge: bytes.Clone(r.Challenge), PeerChallenge: bytes.Clone(r.PeerChallenge), Response: bytes.Clone(r.Response)})
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	pw := []byte(f.password)
	res := &ipsec.PasswordResult{User: &ipsec.User{Name: r.Name, Addresses: []netip.Addr{f.fixed}}}
	ok := false
	switch r.Method {
	case ipsec.PasswordPAP:
		ok = string(r.Password) == f.password
	case ipsec.PasswordCHAPMD5:
		h := md5.New()
		h.Write([]byte{r.ID})
		h.Write(pw)
		h.Write(r.Challenge)
		ok = bytes.Equal(h.Sum(nil), r.Response)
	case ipsec.PasswordMSCHAPv2:
		hash := mschapv2.NTHash(pw)
		ok = bytes.Equal(mschapv2.NTResponse(r.Challenge, r.PeerChallenge, r.Name, hash), r.Response)
		res.AuthenticatorResponse = mschapv2.AuthenticatorResponse(hash, r.Response, r.PeerChallenge, r.Challenge, r.Name)
	}
	if !ok {
		return nil, ipsec.ErrPasswordRejected
	}
	return res, nil
}

// With a store that implements ipsec.PasswordVerifier, PAP, CHAP-MD5 and
// MS-CHAPv2 are decided by it from our challenge; its User's fixed
// address is the client's; a rejection or an outage fails the link.
func TestPasswordVerifier(t *testing.T) {
	fixed := netip.MustParseAddr("203.0.113.9")
	for _, tc := range []struct {
		name   string
		proto  AuthProtocol
		method ipsec.PasswordMethod
	}{
		{"pap", AuthPAP, ipsec.PasswordPAP},
		{"chap", AuthCHAPMD5, ipsec.PasswordCHAPMD5},
		{"mschapv2", AuthMSCHAPv2, ipsec.PasswordMSCHAPv2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeVerifier{password: "radius-pw", fixed: fixed}
				h := newHarness(t, func(c *Config) { c.Users, c.Auth = f, []AuthProtocol{tc.proto} })
				c := h.client(t)
				c.accept, c.user, c.pass = []AuthProtocol{tc.proto}, "carol", "radius-pw"
				up(t, h, c)
				in := h.s.Info()
				if in.User != "carol" || in.Auth != tc.proto || in.Addr4 != fixed || c.addr() != fixed || len(h.pool.Leases()) != 0 {
					t.Errorf("info %+v, client addr %v, leases %v", in, c.addr(), h.pool.Leases())
				}
				if len(f.reqs) != 1 || f.reqs[0].Method != tc.method || f.reqs[0].Name != "carol" {
					t.Fatalf("requests %+v", f.reqs)
				}
				if r := f.reqs[0]; tc.proto != AuthPAP && (!bytes.Equal(r.Challenge, c.lastChal) || r.ID != c.lastChalID) {
					t.Errorf("verifier saw challenge %x id %d, client answered %x id %d", r.Challenge, r.ID, c.lastChal, c.lastChalID)
				}
				if tc.proto == AuthMSCHAPv2 {
					want := mschapv2.AuthenticatorResponse(mschapv2.NTHash([]byte("radius-pw")), f.reqs[0].Response, f.reqs[0].PeerChallenge, c.lastChal, "carol") + " M=Welcome"
					if c.successMsg != want {
						t.Errorf("success %q, want %q", c.successMsg, want)
					}
				}
			})
		})
		t.Run(tc.name+" rejected", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeVerifier{password: "radius-pw", fixed: fixed}
				var logs bytes.Buffer
				h := newHarness(t, func(c *Config) {
					c.Users, c.Auth = f, []AuthProtocol{tc.proto}
					c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				})
				c := h.client(t)
				c.accept, c.user, c.pass = []AuthProtocol{tc.proto}, "carol", "wrong-guess"
				c.start()
				if c.authOK || c.termReqs == 0 || len(f.reqs) == 0 {
					t.Fatalf("auth %v term %d requests %d", c.authOK, c.termReqs, len(f.reqs))
				}
				if strings.Contains(logs.String(), "wrong-guess") || strings.Contains(logs.String(), "radius-pw") {
					t.Errorf("log reveals a password:\n%s", logs.String())
				}
			})
		})
	}
	t.Run("outage", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakeVerifier{err: errors.New("radius: no server answered")}
			var logs bytes.Buffer
			h := newHarness(t, func(c *Config) {
				c.Users, c.Auth = f, []AuthProtocol{AuthMSCHAPv2}
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			c := h.client(t)
			c.accept, c.user, c.pass = []AuthProtocol{AuthMSCHAPv2}, "carol", "radius-pw"
			c.start()
			if c.authOK || c.authFail == "" {
				t.Fatalf("auth %v fail %q", c.authOK, c.authFail)
			}
			if !strings.Contains(logs.String(), "no server answered") {
				t.Errorf("outage not logged:\n%s", logs.String())
			}
		})
	})
	t.Run("mschapv2 without authenticator response", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.Users, c.Auth = noAuthResp{&fakeVerifier{password: "radius-pw", fixed: fixed}}, []AuthProtocol{AuthMSCHAPv2}
			})
			c := h.client(t)
			c.accept, c.user, c.pass = []AuthProtocol{AuthMSCHAPv2}, "carol", "radius-pw"
			c.start()
			if c.authOK {
				t.Fatal("success without S=")
			}
		})
	})
}

// noAuthResp accepts but drops the MS-CHAPv2 authenticator response.
type noAuthResp struct{ *fakeVerifier }

func (n noAuthResp) VerifyPassword(ctx context.Context, r *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	res, err := n.fakeVerifier.VerifyPassword(ctx, r)
	if res != nil {
		res.AuthenticatorResponse = ""
	}
	return res, err
}
