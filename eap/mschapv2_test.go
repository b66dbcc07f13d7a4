package eap

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

type mschapVector struct {
	ID                     string `json:"id"`
	Username               string `json:"username"`
	Password               string `json:"password"`
	AuthenticatorChallenge string `json:"authenticator_challenge"`
	PeerChallenge          string `json:"peer_challenge"`
	Challenge              string `json:"challenge"`
	PasswordHash           string `json:"password_hash"`
	PasswordHashHash       string `json:"password_hash_hash"`
	NTResponse             string `json:"nt_response"`
	AuthenticatorResponse  string `json:"authenticator_response"`
	MasterKey              string `json:"master_key"`
	ServerSendStartKey     string `json:"server_send_start_key_128_magic3"`
	Derived                struct {
		ClientSendKey    string `json:"client_send_key_magic2"`
		ClientReceiveKey string `json:"client_receive_key_magic3"`
		MSK              string `json:"eap_mschapv2_msk_64"`
	} `json:"derived_not_in_rfc"`
}

func loadMSCHAPVectors(t *testing.T) []mschapVector {
	t.Helper()
	b, err := os.ReadFile("testdata/mschapv2_rfc2759_rfc3079.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []mschapVector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMSCHAPv2Vectors checks that eap's names use the shared primitives
// of internal/mschapv2 (whose own test walks every step of the vector):
// the NT-Response, the authenticator response and the MSK of RFC 2759
// section 9.2 and RFC 3079 section 3.5.3.
func TestMSCHAPv2Vectors(t *testing.T) {
	for _, v := range loadMSCHAPVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			auth, peer := unhex(t, v.AuthenticatorChallenge), unhex(t, v.PeerChallenge)
			hash := NTHash([]byte(v.Password))
			if !bytes.Equal(hash, unhex(t, v.PasswordHash)) {
				t.Errorf("NtPasswordHash = %x", []byte(hash))
			}
			nt := ntResponse(auth, peer, v.Username, hash)
			if !bytes.Equal(nt, unhex(t, v.NTResponse)) {
				t.Errorf("NT-Response = %x", nt)
			}
			if got := authenticatorResponse(hash, nt, peer, auth, v.Username); got != v.AuthenticatorResponse {
				t.Errorf("AuthenticatorResponse = %s, want %s", got, v.AuthenticatorResponse)
			}
			if got := mschapv2MSK(hash, nt); !bytes.Equal(got, unhex(t, v.Derived.MSK)) {
				t.Errorf("MSK = %x", []byte(got))
			}
			// Windows presents DOMAIN\User; the hash must not see the domain.
			if got := ntResponse(auth, peer, `DOMAIN\`+v.Username, hash); !bytes.Equal(got, nt) {
				t.Errorf("NT-Response with domain = %x", got)
			}
		})
	}
}

// TestMSCHAPv2VectorOverTheWire drives the server and the peer with the
// vector's challenges (as their randomness) and checks the packets and
// the MSK both sides export.
func TestMSCHAPv2VectorOverTheWire(t *testing.T) {
	v := loadMSCHAPVectors(t)[0]
	// Server randomness: first Identifier, then the authenticator challenge.
	srvRand := bytes.NewReader(append([]byte{7}, unhex(t, v.AuthenticatorChallenge)...))
	users := ipsec.NewUsers(ipsec.User{Name: v.Username, Password: ipsec.Secret(v.Password)})
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: users, Rand: srvRand})
	p := NewPeer(PeerConfig{Identity: v.Username, Password: ipsec.Secret(v.Password), Rand: bytes.NewReader(unhex(t, v.PeerChallenge))})
	sres, pres, serr, perr, wire := ladder(t, s, p, "")
	if serr != nil || perr != nil || sres.Status != StatusSuccess || pres.Status != StatusSuccess {
		t.Fatalf("server %v %v peer %v %v", sres, serr, pres, perr)
	}
	resp, _ := Parse(wire[3].pkt)
	mp, err := ParseMSCHAPv2(resp.Data)
	if err != nil || mp.OpCode != mschapResponse || mp.Name != v.Username {
		t.Fatalf("response %+v %v", mp, err)
	}
	if got := mp.Value[24:48]; !bytes.Equal(got, unhex(t, v.NTResponse)) {
		t.Errorf("NT-Response on the wire %x", got)
	}
	succ, _ := Parse(wire[4].pkt)
	sp, _ := ParseMSCHAPv2(succ.Data)
	if !strings.HasPrefix(sp.Message, v.AuthenticatorResponse+" ") {
		t.Errorf("success message %q", sp.Message)
	}
	want := unhex(t, v.Derived.MSK)
	if !bytes.Equal(sres.MSK, want) || !bytes.Equal(pres.MSK, want) {
		t.Errorf("MSK server %x peer %x", []byte(sres.MSK), []byte(pres.MSK))
	}
}

func TestMSCHAPv2PeerRejectsBadAuthenticator(t *testing.T) {
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})
	s := newServer(t, ServerConfig{Methods: []Type{TypeMSCHAPv2}, Users: users})
	p := NewPeer(PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland")})
	req, _ := s.Start("")
	for range 2 {
		resp, _, err := p.Process(req)
		if err != nil {
			t.Fatal(err)
		}
		req, _, _ = s.Process(resp)
	}
	// req is the Success-Request; flip one hex digit of S=.
	q, _ := Parse(req)
	i := 4 + 2
	if q.Data[i] == 'A' {
		q.Data[i] = 'B'
	} else {
		q.Data[i] = 'A'
	}
	resp, res, err := p.Process(req)
	if resp != nil || res.Status != StatusFailure || res.MSK != nil || err == nil {
		t.Fatalf("resp %x res %v err %v", resp, res, err)
	}
	if !strings.Contains(err.Error(), "authenticator") {
		t.Errorf("err %v", err)
	}
}

func TestParseMSCHAPv2(t *testing.T) {
	chal := appendMSCHAPv2(mschapChallenge, 9, append(append([]byte{16}, bytes.Repeat([]byte{1}, 16)...), "srv"...))
	p, err := ParseMSCHAPv2(chal)
	if err != nil || p.OpCode != mschapChallenge || p.ID != 9 || len(p.Value) != 16 || p.Name != "srv" {
		t.Fatalf("%+v %v", p, err)
	}
	for n := range len(chal) - 3 {
		if n == 1 {
			continue // a lone opcode 1 is also an error, checked below
		}
		if _, err := ParseMSCHAPv2(chal[:n]); err == nil {
			t.Errorf("prefix %d parsed", n)
		}
	}
	for _, bad := range [][]byte{{1}, {2}, {7, 1, 0, 4}, {1, 1, 0, 3}, {1, 1, 0, 40, 16}, {2, 1, 0, 8, 16, 1, 2, 3}} {
		if _, err := ParseMSCHAPv2(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
	for _, ok := range [][]byte{{3}, {4}, appendMSCHAPv2(mschapFailure, 1, []byte("E=691 R=0"))} {
		if _, err := ParseMSCHAPv2(ok); err != nil {
			t.Errorf("%x: %v", ok, err)
		}
	}
	if got := mschapErrorCode("E=691 R=0 C=00 V=3 M=secret text"); got != "E=691" {
		t.Errorf("error code %q", got)
	}
}
