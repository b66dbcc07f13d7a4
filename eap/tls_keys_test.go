package eap

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"testing"
)

// prf12 is the TLS 1.2 PRF with SHA-256 (RFC 5246 section 5), written
// here independently of crypto/tls.
func prf12(secret []byte, label string, seed []byte, n int) []byte {
	seed = append([]byte(label), seed...)
	var out []byte
	a := seed
	for len(out) < n {
		m := hmac.New(sha256.New, secret)
		m.Write(a)
		a = m.Sum(nil)
		m.Reset()
		m.Write(a)
		m.Write(seed)
		out = m.Sum(out)
	}
	return out[:n]
}

// TestTLSKeyMaterial recomputes the TLS 1.2 MSK/EMSK from the master
// secret crypto/tls logs (NSS key log format) with an independent PRF and
// the RFC 5216 label, so a wrong label or seed would fail here even
// though both sides of the ladder would agree. (crypto/tls does not log
// the TLS 1.3 exporter secret, so RFC 9190's label and 0x0D context are
// only checked by both sides agreeing.)
func TestTLSKeyMaterial(t *testing.T) {
	pki := newPKI(t)
	for _, version := range []uint16{tls.VersionTLS12} {
		var keylog bytes.Buffer
		cfg := pki.clientTLS(pki.Client, version)
		cfg.KeyLogWriter = &keylog
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256} // SHA-256 PRF for TLS 1.2
		s := newServer(t, ServerConfig{Methods: []Type{TypeTLS}, TLS: pki.serverTLS(), Certs: pki.verifier()})
		p := NewPeer(PeerConfig{Identity: "alice@example.com", TLS: cfg, Methods: []Type{TypeTLS}})
		sres, pres, serr, perr, wire := ladder(t, s, p, "")
		if serr != nil || perr != nil || sres.Status != StatusSuccess {
			t.Fatalf("%v %v %v", sres, serr, perr)
		}
		secrets := map[string][]byte{}
		var clientRandom []byte
		sc := bufio.NewScanner(&keylog)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 {
				secrets[f[0]], _ = hex.DecodeString(f[2])
				clientRandom, _ = hex.DecodeString(f[1])
			}
		}
		// The server random is in the ServerHello, the first TLS data
		// the server sends after Start: record (5) + handshake (4) +
		// version (2) octets in.
		var serverRandom []byte
		for _, st := range wire {
			q, err := Parse(st.pkt)
			if err != nil || st.from != "server" || q.Type != TypeTLS {
				continue
			}
			tp, _ := ParseTLS(q.Data)
			if len(tp.Data) >= 43 {
				serverRandom = tp.Data[11:43]
				break
			}
		}
		ms := secrets["CLIENT_RANDOM"]
		if len(ms) != 48 || len(serverRandom) != 32 || len(clientRandom) != 32 {
			t.Fatalf("TLS 1.2 secrets: master %d, randoms %d/%d", len(ms), len(clientRandom), len(serverRandom))
		}
		km := prf12(ms, "client EAP encryption", append(bytes.Clone(clientRandom), serverRandom...), 128)
		if !bytes.Equal(sres.MSK, km[:64]) || !bytes.Equal(pres.MSK, km[:64]) || !bytes.Equal(sres.EMSK, km[64:]) {
			t.Errorf("version %#x: MSK differs from the RFC derivation", version)
		}
	}
}
