package transport

import (
	"encoding/binary"
	"testing"
)

// chanHandler is a PacketHandler that queues what it receives.
type chanHandler struct {
	version   int
	responder bool
	c         chan Packet
}

func (h chanHandler) IKEVersion() int       { return h.version }
func (h chanHandler) Responder() bool       { return h.responder }
func (h chanHandler) HandlePacket(p Packet) { h.c <- p }

func newChanHandler(version int, responder bool) chanHandler {
	return chanHandler{version, responder, make(chan Packet, 4)}
}

// header returns a 28-byte IKE header.
func header(major byte, spii, spir uint64, exchange byte, flags byte) []byte {
	h := make([]byte, ikeHeaderLen)
	binary.BigEndian.PutUint64(h[0:], spii)
	binary.BigEndian.PutUint64(h[8:], spir)
	h[17] = major << 4
	h[18] = exchange
	h[19] = byte(flags)
	binary.BigEndian.PutUint32(h[24:], ikeHeaderLen)
	return h
}

// TestRouterRules: requests that open an IKE SA reach the responder,
// every other message the engine that claimed its SPI in the role the
// Initiator flag names; IKEv1 goes by cookie to claims of version 1.
func TestRouterRules(t *testing.T) {
	var r Router
	resp, init1, init2 := newChanHandler(2, true), newChanHandler(2, false), newChanHandler(2, false)
	v1 := newChanHandler(1, true)
	regs := map[string]*Registration{}
	for name, h := range map[string]PacketHandler{"resp": resp, "init1": init1, "init2": init2, "v1": v1} {
		g, err := r.Register(h)
		if err != nil {
			t.Fatal(name, err)
		}
		regs[name] = g
	}
	const (
		initSPI1, initSPI2, respSPI, peerSPI, v1Init, v1Resp = 0x11, 0x22, 0x33, 0x99, 0x44, 0x55
	)
	mustClaim := func(g *Registration, spi uint64, role Role) {
		t.Helper()
		if !g.Claim(spi, role) {
			t.Fatalf("claim %x as %s refused", spi, role)
		}
	}
	mustClaim(regs["init1"], initSPI1, RoleInitiator)
	mustClaim(regs["init2"], initSPI2, RoleInitiator)
	mustClaim(regs["resp"], respSPI, RoleResponder)
	mustClaim(regs["v1"], v1Resp, RoleResponder)
	mustClaim(regs["v1"], v1Init, RoleInitiator)

	cases := []struct {
		name string
		msg  []byte
		want PacketHandler // nil: nobody
	}{
		{"IKE_SA_INIT request", header(2, peerSPI, 0, 34, 0x08), resp},
		{"IKE_SA_INIT response to init1", header(2, initSPI1, peerSPI, 34, 0x20), init1},
		{"COOKIE response to init2 (SPIr 0)", header(2, initSPI2, 0, 34, 0x20), init2},
		{"request from the responder of init1's SA", header(2, initSPI1, peerSPI, 37, 0), init1},
		{"IKE_AUTH request to the responder's SA", header(2, peerSPI, respSPI, 35, 0x08), resp},
		{"init1's SPI with the Initiator flag: not init1's role", header(2, peerSPI, initSPI1, 35, 0x08), resp},
		{"unknown SPI: the responder drops it", header(2, 0x77, peerSPI, 37, 0), resp},
		{"major version 3: the IKEv2 responder", header(3, peerSPI, 0, 34, 0x08), resp},
		{"IKEv1 Main Mode first message", header(1, peerSPI, 0, 2, 0), v1},
		{"IKEv1 to our responder cookie", header(1, peerSPI, v1Resp, 2, 0), v1},
		{"IKEv1 to our initiator cookie", header(1, v1Init, peerSPI, 2, 0), v1},
		{"major version 0", header(0, peerSPI, 0, 0, 0), nil},
		{"short", header(2, peerSPI, 0, 34, 0x08)[:27], nil},
	}
	for _, c := range cases {
		if got := r.Lookup(c.msg); got != c.want {
			t.Errorf("%s: routed to %v, want %v", c.name, got, c.want)
		}
	}

	// Claims are exclusive per version and role, and end with Release
	// and Close.
	if regs["init2"].Claim(initSPI1, RoleInitiator) {
		t.Error("init2 claimed init1's SPI")
	}
	if !regs["init2"].Claim(initSPI1, RoleResponder) {
		t.Error("the same SPI value in the other role was refused")
	}
	if regs["init2"].Claim(0, RoleInitiator) {
		t.Error("SPI zero claimed")
	}
	regs["init2"].Release(initSPI1, RoleInitiator) // not init2's: no effect
	if got := r.Lookup(header(2, initSPI1, peerSPI, 37, 0x20)); got != init1 {
		t.Errorf("after another's Release: routed to %v", got)
	}
	regs["init1"].Release(initSPI1, RoleInitiator)
	if got := r.Lookup(header(2, initSPI1, peerSPI, 37, 0x20)); got != resp {
		t.Errorf("after Release: routed to %v, want the responder", got)
	}
	if _, err := r.Register(newChanHandler(2, true)); err == nil {
		t.Error("second IKEv2 responder registered")
	}
	regs["resp"].Close()
	regs["resp"].Close()
	if regs["resp"].Claim(0x66, RoleResponder) {
		t.Error("claim on a closed registration")
	}
	if got := r.Lookup(header(2, peerSPI, respSPI, 35, 0x08)); got != nil {
		t.Errorf("after Close: routed to %v", got)
	}
	if _, err := r.Register(newChanHandler(2, true)); err != nil {
		t.Errorf("responder after the first closed: %v", err)
	}
	for _, bad := range []PacketHandler{nil, newChanHandler(3, false), newChanHandler(0, true)} {
		if _, err := r.Register(bad); err == nil {
			t.Errorf("Register(%v) accepted", bad)
		}
	}
}

// FuzzRouterLookup: no input panics the router.
func FuzzRouterLookup(f *testing.F) {
	f.Add(header(2, 1, 0, 34, 0x08))
	f.Add(header(1, 1, 2, 2, 0))
	f.Add([]byte{1, 2, 3})
	var r Router
	g, _ := r.Register(newChanHandler(2, false))
	g.Claim(1, RoleInitiator)
	f.Fuzz(func(t *testing.T, b []byte) { r.Lookup(b) })
}
