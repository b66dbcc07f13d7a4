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
	if c.srcCookieThresh != DefaultSourceCookieThreshold || c.srcMaxHalfOpen != DefaultSourceMaxHalfOpen ||
		c.authFailLimit != DefaultAuthFailureLimit || c.authFailWindow != DefaultAuthFailureWindow ||
		c.kexWorkers != 0 || c.kexQueue != DefaultKeyExchangeQueue {
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
		{WithAuthFailureLimit(-1, time.Minute), "WithAuthFailureLimit"},
		{WithAuthFailureLimit(3, 0), "WithAuthFailureLimit"},
		{WithKeyExchangeLimits(-1, 8), "WithKeyExchangeLimits"},
		{WithKeyExchangeLimits(1, 0), "WithKeyExchangeLimits"},
	} {
		c := defaultConfig()
		tc.opt(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "ike: "+tc.name+":") {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
	for _, opt := range []Option{WithSourceLimits(0, 1), WithAuthFailureLimit(0, 0), WithKeyExchangeLimits(0, 1)} {
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

func TestAuthFailuresWindowAndBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAuthFailures(3, time.Minute)
	src := netip.MustParseAddr("192.0.2.7")
	for i := range 2 {
		if a.record(src, now.Add(time.Duration(i)*time.Second)) || a.blocked(src, now) {
			t.Fatalf("blocked after %d failures", i+1)
		}
	}
	// Failures in an old window do not count.
	if a.record(src, now.Add(2*time.Minute)) {
		t.Fatal("blocked by failures of an expired window")
	}
	a.record(src, now.Add(2*time.Minute+time.Second))
	if !a.record(src, now.Add(2*time.Minute+2*time.Second)) {
		t.Fatal("not blocked after 3 failures within the window")
	}
	t0 := now.Add(2*time.Minute + 2*time.Second)
	if !a.blocked(src, t0.Add(59*time.Second)) || a.blocked(src, t0.Add(time.Minute)) {
		t.Error("block does not last exactly one window after the last failure")
	}
	if a.blocked(netip.MustParseAddr("192.0.2.8"), t0) {
		t.Error("another source blocked")
	}

	// Many sources: the table stays bounded, and entries already blocked
	// are kept rather than pushed out by new ones.
	later := t0.Add(time.Second)
	for i := range maxAuthFailSources + 1000 {
		a.record(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), later)
	}
	if n := a.size(); n != maxAuthFailSources {
		t.Errorf("%d entries, bound %d", n, maxAuthFailSources)
	}
	if !a.blocked(src, later) {
		t.Error("blocked source forgotten when the table filled")
	}
	// Once expired, entries make room again.
	expired := later.Add(2 * time.Minute)
	a.record(netip.MustParseAddr("192.0.2.9"), expired)
	if n := a.size(); n != 1 {
		t.Errorf("%d entries after all others expired, want 1", n)
	}
	if off := newAuthFailures(0, 0); off.record(src, now) || off.blocked(src, now) || off.size() != 0 {
		t.Error("limit 0 is not off")
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
