package proposal

import (
	"errors"
	"strings"
	"testing"
)

// TestDefaultsAgainstProfiles is the table the issue asks for: what each
// client profile gets from each default set, for IKE_SA_INIT (IKEv1: phase
// 1), the first CHILD SA in IKE_AUTH (KE ignored; IKEv1: Quick Mode) and a
// client-initiated CHILD rekey. "" means NO_PROPOSAL_CHOSEN, and then
// whyNot names the transform type that has no overlap.
func TestDefaultsAgainstProfiles(t *testing.T) {
	type outcome struct {
		ike, esp, rekey string // strongSwan log form of the selection
		whyNot          string // for IKE failures: a substring of Error()
		espWhyNot       string // for ESP failures: a substring of Error()
	}
	const (
		iosIKE    = "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
		iosESP    = "ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ"
		iosRekey  = "ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ"
		winIKE    = "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024"
		winESP    = "ESP:AES_CBC_256/HMAC_SHA1_96/NO_EXT_SEQ"
		gcmIKE    = "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_384"
		gcmESP    = "ESP:AES_GCM_16_256/NO_EXT_SEQ"
		gcmRekey  = "ESP:AES_GCM_16_256/ECP_384/NO_EXT_SEQ"
		swanIKE   = "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519"
		swanRekey = "ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ"
		v1IKE     = "IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"
	)
	tests := []struct {
		profile        string
		strict, compat outcome
	}{
		{"ios", outcome{iosIKE, iosESP, iosRekey, "", ""}, outcome{iosIKE, iosESP, iosRekey, "", ""}},
		{"macos", outcome{iosIKE, iosESP, iosESP, "", ""}, outcome{iosIKE, iosESP, iosESP, "", ""}},
		// Strict rejects Windows defaults on purpose: their only group is
		// MODP_1024 and their only ESP integrity HMAC-SHA1-96.
		{"windows", outcome{"", "", "", "MODP_1024", "HMAC_SHA1_96"}, outcome{winIKE, winESP, winESP, "", ""}},
		{"windows11", outcome{"", "", "", "MODP_1024", "HMAC_SHA1_96"}, outcome{winIKE, winESP, winESP, "", ""}},
		{"windows-gcm", outcome{gcmIKE, gcmESP, gcmRekey, "", ""}, outcome{gcmIKE, gcmESP, gcmRekey, "", ""}},
		{"windows-dh2048", outcome{iosIKE, "", "", "", "HMAC_SHA1_96"}, outcome{iosIKE, winESP, winESP, "", ""}},
		{"android", outcome{swanIKE, gcmESP, swanRekey, "", ""}, outcome{swanIKE, gcmESP, swanRekey, "", ""}},
		{"linux", outcome{swanIKE, gcmESP, swanRekey, "", ""}, outcome{swanIKE, gcmESP, swanRekey, "", ""}},
		{"ios-ikev1", outcome{"", "", "", "PRF_HMAC_SHA1", "HMAC_SHA1_96"}, outcome{v1IKE, winESP, winESP, "", ""}},
		{"ios-ikev1-cert", outcome{"", "", "", "PRF_HMAC_SHA1", "HMAC_SHA1_96"}, outcome{v1IKE, winESP, winESP, "", ""}},
	}
	if len(tests) != len(Profiles()) {
		t.Fatalf("table covers %d profiles, package has %d", len(tests), len(Profiles()))
	}
	sets := []struct {
		name     string
		ike, esp List
	}{
		{"strict", StrictIKE(), StrictESP()},
		{"compat", CompatibleIKE(), CompatibleESP()},
	}
	for _, tt := range tests {
		prof, ok := LookupProfile(tt.profile)
		if !ok {
			t.Fatalf("profile %q missing", tt.profile)
		}
		for i, set := range sets {
			want := tt.strict
			if i == 1 {
				want = tt.compat
			}
			phases := []struct {
				name  string
				local List
				peer  List
				opts  SelectOptions
				want  string
			}{
				{"ike", set.ike, prof.IKE, SelectOptions{}, want.ike},
				{"esp", set.esp, prof.ESP, SelectOptions{SkipKE: prof.IKEVersion == 2}, want.esp},
				{"rekey", set.esp, prof.ESPRekey, SelectOptions{}, want.rekey},
			}
			for _, ph := range phases {
				got, err := Select(ph.local, ph.peer, ph.opts)
				name := tt.profile + "/" + set.name + "/" + ph.name
				if ph.want == "" {
					var me *MismatchError
					if !errors.As(err, &me) {
						t.Errorf("%s: got %s, want NO_PROPOSAL_CHOSEN", name, got.Describe())
						continue
					}
					why := want.espWhyNot
					if ph.name == "ike" {
						why = want.whyNot
					}
					if why == "" || !strings.Contains(err.Error(), why) {
						t.Errorf("%s: Error() = %q, want it to name %q", name, err, why)
					}
					if me.Explain() == "" || len(me.Hints()) == 0 {
						t.Errorf("%s: no explanation or hint for the operator", name)
					}
					t.Logf("%s: NO_PROPOSAL_CHOSEN: %v", name, err)
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if got.Describe() != ph.want {
					t.Errorf("%s: got %s, want %s", name, got.Describe(), ph.want)
				}
				if set.name == "strict" && len(got.Weak()) > 0 {
					t.Errorf("%s: strict set chose weak transforms %v", name, got.Weak())
				}
				t.Logf("%s: %s (weak: %v)", name, got.Describe(), got.Weak())
			}
		}
	}
}

// TestCompatibleWeakOnlyWhereNeeded: the compatible set picks a weak
// transform only for the profiles that offer nothing strong.
func TestCompatibleWeakOnlyWhereNeeded(t *testing.T) {
	needsWeak := map[string]bool{"windows": true, "windows11": true, "windows-dh2048": true, "ios-ikev1": true, "ios-ikev1-cert": true}
	for _, prof := range Profiles() {
		var weak []string
		for _, c := range []struct {
			local, peer List
			opts        SelectOptions
		}{
			{CompatibleIKE(), prof.IKE, SelectOptions{}},
			{CompatibleESP(), prof.ESP, SelectOptions{SkipKE: true}},
			{CompatibleESP(), prof.ESPRekey, SelectOptions{}},
		} {
			p, err := Select(c.local, c.peer, c.opts)
			if err != nil {
				t.Errorf("%s: compatible set rejects it: %v", prof.Name, err)
				continue
			}
			weak = append(weak, p.Weak()...)
		}
		if got := len(weak) > 0; got != needsWeak[prof.Name] {
			t.Errorf("%s: weak transforms chosen %v, want weak=%v", prof.Name, weak, needsWeak[prof.Name])
		}
	}
}

func TestProfilesData(t *testing.T) {
	names := map[string]bool{}
	for _, p := range Profiles() {
		if names[p.Name] {
			t.Errorf("duplicate profile %q", p.Name)
		}
		names[p.Name] = true
		if p.Description == "" || p.Source == "" || (p.IKEVersion != 1 && p.IKEVersion != 2) {
			t.Errorf("profile %q lacks description, source or version", p.Name)
		}
		if len(p.IKE) == 0 || len(p.ESP) == 0 || len(p.ESPRekey) == 0 {
			t.Errorf("profile %q has an empty list", p.Name)
		}
		for _, q := range p.IKE {
			if q.Protocol != ProtoIKE {
				t.Errorf("profile %q IKE list has %s", p.Name, q.Protocol)
			}
		}
		for _, q := range append(p.ESP.Clone(), p.ESPRekey...) {
			if q.Protocol != ProtoESP {
				t.Errorf("profile %q ESP list has %s", p.Name, q.Protocol)
			}
		}
		// IKE_AUTH carries no KE (RFC 7296 1.2); the profile must not either.
		for _, q := range p.ESP {
			if p.IKEVersion == 2 && len(q.KE) > 0 {
				t.Errorf("profile %q IKE_AUTH ESP proposal %s has a KE", p.Name, q.String())
			}
		}
	}
	for _, want := range []string{"ios", "macos", "windows", "windows11", "windows-gcm", "android", "linux", "ios-ikev1"} {
		if !names[want] {
			t.Errorf("profile %q missing", want)
		}
	}
	// Windows' 12 proposals, iOS' 5, as the sources list them.
	if p, _ := LookupProfile("windows"); len(p.IKE) != 12 || p.IKE[0].Describe() != "IKE:3DES/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024" {
		t.Errorf("windows IKE = %s", p.IKE.Describe())
	}
	if p, _ := LookupProfile("ios"); len(p.IKE) != 5 || p.ESPRekey[0].Describe() != "ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ" {
		t.Errorf("ios = %s / %s", p.IKE.Describe(), p.ESPRekey.Describe())
	}
	// Copies: mutating a returned profile does not change the package's.
	p, _ := LookupProfile("macos")
	p.IKE[0].Encr[0].KeyLen = 1
	if q, _ := LookupProfile("macos"); q.IKE[0].Encr[0].KeyLen != 256 {
		t.Error("LookupProfile returns shared slices")
	}
	if _, ok := LookupProfile("nokia"); ok {
		t.Error("unknown profile found")
	}
}

func TestRekeyESPUsesIKEGroup(t *testing.T) {
	ios, _ := LookupProfile("ios")
	l := ios.RekeyESP(KEECP256)
	if got := l.Describe(); got != "ESP:AES_CBC_256/HMAC_SHA2_256_128/ECP_256/NO_EXT_SEQ, ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ" {
		t.Errorf("ios RekeyESP(ECP_256) = %s", got)
	}
	sel, err := Select(StrictESP(), l, SelectOptions{})
	if err != nil || len(sel.KE) != 1 || sel.KE[0] != KEECP256 {
		t.Errorf("strict vs ios rekey after ECP_256: %s, %v", sel.Describe(), err)
	}
	if ios.ESPRekey[0].KE[0] != KEMODP2048 {
		t.Error("RekeyESP modified the profile")
	}
	mac, _ := LookupProfile("macos")
	if got, want := mac.RekeyESP(KEECP256).String(), mac.ESPRekey.String(); got != want {
		t.Errorf("macos RekeyESP changed the list: %s", got)
	}
}

func TestDefaultsParseAndLint(t *testing.T) {
	for name, l := range map[string]List{"StrictIKE": StrictIKE(), "StrictESP": StrictESP()} {
		for _, q := range l {
			if w := q.Weak(); len(w) > 0 {
				t.Errorf("%s has weak transforms %v", name, w)
			}
		}
		if w := Lint(l); len(w) > 0 {
			t.Errorf("Lint(%s) = %v", name, w)
		}
	}
	// Compatible = strict + extra proposals at the end.
	if got, want := CompatibleIKE()[:2].String(), StrictIKE().String(); got != want {
		t.Errorf("CompatibleIKE does not start with StrictIKE: %s", got)
	}
	if got, want := CompatibleESP()[:2].String(), StrictESP().String(); got != want {
		t.Errorf("CompatibleESP does not start with StrictESP: %s", got)
	}
}

func TestLint(t *testing.T) {
	many := "aes128-sha256-" + strings.Repeat("", 0) +
		"modp2048-modp3072-modp4096-modp6144-modp8192-ecp256-ecp384-ecp521-ecp256bp-ecp384bp-ecp512bp-curve25519-curve448-modp2048s224-modp2048s256-modp1024"
	w := Lint(mustList(t, many, ProtoIKE))
	joined := strings.Join(w, "\n")
	if !strings.Contains(joined, "16 KE transforms; Windows reads only the first 15") {
		t.Errorf("no Windows limit warning in %q", joined)
	}
	if !strings.Contains(joined, "weak transform MODP_1024") {
		t.Errorf("no weak warning in %q", joined)
	}
	w = Lint(mustList(t, "aes256-sha256-mlkem768", ProtoIKE))
	if len(w) != 1 || !strings.Contains(w[0], "ke1_mlkem768") {
		t.Errorf("ML-KEM as primary KE: %v", w)
	}
	if w := Lint(mustList(t, "aes256gcm16", ProtoESP)); w != nil {
		t.Errorf("clean proposal: %v", w)
	}
	if w := Lint(mustList(t, "aes256", ProtoESP)); len(w) != 1 || !strings.Contains(w[0], "integrity") {
		t.Errorf("ESP without integrity: %v", w)
	}
}

// TestHybridFirst: the post-quantum hybrid proposal before the compatible
// ones gives strongSwan 6's hybrid proposal its additional ML-KEM exchange
// and changes nothing for the native clients' stock IKEv2 proposals
// (they offer no ADDKE, so the same classic proposal is chosen).
func TestHybridFirst(t *testing.T) {
	ours := append(HybridIKE(), CompatibleIKE()...)
	sw6, err := Parse("aes256gcm16-prfsha384-x25519-ke1_mlkem768, aes256gcm16-prfsha384-x25519", ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := Select(ours, sw6, SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.AddKE[0]) != 1 || sel.AddKE[0][0] != KEMLKEM768 || len(sel.KE) != 1 || sel.KE[0] != KECurve25519 {
		t.Errorf("strongSwan 6's hybrid offer got %s", sel)
	}
	n := 0
	for _, p := range Profiles() {
		if p.IKEVersion != 2 {
			continue
		}
		n++
		want, errWant := Select(CompatibleIKE(), p.IKE, SelectOptions{})
		got, errGot := Select(ours, p.IKE, SelectOptions{})
		if (errWant == nil) != (errGot == nil) || (errGot == nil && got.String() != want.String()) {
			t.Errorf("%s: with the hybrid proposal first %s (%v), without %s (%v)", p.Name, got, errGot, want, errWant)
		}
		if len(got.AddKE[0]) != 0 {
			t.Errorf("%s got an additional key exchange: %s", p.Name, got)
		}
	}
	if n == 0 {
		t.Fatal("no IKEv2 profiles")
	}
}
