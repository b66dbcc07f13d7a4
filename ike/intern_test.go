package ike

import (
	"crypto/x509"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/proposal"
)

func TestInternProposal(t *testing.T) {
	l, err := proposal.Parse("aes128gcm16-prfsha256-curve25519,aes256-sha256-modp2048", proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	a, b := l[0].Clone(), l[0].Clone()
	a.SPI, b.SPI = []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}
	pa, pb := internProposal(a), internProposal(b)
	if pa != pb {
		t.Error("equal selections with different SPIs are not shared")
	}
	if pa.SPI != nil {
		t.Errorf("the shared copy keeps an SPI: %x", pa.SPI)
	}
	if a.SPI == nil || a.SPI[0] != 1 {
		t.Error("interning changed the caller's proposal")
	}
	if pa.String() != l[0].String() {
		t.Errorf("shared copy %s, want %s", pa, l[0])
	}
	if pc := internProposal(l[1]); pc == pa || pc.String() != l[1].String() {
		t.Errorf("a different selection got %s (shared: %v)", pc, pc == pa)
	}
	n := l[0].Clone()
	n.Number = 7
	if internProposal(n) != pa {
		t.Error("the peer's proposal number splits the shared copies")
	}
	if n.Number != 7 {
		t.Error("interning changed the caller's proposal number")
	}
	// The table is bounded: odd combinations beyond it are not kept.
	// (Restored afterwards: the other tests' SAs share from it.)
	proposals.mu.Lock()
	saved := proposals.m
	proposals.m = nil
	proposals.mu.Unlock()
	t.Cleanup(func() {
		proposals.mu.Lock()
		proposals.m = saved
		proposals.mu.Unlock()
	})
	for i := range maxInternedProposals + 50 {
		p := l[0].Clone()
		p.Encr = []proposal.Encr{{ID: proposal.EncrID(1000 + i)}}
		internProposal(p)
	}
	proposals.mu.Lock()
	size := len(proposals.m)
	proposals.mu.Unlock()
	if size > maxInternedProposals {
		t.Errorf("table holds %d proposals, bound %d", size, maxInternedProposals)
	}
}

func TestShareConfig(t *testing.T) {
	var tab configTable
	mk := func() *PeerConfig {
		c := &PeerConfig{Name: "users", LocalID: ipsec.FQDN("vpn.example.com"),
			Local:  LocalAuth{Method: AuthPSK, PSK: ipsec.Secret("0123456789abcdef0123")},
			Remote: RemoteAuth{Method: AuthPSK, PSK: ipsec.Secret("0123456789abcdef0123")},
			DNS:    []netip.Addr{netip.MustParseAddr("192.0.2.53")}, DPDDelay: 30 * time.Second}
		c.wipeSecrets()
		return c
	}
	a := tab.share(mk())
	b := tab.share(mk())
	if a != b {
		t.Fatal("equal configurations are not shared")
	}
	if a.Local.PSK != nil || a.Remote.PSK != nil || a.Local.EAPPassword != nil {
		t.Error("the shared configuration keeps secret buffers")
	}
	c := mk()
	c.DNS = []netip.Addr{netip.MustParseAddr("192.0.2.54")}
	if tab.share(c) == a {
		t.Error("configurations with different DNS share one copy")
	}
	f := mk()
	f.Remote.VerifyCertificate = func(ipsec.Identity, []*x509.Certificate) error { return nil }
	if g := mk(); true {
		g.Remote.VerifyCertificate = f.Remote.VerifyCertificate
		if tab.share(f) == tab.share(g) {
			t.Error("configurations with a function are shared")
		}
	}
	// Bounded per name, and collected configurations leave the table.
	for i := range 3 * maxSharedPerName {
		x := mk()
		x.DPDDelay = time.Duration(i+1) * time.Minute
		tab.share(x)
	}
	tab.mu.Lock()
	if n := len(tab.m["users"]); n > maxSharedPerName {
		t.Errorf("%d configurations kept for one name, bound %d", n, maxSharedPerName)
	}
	tab.mu.Unlock()
	a, b, c, f = nil, nil, nil, nil
	for range 20 {
		runtime.GC()
		tab.mu.Lock()
		n := len(tab.m)
		tab.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	t.Errorf("collected configurations stay in the table: %d names", len(tab.m))
}
