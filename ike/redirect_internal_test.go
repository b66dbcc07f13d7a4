package ike

import (
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// quietConn is a Conn that sends nowhere, for tests that drive SA methods
// directly.
type quietConn struct{}

func (quietConn) Send(Packet) error { return nil }
func (quietConn) Register(h PacketHandler) (*Registration, error) {
	return new(Router).Register(h)
}
func (quietConn) Ports() (uint16, uint16) { return PortIKE, PortNATT }
func (quietConn) LocalAddrs() []netip.AddrPort {
	return []netip.AddrPort{netip.MustParseAddrPort("192.0.2.2:500")}
}

// TestRedirectInitRemoteRace: following a REDIRECT at IKE_SA_INIT moves
// the SA's init-table address (initRemote) on the SA's goroutine while
// another SA's IKE_AUTH asks the engine, under its lock, whether any SA
// has that peer address (hasOtherSA, for INITIAL_CONTACT). Under -race the
// unlocked write was reported.
func TestRedirectInitRemoteRace(t *testing.T) {
	in, err := NewInitiator(quietConn{})
	if err != nil {
		t.Fatal(err)
	}
	e := in.e
	local := netip.MustParseAddrPort("192.0.2.2:500")
	redirected := newSA(e, true, local, netip.MustParseAddrPort("192.0.2.1:500"))
	other := newSA(e, true, local, netip.MustParseAddrPort("192.0.2.5:500"))
	for _, sa := range []*ikeSA{redirected, other} {
		sa.cfg = &PeerConfig{Proposals: proposal.CompatibleIKE()}
		if err := e.registerInitiator(sa); err != nil {
			t.Fatal(err)
		}
	}
	redirected.ni = []byte("our nonce, echoed by REDIRECT")
	gw := netip.MustParseAddr("192.0.2.5")
	n := &wire.Notify{Type: wire.REDIRECT, Data: append(gwIdentity(gw), redirected.ni...)}
	done := make(chan error)
	go func() { done <- redirected.followRedirect(n) }()
	e.hasOtherSA(other) // concurrently with the redirect
	if err := <-done; err != nil {
		t.Fatalf("followRedirect: %v", err)
	}
	// After the redirect both SAs talk to 192.0.2.5.
	if !e.hasOtherSA(other) {
		t.Error("hasOtherSA misses the redirected SA's new peer address")
	}
}
