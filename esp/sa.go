package esp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec/proposal"
)

// Direction says whether an SA or policy applies to traffic we send or
// traffic we receive.
type Direction uint8

// Directions.
const (
	DirIn  Direction = 1 // packets arriving from the peer
	DirOut Direction = 2 // packets we send to the peer
)

// String returns "in" or "out".
func (d Direction) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Mode is the ESP encapsulation mode (RFC 4301 section 4.1).
type Mode uint8

// Modes. The zero value is tunnel mode, the one road-warrior VPNs use.
const (
	ModeTunnel    Mode = 0 // whole inner IP packet protected, new outer header
	ModeTransport Mode = 1 // upper-layer payload protected, original header kept
)

// String returns "tunnel" or "transport".
func (m Mode) String() string {
	switch m {
	case ModeTunnel:
		return "tunnel"
	case ModeTransport:
		return "transport"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Limits bounds the use of an SA. A zero field means "no limit".
type Limits struct {
	Bytes   uint64        // inner payload bytes protected or accepted
	Packets uint64        // packets protected or accepted
	Time    time.Duration // time since the SA was added
}

// Lifetime holds the soft limit (an EventSoftExpire tells the IKE engine to
// rekey) and the hard limit (an EventHardExpire; the data plane removes the
// SA itself, as the kernel does).
type Lifetime struct {
	// Soft is the limit at which the engine is told to rekey.
	Soft Limits
	// Hard is the limit at which the SA is removed.
	Hard Limits
}

// SAID names an installed SA. Inbound SAs are unique by SPI because we
// allocate them; outbound SPIs are chosen by peers, so two peers may pick the
// same one and the destination address tells them apart (as in XFRM, where
// an SA is keyed by destination, SPI and protocol).
type SAID struct {
	// SPI is the SA's security parameter index.
	SPI uint32
	// Dir is inbound or outbound.
	Dir Direction
	Dst netip.Addr // outer destination; ignored for DirIn by the userspace engine
}

// String formats the ID as "out 0x0000c001 -> 198.51.100.2".
func (id SAID) String() string {
	return fmt.Sprintf("%s 0x%08x -> %s", id.Dir, id.SPI, id.Dst)
}

// SA is one direction of an ESP security association as the IKE engine
// negotiated it. The data plane copies it on AddSA; later changes by the
// caller have no effect.
type SA struct {
	// SPI is the security parameter index: chosen by us for inbound SAs,
	// by the peer for outbound ones.
	SPI uint32
	// Dir is inbound or outbound.
	Dir Direction
	// Mode is tunnel or transport mode.
	Mode Mode

	// Src and Dst are the outer addresses as seen on the wire. A non-zero
	// port on Dst (and Src) selects ESP in UDP (RFC 3948) with those ports;
	// zero ports select raw ESP (IP protocol 50).
	Src, Dst netip.AddrPort

	// Encr with EncrKeyBits (0 for fixed-size ciphers) and Integ
	// (proposal.IntegNone for AEADs) are the negotiated transforms.
	Encr        proposal.EncrID
	EncrKeyBits int
	Integ       proposal.IntegID
	// EncrKey includes the AEAD salt (RFC 4106 section 8.1) or CTR nonce
	// (RFC 3686 section 5.1) at its end; IntegKey is empty for AEADs.
	EncrKey  []byte
	IntegKey []byte

	// ESN enables 64-bit extended sequence numbers (RFC 4303 section 2.2.1).
	ESN bool
	// ReplayWindow is the inbound anti-replay window in packets; 0 selects
	// DefaultReplayWindow, a negative value disables replay protection
	// (RFC 4303 section 3.4.3 allows the receiver to turn it off).
	ReplayWindow int

	// Lifetime holds the soft and hard limits; zero limits are unlimited.
	Lifetime Lifetime

	// ReqID ties the SA to the policies that use it: an outbound policy
	// with the same ReqID sends through the newest outbound SA with that
	// ReqID, and an inbound SA's decrypted packets must match an inbound
	// policy with the same ReqID (RFC 4301 section 5.2).
	ReqID uint32

	// NATKeepalive asks the data plane to send RFC 3948 section 2.3
	// keepalives to Dst while the SA is idle; the IKE engine sets it on
	// outbound UDP-encapsulated SAs when it found a NAT in front of us.
	NATKeepalive bool

	// IfID is the XFRM interface ID of the kernel data plane (package
	// xfrm) for this SA's state: 0 selects the data plane's default
	// (xfrm.WithIfID). Per-SA IDs let peers with overlapping traffic
	// selectors coexist, each routed through its own xfrm interface, as
	// strongSwan's if_id_in/if_id_out do. The userspace engine ignores it.
	IfID uint32
}

// ID returns the SAID that names sa in DeleteSA, UpdateSA and SAStats.
func (sa *SA) ID() SAID { return SAID{SPI: sa.SPI, Dir: sa.Dir, Dst: sa.Dst.Addr()} }

// UDPEncap reports whether the SA uses ESP in UDP (RFC 3948).
func (sa *SA) UDPEncap() bool { return sa.Dst.Port() != 0 }

// String describes the SA without key material.
func (sa *SA) String() string {
	enc := "esp"
	if sa.UDPEncap() {
		enc = "esp-in-udp"
	}
	ifID := ""
	if sa.IfID != 0 {
		ifID = fmt.Sprintf(" if_id=%d", sa.IfID)
	}
	return fmt.Sprintf("esp SA %s 0x%08x %s %s %s->%s encr=%d/%d integ=%d esn=%t reqid=%d%s keys=<redacted %d+%d bytes>",
		sa.Dir, sa.SPI, sa.Mode, enc, sa.Src, sa.Dst, sa.Encr, sa.EncrKeyBits, sa.Integ, sa.ESN, sa.ReqID, ifID,
		len(sa.EncrKey), len(sa.IntegKey))
}

// GoString keeps %#v from printing keys.
func (sa *SA) GoString() string { return sa.String() }

// clone deep-copies sa so that the caller's later changes (or zeroing of
// its key buffers) do not reach the data plane.
func (sa *SA) clone() *SA {
	c := *sa
	c.EncrKey = append([]byte(nil), sa.EncrKey...)
	c.IntegKey = append([]byte(nil), sa.IntegKey...)
	return &c
}

func (sa *SA) validate() error {
	switch {
	case sa.Dir != DirIn && sa.Dir != DirOut:
		return fmt.Errorf("esp: SA 0x%08x: invalid direction %d", sa.SPI, sa.Dir)
	case sa.Mode != ModeTunnel && sa.Mode != ModeTransport:
		return fmt.Errorf("esp: SA 0x%08x: invalid mode %d", sa.SPI, sa.Mode)
	case sa.SPI < 256:
		// RFC 4303 section 2.1: SPIs 1-255 are reserved by IANA, 0 is local use.
		return fmt.Errorf("esp: SA 0x%08x: SPI values 0-255 are reserved (RFC 4303 section 2.1)", sa.SPI)
	case !sa.Src.Addr().IsValid() || !sa.Dst.Addr().IsValid():
		return fmt.Errorf("esp: SA 0x%08x: outer source and destination addresses are required", sa.SPI)
	case sa.Src.Addr().Unmap().Is4() != sa.Dst.Addr().Unmap().Is4():
		return fmt.Errorf("esp: SA 0x%08x: outer addresses %s and %s are of different families", sa.SPI, sa.Src.Addr(), sa.Dst.Addr())
	case (sa.Src.Port() == 0) != (sa.Dst.Port() == 0):
		return fmt.Errorf("esp: SA 0x%08x: UDP encapsulation needs both ports (got %d and %d)", sa.SPI, sa.Src.Port(), sa.Dst.Port())
	}
	return nil
}
