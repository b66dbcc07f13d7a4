package eap

import (
	"bytes"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte{2, 5, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'})
	f.Add([]byte{3, 1, 0, 4})
	f.Add([]byte{1, 1, 0, 6, 13, 0x20})
	f.Add([]byte{2, 1, 0, 6, 3, 26})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n := int(b[2])<<8 | int(b[3])
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoding %x, input %x", out, b[:n])
		}
	})
}

func FuzzParseMSCHAPv2(f *testing.F) {
	f.Add(appendMSCHAPv2(mschapChallenge, 1, append(append([]byte{16}, make([]byte, 16)...), "srv"...)))
	f.Add(appendMSCHAPv2(mschapResponse, 1, append(append([]byte{49}, make([]byte, 49)...), `D\u`...)))
	f.Add(appendMSCHAPv2(mschapFailure, 1, []byte("E=691 R=0 C=00 V=3 M=x")))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseMSCHAPv2(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		switch p.OpCode {
		case mschapChallenge:
			if len(p.Value) != mschapChallengeLen {
				t.Fatalf("challenge of %d octets", len(p.Value))
			}
		case mschapResponse:
			if len(p.Value) != mschapResponseLen {
				t.Fatalf("response of %d octets", len(p.Value))
			}
		}
		_ = mschapErrorCode(p.Message)
	})
}

// FuzzParseTLS covers the EAP-TLS header and the reassembly of a
// sequence of fragments (the input split at 0xff octets).
func FuzzParseTLS(f *testing.F) {
	f.Add([]byte{0x20})
	f.Add([]byte{0xc0, 0, 0, 0, 4, 1, 2, 0xff, 0, 3, 4})
	f.Add([]byte{0x80, 0, 0, 0, 2, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := tlsIn{max: 1024}
		for _, frag := range bytes.Split(b, []byte{0xff}) {
			p, err := ParseTLS(frag)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("untyped error %v", err)
				}
				return
			}
			msg, done, err := in.add(p)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("untyped error %v", err)
				}
				return
			}
			if len(msg) > 1024 || len(in.buf) > 1024 {
				t.Fatalf("reassembly beyond the limit: %d", len(msg))
			}
			if done {
				in = tlsIn{max: 1024}
			}
		}
	})
}

func FuzzParseMD5GTC(f *testing.F) {
	f.Add([]byte{16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 'n'})
	f.Add([]byte("RESPONSE=alice\x00secret"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, _, err := ParseMD5(b); err == nil {
			if len(v) == 0 || len(v) > len(b)-1 {
				t.Fatalf("value of %d octets from %d", len(v), len(b))
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
		if _, pw, err := ParseGTCResponse(b); err == nil {
			if len(pw) == 0 || len(pw) > maxPasswordLen {
				t.Fatalf("password of %d octets", len(pw))
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
	})
}

func FuzzParseUsers(f *testing.F) {
	f.Add("alice:wonderland 198.51.100.7\n# c\nCORP\\bob:nthash:00112233445566778899aabbccddeeff 2001:db8::1 198.51.100.8\n")
	f.Add("x:a b c")
	f.Fuzz(func(t *testing.T, s string) {
		users, err := ParseUsers(strings.NewReader(s))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "eap: users") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for _, u := range users {
			if u.Name == "" || strings.Contains(u.Name, ":") || (len(u.Password) == 0) == (len(u.NTHash) == 0) {
				t.Fatalf("bad user %q pw %d hash %d", u.Name, len(u.Password), len(u.NTHash))
			}
		}
	})
}

// FuzzServer feeds arbitrary responses to servers in every state reached
// by a real conversation: no panic, and every step either is discarded
// or yields a packet that parses.
func FuzzServer(f *testing.F) {
	f.Add(uint8(0), []byte{2, 0, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'})
	f.Add(uint8(1), []byte{2, 0, 0, 6, 3, 26})
	f.Add(uint8(2), []byte{2, 0, 0, 8, 26, 2, 0, 0})
	f.Add(uint8(3), []byte{2, 0, 0, 6, 13, 0})
	f.Add(uint8(4), []byte{2, 0, 0, 16, 13, 0xc0, 0, 0, 0, 20, 22, 3, 1, 0, 5, 1, 0xfe, 0xfe, 2, 0, 0, 6, 13, 0})
	users := mschapUsers()
	pki := newPKI(f)
	f.Fuzz(func(t *testing.T, sel uint8, b []byte) {
		methods := [][]Type{{TypeMSCHAPv2}, {TypeMD5Challenge, TypeGTC}, {TypeGTC, TypeMSCHAPv2}, {TypeMSCHAPv2, TypeMD5Challenge}, {TypeTLS, TypeMSCHAPv2}}
		s, err := NewServer(ServerConfig{Methods: methods[int(sel)%len(methods)], Users: users, Rand: &detRand{seed: sel}, SkipIdentity: sel&8 != 0,
			TLS: pki.serverTLS(), Certs: pki.verifier(), TLSFragmentSize: 100, TLSMaxMessage: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		req, err := s.Start("alice")
		if err != nil {
			t.Fatal(err)
		}
		// Patch the Identifier so the input reaches the state machine.
		for _, msg := range bytes.Split(b, []byte{0xfe, 0xfe}) {
			if len(msg) > 1 {
				msg = bytes.Clone(msg)
				msg[1] = req[1]
			}
			out, res, err := s.Process(msg)
			if out == nil {
				if err == nil && res.Status == StatusContinue {
					t.Fatal("nothing to send and no error")
				}
				if res.Status != StatusContinue {
					return
				}
				continue
			}
			if _, perr := Parse(out); perr != nil {
				t.Fatalf("server sent a malformed packet: %v", perr)
			}
			if res.Status != StatusContinue {
				return
			}
			req = out
		}
	})
}

// FuzzPeer feeds arbitrary requests to a peer.
func FuzzPeer(f *testing.F) {
	f.Add([]byte{1, 1, 0, 5, 1})
	f.Add(append([]byte{1, 2, 0, 26, 26}, appendMSCHAPv2(mschapChallenge, 1, append([]byte{16}, make([]byte, 16)...))...))
	f.Add([]byte{1, 3, 0, 6, 13, 0x20})
	f.Add([]byte{1, 3, 0, 22, 4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := NewPeer(PeerConfig{Identity: `D\alice`, Password: ipsec.Secret("Pa55-zz9"), Rand: &detRand{},
			Methods: []Type{TypeMSCHAPv2, TypeMD5Challenge, TypeGTC, TypeTLS},
			TLS:     &tls.Config{InsecureSkipVerify: true}})
		defer p.Close()
		for _, msg := range bytes.Split(b, []byte{0xfe, 0xfe}) {
			resp, res, err := p.Process(msg)
			if resp != nil {
				if _, perr := Parse(resp); perr != nil {
					t.Fatalf("peer sent a malformed packet: %v", perr)
				}
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("Pa55-zz9")) {
				t.Fatalf("error mentions the password: %v", err)
			}
			if res.Status != StatusContinue {
				return
			}
		}
	})
}
