package eap

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testpki"
)

// detRand is a deterministic randomness source: SHA-256 in counter mode
// over a seed, so two runs with the same seed see the same bytes.
type detRand struct {
	seed byte
	ctr  uint64
	buf  []byte
}

func (r *detRand) Read(b []byte) (int, error) {
	for i := range b {
		if len(r.buf) == 0 {
			h := sha256.Sum256([]byte{r.seed, byte(r.ctr), byte(r.ctr >> 8), byte(r.ctr >> 16)})
			r.ctr++
			r.buf = h[:]
		}
		b[i] = r.buf[0]
		r.buf = r.buf[1:]
	}
	return len(b), nil
}

// step is one packet of a ladder, as seen on the wire.
type step struct {
	from string // "server" or "peer"
	pkt  []byte
}

// ladder runs a server and a peer against each other until both finish.
//
//lint:ignore ST1008 the test helper reports both sides' errors side by side
func ladder(t *testing.T, s *Server, p *Peer, hint string) (sres, pres Result, serr, perr error, wire []step) {
	t.Helper()
	req, err := s.Start(hint)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	for range 200 {
		wire = append(wire, step{"server", req})
		resp, r, err := p.Process(req)
		pres, perr = r, err
		if r.Status != StatusContinue {
			// The peer finished; the server may have finished too.
			return s.Result(), pres, serr, perr, wire
		}
		if err != nil {
			t.Fatalf("peer.Process: %v", err)
		}
		wire = append(wire, step{"peer", resp})
		out, _, err := s.Process(resp)
		serr = err
		if out == nil {
			t.Fatalf("server sent nothing: %v", err)
		}
		req = out
	}
	t.Fatal("ladder did not end in 200 rounds")
	return
}

func summary(w []step) []string {
	var out []string
	for _, st := range w {
		p, err := Parse(st.pkt)
		if err != nil {
			out = append(out, "malformed")
			continue
		}
		out = append(out, p.String())
	}
	return out
}

func mschapUsers() *ipsec.Users {
	return ipsec.NewUsers(
		ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland"), Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
		ipsec.User{Name: "bob", NTHash: NTHash([]byte("builder"))},
	)
}

func newServer(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLadderMSCHAPv2Success(t *testing.T) {
	for _, tc := range []struct{ identity, password, wantUser string }{
		{"alice", "wonderland", "alice"},
		{"bob", "builder", "bob"},             // NT hash in the store
		{`CORP\alice`, "wonderland", "alice"}, // Windows: domain prefix, bare store entry
	} {
		t.Run(tc.identity, func(t *testing.T) {
			s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: mschapUsers()})
			p := NewPeer(PeerConfig{Identity: tc.identity, Password: ipsec.Secret(tc.password)})
			sres, pres, serr, perr, wire := ladder(t, s, p, "")
			if serr != nil || perr != nil {
				t.Fatalf("errors: server %v, peer %v", serr, perr)
			}
			if sres.Status != StatusSuccess || pres.Status != StatusSuccess {
				t.Fatalf("status server %v peer %v", sres.Status, pres.Status)
			}
			if len(sres.MSK) != MSKLen || !bytes.Equal(sres.MSK, pres.MSK) {
				t.Fatalf("MSK: server %d octets, peer %d, equal %t", len(sres.MSK), len(pres.MSK), bytes.Equal(sres.MSK, pres.MSK))
			}
			if !sres.Method.DerivesMSK() || !bytes.Equal(sres.MSK[32:], make([]byte, 32)) {
				t.Error("MSK tail is not 32 zero octets")
			}
			if sres.Identity != tc.identity || sres.User == nil || sres.User.Name != tc.wantUser || sres.Method != TypeMSCHAPv2 {
				t.Errorf("result %v user %+v", sres, sres.User)
			}
			got := summary(wire)
			if len(got) != 7 {
				t.Fatalf("wire %q", got)
			}
			// ID req, ID resp, challenge, response, success req, success resp, EAP-Success.
			ms, _ := Parse(wire[4].pkt)
			mp, err := ParseMSCHAPv2(ms.Data)
			if err != nil || mp.OpCode != mschapSuccess || mp.Message[:2] != "S=" {
				t.Errorf("success request %+v %v", mp, err)
			}
			last, _ := Parse(wire[6].pkt)
			if last.Code != CodeSuccess || last.Identifier != ms.Identifier {
				t.Errorf("final packet %v, want Success with id %d", last, ms.Identifier)
			}
		})
	}
}

// TestLadderMSCHAPv2Failures checks that a wrong password and an unknown
// user end the same way and, with the same randomness on both runs, look
// byte for byte the same on the wire; by default with an immediate
// EAP-Failure (what strongSwan does, since Windows never answers a
// Failure-Request), optionally with RFC 2759's Failure-Request first.
func TestLadderMSCHAPv2Failures(t *testing.T) {
	for _, failureRequest := range []bool{false, true} {
		t.Run(fmt.Sprintf("FailureRequest=%t", failureRequest), func(t *testing.T) {
			//lint:ignore ST1008 both sides' results and errors, as ladder returns them
			run := func(users *ipsec.Users) (Result, Result, error, error, []step) {
				s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: users, Rand: &detRand{seed: 1}, MSCHAPv2FailureRequest: failureRequest})
				p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("guess"), Rand: &detRand{seed: 2}})
				return ladder(t, s, p, "")
			}
			wsres, wpres, wserr, wperr, wrong := run(mschapUsers())
			usres, _, userr, _, unknown := run(ipsec.NewUsers())
			for name, r := range map[string]Result{"wrong password": wsres, "unknown user": usres} {
				if r.Status != StatusFailure || !errors.Is(r.Err, ErrAuthFailed) || r.MSK != nil || r.User != nil || r.Identity != "alice" {
					t.Errorf("%s: server result %v", name, r)
				}
			}
			if !errors.Is(wserr, ErrAuthFailed) || !errors.Is(userr, ErrAuthFailed) {
				t.Errorf("server errors %v / %v", wserr, userr)
			}
			if wpres.Status != StatusFailure || !errors.Is(wperr, ErrAuthFailed) || wpres.MSK != nil {
				t.Errorf("peer result %v err %v", wpres, wperr)
			}
			if len(wrong) != len(unknown) {
				t.Fatalf("ladders differ in length: %q vs %q", summary(wrong), summary(unknown))
			}
			for i := range wrong {
				if !bytes.Equal(wrong[i].pkt, unknown[i].pkt) {
					t.Errorf("packet %d differs between wrong password and unknown user", i)
				}
			}
			want := 5 // ID req, ID resp, challenge, response, EAP-Failure
			if failureRequest {
				want = 7 // ..., Failure-Request, Failure-Response, EAP-Failure
				fr, _ := Parse(wrong[4].pkt)
				mp, err := ParseMSCHAPv2(fr.Data)
				if err != nil || mp.OpCode != mschapFailure || mp.Message[:12] != "E=691 R=0 C=" {
					t.Errorf("failure request %+v %v", mp, err)
				}
			}
			if len(wrong) != want {
				t.Errorf("wire %q, want %d packets", summary(wrong), want)
			}
			if last, _ := Parse(wrong[len(wrong)-1].pkt); last.Code != CodeFailure {
				t.Errorf("last packet %v", last)
			}
		})
	}
}

func TestLadderMSCHAPv2DomainStoreEntry(t *testing.T) {
	users := ipsec.NewUsers(ipsec.User{Name: `CORP\carol`, Password: ipsec.Secret("x1")})
	for _, tc := range []struct {
		identity string
		ok       bool
	}{{`CORP\carol`, true}, {`carol`, false}, {`OTHER\carol`, false}} {
		s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: users})
		p := NewPeer(PeerConfig{Identity: tc.identity, Password: ipsec.Secret("x1")})
		sres, _, _, _, _ := ladder(t, s, p, "")
		if (sres.Status == StatusSuccess) != tc.ok {
			t.Errorf("%s: status %v, want success %t", tc.identity, sres.Status, tc.ok)
		}
	}
}

func TestLadderNAKFallback(t *testing.T) {
	pki := newPKI(t)
	users := mschapUsers()
	s := newServer(t, ServerConfig{Methods: []Type{TypeTLS, TypeMSCHAPv2}, Users: users, TLS: pki.serverTLS(), Certs: pki.verifier()})
	// Windows with a password profile: it NAKs EAP-TLS and asks for MSCHAPv2.
	p := NewPeer(PeerConfig{Identity: `WORKGROUP\alice`, Password: ipsec.Secret("wonderland"), Methods: []Type{TypeMSCHAPv2}})
	sres, pres, serr, perr, wire := ladder(t, s, p, "")
	if serr != nil || perr != nil || sres.Status != StatusSuccess || pres.Status != StatusSuccess {
		t.Fatalf("server %v %v, peer %v %v", sres, serr, pres, perr)
	}
	if sres.Method != TypeMSCHAPv2 || !bytes.Equal(sres.MSK, pres.MSK) {
		t.Errorf("result %v", sres)
	}
	got := summary(wire)
	want := []string{"EAP/REQ/ID", "EAP/RES/ID", "EAP/REQ/TLS", "EAP/RES/NAK", "EAP/REQ/MSCHAPV2"}
	for i, w := range want {
		if len(got[i]) < len(w) || got[i][:len(w)] != w {
			t.Fatalf("wire %q, want prefix %q", got, want)
		}
	}
	nak, _ := Parse(wire[3].pkt)
	if !bytes.Equal(nak.Data, []byte{byte(TypeMSCHAPv2)}) {
		t.Errorf("NAK data %v", nak.Data)
	}

	// No common method: Failure with ErrNoMethod.
	s = newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()})
	p = NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland"), Methods: []Type{TypeMSCHAPv2}})
	sres, pres, serr, _, _ = ladder(t, s, p, "")
	if sres.Status != StatusFailure || !errors.Is(serr, ErrNoMethod) || pres.Status != StatusFailure {
		t.Errorf("no common method: server %v (%v), peer %v", sres, serr, pres)
	}
}

type pkiFixture struct {
	*testpki.PKI
	pool *x509.CertPool
}

func newPKI(t testing.TB) *pkiFixture {
	t.Helper()
	pki, err := testpki.New(testpki.ECDSAP256, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA.Cert)
	return &pkiFixture{PKI: pki, pool: pool}
}

func (f *pkiFixture) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{f.Server.DER}, PrivateKey: f.Server.Key, Leaf: f.Server.Cert}}}
}

func (f *pkiFixture) verifier() *CertVerifier { return &CertVerifier{Roots: f.pool} }

func (f *pkiFixture) clientTLS(c *testpki.Cert, version uint16) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{c.DER}, PrivateKey: c.Key, Leaf: c.Cert}},
		RootCAs:      f.pool, ServerName: "vpn.example.com", MaxVersion: version,
	}
}

func newPool(p *testpki.PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return pool
}
