package proposal

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// minimal completes a single keyword into a valid proposal string, so
// every table entry can be parsed on its own.
func minimal(t *testing.T, kw string, typ TransformType, proto Protocol, aead bool) string {
	t.Helper()
	switch {
	case typ == TypeENCR && proto == ProtoIKE && aead:
		return kw + "-prfsha256-modp2048"
	case typ == TypeENCR && proto == ProtoIKE:
		return kw + "-sha256-modp2048"
	case typ == TypeENCR:
		return kw + "-sha256"
	case typ == TypeINTEG && proto == ProtoIKE:
		return "aes128-" + kw + "-modp2048"
	case typ == TypeINTEG:
		return "aes128-" + kw
	case typ == TypePRF:
		// Two integrity keywords imply two PRFs, so the single explicit
		// PRF differs from the implied list and String must print it.
		return "aes128-sha256-sha1-" + kw + "-modp2048"
	case typ == TypeKE && proto == ProtoIKE:
		return "aes128-sha256-" + kw
	case typ == TypeKE, typ == TypeESN:
		return "aes128-sha256-" + kw
	default: // ADDKE
		return "aes128-sha256-modp2048-" + kw
	}
}

// TestRoundTripTable parses every keyword of every table entry and key
// size, checks the parsed transform against the table, and checks that
// String parses back to the same proposal.
func TestRoundTripTable(t *testing.T) {
	type tc struct {
		kw    string
		proto Protocol
		want  Transform
		aead  bool
	}
	var cases []tc
	for _, a := range encrTable {
		for _, proto := range []Protocol{ProtoIKE, ProtoESP} {
			if (proto == ProtoIKE && a.Use&UseIKE == 0) || (proto == ProtoESP && a.Use&UseESP == 0) {
				continue
			}
			if len(a.KeyLens) == 0 {
				cases = append(cases, tc{a.Keyword + a.Suffix, proto, Transform{TypeENCR, uint16(a.ID), 0}, a.AEAD})
				continue
			}
			for _, kl := range a.KeyLens {
				for _, s := range append([]string{a.Suffix}, a.SuffixAliases...) {
					kw := a.Keyword + strconv.Itoa(int(kl)) + s
					cases = append(cases, tc{kw, proto, Transform{TypeENCR, uint16(a.ID), kl}, a.AEAD})
				}
			}
		}
	}
	for _, a := range prfTable {
		cases = append(cases, tc{a.Keyword, ProtoIKE, Transform{TypePRF, uint16(a.ID), 0}, false})
	}
	for _, a := range integTable {
		for _, kw := range a.Keywords {
			for _, proto := range []Protocol{ProtoIKE, ProtoESP} {
				cases = append(cases, tc{kw, proto, Transform{TypeINTEG, uint16(a.ID), 0}, false})
			}
		}
	}
	for _, a := range keTable {
		for _, kw := range a.Keywords {
			if a.ID != KENone {
				cases = append(cases, tc{kw, ProtoIKE, Transform{TypeKE, uint16(a.ID), 0}, false})
			}
			cases = append(cases, tc{kw, ProtoESP, Transform{TypeKE, uint16(a.ID), 0}, false})
			for n := 1; n <= NumAddKE; n++ {
				typ := TypeADDKE1 + TransformType(n-1)
				cases = append(cases, tc{"ke" + strconv.Itoa(n) + "_" + kw, ProtoIKE, Transform{typ, uint16(a.ID), 0}, false})
			}
		}
	}
	for _, a := range esnTable {
		cases = append(cases, tc{a.Keyword, ProtoESP, Transform{TypeESN, uint16(a.ID), 0}, false})
	}
	if len(cases) < 300 {
		t.Fatalf("only %d cases generated; the table walk is broken", len(cases))
	}
	for _, c := range cases {
		s := minimal(t, c.kw, c.want.Type, c.proto, c.aead)
		l, err := Parse(s, c.proto)
		if err != nil {
			t.Errorf("Parse(%q, %s): %v", s, c.proto, err)
			continue
		}
		p := l[0]
		found := false
		for _, tr := range p.Transforms() {
			if tr == c.want {
				found = true
			}
		}
		if !found {
			t.Errorf("Parse(%q): transforms %v lack %v", s, p.Transforms(), c.want)
		}
		// noesn is the ESP default and String omits it.
		if kw := Keyword(c.want); kw == "" || (kw != "noesn" && !strings.Contains(p.String(), kw)) {
			t.Errorf("Parse(%q).String() = %q, want it to contain canonical keyword %q", s, p.String(), kw)
		}
		back, err := Parse(p.String(), c.proto)
		if err != nil {
			t.Errorf("Parse(String()=%q): %v", p.String(), err)
			continue
		}
		if diff := cmp.Diff(l, back); diff != "" {
			t.Errorf("round trip of %q via %q (-first +second):\n%s", s, p.String(), diff)
		}
	}
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		proto Protocol
		in    string
		want  string // strongSwan log form (Describe)
	}{
		// Expectations from strongSwan's test_proposal.c create_data.
		{ProtoIKE, "aes128-sha256-modp3072", "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072"},
		{ProtoIKE, "aes128-sha256-prfsha384-modp3072", "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_384/MODP_3072"},
		{ProtoIKE, "aes128gcm16-prfsha256-modp3072", "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/MODP_3072"},
		{ProtoIKE, "aes128gcm16-sha256-modp3072", "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/MODP_3072"},
		{ProtoESP, "aes128-sha256", "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ"},
		{ProtoESP, "aes128-sha256-esn", "ESP:AES_CBC_128/HMAC_SHA2_256_128/EXT_SEQ"},
		{ProtoESP, "aes128-sha256-noesn", "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ"},
		{ProtoESP, "aes128-sha256-esn-noesn", "ESP:AES_CBC_128/HMAC_SHA2_256_128/EXT_SEQ/NO_EXT_SEQ"},
		{ProtoESP, "aes128gmac", "ESP:NULL_AUTH_AES_GMAC_128/NO_EXT_SEQ"},
		// Aliases and defaults.
		{ProtoIKE, "aes-sha-modp2048", "IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048"},
		{ProtoIKE, "aes256gcm-prfsha384-ecp384", "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"},
		{ProtoIKE, "aes256gcm16-prfsha384-ecp384", "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"},
		{ProtoESP, "aes128gcm64-aes192gcm96-aes256gcm128", "ESP:AES_GCM_8_128/AES_GCM_12_192/AES_GCM_16_256/NO_EXT_SEQ"},
		{ProtoESP, "aes192ccm-aes128ccm8-aes256ccm96", "ESP:AES_CCM_16_192/AES_CCM_8_128/AES_CCM_12_256/NO_EXT_SEQ"},
		{ProtoIKE, "chacha20poly1305-prfsha256-x25519-x448", "IKE:CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519/CURVE_448"},
		{ProtoIKE, "3des-md5-modp768", "IKE:3DES/HMAC_MD5_96/PRF_HMAC_MD5/MODP_768"},
		{ProtoIKE, "aes256-sha2_256-sha2_384-ecp256bp-ecp512bp-modp2048s256", "IKE:AES_CBC_256/HMAC_SHA2_256_128/HMAC_SHA2_384_192/PRF_HMAC_SHA2_256/PRF_HMAC_SHA2_384/ECP_256_BP/ECP_512_BP/MODP_2048_256"},
		{ProtoIKE, "aes128-aesxcbc-aescmac-modp2048", "IKE:AES_CBC_128/AES_XCBC_96/AES_CMAC_96/PRF_AES128_XCBC/PRF_AES128_CMAC/MODP_2048"},
		// modpnone: dropped in IKE, optional KE in ESP.
		{ProtoIKE, "aes256-sha256-modp2048-modpnone", "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"},
		{ProtoESP, "aes256-sha256-modp2048-modpnone", "ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NONE/NO_EXT_SEQ"},
		// RFC 9370 additional key exchanges.
		{ProtoIKE, "aes256-sha256-curve25519-ke1_mlkem768", "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_768"},
		{ProtoIKE, "aes256gcm16-prfsha384-ecp384-ke1_mlkem1024-ke1_none-ke7_mlkem512", "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_1024/KE1_NONE/KE7_ML_KEM_512"},
		// Case, spaces and duplicates.
		{ProtoIKE, " AES256-SHA256-sha256-MODP2048 ", "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"},
		// AEAD-only proposals drop integrity keywords in ESP too.
		{ProtoESP, "aes256gcm16-sha256", "ESP:AES_GCM_16_256/NO_EXT_SEQ"},
		{ProtoESP, "null-sha1", "ESP:NULL/HMAC_SHA1_96/NO_EXT_SEQ"},
	}
	for _, tt := range tests {
		l, err := Parse(tt.in, tt.proto)
		if err != nil {
			t.Errorf("Parse(%q, %s): %v", tt.in, tt.proto, err)
			continue
		}
		if got := l.Describe(); got != tt.want {
			t.Errorf("Parse(%q, %s) = %s, want %s", tt.in, tt.proto, got, tt.want)
		}
	}
}

func TestParseList(t *testing.T) {
	l, err := Parse("aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-modpnone", ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || l[0].Number != 1 || l[1].Number != 2 {
		t.Fatalf("got %d proposals numbered %v", len(l), l)
	}
	if got, want := l.String(), "aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	esp, err := Parse("aes256gcm16, aes256-sha256-modp2048-modpnone-esn-noesn", ProtoESP)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := esp.String(), "aes256gcm16, aes256-sha256-modp2048-modpnone-esn-noesn"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		proto   Protocol
		in      string
		want    error
		keyword string
		index   int
	}{
		{ProtoIKE, "", ErrEmptyProposal, "", 0},
		{ProtoIKE, "   ", ErrEmptyProposal, "", 0},
		{ProtoIKE, "aes128-sha1-modp2048,,aes256-sha1-modp2048", ErrEmptyProposal, "", 1},
		{ProtoIKE, "aes128-sha1-modp2048, ", ErrEmptyProposal, "", 1},
		{ProtoIKE, "aes256-sha999-modp2048", ErrUnknownAlgorithm, "sha999", 0},
		{ProtoIKE, "aes128--sha1-modp2048", ErrUnknownAlgorithm, "", 0},
		{ProtoIKE, "aes128-sha1-modp2048-ke8_mlkem768", ErrUnknownAlgorithm, "ke8_mlkem768", 0},
		{ProtoIKE, "aes128-sha1-modp2048-ke0_mlkem768", ErrUnknownAlgorithm, "ke0_mlkem768", 0},
		{ProtoIKE, "aes128-sha1-modp2048-ke1_", ErrUnknownAlgorithm, "ke1_", 0},
		{ProtoIKE, "aes512-sha256-modp2048", ErrKeyLength, "aes512", 0},
		{ProtoESP, "aes100gcm16", ErrKeyLength, "aes100gcm16", 0},
		{ProtoESP, "aes64ctr-sha1", ErrKeyLength, "aes64ctr", 0},
		{ProtoESP, "camellia512-sha1", ErrKeyLength, "camellia512", 0},
		{ProtoIKE, "aes128-sha256", ErrInvalidProposal, "", 0},
		{ProtoIKE, "aes128gcm16-modp3072", ErrInvalidProposal, "", 0},
		{ProtoIKE, "aes128-prfsha256-modp2048", ErrInvalidProposal, "", 0},
		{ProtoIKE, "aes128gcm16-aes128-sha256-modp3072", ErrInvalidProposal, "", 0},
		{ProtoIKE, "aes128-sha256-modpnone", ErrInvalidProposal, "", 0},
		{ProtoIKE, "sha256-modp3072", ErrInvalidProposal, "", 0},
		{ProtoIKE, "null-sha256-modp3072", ErrInvalidProposal, "null", 0},
		{ProtoIKE, "aes128gmac-prfsha256-modp3072", ErrInvalidProposal, "aes128gmac", 0},
		{ProtoIKE, "aes128-sha256-modp2048-esn", ErrInvalidProposal, "esn", 0},
		{ProtoESP, "sha256", ErrInvalidProposal, "", 0},
		{ProtoESP, "aes128-sha256-prfsha256", ErrInvalidProposal, "prfsha256", 0},
		{ProtoESP, "null", ErrInvalidProposal, "", 0},
		{ProtoAH, "sha256", ErrInvalidProposal, "", 0},
		{ProtoESP, strings.Repeat("aes128-", 255) + "sha1", ErrInvalidProposal, "", 0},
		{ProtoESP, strings.Repeat("aes128,", 256) + "aes128", ErrInvalidProposal, "", 0},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, tt.proto)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%.40q, %s) = %v, want %v", tt.in, tt.proto, err, tt.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%.40q): %T is not *ParseError", tt.in, err)
			continue
		}
		if pe.Keyword != tt.keyword || pe.Index != tt.index {
			t.Errorf("Parse(%.40q): keyword %q index %d, want %q %d (%v)", tt.in, pe.Keyword, pe.Index, tt.keyword, tt.index, err)
		}
		if !strings.HasPrefix(err.Error(), "proposal: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	_, err := Parse("aes512-sha256-modp2048", ProtoIKE)
	var pe *ParseError
	if errors.As(err, &pe) && (pe.KeyLen != 512 || !cmp.Equal(pe.Allowed, []uint16{128, 192, 256})) {
		t.Errorf("key length error carries %d %v, want 512 [128 192 256]", pe.KeyLen, pe.Allowed)
	}
	if want := `proposal: "aes256-sha999": unknown algorithm "sha999"`; !strings.Contains(mustErr(Parse("aes256-sha999", ProtoIKE)), want) {
		t.Errorf("error text %q, want %q", mustErr(Parse("aes256-sha999", ProtoIKE)), want)
	}
}

func mustErr(_ List, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseProposal(t *testing.T) {
	p, err := ParseProposal("aes256-sha256-modp2048", ProtoIKE)
	if err != nil || p.Number != 1 || len(p.Encr) != 1 {
		t.Fatalf("ParseProposal = %v, %v", p, err)
	}
	if _, err := ParseProposal("aes256-sha256-modp2048, aes128-sha1-modp2048", ProtoIKE); !errors.Is(err, ErrInvalidProposal) {
		t.Errorf("ParseProposal with a comma: %v, want ErrInvalidProposal", err)
	}
}

func TestIDStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{EncrAESGCM16.String(), "ENCR_AES_GCM_16"},
		{EncrID(99).String(), "ENCR(99)"},
		{EncrBlowfish.String(), "ENCR_BLOWFISH"},
		{PRFHMACSHA2256.String(), "PRF_HMAC_SHA2_256"},
		{PRFID(99).String(), "PRF(99)"},
		{IntegHMACSHA2256128.String(), "AUTH_HMAC_SHA2_256_128"},
		{IntegID(99).String(), "INTEG(99)"},
		{KEMODP1024.String(), "MODP_1024"},
		{KEMLKEM768.String(), "ML_KEM_768"},
		{KEID(99).String(), "KE(99)"},
		{ESNOn.String(), "EXT_SEQ"},
		{ESNID(9).String(), "ESN(9)"},
		{TypeADDKE3.String(), "ADDKE3"},
		{TransformType(99).String(), "TRANSFORM_TYPE(99)"},
		{ProtoESP.String(), "ESP"},
		{Protocol(9).String(), "PROTO(9)"},
		{Transform{TypeADDKE1, uint16(KEMLKEM768), 0}.String(), "KE1_ML_KEM_768"},
		{Transform{TransformType(99), 5, 0}.String(), "TRANSFORM_TYPE(99)(5)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	// Every table entry has a distinct IANA name.
	seen := map[string]bool{}
	for _, a := range encrTable {
		if seen[a.Name] || a.ID.String() != a.Name {
			t.Errorf("encr name %q duplicated or not returned by String", a.Name)
		}
		seen[a.Name] = true
	}
}

func TestWireTransformsRoundTrip(t *testing.T) {
	l, err := Parse("aes256gcm16-aes128gcm16-prfsha384-ecp384-ke1_mlkem768-ke1_none", ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	p := l[0]
	var q Proposal
	q.Protocol, q.Number = p.Protocol, p.Number
	for _, tr := range p.Transforms() {
		q.Add(tr)
	}
	q.Add(Transform{TransformType(200), 1, 0})
	if len(q.Unknown) != 1 {
		t.Errorf("unknown type not kept: %v", q.Unknown)
	}
	q.Unknown = nil
	if diff := cmp.Diff(p, q); diff != "" {
		t.Errorf("Transforms/Add round trip (-want +got):\n%s", diff)
	}
	c := p.Clone()
	c.Encr[0].KeyLen = 1
	if p.Encr[0].KeyLen == 1 {
		t.Error("Clone shares the Encr slice")
	}
}
