package proposal

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIKEv1Phase1(t *testing.T) {
	p, err := ParseProposal("aes256-aes128-sha1-sha256-modp1024-modp2048", ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToIKEv1Phase1(p, V1AuthXAuthInitPSK)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 2409 appendix A: AES-CBC = 7 (RFC 3602), SHA = 2, SHA2-256 = 4
	// (RFC 4868), group 2 = MODP-1024, group 14 = MODP-2048.
	want := []IKEv1Phase1{
		{7, 256, 2, 2, 65001}, {7, 256, 2, 14, 65001}, {7, 256, 4, 2, 65001}, {7, 256, 4, 14, 65001},
		{7, 128, 2, 2, 65001}, {7, 128, 2, 14, 65001}, {7, 128, 4, 2, 65001}, {7, 128, 4, 14, 65001},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ToIKEv1Phase1 (-want +got):\n%s", diff)
	}
	// Back: each transform is a one-choice proposal with the HMAC of the
	// hash as integrity algorithm.
	back, err := got[0].Proposal()
	if err != nil {
		t.Fatal(err)
	}
	if s := back.Describe(); s != "IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024" {
		t.Errorf("back = %s", s)
	}
	// 3DES (5) has no key length; AES without one means AES-128.
	for _, c := range []struct {
		in   IKEv1Phase1
		want string
	}{
		{IKEv1Phase1{Encryption: 5, Hash: 1, Group: 2}, "IKE:3DES/HMAC_MD5_96/PRF_HMAC_MD5/MODP_1024"},
		{IKEv1Phase1{Encryption: 7, Hash: 6, Group: 20}, "IKE:AES_CBC_128/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/ECP_384"},
		{IKEv1Phase1{Encryption: 1, Hash: 2, Group: 1}, "IKE:DES/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_768"},
	} {
		p, err := c.in.Proposal()
		if err != nil || p.Describe() != c.want {
			t.Errorf("%v.Proposal() = %s, %v; want %s", c.in, p.Describe(), err, c.want)
		}
	}
	for _, bad := range []struct {
		in   IKEv1Phase1
		want error
	}{
		{IKEv1Phase1{Encryption: 99, Hash: 2, Group: 2}, ErrNoIKEv1Value},
		{IKEv1Phase1{Encryption: 7, KeyLength: 100, Hash: 2, Group: 2}, ErrKeyLength},
		{IKEv1Phase1{Encryption: 5, KeyLength: 128, Hash: 2, Group: 2}, ErrKeyLength},
		{IKEv1Phase1{Encryption: 7, Hash: 3, Group: 2}, ErrNoIKEv1Value}, // Tiger
		{IKEv1Phase1{Encryption: 7, Hash: 2, Group: 99}, ErrNoIKEv1Value},
	} {
		if _, err := bad.in.Proposal(); !errors.Is(err, bad.want) {
			t.Errorf("%v.Proposal() = %v, want %v", bad.in, err, bad.want)
		}
	}
	for _, s := range []string{"chacha20poly1305-prfsha256-ecp256", "aes256-sha256-curve25519", "aes256-aesxcbc-modp2048"} {
		p, err := ParseProposal(s, ProtoIKE)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ToIKEv1Phase1(p, V1AuthPSK); !errors.Is(err, ErrNoIKEv1Value) {
			t.Errorf("ToIKEv1Phase1(%s) = %v, want ErrNoIKEv1Value", s, err)
		}
	}
	esp, _ := ParseProposal("aes256-sha1", ProtoESP)
	if _, err := ToIKEv1Phase1(esp, V1AuthPSK); !errors.Is(err, ErrNoIKEv1Value) {
		t.Errorf("ESP proposal as phase 1: %v", err)
	}
	if s := V1AuthXAuthInitRSA.String(); s != "XAUTH_INIT_RSA" {
		t.Errorf("String = %s", s)
	}
	if s := IKEv1AuthMethod(7).String(); s != "AUTH(7)" {
		t.Errorf("String = %s", s)
	}
}

// TestIKEv1RacoonAgainstCompatible runs the IKEv1 profile through the
// conversion the IKEv1 engine will use: every phase-1 transform the client
// sends becomes a proposal, and the compatible defaults accept the first.
func TestIKEv1RacoonAgainstCompatible(t *testing.T) {
	prof, _ := LookupProfile("ios-ikev1")
	var peer List
	for i, p := range prof.IKE {
		v1, err := ToIKEv1Phase1(p, V1AuthXAuthInitPSK)
		if err != nil || len(v1) != 1 {
			t.Fatalf("profile proposal %d: %v %v", i, v1, err)
		}
		back, err := v1[0].Proposal()
		if err != nil {
			t.Fatal(err)
		}
		back.Number = uint8(i + 1)
		peer = append(peer, back)
	}
	if diff := cmp.Diff(prof.IKE, peer); diff != "" {
		t.Errorf("phase 1 round trip (-want +got):\n%s", diff)
	}
	sel, err := Select(CompatibleIKE(), peer, SelectOptions{})
	if err != nil || sel.Number != 1 {
		t.Errorf("Select = %s (#%d), %v", sel.Describe(), sel.Number, err)
	}
}

func TestIKEv1ESP(t *testing.T) {
	p, err := ParseProposal("aes256-aes128gcm16", ProtoESP)
	if err == nil {
		t.Fatalf("mixed AEAD/classic parsed: %v", p)
	}
	p, err = ParseProposal("aes256-3des-sha1-sha256-modp2048-modpnone-esn", ProtoESP)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToIKEv1ESP(p)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 2407 4.4.4: ESP_AES = 12, ESP_3DES = 3; 4.5: HMAC-SHA = 2,
	// RFC 4868: HMAC-SHA2-256 = 5; group 14; RFC 4304 ESN.
	want := []IKEv1ESP{
		{12, 256, 2, 14, true}, {12, 256, 2, 0, true}, {12, 256, 5, 14, true}, {12, 256, 5, 0, true},
		{3, 0, 2, 14, true}, {3, 0, 2, 0, true}, {3, 0, 5, 14, true}, {3, 0, 5, 0, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ToIKEv1ESP (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		in   IKEv1ESP
		want string
	}{
		{IKEv1ESP{TransformID: 12, KeyLength: 256, AuthAlg: 2}, "ESP:AES_CBC_256/HMAC_SHA1_96/NO_EXT_SEQ"},
		{IKEv1ESP{TransformID: 20, KeyLength: 128, Group: 19, ESN: true}, "ESP:AES_GCM_16_128/ECP_256/EXT_SEQ"},
		{IKEv1ESP{TransformID: 3, AuthAlg: 1}, "ESP:3DES/HMAC_MD5_96/NO_EXT_SEQ"},
		{IKEv1ESP{TransformID: 12, AuthAlg: 9}, "ESP:AES_CBC_128/AES_XCBC_96/NO_EXT_SEQ"},
	} {
		p, err := c.in.Proposal()
		if err != nil || p.Describe() != c.want {
			t.Errorf("%+v.Proposal() = %s, %v; want %s", c.in, p.Describe(), err, c.want)
		}
	}
	for _, bad := range []struct {
		in   IKEv1ESP
		want error
	}{
		{IKEv1ESP{TransformID: 99, AuthAlg: 2}, ErrNoIKEv1Value},
		{IKEv1ESP{TransformID: 12, KeyLength: 512, AuthAlg: 2}, ErrKeyLength},
		{IKEv1ESP{TransformID: 12, AuthAlg: 99}, ErrNoIKEv1Value},
		{IKEv1ESP{TransformID: 12, AuthAlg: 2, Group: 77}, ErrNoIKEv1Value},
		{IKEv1ESP{TransformID: 11}, ErrInvalidProposal},
	} {
		if _, err := bad.in.Proposal(); !errors.Is(err, bad.want) {
			t.Errorf("%+v.Proposal() = %v, want %v", bad.in, err, bad.want)
		}
	}
	cc, _ := ParseProposal("chacha20poly1305", ProtoESP)
	if _, err := ToIKEv1ESP(cc); !errors.Is(err, ErrNoIKEv1Value) {
		t.Errorf("chacha20poly1305 in IKEv1: %v", err)
	}
}
