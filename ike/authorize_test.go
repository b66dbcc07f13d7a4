package ike_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/testpki"
)

// lockedBuffer is a log sink written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// alerts returns the recorded alerts.
func (a *alertLog) alerts() []ike.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ike.Alert(nil), a.l...)
}

// A hook that blocks past the initiator's first retransmission (4 s) does
// not stall the IKE SA: it gets a deadline, the SA answers snapshots
// meanwhile, the retransmitted request gets no second processing, and
// IKE_AUTH completes with one response once the hook answers.
func TestAuthorizeBlockingHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var p *pair
		type seen struct {
			req         ike.AuthRequest
			deadline    time.Duration
			hasDeadline bool
			during      []ipsec.IKESAInfo
		}
		got := make(chan seen, 1)
		hook := func(ctx context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
			s := seen{req: req}
			var dl time.Time
			dl, s.hasDeadline = ctx.Deadline()
			s.deadline = time.Until(dl)
			time.Sleep(6 * time.Second)
			// Calling back into the responder works: the SA's goroutine
			// is not the one blocked here.
			s.during = p.resp.SAs()
			got <- s
			return nil, nil
		}
		p = newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Authorize: hook}))
		log := recordExchanges(p)
		start := time.Now()
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial with a blocking Authorize: %v", err)
		}
		if d := time.Since(start); d < 6*time.Second {
			t.Errorf("Dial took %v, the hook alone takes 6 s", d)
		}
		s := <-got
		if !s.hasDeadline || s.deadline != ike.DefaultAuthorizeTimeout {
			t.Errorf("hook context deadline %v (set %v), want %v", s.deadline, s.hasDeadline, ike.DefaultAuthorizeTimeout)
		}
		if len(s.during) != 1 || s.during[0].State != "AUTHENTICATING" {
			t.Errorf("snapshots while authorizing: %+v", s.during)
		}
		if s.req.Method != ike.AuthPSK || s.req.PeerConfig != "psk" || !s.req.Info.RemoteID.Equal(ipsec.Email("alice@example.com")) {
			t.Errorf("request: method %v, config %q, remote %v", s.req.Method, s.req.PeerConfig, s.req.Info.RemoteID)
		}
		if s.req.User != nil || s.req.Certificates != nil || s.req.EAPMethod != 0 {
			t.Errorf("PSK peer with user %v, certificates %d, EAP method %v", s.req.User, len(s.req.Certificates), s.req.EAPMethod)
		}
		reqs, resps := 0, 0
		for _, l := range log.list() {
			if strings.HasPrefix(l, "IKE_AUTH request 1") {
				reqs++
			}
			if strings.HasPrefix(l, "IKE_AUTH response 1") {
				resps++
			}
		}
		if reqs < 2 || resps != 1 {
			t.Errorf("%d IKE_AUTH requests, %d responses; want a retransmission and one answer: %v", reqs, resps, log.list())
		}
		if st := sa.Info().State; st != "ESTABLISHED" {
			t.Errorf("initiator state %s", st)
		}
		checkCrossKeys(t, p.respDP, p.initDP)
	})
}

// A veto answers AUTHENTICATION_FAILED, logs a warning and raises an
// AlertAuthFailed carrying the hook's reason.
func TestAuthorizeVeto(t *testing.T) {
	reason := errors.New("account suspended by the helpdesk")
	for _, c := range []struct {
		name string
		hook func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error)
		opts []ike.Option
		want string
	}{
		{"error", func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error) { return nil, reason }, nil, reason.Error()},
		{"deadline honoured", func(ctx context.Context, _ ike.AuthRequest) (*ike.AuthDecision, error) {
			<-ctx.Done()
			return &ike.AuthDecision{}, nil // too late: ignored
		}, []ike.Option{ike.WithAuthorizeTimeout(2 * time.Second)}, "no answer within 2s"},
		{"deadline ignored", func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error) {
			time.Sleep(time.Minute)
			return nil, nil
		}, []ike.Option{ike.WithAuthorizeTimeout(3 * time.Second)}, "no answer within 3s"},
		{"unusable decision", func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error) {
			return &ike.AuthDecision{Pools: []ipsec.AddressPool{nil}}, nil
		}, nil, "AuthDecision.Pools[0] is nil"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				respCfg, initCfg := pskConfigs()
				var alerts alertLog
				logs := &lockedBuffer{}
				opts := append([]ike.Option{ike.WithHooks(&ike.Hooks{Authorize: c.hook, Alert: alerts.hook}),
					ike.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, c.opts...)
				p := newPair(t, respCfg, opts...)
				_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
				if !errors.Is(err, authFailed) {
					t.Fatalf("Dial error %v, want AUTHENTICATION_FAILED", err)
				}
				synctest.Wait()
				a := alerts.alerts()
				if len(a) != 1 || a[0].Kind != ike.AlertAuthFailed || !errors.Is(a[0].Err, ike.ErrAuthFailed) || !strings.Contains(a[0].Detail, c.want) {
					t.Errorf("alerts %+v, want one AlertAuthFailed with %q", a, c.want)
				}
				if c.name == "error" && (len(a) == 0 || !errors.Is(a[0].Err, reason)) {
					t.Errorf("alert does not wrap the hook's error: %+v", a)
				}
				l := logs.String()
				if !strings.Contains(l, "level=WARN msg=\"peer not authorized\"") || !strings.Contains(l, c.want) {
					t.Errorf("no warning with the reason in the log:\n%s", l)
				}
				if n := len(p.resp.SAs()); n != 0 {
					t.Errorf("responder kept %d SAs", n)
				}
				if n := len(p.respDP.SAs()) + len(p.initDP.SAs()); n != 0 {
					t.Errorf("%d SAs installed after a veto", n)
				}
				time.Sleep(time.Minute) // a hook that ignores its deadline still ends
				synctest.Wait()
			})
		})
	}
}

// Per-group policies: two EAP users of different groups get addresses
// from their group's pool, their group's subnets and traffic selectors;
// the hook sees the user, its groups and the EAP method, never secrets.
func TestAuthorizePerGroupPools(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	respCfg.Remote.Users = ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret("correct horse"), Groups: []string{"staff"}},
		ipsec.User{Name: "carol", Password: ipsec.Secret("hunter2 hunter2"), Groups: []string{"contractors"}},
	)
	respCfg.Subnets = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	policies := map[string]struct {
		pool   string
		subnet netip.Prefix
		dns    netip.Addr
	}{
		"staff":       {"198.51.100.0/26", netip.MustParsePrefix("203.0.113.0/25"), netip.MustParseAddr("203.0.113.53")},
		"contractors": {"198.51.100.128/26", netip.MustParsePrefix("203.0.113.128/28"), netip.MustParseAddr("203.0.113.153")},
	}
	synctest.Test(t, func(t *testing.T) {
		pools := map[string]ipsec.AddressPool{}
		for g, pol := range policies {
			pools[g] = mustPool(t, pol.pool)
		}
		var mu sync.Mutex
		var reqs []ike.AuthRequest
		hook := func(_ context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
			mu.Lock()
			reqs = append(reqs, req)
			mu.Unlock()
			if len(req.Groups) != 1 {
				return nil, errors.New("no group")
			}
			pol := policies[req.Groups[0]]
			return &ike.AuthDecision{
				Pools: []ipsec.AddressPool{pools[req.Groups[0]]}, Subnets: []netip.Prefix{pol.subnet}, DNS: []netip.Addr{pol.dns},
			}, nil
		}
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Authorize: hook}))
		for _, u := range []struct{ name, pass, group string }{{"alice", "correct horse", "staff"}, {"carol", "hunter2 hunter2", "contractors"}} {
			cfg := *initCfg
			cfg.Local.EAPIdentity, cfg.Local.EAPPassword = u.name, ipsec.Secret(u.pass)
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &cfg)
			if err != nil {
				t.Fatalf("Dial as %s: %v", u.name, err)
			}
			pol := policies[u.group]
			info := sa.Info()
			if len(info.VirtualIPs) != 1 || !netip.MustParsePrefix(pol.pool).Contains(info.VirtualIPs[0]) {
				t.Errorf("%s (%s): virtual IPs %v, want one of %s", u.name, u.group, info.VirtualIPs, pol.pool)
			}
			if s := sa.Subnets(); len(s) != 1 || s[0] != pol.subnet {
				t.Errorf("%s: subnets %v, want %v", u.name, s, pol.subnet)
			}
			if d, _ := sa.DNS(); len(d) != 1 || d[0] != pol.dns {
				t.Errorf("%s: DNS %v, want %v", u.name, d, pol.dns)
			}
			if len(info.Children) != 1 || len(info.Children[0].RemoteTS) != 1 || info.Children[0].RemoteTS[0] != pol.subnet.String() {
				t.Errorf("%s: CHILD SAs %+v, want the gateway side narrowed to %v", u.name, info.Children, pol.subnet)
			}
		}
		if len(reqs) != 2 {
			t.Fatalf("%d authorizations", len(reqs))
		}
		for i, want := range []struct{ name, group string }{{"alice", "staff"}, {"carol", "contractors"}} {
			r := reqs[i]
			if r.Method != ike.AuthEAP || r.EAPMethod != eap.TypeMSCHAPv2 || r.PeerConfig != "eap" || r.Info.EAPIdentity != want.name {
				t.Errorf("request %d: method %v/%v, config %q, EAP identity %q", i, r.Method, r.EAPMethod, r.PeerConfig, r.Info.EAPIdentity)
			}
			if r.User == nil || r.User.Name != want.name || len(r.Groups) != 1 || r.Groups[0] != want.group {
				t.Fatalf("request %d: user %+v, groups %v", i, r.User, r.Groups)
			}
			if r.User.Password != nil || r.User.NTHash != nil {
				t.Errorf("request %d: the hook got the user's secrets", i)
			}
		}
	})
}

// A certificate client's chain reaches the hook, and the decision's
// traffic selectors narrow its CHILD SA.
func TestAuthorizeCertificate(t *testing.T) {
	pki, err := testpki.New(testpki.ECDSAP256, "client@example.com", "vpn.example.com", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA.Cert)
	respCfg := &ike.PeerConfig{
		Name: "cert", LocalID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
	}
	initCfg := &ike.PeerConfig{
		Name: "cert", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local:  ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER}, Key: pki.Client.Key},
		Remote: ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots},
	}
	only := esp.PrefixSelector(netip.MustParsePrefix("203.0.113.0/24"))
	synctest.Test(t, func(t *testing.T) {
		got := make(chan ike.AuthRequest, 1)
		p := newPair(t, respCfg, ike.WithHooks(&ike.Hooks{Authorize: func(_ context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
			got <- req
			return &ike.AuthDecision{LocalTS: []esp.Selector{only}}, nil
		}}))
		sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		req := <-got
		if req.Method != ike.AuthPubkey || req.EAPMethod != 0 || req.User != nil {
			t.Errorf("method %v, EAP method %v, user %v", req.Method, req.EAPMethod, req.User)
		}
		if len(req.Certificates) != 2 || !bytes.Equal(req.Certificates[0].Raw, pki.Client.DER) || !req.Certificates[1].Equal(pki.CA.Cert) {
			t.Errorf("hook got %d certificates, want the client's leaf and the CA", len(req.Certificates))
		}
		info := sa.Info()
		if len(info.Children) != 1 || len(info.Children[0].RemoteTS) != 1 || info.Children[0].RemoteTS[0] != "203.0.113.0/24" {
			t.Errorf("CHILD SAs %+v, want the gateway side narrowed to 203.0.113.0/24", info.Children)
		}
	})
}

// An EAP user vetoed after EAP succeeded gets AUTHENTICATION_FAILED in
// the final IKE_AUTH, with the same log line and alert.
func TestAuthorizeVetoEAP(t *testing.T) {
	respCfg, initCfg := eapConfigs(t)
	synctest.Test(t, func(t *testing.T) {
		var alerts alertLog
		logs := &lockedBuffer{}
		p := newPair(t, respCfg, ike.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), ike.WithHooks(&ike.Hooks{Alert: alerts.hook,
			Authorize: func(_ context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
				return nil, errors.New("user " + req.User.Name + " is not in group vpn")
			}}))
		_, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
		if !errors.Is(err, authFailed) {
			t.Fatalf("Dial error %v, want AUTHENTICATION_FAILED", err)
		}
		synctest.Wait()
		if a := alerts.alerts(); len(a) != 1 || a[0].Kind != ike.AlertAuthFailed || !strings.Contains(a[0].Detail, "user alice is not in group vpn") {
			t.Errorf("alerts %+v", a)
		}
		if l := logs.String(); !strings.Contains(l, "level=WARN msg=\"peer not authorized\"") || !strings.Contains(l, "not in group vpn") {
			t.Errorf("no warning with the reason in the log:\n%s", l)
		}
		if n := len(p.resp.SAs()) + len(p.respDP.SAs()); n != 0 {
			t.Errorf("%d SAs left after a veto", n)
		}
	})
}

// A vetoed login proved its credentials: it is no password guess, so it
// does not count toward the per-source failure limit that would lock out
// every client behind the same NAT.
func TestAuthorizeVetoNotCountedAsGuess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		var mu sync.Mutex
		allow := false
		p := newPair(t, respCfg, ike.WithAuthFailureLimit(2, time.Minute), ike.WithHooks(&ike.Hooks{
			Authorize: func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error) {
				mu.Lock()
				defer mu.Unlock()
				if !allow {
					return nil, errors.New("outside office hours")
				}
				return nil, nil
			}}))
		for i := range 3 {
			if _, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg); !errors.Is(err, authFailed) {
				t.Fatalf("vetoed Dial %d: %v", i, err)
			}
		}
		mu.Lock()
		allow = true
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.init.Dial(ctx, netip.AddrPortFrom(gwAddr, 500), initCfg); err != nil {
			t.Fatalf("Dial after three vetoes: %v", err)
		}
		if b := p.resp.Stats().Blocked; b != 0 {
			t.Errorf("%d IKE_SA_INIT requests blocked after vetoes", b)
		}
	})
}
