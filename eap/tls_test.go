package eap

import (
	"bytes"
	"crypto/tls"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/testpki"
)

func TestLadderTLS(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct {
		name     string
		version  uint16
		fragment int
	}{
		{"TLS1.2", tls.VersionTLS12, 0},
		{"TLS1.3", tls.VersionTLS13, 0},
		{"TLS1.2/fragments200", tls.VersionTLS12, 200},
		{"TLS1.3/fragments200", tls.VersionTLS13, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users := ipsec.NewUsers(ipsec.User{Name: "alice@example.com"})
			s := newServer(t, ServerConfig{Methods: []Type{TypeTLS, TypeMSCHAPv2}, Users: users, TLS: pki.serverTLS(), Certs: pki.verifier(), TLSFragmentSize: tc.fragment})
			p := NewPeer(PeerConfig{Identity: "alice@example.com", TLS: pki.clientTLS(pki.Client, tc.version), Methods: []Type{TypeTLS}, TLSFragmentSize: tc.fragment})
			defer p.Close()
			sres, pres, serr, perr, wire := ladder(t, s, p, "")
			if serr != nil || perr != nil || sres.Status != StatusSuccess || pres.Status != StatusSuccess {
				t.Fatalf("server %v %v, peer %v %v", sres, serr, pres, perr)
			}
			if len(sres.MSK) != MSKLen || !bytes.Equal(sres.MSK, pres.MSK) || len(sres.EMSK) != MSKLen || !bytes.Equal(sres.EMSK, pres.EMSK) {
				t.Fatal("MSK/EMSK differ or have the wrong length")
			}
			if sres.Identity != "alice@example.com" || sres.User == nil || sres.Method != TypeTLS {
				t.Errorf("result %v user %v", sres, sres.User)
			}
			maxLen, frags := 0, 0
			for _, st := range wire {
				maxLen = max(maxLen, len(st.pkt))
				if q, err := Parse(st.pkt); err == nil && q.Type == TypeTLS && len(q.Data) > 0 && q.Data[0]&TLSFlagMore != 0 {
					frags++
				}
			}
			limit := DefaultTLSFragmentSize
			if tc.fragment != 0 {
				limit = tc.fragment
				if frags == 0 {
					t.Error("no fragmented message with a 200-octet fragment size")
				}
			}
			if maxLen > limit+10 {
				t.Errorf("largest packet %d octets, fragment size %d", maxLen, limit)
			}
		})
	}
}

// TestTLSBadClientCertificate: an untrusted client certificate, or one
// that does not name the claimed identity, ends in EAP-Failure on both
// sides, after the alert went to the peer.
func TestTLSBadClientCertificate(t *testing.T) {
	pki := newPKI(t)
	other, err := testpki.New(testpki.ECDSAP256, "alice@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range []struct {
			name     string
			identity string
			cert     *testpki.Cert
			want     error
		}{
			{"untrusted CA", "alice@example.com", other.Client, nil},
			{"identity not in certificate", "mallory@example.com", pki.Client, ErrCertIdentity},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()})
				p := NewPeer(PeerConfig{Identity: tc.identity, TLS: pki.clientTLS(tc.cert, version), Methods: []Type{TypeTLS}})
				defer p.Close()
				sres, pres, serr, perr, _ := ladder(t, s, p, "")
				if sres.Status != StatusFailure || !errors.Is(serr, ErrAuthFailed) || sres.MSK != nil {
					t.Errorf("server %v err %v", sres, serr)
				}
				if tc.want != nil && !errors.Is(serr, tc.want) {
					t.Errorf("server err %v, want %v", serr, tc.want)
				}
				if pres.Status != StatusFailure || perr == nil || pres.MSK != nil {
					t.Errorf("peer %v err %v", pres, perr)
				}
			})
		}
	}
}

func TestTLSPeerRejectsServer(t *testing.T) {
	pki := newPKI(t)
	other := newPKI(t)
	s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()})
	cfg := pki.clientTLS(pki.Client, tls.VersionTLS13)
	cfg.RootCAs = other.pool
	p := NewPeer(PeerConfig{Identity: "alice@example.com", TLS: cfg, Methods: []Type{TypeTLS}})
	defer p.Close()
	sres, pres, _, perr, _ := ladder(t, s, p, "")
	if sres.Status != StatusFailure || pres.Status != StatusFailure || !errors.Is(perr, ErrServerAuth) {
		t.Errorf("server %v peer %v err %v", sres, pres, perr)
	}
}

// TestTLSNoGoroutineLeak abandons handshakes halfway and checks that
// Close, and for an unreferenced session the garbage collector, stop
// the handshake goroutines.
func TestTLSNoGoroutineLeak(t *testing.T) {
	pki := newPKI(t)
	before := runtime.NumGoroutine()
	start := func() (*Server, *Peer) {
		s, err := NewServer(ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()})
		if err != nil {
			t.Fatal(err)
		}
		p := NewPeer(PeerConfig{Identity: "alice@example.com", TLS: pki.clientTLS(pki.Client, 0), Methods: []Type{TypeTLS}})
		req, _ := s.Start("")
		for range 3 { // identity, start, ClientHello -> ServerHello
			resp, _, err := p.Process(req)
			if err != nil {
				t.Fatal(err)
			}
			if req, _, err = s.Process(resp); err != nil {
				t.Fatal(err)
			}
		}
		return s, p
	}
	for range 5 {
		s, p := start()
		s.Close()
		p.Close()
	}
	for range 5 {
		start() // abandoned without Close
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left, %d before", n, before)
	}
}

func TestTLSReassemblyLimits(t *testing.T) {
	in := tlsIn{max: 100}
	if _, _, err := in.add(&TLSPacket{Flags: TLSFlagLength | TLSFlagMore, Length: 101, Data: []byte{1}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("length above the limit: %v", err)
	}
	in = tlsIn{max: 100}
	if _, done, err := in.add(&TLSPacket{Flags: TLSFlagLength | TLSFlagMore, Length: 10, Data: make([]byte, 6)}); err != nil || done {
		t.Fatalf("first fragment: %v %v", done, err)
	}
	if _, _, err := in.add(&TLSPacket{Flags: TLSFlagMore, Data: make([]byte, 6)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("fragments beyond the announced length: %v", err)
	}
	in = tlsIn{max: 100}
	for i := range 10 {
		_, _, err := in.add(&TLSPacket{Flags: TLSFlagMore, Data: make([]byte, 20)})
		if i < 5 && err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if i >= 5 {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("fragment %d beyond max: %v", i, err)
			}
			break
		}
	}
	in = tlsIn{max: 100}
	in.add(&TLSPacket{Flags: TLSFlagLength | TLSFlagMore, Length: 10, Data: make([]byte, 4)})
	if _, _, err := in.add(&TLSPacket{Data: make([]byte, 4)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short message: %v", err)
	}
	// Fragmentation and reassembly round trip.
	msg := bytes.Repeat([]byte("0123456789"), 25)
	var out tlsOut
	out.set(msg)
	in = tlsIn{max: 1000}
	var got []byte
	for n := 0; ; n++ {
		pk, err := ParseTLS(out.next(64))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && (pk.Flags&TLSFlagLength == 0 || pk.Length != uint32(len(msg))) {
			t.Errorf("first fragment flags %#x length %d", pk.Flags, pk.Length)
		}
		m, done, err := in.add(pk)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			got = m
			break
		}
		if !out.pending() {
			t.Fatal("reassembly incomplete but nothing left to send")
		}
	}
	if !bytes.Equal(got, msg) || out.pending() {
		t.Errorf("round trip: %d octets, pending %t", len(got), out.pending())
	}
}

// TestLadderTLSWindowsCN: Windows sends the certificate's CN as its EAP
// identity. Here the chain is checked by crypto/tls itself (ClientAuth
// RequireAndVerifyClientCert with ClientCAs, no CertVerifier) and the
// identity is still bound to the certificate.
func TestLadderTLSWindowsCN(t *testing.T) {
	pki, err := testpki.New(testpki.RSA2048, "alice", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	f := &pkiFixture{PKI: pki, pool: newPool(pki)}
	for _, tc := range []struct {
		identity string
		ok       bool
	}{{"alice", true}, {"administrator", false}} {
		srvTLS := f.serverTLS()
		srvTLS.ClientAuth, srvTLS.ClientCAs = tls.RequireAndVerifyClientCert, f.pool
		users := ipsec.NewUsers(ipsec.User{Name: "alice"})
		s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: srvTLS, Users: users})
		p := NewPeer(PeerConfig{Identity: tc.identity, TLS: f.clientTLS(f.Client, tls.VersionTLS12)})
		sres, pres, serr, _, _ := ladder(t, s, p, "")
		p.Close()
		if (sres.Status == StatusSuccess) != tc.ok || (pres.Status == StatusSuccess) != tc.ok {
			t.Errorf("%s: server %v peer %v", tc.identity, sres, pres)
		}
		if tc.ok && (sres.User == nil || sres.User.Name != "alice") {
			t.Errorf("%s: user %v", tc.identity, sres.User)
		}
		if !tc.ok && !errors.Is(serr, ErrCertIdentity) {
			t.Errorf("%s: %v", tc.identity, serr)
		}
	}
}

// TestTLSHostileFragments: a peer that never stops sending fragments is
// cut off by the reassembly limit or the round limit, whichever is first.
func TestTLSHostileFragments(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct {
		name      string
		maxMsg    int
		maxRounds int
		want      error
	}{
		{"message limit", 8 << 10, 0, ErrMalformed},
		{"round limit", 0, 10, ErrTooManyRounds},
	} {
		s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier(), TLSMaxMessage: tc.maxMsg, MaxRounds: tc.maxRounds, SkipIdentity: true})
		req, _ := s.Start("alice@example.com")
		var err error
		var res Result
		for i := range 100 {
			frag := append([]byte{TLSFlagMore}, bytes.Repeat([]byte{0x16}, 1000)...)
			resp, _ := (&Packet{Code: CodeResponse, Identifier: req[1], Type: TypeTLS, Data: frag}).Marshal()
			req, res, err = s.Process(resp)
			if res.Status != StatusContinue {
				break
			}
			if i == 99 {
				t.Fatalf("%s: still reassembling after 100 fragments", tc.name)
			}
			if q, _ := Parse(req); q == nil || !bytes.Equal(q.Data, tlsAck) {
				t.Fatalf("%s: fragment not acknowledged: %x", tc.name, req)
			}
		}
		if res.Status != StatusFailure || !errors.Is(err, tc.want) || req[0] != byte(CodeFailure) {
			t.Errorf("%s: %v %v", tc.name, res, err)
		}
	}
}

// TestTLSServerClock: the server's Now also drives the client
// certificate check when the CertVerifier has no clock of its own.
func TestTLSServerClock(t *testing.T) {
	pki := newPKI(t)
	future := func() time.Time { return time.Now().Add(5 * 365 * 24 * time.Hour) }
	s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier(), Now: future})
	p := NewPeer(PeerConfig{Identity: "alice@example.com", TLS: pki.clientTLS(pki.Client, tls.VersionTLS13)})
	defer p.Close()
	sres, _, serr, _, _ := ladder(t, s, p, "")
	if sres.Status != StatusFailure || serr == nil {
		t.Errorf("expired (by the server clock) certificate accepted: %v", sres)
	}
}
