package radius

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/internal/testpki"
)

// eapServer is an in-process RADIUS server that runs the EAP methods
// itself (as FreeRADIUS does), one eap.Server per State.
type eapServer struct {
	*fakeServer
	mu       sync.Mutex
	convs    map[string]*eap.Server
	cfg      eap.ServerConfig
	n        int
	maxFrags int // most EAP-Message attributes seen in one request
	states   []string
}

func newEAPServer(t *testing.T, cfg eap.ServerConfig) *eapServer {
	es := &eapServer{convs: map[string]*eap.Server{}, cfg: cfg}
	es.fakeServer = newFakeServer(t, "eapsecret", func(s *fakeServer, p *Packet, _ netip.AddrPort) [][]byte {
		if err := VerifyRequest(p, s.secret, true); err != nil {
			t.Errorf("server: %v", err)
			return nil
		}
		return [][]byte{s.answer(p, es.step(t, p))}
	})
	return es
}

func (es *eapServer) step(t *testing.T, p *Packet) *Packet {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.maxFrags = max(es.maxFrags, len(p.GetAll(TypeEAPMessage)))
	msg, err := JoinEAP(p)
	if err != nil || msg == nil {
		t.Errorf("server: EAP-Message: %v", err)
		return &Packet{Code: CodeAccessReject}
	}
	st, _ := p.Get(TypeState)
	es.states = append(es.states, string(st))
	var out []byte
	var res eap.Result
	if st == nil {
		// The identity response: start the method at once.
		user, _ := p.Get(TypeUserName)
		srv, err := eap.NewServer(es.cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, err = srv.Start(string(user))
		if err != nil {
			t.Errorf("server: %v", err)
		}
		es.n++
		st = fmt.Appendf(nil, "state-%d", es.n)
		es.convs[string(st)] = srv
		res.Status = eap.StatusContinue
	} else {
		srv := es.convs[string(st)]
		if srv == nil {
			t.Errorf("server: unknown State %q", st)
			return &Packet{Code: CodeAccessReject}
		}
		out, res, _ = srv.Process(msg)
	}
	resp := &Packet{}
	resp.Add(TypeMessageAuthenticator, nil)
	resp.Attributes = append(resp.Attributes, SplitEAP(out)...)
	switch res.Status {
	case eap.StatusContinue:
		resp.Code = CodeAccessChallenge
		resp.Add(TypeState, st)
	case eap.StatusSuccess:
		resp.Code = CodeAccessAccept
		recv, _ := EncryptSalted(res.MSK[:32], es.secret, p.Authenticator, [2]byte{0x81, 1})
		send, _ := EncryptSalted(res.MSK[32:], es.secret, p.Authenticator, [2]byte{0x82, 2})
		resp.AddVendor(VendorMicrosoft, MSMPPERecvKey, recv)
		resp.AddVendor(VendorMicrosoft, MSMPPESendKey, send)
		resp.Add(TypeFramedIPAddress, []byte{10, 9, 0, 9})
		resp.AddUint32(TypeSessionTimeout, 7200)
		resp.AddString(TypeClass, "staff")
	default:
		resp.Code = CodeAccessReject
	}
	return resp
}

// runEAP drives an eap.Server with the RADIUS backend against a peer.
func runEAP(t *testing.T, ctx context.Context, srv *eap.Server, peer *eap.Peer) (sres, pres eap.Result, serr error) {
	t.Helper()
	req, err := srv.StartContext(ctx, "198.51.100.2")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		resp, pr, err := peer.Process(req)
		pres = pr
		if err != nil || resp == nil {
			return sres, pres, fmt.Errorf("peer: %v", err)
		}
		req, sres, serr = srv.ProcessContext(ctx, resp)
		if sres.Status != eap.StatusContinue {
			_, pres, _ = peer.Process(req)
			return sres, pres, serr
		}
	}
	t.Fatal("no end")
	return
}

func TestEAPBackendMSCHAPv2(t *testing.T) {
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})
	es := newEAPServer(t, eap.ServerConfig{Methods: []eap.Type{eap.TypeMSCHAPv2}, Users: users, SkipIdentity: true})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: es.addr(), Secret: ipsec.Secret("eapsecret")}}, NASIdentifier: "gw"})
	defer c.Close()
	var accepted *Reply
	backend := &EAPBackend{Client: c, OnAccept: func(ctx context.Context, id string, r *Reply) {
		if nas, ok := eap.NASFromContext(ctx); !ok || nas.SessionID != testNAS.SessionID {
			t.Errorf("OnAccept without the NAS context")
		}
		accepted = r
	}}
	ctx := eap.ContextWithNAS(context.Background(), testNAS)
	for _, tc := range []struct {
		pw string
		ok bool
	}{{"wonderland", true}, {"wrong", false}} {
		srv, err := eap.NewServer(eap.ServerConfig{Backend: backend})
		if err != nil {
			t.Fatal(err)
		}
		peer := eap.NewPeer(eap.PeerConfig{Identity: "alice", Password: ipsec.Secret(tc.pw)})
		sres, pres, serr := runEAP(t, ctx, srv, peer)
		srv.Close()
		peer.Close()
		if !tc.ok {
			if sres.Status != eap.StatusFailure || !errors.Is(serr, eap.ErrAuthFailed) || !errors.Is(serr, ErrRejected) || sres.MSK != nil {
				t.Fatalf("wrong password: %v %v", sres, serr)
			}
			continue
		}
		if serr != nil || sres.Status != eap.StatusSuccess || pres.Status != eap.StatusSuccess {
			t.Fatalf("server %v %v peer %v", sres, serr, pres)
		}
		// The MSK the NAS got over RADIUS (Recv||Send) is the one the
		// peer derived.
		if len(sres.MSK) != 64 || !bytes.Equal(sres.MSK, pres.MSK) {
			t.Fatalf("MSK differs from the peer's")
		}
		if sres.User == nil || sres.User.Name != "alice" || len(sres.User.Addresses) != 1 || sres.User.Addresses[0] != netip.MustParseAddr("10.9.0.9") {
			t.Fatalf("user %+v", sres.User)
		}
		if len(sres.User.Groups) != 1 || sres.User.Groups[0] != "staff" {
			t.Errorf("groups %q", sres.User.Groups)
		}
		if accepted == nil || accepted.SessionTimeout != 2*time.Hour || len(accepted.Class) != 1 {
			t.Fatalf("OnAccept reply %v", accepted)
		}
	}
	// State was echoed: the first request of a conversation has none,
	// the others the server's.
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.states[0] != "" || es.states[1] != "state-1" || es.states[2] != "state-1" {
		t.Errorf("states %q", es.states)
	}
}

func TestEAPBackendTLSFragments(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA.Cert)
	es := newEAPServer(t, eap.ServerConfig{
		Methods:      []eap.Type{eap.TypeTLS},
		TLS:          &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{pki.Server.DER}, PrivateKey: pki.Server.Key}}},
		Certs:        &eap.CertVerifier{Roots: pool},
		SkipIdentity: true,
	})
	c, _ := NewClient(ClientConfig{Servers: []Server{{Addr: es.addr(), Secret: ipsec.Secret("eapsecret")}}, NASIdentifier: "gw"})
	defer c.Close()
	srv, _ := eap.NewServer(eap.ServerConfig{Backend: &EAPBackend{Client: c}})
	defer srv.Close()
	peer := eap.NewPeer(eap.PeerConfig{Identity: "alice@example.com", Methods: []eap.Type{eap.TypeTLS}, TLS: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{pki.Client.DER}, PrivateKey: pki.Client.Key}},
		RootCAs:      pool, ServerName: "vpn.example.com",
	}})
	defer peer.Close()
	sres, pres, serr := runEAP(t, context.Background(), srv, peer)
	if serr != nil || sres.Status != eap.StatusSuccess || !bytes.Equal(sres.MSK, pres.MSK) || len(sres.MSK) != 64 {
		t.Fatalf("server %v %v peer %v", sres, serr, pres)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.maxFrags < 4 {
		t.Errorf("largest request had %d EAP-Message attributes; EAP-TLS with a client certificate should need several", es.maxFrags)
	}
}
