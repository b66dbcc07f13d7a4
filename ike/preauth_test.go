package ike

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/proposal"
)

func TestPreauthOptionsValidated(t *testing.T) {
	c := defaultConfig()
	if c.srcCookieThresh != DefaultSourceCookieThreshold || c.srcMaxHalfOpen != DefaultSourceMaxHalfOpen {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		opt  Option
		name string
	}{
		{WithSourceLimits(-1, 5), "WithSourceLimits"},
		{WithSourceLimits(3, 0), "WithSourceLimits"},
	} {
		c := defaultConfig()
		tc.opt(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "ike: "+tc.name+":") {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
	for _, opt := range []Option{WithSourceLimits(0, 1)} {
		c := defaultConfig()
		opt(&c)
		if err := c.validate(); err != nil {
			t.Errorf("valid limits refused: %v", err)
		}
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
		"2001:db8:1:3::1":      "2001:db8:1:3::",
	} {
		if got := sourceKey(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("sourceKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(time.Second, 3)
	for i := range 3 {
		if ok, _ := l.allow(now); !ok {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	for range 7 {
		if ok, _ := l.allow(now); ok {
			t.Fatal("event beyond the burst allowed")
		}
	}
	if ok, _ := l.allow(now.Add(500 * time.Millisecond)); ok {
		t.Error("allowed before a token was refilled")
	}
	ok, suppressed := l.allow(now.Add(time.Second))
	if !ok || suppressed != 8 {
		t.Errorf("after a second: %v, %d suppressed, want true, 8", ok, suppressed)
	}
	// A long pause refills at most the burst.
	n := 0
	for range 10 {
		if ok, _ := l.allow(now.Add(time.Hour)); ok {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d allowed after a pause, want the burst 3", n)
	}
}

func TestBoundMismatch(t *testing.T) {
	local, _ := proposal.Parse("aes256gcm16-prfsha384-ecp384", proposal.ProtoIKE)
	small, _ := proposal.Parse("aes128-sha1-modp1024", proposal.ProtoIKE)
	mm := &proposal.MismatchError{Local: local, Peer: small}
	if got, cut := boundMismatch(mm); cut || got != mm {
		t.Error("a small mismatch was cut")
	}
	var wide proposal.Proposal
	wide.Protocol = proposal.ProtoIKE
	for i := range 200 {
		wide.Add(proposal.Transform{Type: proposal.TypeENCR, ID: uint16(1024 + i)})
		wide.Add(proposal.Transform{Type: proposal.TypeKE, ID: uint16(1024 + i)})
	}
	wide.Add(proposal.Transform{Type: proposal.TypePRF, ID: 5})
	peer := make(proposal.List, 100)
	for i := range peer {
		peer[i] = wide
		peer[i].Number = uint8(i + 1)
	}
	got, cut := boundMismatch(&proposal.MismatchError{Local: local, Peer: peer})
	if !cut || len(got.Peer) != maxReportedProposals {
		t.Fatalf("cut %v, %d proposals", cut, len(got.Peer))
	}
	for _, p := range got.Peer {
		if len(p.Encr) != maxReportedTransforms || len(p.KE) != maxReportedTransforms || len(p.PRF) != 1 {
			t.Fatalf("proposal %d: %d ENCR, %d KE, %d PRF", p.Number, len(p.Encr), len(p.KE), len(p.PRF))
		}
	}
	if len(peer[0].Encr) != 200 {
		t.Error("the original list was modified")
	}
	if n := len(got.Explain()); n > 32<<10 {
		t.Errorf("explanation of the cut list: %d bytes", n)
	}
}

// BenchmarkMismatchExplain compares the explanation of a 64 KB hostile
// proposal list (31 proposals of 255 transforms) in full with the one the
// read loop builds (cut by boundMismatch, at most explainBurst a second).
func BenchmarkMismatchExplain(b *testing.B) {
	local := proposal.CompatibleIKE() // what a responder uses by default
	var wide proposal.Proposal
	wide.Protocol = proposal.ProtoIKE
	for i := range 252 {
		wide.Add(proposal.Transform{Type: proposal.TypeENCR, ID: uint16(1024 + i)})
	}
	wide.Add(proposal.Transform{Type: proposal.TypeINTEG, ID: 12})
	wide.Add(proposal.Transform{Type: proposal.TypePRF, ID: 5})
	wide.Add(proposal.Transform{Type: proposal.TypeKE, ID: 1})
	peer := make(proposal.List, 31)
	for i := range peer {
		peer[i] = wide
		peer[i].Number = uint8(i + 1)
	}
	_, err := proposal.Select(local, peer, proposal.SelectOptions{})
	mm, ok := err.(*proposal.MismatchError)
	if !ok {
		b.Fatalf("Select: %v", err)
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = mm.Explain()
		}
	})
	b.Run("bounded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cut, _ := boundMismatch(mm)
			_ = cut.Explain()
		}
	})
}
