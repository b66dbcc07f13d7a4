package proposal

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse: Parse never panics, returns only typed errors, and what it
// accepts formats to a string that parses back to the same proposals.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-modpnone",
		"aes256-sha256-curve25519-ke1_mlkem768-ke1_none",
		"aes128gcm64-aes192ccm-chacha20poly1305-sha256-esn-noesn",
		"3des-md5-modp768", "aes512", "aes100gcm16", "", ",", "--", "AES-SHA-MODP2048",
		"null-sha1", "aes128gmac", "ke7_x448", "camellia256ctr-aescmac-prfaescmac-ecp512bp",
	} {
		f.Add(s, uint8(ProtoIKE))
		f.Add(s, uint8(ProtoESP))
	}
	f.Fuzz(func(t *testing.T, s string, proto uint8) {
		l, err := Parse(s, Protocol(proto))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not *ParseError", s, err)
			}
			if !errors.Is(err, ErrEmptyProposal) && !errors.Is(err, ErrUnknownAlgorithm) &&
				!errors.Is(err, ErrKeyLength) && !errors.Is(err, ErrInvalidProposal) {
				t.Fatalf("Parse(%q) error %v wraps no sentinel", s, err)
			}
			_ = err.Error()
			return
		}
		if len(l) == 0 {
			t.Fatalf("Parse(%q) accepted nothing without error", s)
		}
		out := l.String()
		back, err := Parse(out, Protocol(proto))
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q fails: %v", s, out, err)
		}
		if diff := cmp.Diff(l, back); diff != "" {
			t.Fatalf("round trip %q -> %q (-first +second):\n%s", s, out, diff)
		}
		if back.String() != out {
			t.Fatalf("String not stable: %q vs %q", out, back.String())
		}
		_ = l.Describe()
		_ = Lint(l)
	})
}

// peerFromBytes decodes fuzz bytes into wire-like peer proposals with
// arbitrary transform types, IDs and key lengths, as a codec would hand
// them over: 5 bytes per transform, 0xff starts a new proposal.
func peerFromBytes(b []byte, proto Protocol) List {
	var l List
	cur := Proposal{Number: 1, Protocol: proto}
	for len(b) >= 5 {
		if b[0] == 0xff {
			l = append(l, cur)
			cur = Proposal{Number: uint8(len(l) + 1), Protocol: proto, SPI: b[1:3]}
			b = b[1:]
			continue
		}
		// Keep most values near the real registries so matches happen.
		typ := TransformType(b[0] % 14)
		id := uint16(b[1] % 40)
		if b[2]&0x80 != 0 {
			id = uint16(b[1])<<8 | uint16(b[2])
		}
		var kl uint16
		switch b[3] % 4 {
		case 1:
			kl = 128
		case 2:
			kl = 256
		case 3:
			kl = uint16(b[4])
		}
		cur.Add(Transform{typ, id, kl})
		b = b[5:]
	}
	return append(l, cur)
}

// FuzzSelect: selection over hostile peer proposals never panics, and a
// selected proposal has one transform per type, each offered by both the
// local proposal and the peer proposal it claims to come from.
func FuzzSelect(f *testing.F) {
	f.Add("aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-ke1_mlkem768-ke1_none",
		[]byte{1, 20, 0, 2, 0, 2, 6, 0, 0, 0, 4, 20, 0, 0, 0}, uint8(0))
	f.Add("aes256-sha256-modp2048-modpnone", []byte{1, 12, 0, 2, 0, 3, 12, 0, 0, 0, 4, 14, 0, 0, 0, 5, 0, 0, 0, 0}, uint8(7))
	f.Add("aes128-sha1-modp1024", []byte{0xff, 1, 2, 1, 12, 0, 1, 0, 13, 1, 0, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, local string, peerBytes []byte, flags uint8) {
		proto := ProtoIKE
		if flags&1 != 0 {
			proto = ProtoESP
		}
		l, err := Parse(local, proto)
		if err != nil {
			return
		}
		peer := peerFromBytes(peerBytes, proto)
		opts := SelectOptions{PreferPeer: flags&2 != 0, SkipKE: flags&4 != 0, PreferKE: KEID(flags >> 3)}
		sel, err := Select(l, peer, opts)
		if err != nil {
			var me *MismatchError
			if !errors.As(err, &me) || !errors.Is(err, ErrNoMatch) {
				t.Fatalf("error %T %v", err, err)
			}
			_ = me.Error()
			_ = me.Explain()
			return
		}
		var from *Proposal
		for i := range peer {
			if peer[i].Number == sel.Number {
				from = &peer[i]
				break
			}
		}
		if from == nil {
			t.Fatalf("selected number %d is not a peer proposal", sel.Number)
		}
		offeredByLocal := false
		for _, lp := range l {
			if subset(sel, lp) {
				offeredByLocal = true
			}
		}
		if !subset(sel, *from) || !offeredByLocal {
			t.Fatalf("selected %s not offered by both sides", sel.Describe())
		}
		for _, typ := range typeOrder {
			if n := len(sel.transforms(typ)); n > 1 {
				t.Fatalf("selected %d %s transforms", n, typ)
			}
		}
		if sel.IsAEAD() && len(sel.Integ) > 0 {
			t.Fatalf("AEAD with integrity: %s", sel.Describe())
		}
	})
}

func subset(sel, p Proposal) bool {
	have := map[Transform]bool{}
	for _, tr := range p.Transforms() {
		have[tr] = true
	}
	for _, tr := range sel.Transforms() {
		if !have[tr] {
			return false
		}
	}
	return true
}
