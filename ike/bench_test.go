package ike_test

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

type benchPair struct {
	resp *ike.Responder
	init *ike.Initiator
	stop func()
}

func newBenchPair(b *testing.B, respCfg *ike.PeerConfig, props proposal.List) *benchPair {
	b.Helper()
	n := iketest.NewNetwork(1)
	resp, err := ike.NewResponder(n.Endpoint(gwAddr), ike.WithPeers(ike.StaticPeers(respCfg)),
		ike.WithDataPlane(iketest.NewDataPlane()), ike.WithProposals(props), ike.WithHalfOpenLimits(ike.DefaultHalfOpenTimeout, 1<<20, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	init, err := ike.NewInitiator(n.Endpoint(clientAddr), ike.WithDataPlane(iketest.NewDataPlane()))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { resp.Serve(ctx); close(done) }()
	time.Sleep(20 * time.Millisecond) // Serve registers with the transport
	return &benchPair{resp: resp, init: init, stop: func() { init.Close(context.Background()); cancel(); <-done }}
}

// BenchmarkHandshake measures a complete IKE_SA_INIT + IKE_AUTH with the
// first CHILD SA, both sides in one process (both sides' CPU per op).
func BenchmarkHandshake(b *testing.B) {
	psk := ipsec.Secret("benchmark pre-shared key 0123456789")
	type auth struct {
		name     string
		needsPKI testpki.KeyType
		pki      bool
	}
	auths := []auth{{name: "psk"}, {name: "rsa2048", pki: true, needsPKI: testpki.RSA2048}, {name: "ecdsa256", pki: true, needsPKI: testpki.ECDSAP256}}
	for _, a := range auths {
		respCfg, initCfg := pskConfigs()
		respCfg.Local.PSK, respCfg.Remote.PSK, initCfg.Local.PSK, initCfg.Remote.PSK = psk, psk, psk, psk
		if a.pki {
			pki, err := testpki.New(a.needsPKI, "client@example.com", "vpn.example.com")
			if err != nil {
				b.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(pki.CA.Cert)
			respCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key}
			respCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
			initCfg.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: [][]byte{pki.Client.DER}, Key: pki.Client.Key}
			initCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: roots}
			initCfg.LocalID = ipsec.Email("client@example.com")
		}
		// x25519+mlkem768: the hybrid post-quantum handshake (RFC 9370,
		// one IKE_INTERMEDIATE exchange more), measured in the same run
		// as the classic ones it is compared with.
		for _, ke := range []string{"x25519", "modp2048", "x25519+mlkem768"} {
			props, err := proposal.Parse("aes128gcm16-prfsha256-"+map[string]string{"x25519": "curve25519", "modp2048": "modp2048", "x25519+mlkem768": "curve25519-ke1_mlkem768"}[ke], proposal.ProtoIKE)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(a.name+"/"+ke, func(b *testing.B) {
				p := newBenchPair(b, respCfg, props)
				defer p.stop()
				cfg := *initCfg
				cfg.Proposals = props
				b.ReportAllocs()
				for b.Loop() {
					sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), &cfg)
					if err != nil {
						b.Fatal(err)
					}
					sa.Close(context.Background())
				}
			})
		}
	}
}

// hostileInit builds an IKE_SA_INIT request with about 64 KB of SA
// payload (as much as a message may carry) that matches none of the
// default proposals: n proposals, each of unknown ciphers up to its share
// of the space (at least 1, at most 252) and then HMAC-SHA2-256-128, PRF-HMAC-SHA2-256
// and MODP-768, which fail only at the key exchange (the deepest
// comparison). n above 255 cannot be numbered (RFC 7296 section 3.3.1);
// n is at most 1600, when each proposal has one cipher.
func hostileInit(tb testing.TB, n int) []byte {
	tb.Helper()
	// The whole message fits the 65535 bytes of its length field with
	// the header, KE and Nonce payloads (28+104+36 bytes).
	budget := 65535 - 28 - 104 - 36 - 4
	per := budget / n
	ciphers := min(252, max(1, (per-8-3*8)/8))
	props := make([]wire.Proposal, n)
	for i := range props {
		p := wire.Proposal{Number: uint8(i + 1), Protocol: wire.ProtocolID(proposal.ProtoIKE)}
		for k := range ciphers {
			p.Transforms = append(p.Transforms, wire.Transform{Type: 1, ID: uint16(1024 + k)})
		}
		p.Transforms = append(p.Transforms, wire.Transform{Type: 3, ID: 12}, wire.Transform{Type: 2, ID: 5}, wire.Transform{Type: 4, ID: 1})
		props[i] = p
	}
	m := &wire.Message{
		Header: wire.Header{SPIi: 0x0102030405060708, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.SA{Proposals: props},
			&wire.KE{Group: 1, Data: make([]byte, 96)},
			&wire.Nonce{Data: make([]byte, 32)},
		},
	}
	b, err := m.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkReadLoop/hostileSA measures what one IKE_SA_INIT request with a
// 64 KB SA payload that matches nothing costs the transport's read loop
// (the in-memory transport delivers on the sender's goroutine), a flood of
// them repeated: with no observer, with an Alert hook that reads the
// explanation, and with a logger that writes the warning. The anchor is
// a request with one ordinary mismatching proposal.
func BenchmarkReadLoop(b *testing.B) {
	respCfg, _ := pskConfigs()
	small := spoofedInit(b)
	if m, err := wire.Parse(small); err == nil {
		// One proposal that the defaults refuse (MODP-768).
		m.Payloads[0].(*wire.SA).Proposals[0].Transforms[2].ID = 1
		m.Payloads[1].(*wire.KE).Group = 1
		small, _ = m.Append(nil)
	}
	shapes := []struct {
		name string
		msg  []byte
	}{
		{"anchor-1-proposal", small},
		{"hostileSA/255-proposals", hostileInit(b, 255)},
		{"hostileSA/31-wide-proposals", hostileInit(b, 31)},
		{"hostileSA/1600-unnumbered-proposals", hostileInit(b, 1600)},
	}
	observers := []struct {
		name string
		opts []ike.Option
	}{
		{"silent", nil},
		{"alert", []ike.Option{ike.WithHooks(&ike.Hooks{Alert: func(a ike.Alert) { _ = len(a.Detail) }})}},
		{"log", []ike.Option{ike.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}},
	}
	for _, s := range shapes {
		for _, o := range observers {
			b.Run(s.name+"/"+o.name, func(b *testing.B) {
				n := iketest.NewNetwork(1)
				resp, err := ike.NewResponder(n.Endpoint(gwAddr), append([]ike.Option{ike.WithPeers(ike.StaticPeers(respCfg))}, o.opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { resp.Serve(ctx); close(done) }()
				defer func() { cancel(); <-done }()
				time.Sleep(20 * time.Millisecond) // Serve registers with the transport
				attacker := n.Endpoint(clientAddr)
				pkt := ike.Packet{Data: s.msg, Local: netip.AddrPortFrom(clientAddr, 500), Remote: netip.AddrPortFrom(gwAddr, 500)}
				b.SetBytes(int64(len(s.msg)))
				b.ReportAllocs()
				for b.Loop() {
					attacker.Send(pkt)
				}
				if st := resp.Stats(); st.HalfOpen != 0 {
					b.Fatalf("half-open %d after refused requests", st.HalfOpen)
				}
			})
		}
	}
}
