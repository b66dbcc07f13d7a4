package ppp

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/freeradius"
	"github.com/goipsec/ipsec/internal/mschapv2"
	"github.com/goipsec/ipsec/radius"
)

// radiusStore is the smallest PasswordVerifier over radius.Client, as an
// embedder writes it (examples/responder has the full one).
type radiusStore struct{ c *radius.Client }

func (radiusStore) LookupUser(context.Context, string) (*ipsec.User, error) {
	return nil, ipsec.ErrUnknownUser
}

func (s radiusStore) VerifyPassword(ctx context.Context, r *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	var (
		rep *radius.Reply
		err error
	)
	switch r.Method {
	case ipsec.PasswordPAP:
		rep, err = s.c.PAP(ctx, r.Name, r.Password)
	case ipsec.PasswordCHAPMD5:
		rep, err = s.c.CHAP(ctx, r.Name, r.ID, r.Challenge, r.Response)
	case ipsec.PasswordMSCHAPv2:
		rep, err = s.c.MSCHAPv2(ctx, r.Name, r.ID, r.Challenge, r.PeerChallenge, r.Response)
	}
	if err != nil {
		return nil, err
	}
	if !rep.Accepted {
		return nil, ipsec.ErrPasswordRejected
	}
	res := &ipsec.PasswordResult{User: &ipsec.User{Name: r.Name}, MPPESendKey: rep.MPPESendKey, MPPERecvKey: rep.MPPERecvKey}
	if rep.FramedIP.IsValid() {
		res.User.Addresses = []netip.Addr{rep.FramedIP}
	}
	if len(rep.MSCHAP2Success) > 1 {
		res.AuthenticatorResponse = string(rep.MSCHAP2Success[1:])
	}
	return res, nil
}

// PPP's MS-CHAPv2, CHAP-MD5 and PAP checked by a real FreeRADIUS through
// the PasswordVerifier seam: FreeRADIUS's authenticator response is what
// the client verifies, its Framed-IP-Address is the client's address,
// and a wrong password ends the link. (L2TP/PPP end to end through the
// responder needs the VM's kernel; this covers the PPP part.)
func TestPasswordVerifierFreeRADIUS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test; run without -short")
	}
	const secret = "ppp-radius-s3cret"
	framed := netip.MustParseAddr("198.51.100.77")
	fr := freeradius.Start(t, nil, freeradius.Config{Secret: secret, Users: `alice	Cleartext-Password := "wonderland"
	Framed-IP-Address = ` + framed.String() + `
`})
	c, err := radius.NewClient(radius.ClientConfig{Servers: []radius.Server{{Addr: "127.0.0.1:1812", Secret: ipsec.Secret(secret), Timeout: 2 * time.Second}}, NASIdentifier: "ppp-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := fr.NS.Do(c.Connect); err != nil {
		t.Fatal(err)
	}
	for _, proto := range []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP} {
		t.Run(proto.String(), func(t *testing.T) {
			h := newHarness(t, func(cfg *Config) { cfg.Users, cfg.Auth = radiusStore{c}, []AuthProtocol{proto} })
			cl := h.client(t)
			cl.accept, cl.user, cl.pass = []AuthProtocol{proto}, "alice", "wonderland"
			up(t, h, cl)
			if in := h.s.Info(); in.User != "alice" || in.Auth != proto || in.Addr4 != framed || cl.addr() != framed {
				t.Errorf("info %+v, client address %v, want %v", in, cl.addr(), framed)
			}
			if proto == AuthMSCHAPv2 {
				// The client's own computation of the authenticator
				// response must equal what FreeRADIUS sent.
				hash := mschapv2.NTHash([]byte("wonderland"))
				pc := bytes.Repeat([]byte{0x5a}, 16) // tclient's peer challenge
				nt := mschapv2.NTResponse(cl.lastChal, pc, "alice", hash)
				want := mschapv2.AuthenticatorResponse(hash, nt, pc, cl.lastChal, "alice")
				if f := strings.Fields(cl.successMsg); len(f) == 0 || f[0] != want {
					t.Fatalf("success message %q, want the authenticator response %s", cl.successMsg, want)
				}
			}

			h = newHarness(t, func(cfg *Config) { cfg.Users, cfg.Auth = radiusStore{c}, []AuthProtocol{proto} })
			cl = h.client(t)
			cl.accept, cl.user, cl.pass = []AuthProtocol{proto}, "alice", "not-wonderland"
			cl.start()
			if cl.authOK || cl.termReqs == 0 {
				t.Fatalf("wrong password: auth %v term %d", cl.authOK, cl.termReqs)
			}
		})
	}
}
