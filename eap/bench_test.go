package eap

import (
	"crypto/tls"
	"testing"

	"github.com/goipsec/ipsec"
)

func BenchmarkParse(b *testing.B) {
	pkt := []byte{2, 5, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Parse(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConversation measures a whole in-process conversation, the
// authenticator's cost per login (the peer's share included).
func BenchmarkConversation(b *testing.B) {
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})
	pki := newPKI(b)
	cases := []struct {
		name string
		scfg ServerConfig
		pcfg func() PeerConfig
	}{
		{"mschapv2", ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: users},
			func() PeerConfig { return PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland")} }},
		{"tls13", ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()},
			func() PeerConfig {
				return PeerConfig{Identity: "alice@example.com", TLS: pki.clientTLS(pki.Client, tls.VersionTLS13)}
			}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := NewServer(c.scfg)
				if err != nil {
					b.Fatal(err)
				}
				p := NewPeer(c.pcfg())
				req, _ := s.Start("")
				for {
					resp, res, err := p.Process(req)
					if res.Status != StatusContinue || err != nil {
						if res.Status != StatusSuccess {
							b.Fatal(res, err)
						}
						break
					}
					req, _, _ = s.Process(resp)
				}
				s.Close()
				p.Close()
			}
		})
	}
}
