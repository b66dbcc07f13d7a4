package proposal

import "testing"

// TestRegistryConsistency checks the tables against each other and the
// exported accessors against the tables.
func TestRegistryConsistency(t *testing.T) {
	v1enc, v1esp := map[uint16]bool{}, map[uint8]bool{}
	for _, a := range EncrAlgs() {
		got, ok := LookupEncr(a.ID)
		if !ok || got.Name != a.Name {
			t.Errorf("LookupEncr(%d) = %v, %v", a.ID, got.Name, ok)
		}
		if a.ID.IsAEAD() != a.AEAD {
			t.Errorf("%s: IsAEAD mismatch", a.Name)
		}
		for _, kl := range a.KeyLens {
			if !a.ID.ValidKeyLen(kl) || a.ID.ValidKeyLen(kl+1) {
				t.Errorf("%s: ValidKeyLen wrong around %d", a.Name, kl)
			}
		}
		if len(a.KeyLens) == 0 && !a.ID.ValidKeyLen(0) {
			t.Errorf("%s: key length 0 rejected for an unkeyed cipher", a.Name)
		}
		if len(a.KeyLens) > 0 && a.ID.ValidKeyLen(0) {
			t.Errorf("%s: missing Key Length attribute accepted", a.Name)
		}
		if a.Use == 0 {
			t.Errorf("%s: usable nowhere", a.Name)
		}
		if a.Weak != (a.WeakReason != "") {
			t.Errorf("%s: weak flag and reason disagree", a.Name)
		}
		if a.IKEv1Phase1 != 0 && v1enc[a.IKEv1Phase1] || a.IKEv1ESP != 0 && v1esp[a.IKEv1ESP] {
			t.Errorf("%s: duplicate IKEv1 value", a.Name)
		}
		v1enc[a.IKEv1Phase1], v1esp[a.IKEv1ESP] = true, true
	}
	if EncrID(99).ValidKeyLen(0) || EncrID(99).IsAEAD() {
		t.Error("unknown cipher considered valid")
	}
	for _, a := range PRFAlgs() {
		if got, ok := LookupPRF(a.ID); !ok || got.Keyword != a.Keyword {
			t.Errorf("LookupPRF(%s)", a.Name)
		}
	}
	for _, a := range IntegAlgs() {
		if got, ok := LookupInteg(a.ID); !ok || got.Name != a.Name {
			t.Errorf("LookupInteg(%s)", a.Name)
		}
		if _, ok := LookupPRF(a.PRF); !ok {
			t.Errorf("%s implies PRF %d which is not in the PRF table", a.Name, a.PRF)
		}
	}
	groups := map[uint16]bool{}
	for _, a := range KEAlgs() {
		if got, ok := LookupKE(a.ID); !ok || got.Name != a.Name {
			t.Errorf("LookupKE(%s)", a.Name)
		}
		if a.IKEv1Group != 0 {
			if groups[a.IKEv1Group] {
				t.Errorf("%s: duplicate IKEv1 group", a.Name)
			}
			groups[a.IKEv1Group] = true
			// IKEv1 Group Description and IKEv2 KE share numbers (RFC 7296 3.3.2).
			if a.IKEv1Group != uint16(a.ID) {
				t.Errorf("%s: IKEv1 group %d differs from the IKEv2 ID", a.Name, a.IKEv1Group)
			}
		}
	}
	for _, miss := range []bool{
		func() bool { _, ok := LookupEncr(99); return ok }(),
		func() bool { _, ok := LookupPRF(99); return ok }(),
		func() bool { _, ok := LookupInteg(99); return ok }(),
		func() bool { _, ok := LookupKE(99); return ok }(),
	} {
		if miss {
			t.Error("lookup of an unknown ID succeeded")
		}
	}
	// Returned tables are copies.
	e := EncrAlgs()
	e[0].Name = "x"
	if encrTable[0].Name == "x" {
		t.Error("EncrAlgs returns the package table")
	}
	if s := (IKEv1Phase1{Encryption: 7, KeyLength: 256, Hash: 2, Group: 14, AuthMethod: V1AuthPSK}).String(); s != "enc=7 keylen=256 hash=2 group=14 auth=PRE_SHARED_KEY" {
		t.Errorf("IKEv1Phase1.String = %q", s)
	}
}
