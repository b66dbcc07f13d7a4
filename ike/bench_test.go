package ike_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
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
		for _, ke := range []string{"x25519", "modp2048"} {
			props, err := proposal.Parse("aes128gcm16-prfsha256-"+map[string]string{"x25519": "curve25519", "modp2048": "modp2048"}[ke], proposal.ProtoIKE)
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

// BenchmarkIdleSAMemory reports the heap held per established IKE SA with
// one CHILD SA on the responder (and the initiator, which is in the same
// process: the figure covers both ends).
func BenchmarkIdleSAMemory(b *testing.B) {
	respCfg, initCfg := pskConfigs()
	props, _ := proposal.Parse("aes128gcm16-prfsha256-curve25519", proposal.ProtoIKE)
	initCfg.Proposals = props
	const n = 200
	for b.Loop() {
		p := newBenchPair(b, respCfg, props)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sas := make([]*ike.SA, 0, n)
		for range n {
			sa, err := p.init.Dial(context.Background(), netip.AddrPortFrom(gwAddr, 500), initCfg)
			if err != nil {
				b.Fatal(err)
			}
			sas = append(sas, sa)
		}
		if got := len(p.resp.SAs()); got != n {
			b.Fatalf("responder holds %d SAs, want %d", got, n)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/SA-pair")
		if len(sas) != n {
			b.Fatal(fmt.Sprint(len(sas)))
		}
		p.stop()
	}
}
