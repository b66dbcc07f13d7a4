package mschapv2

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestVectors checks every step of RFC 2759 section 9.2 and RFC 3079
// section 3.5.3, and the 64-octet MSK IKEv2 uses.
func TestVectors(t *testing.T) {
	vs, err := LoadVectors("testdata/mschapv2_rfc2759_rfc3079.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			unhex := func(s string) []byte {
				t.Helper()
				b, err := hex.DecodeString(s)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			auth, peer := unhex(v.AuthenticatorChallenge), unhex(v.PeerChallenge)
			check := func(name string, got []byte, want string) {
				t.Helper()
				if !bytes.Equal(got, unhex(want)) {
					t.Errorf("%s = %x, want %s", name, got, want)
				}
			}
			hash := NTHash([]byte(v.Password))
			check("NtPasswordHash", hash, v.PasswordHash)
			check("HashNtPasswordHash", MD4(hash), v.PasswordHashHash)
			check("ChallengeHash", ChallengeHash(peer, auth, v.Username), v.Challenge)
			nt := NTResponse(auth, peer, v.Username, hash)
			check("NT-Response", nt, v.NTResponse)
			if got := AuthenticatorResponse(hash, nt, peer, auth, v.Username); got != v.AuthenticatorResponse {
				t.Errorf("AuthenticatorResponse = %s, want %s", got, v.AuthenticatorResponse)
			}
			mk := MasterKey(hash, nt)
			check("MasterKey", mk, v.MasterKey)
			check("server send key (Magic3)", AsymmetricStartKey(mk, Magic3), v.ServerSendStartKey)
			check("client send key (Magic2)", AsymmetricStartKey(mk, Magic2), v.Derived.ClientSendKey)
			check("client receive key (Magic3)", AsymmetricStartKey(mk, Magic3), v.Derived.ClientReceiveKey)
			check("MSK", MSK(hash, nt), v.Derived.MSK)
			// Windows presents DOMAIN\User; the hash must not see the domain.
			check("NT-Response with domain", NTResponse(auth, peer, `DOMAIN\`+v.Username, hash), v.NTResponse)
		})
	}
}

func TestNTHashUTF16(t *testing.T) {
	for _, c := range []struct {
		pw    []byte
		utf16 []byte
	}{
		{[]byte("ä"), []byte{0xe4, 0x00}},
		{[]byte("😀"), []byte{0x3d, 0xd8, 0x00, 0xde}},
		{[]byte{0xff}, []byte{0xfd, 0xff}}, // invalid UTF-8 -> U+FFFD
	} {
		if got, want := NTHash(c.pw), MD4(c.utf16); !bytes.Equal(got, want) {
			t.Errorf("NTHash(%x) = %x, want %x", c.pw, got, want)
		}
	}
}

func TestUserName(t *testing.T) {
	for in, want := range map[string]string{`User`: "User", `CORP\alice`: "alice", `a\b\c`: `b\c`, `\x`: "x", ``: ""} {
		if got := UserName(in); got != want {
			t.Errorf("UserName(%q) = %q, want %q", in, got, want)
		}
	}
}
