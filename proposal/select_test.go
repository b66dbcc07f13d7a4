package proposal

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustList(t testing.TB, s string, proto Protocol) List {
	t.Helper()
	l, err := Parse(s, proto)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return l
}

func TestSelectPairs(t *testing.T) {
	tests := []struct {
		proto       Protocol
		local, peer string
		opts        SelectOptions
		want        string // selected proposal as keywords, "" = no match
	}{
		// strongSwan test_proposal.c select_data, same expectations.
		{ProtoESP, "aes128", "aes128", SelectOptions{}, "aes128"},
		{ProtoESP, "aes128", "aes256", SelectOptions{}, ""},
		{ProtoESP, "aes128-aes256", "aes256-aes128", SelectOptions{}, "aes128"},
		{ProtoESP, "aes256-aes128", "aes128-aes256", SelectOptions{}, "aes256"},
		{ProtoESP, "aes128-aes256-sha1-sha256", "aes256-aes128-sha256-sha1", SelectOptions{}, "aes128-sha1"},
		{ProtoESP, "aes256-aes128-sha256-sha1", "aes128-aes256-sha1-sha256", SelectOptions{}, "aes256-sha256"},
		{ProtoESP, "aes128-sha256-modp3072", "aes128-sha256", SelectOptions{}, ""},
		{ProtoESP, "aes128-sha256-modp3072", "aes128-sha256", SelectOptions{SkipKE: true}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256", "aes128-sha256-modp3072", SelectOptions{}, ""},
		{ProtoESP, "aes128-sha256", "aes128-sha256-modp3072", SelectOptions{SkipKE: true}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256-modp3072", "aes128-sha256-ecp256", SelectOptions{SkipKE: true}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256-modp3072", "aes128-sha256-none", SelectOptions{}, ""},
		{ProtoESP, "aes128-sha256-none", "aes128-sha256-modp3072", SelectOptions{}, ""},
		{ProtoESP, "aes128-sha256-modp3072-none", "aes128-sha256", SelectOptions{}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256", "aes128-sha256-modp3072-none", SelectOptions{}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256-modp3072-none", "aes128-sha256-none-modp3072", SelectOptions{}, "aes128-sha256-modp3072"},
		{ProtoESP, "aes128-sha256-none-modp3072", "aes128-sha256-modp3072-none", SelectOptions{}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256-esn", "aes128-sha256-esn", SelectOptions{}, "aes128-sha256-esn"},
		{ProtoESP, "aes128-sha256-noesn", "aes128-sha256-esn", SelectOptions{}, ""},
		{ProtoESP, "aes128-sha256-noesn-esn", "aes128-sha256-esn", SelectOptions{}, "aes128-sha256-esn"},
		{ProtoESP, "aes128-sha256-noesn-esn", "aes128-sha256", SelectOptions{}, "aes128-sha256"},
		{ProtoESP, "aes128-sha256-esn-noesn", "aes128-sha256-noesn-esn", SelectOptions{}, "aes128-sha256-esn"},
		{ProtoIKE, "aes128-sha256-modp3072", "aes128-sha256-modp3072", SelectOptions{}, "aes128-sha256-modp3072"},
		{ProtoIKE, "aes128-sha256-modp3072", "aes128-sha256-modp3072-none", SelectOptions{}, "aes128-sha256-modp3072"},
		{ProtoIKE, "aes128-sha256-modp3072-ke1_modp3072", "aes128-sha256-modp3072-ke1_modp3072", SelectOptions{}, ""},
		{ProtoIKE, "aes128-sha256-modp3072-ecp256-ecp384-ke1_modp3072-ke1_ecp256-ke1_ecp384-ke2_modp3072-ke2_ecp256-ke2_ecp384",
			"aes128-sha256-modp3072-ecp256-ecp384-ke1_modp3072-ke1_ecp256-ke1_ecp384-ke2_modp3072-ke2_ecp256-ke2_ecp384",
			SelectOptions{}, "aes128-sha256-modp3072-ke1_ecp256-ke2_ecp384"},
		{ProtoIKE, "aes128-sha256-modp3072-ke1_modp3072-ke1_none", "aes128-sha256-modp3072-ke1_modp3072-ke1_none", SelectOptions{}, "aes128-sha256-modp3072"},
		{ProtoIKE, "aes128-sha256-modp3072-ke1_modp3072-ke1_ecp256", "aes128-sha256-modp3072-ke1_ecp256", SelectOptions{}, "aes128-sha256-modp3072-ke1_ecp256"},
		{ProtoIKE, "aes128-sha256-ecp256-ke1_modp3072", "aes128-sha256-modp3072-ecp256-ke1_ecp256-ke2_ecp384", SelectOptions{}, ""},
		// Optional ML-KEM: a peer without RFC 9370 still matches.
		{ProtoIKE, "aes256-sha256-curve25519-ke1_mlkem768-ke1_none", "aes256-sha256-curve25519", SelectOptions{}, "aes256-sha256-curve25519"},
		{ProtoIKE, "aes256-sha256-curve25519-ke1_mlkem768", "aes256-sha256-curve25519", SelectOptions{}, ""},
		{ProtoIKE, "aes256-sha256-curve25519-ke1_mlkem768-ke1_none", "aes256-sha256-curve25519-ke1_mlkem768", SelectOptions{}, "aes256-sha256-curve25519-ke1_mlkem768"},
		// Key lengths are part of the transform.
		{ProtoIKE, "aes256gcm16-prfsha256-ecp256", "aes128gcm16-prfsha256-ecp256", SelectOptions{}, ""},
		// AEAD and classic proposals are never mixed: the AEAD wins here by
		// our order and carries no integrity transform.
		{ProtoIKE, "aes256gcm16-prfsha256-ecp256, aes256-sha256-ecp256", "aes256-sha256-ecp256, aes256gcm16-prfsha256-ecp256", SelectOptions{}, "aes256gcm16-prfsha256-ecp256"},
		{ProtoIKE, "aes256gcm16-prfsha256-ecp256, aes256-sha256-ecp256", "aes256-sha256-ecp256", SelectOptions{}, "aes256-sha256-ecp256"},
		{ProtoIKE, "aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256", SelectOptions{}, ""},
		// Preference: ours by default, the peer's with PreferPeer.
		{ProtoIKE, "aes128-sha256-modp2048, aes256-sha256-modp2048", "aes256-sha256-modp2048, aes128-sha256-modp2048", SelectOptions{}, "aes128-sha256-modp2048"},
		{ProtoIKE, "aes128-sha256-modp2048, aes256-sha256-modp2048", "aes256-sha256-modp2048, aes128-sha256-modp2048", SelectOptions{PreferPeer: true}, "aes256-sha256-modp2048"},
		{ProtoIKE, "aes128-aes256-sha256-sha384-ecp256-modp2048", "aes256-aes128-sha384-sha256-modp2048-ecp256", SelectOptions{PreferPeer: true}, "aes256-sha384-modp2048"},
		// PreferKE takes the group of the peer's KE payload when allowed.
		{ProtoIKE, "aes256-sha256-ecp256-modp2048", "aes256-sha256-modp2048-ecp256", SelectOptions{}, "aes256-sha256-ecp256"},
		{ProtoIKE, "aes256-sha256-ecp256-modp2048", "aes256-sha256-modp2048-ecp256", SelectOptions{PreferKE: KEMODP2048}, "aes256-sha256-modp2048"},
		{ProtoIKE, "aes256-sha256-ecp256-modp2048", "aes256-sha256-modp2048-ecp256", SelectOptions{PreferKE: KEECP384}, "aes256-sha256-ecp256"},
		{ProtoIKE, "aes256-sha256-ecp256", "aes256-sha256-modp2048-ecp256", SelectOptions{PreferKE: KEMODP2048}, "aes256-sha256-ecp256"},
	}
	for _, tt := range tests {
		local, peer := mustList(t, tt.local, tt.proto), mustList(t, tt.peer, tt.proto)
		got, err := Select(local, peer, tt.opts)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Select(%q, %q, %+v) = %q, want no match", tt.local, tt.peer, tt.opts, got.String())
		case tt.want == "" && !errors.Is(err, ErrNoMatch):
			t.Errorf("Select(%q, %q): error %v does not match ErrNoMatch", tt.local, tt.peer, err)
		case tt.want != "" && err != nil:
			t.Errorf("Select(%q, %q, %+v): %v", tt.local, tt.peer, tt.opts, err)
		case tt.want != "":
			// Compare through Parse so the expectation is independent of
			// String's formatting choices.
			want, err := ParseProposal(tt.want, tt.proto)
			if err != nil {
				t.Fatal(err)
			}
			want.Number = got.Number
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Select(%q, %q, %+v) (-want +got):\n%s", tt.local, tt.peer, tt.opts, diff)
			}
			if Matches(local, peer, tt.opts) != true {
				t.Errorf("Matches disagrees with Select for %q, %q", tt.local, tt.peer)
			}
		}
	}
}

func TestSelectCarriesPeerNumberAndSPI(t *testing.T) {
	local := mustList(t, "aes128-sha256-modp2048, aes256-sha256-modp2048", ProtoESP)
	peer := mustList(t, "aes256-sha256-modp2048, aes128-sha256-modp2048", ProtoESP)
	peer[0].Number, peer[0].SPI = 7, []byte{1, 2, 3, 4}
	peer[1].Number, peer[1].SPI = 9, []byte{5, 6, 7, 8}
	for _, preferPeer := range []bool{false, true} {
		got, err := Select(local, peer, SelectOptions{PreferPeer: preferPeer})
		if err != nil {
			t.Fatal(err)
		}
		wantNum, wantSPI := uint8(9), []byte{5, 6, 7, 8}
		if preferPeer {
			wantNum, wantSPI = 7, []byte{1, 2, 3, 4}
		}
		if got.Number != wantNum || !cmp.Equal(got.SPI, wantSPI) {
			t.Errorf("preferPeer=%v: number %d SPI %x, want %d %x", preferPeer, got.Number, got.SPI, wantNum, wantSPI)
		}
		peer[1].SPI[0] = 0xff
		if got.SPI[0] == 0xff {
			t.Error("selected SPI aliases the peer's buffer")
		}
		peer[1].SPI[0] = 5
	}
}

func TestSelectPeerInputEdgeCases(t *testing.T) {
	local := mustList(t, "aes128-sha256-modp2048", ProtoIKE)
	// AES without a Key Length attribute, unknown type, wrong protocol:
	// each unacceptable, the last peer proposal is fine.
	bad1 := Proposal{Number: 1, Protocol: ProtoIKE}
	for _, tr := range local[0].Transforms() {
		if tr.Type == TypeENCR {
			tr.KeyLen = 0
		}
		bad1.Add(tr)
	}
	bad2 := local[0].Clone()
	bad2.Number = 2
	bad2.Add(Transform{TransformType(77), 1, 0})
	bad3 := local[0].Clone()
	bad3.Number, bad3.Protocol = 3, ProtoESP
	good := local[0].Clone()
	good.Number = 4
	got, err := Select(local, List{bad1, bad2, bad3, good}, SelectOptions{})
	if err != nil || got.Number != 4 {
		t.Fatalf("Select = %v, %v; want proposal 4", got, err)
	}
	_, err = Select(local, List{bad1, bad2, bad3}, SelectOptions{})
	var me *MismatchError
	if !errors.As(err, &me) || len(me.Pairs()) != 3 {
		t.Fatalf("err = %v, want *MismatchError with 3 pairs", err)
	}
	pairs := me.Pairs()
	if pairs[1].Reason == "" || !strings.Contains(pairs[1].Reason, "3.3.6") {
		t.Errorf("unknown transform type reason = %q", pairs[1].Reason)
	}
	if pairs[2].Reason == "" || !strings.Contains(pairs[2].Reason, "protocol") {
		t.Errorf("protocol reason = %q", pairs[2].Reason)
	}
	if len(pairs[0].Types) != 1 || pairs[0].Types[0].Type != TypeENCR {
		t.Errorf("key length pair types = %+v, want one ENCR mismatch", pairs[0].Types)
	}
	// Empty lists never panic and explain themselves.
	for _, c := range []struct{ l, p List }{{nil, local}, {local, nil}, {nil, nil}} {
		_, err := Select(c.l, c.p, SelectOptions{})
		if !errors.Is(err, ErrNoMatch) || err.Error() == "" || errors.As(err, &me) && me.Explain() == "" {
			t.Errorf("Select(%d, %d proposals) = %v", len(c.l), len(c.p), err)
		}
	}
}

func TestMismatchExplain(t *testing.T) {
	win, _ := LookupProfile("windows")
	_, err := Select(StrictIKE(), win.IKE, SelectOptions{})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("strict vs windows: %v, want *MismatchError", err)
	}
	if got := len(me.Pairs()); got != len(StrictIKE())*len(win.IKE) {
		t.Errorf("%d pairs explained, want every pair", got)
	}
	// The classic strict proposal fails only on KE against Windows'
	// AES proposals: that is the actionable difference.
	foundKE := false
	for _, pm := range me.Pairs() {
		if pm.Local == 1 && len(pm.Types) == 1 && pm.Types[0].Type == TypeKE {
			l, p := me.localPeer(pm.Types[0])
			if names(p) == "MODP_1024" && len(l) > 0 {
				foundKE = true
			}
		}
	}
	if !foundKE {
		t.Error("no pair reports KE as the only mismatch with peer MODP_1024")
	}
	for _, want := range []string{"KE", "MODP_1024"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Error() = %q, want it to mention %q", err.Error(), want)
		}
	}
	ex := me.Explain()
	for _, want := range []string{
		"IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_1024", // the peer's list in log form
		"client profile(s): windows",
		"enable modp1024 in the ike proposal",
		"weak",
	} {
		if !strings.Contains(ex, want) {
			t.Errorf("Explain() lacks %q:\n%s", want, ex)
		}
	}
}

func TestMismatchHints(t *testing.T) {
	tests := []struct {
		proto       Protocol
		local, peer string
		want        string
	}{
		{ProtoESP, "aes256-sha256-modp2048", "aes256-sha256", "append modpnone"},
		{ProtoESP, "aes256-sha256", "aes256-sha256-ecp384", "requires PFS with ECP_384"},
		{ProtoESP, "aes256gcm16", "aes256-sha1", "add a separate classic esp proposal"},
		{ProtoIKE, "aes256-sha256-ecp256", "aes256gcm16-prfsha256-ecp256", "add a separate AEAD ike proposal"},
		{ProtoIKE, "aes256-sha256-ecp256", "aes256-sha256-ecp384-modp1024", "add one of ecp384 to the ike proposal"},
		{ProtoESP, "aes256-sha256", "aes256-sha1", "enable sha1 in the esp proposal"},
	}
	for _, tt := range tests {
		_, err := Select(mustList(t, tt.local, tt.proto), mustList(t, tt.peer, tt.proto), SelectOptions{})
		var me *MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("%q vs %q: %v", tt.local, tt.peer, err)
		}
		if h := strings.Join(me.Hints(), "\n"); !strings.Contains(h, tt.want) {
			t.Errorf("%q vs %q: hints %q lack %q", tt.local, tt.peer, h, tt.want)
		}
	}
}

func TestMismatchBoundedAnalysis(t *testing.T) {
	local := mustList(t, "aes256-sha256-ecp256", ProtoIKE)
	one := mustList(t, "aes128-sha1-modp1024", ProtoIKE)[0]
	peer := make(List, 1000)
	for i := range peer {
		peer[i] = one.Clone()
		peer[i].Number = uint8(i)
	}
	_, err := Select(local, peer, SelectOptions{})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatal(err)
	}
	if n := len(me.Pairs()); n != MaxExplainedPeerProposals {
		t.Errorf("%d pairs analysed, want %d", n, MaxExplainedPeerProposals)
	}
	if ex := me.Explain(); !strings.Contains(ex, "936 more peer proposals not analysed") {
		t.Errorf("Explain does not say it was cut:\n%.300s", ex)
	}
}

func TestSelectPreferPeerExplain(t *testing.T) {
	_, err := Select(mustList(t, "aes256-sha256-ecp256", ProtoIKE), mustList(t, "aes256-sha256-modp2048", ProtoIKE), SelectOptions{PreferPeer: true})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatal(err)
	}
	// With the peer preferred the sides are swapped internally; the report
	// must still say what WE offer as "local".
	if !strings.Contains(me.Explain(), "KE: local offers ECP_256; peer offers MODP_2048") {
		t.Errorf("Explain() with PreferPeer:\n%s", me.Explain())
	}
}
