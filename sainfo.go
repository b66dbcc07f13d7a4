package ipsec

import (
	"net/netip"
	"time"
)

// IKESAInfo is a snapshot of an IKE SA (IKEv2 or IKEv1 phase 1) for status
// displays and hooks. It is a copy: holding it keeps nothing alive.
type IKESAInfo struct {
	Version     int            // 2 or 1
	State       string         // e.g. "ESTABLISHED", "CONNECTING", "REKEYING", "DELETING"
	Initiator   bool           // whether we initiated the SA
	SPIi, SPIr  uint64         // initiator's and responder's SPI (IKEv1: cookies)
	Local       netip.AddrPort // our outer address and port
	Remote      netip.AddrPort // the peer's outer address and port (after NAT)
	NATLocal    bool           // we are behind a NAT
	NATRemote   bool           // the peer is behind a NAT
	LocalID     Identity       // our identity
	RemoteID    Identity       // the peer's authenticated identity
	EAPIdentity string         // the identity the peer proved with EAP/XAuth, if any
	Proposal    string         // the selected proposal in keyword form, e.g. "aes256-sha256-prfsha256-modp2048"
	VirtualIPs  []netip.Addr   // assigned to the peer (responder) or to us (initiator)
	Established time.Time      // when the SA came up; zero before
	RekeyAt     time.Time      // zero when the SA is not scheduled for rekeying
	Children    []ChildSAInfo  // the SA's CHILD SAs
	// SessionID is stable for the life of the peer's session, kept across
	// IKE and CHILD rekeys and reauthentication handovers, unique per
	// engine, never reused (never 0 for a live SA). Status displays,
	// accounting and (*ike.Responder).Terminate identify a session by it;
	// SPIs change with every IKE rekey.
	SessionID uint64
	// BytesIn, BytesOut, PacketsIn and PacketsOut count the session's ESP
	// traffic (payload as the data plane counts it): every CHILD SA it
	// has had, across CHILD and IKE rekeys, the deleted ones included.
	// While an IKE rekey or a reauthentication overlaps, two IKE SAs
	// share a SessionID: count it once, from the newest.
	BytesIn, BytesOut     uint64
	PacketsIn, PacketsOut uint64
}

// ChildSAInfo is a snapshot of a CHILD SA pair (IKEv2) or a Quick Mode SA
// pair (IKEv1).
//
// BytesIn, BytesOut, PacketsIn and PacketsOut count the traffic of this
// CHILD SA and of the CHILD SAs it replaced by rekeying: they continue
// across rekeys instead of starting again at zero. While a rekey
// overlaps, the old SA keeps its own traffic and its successor takes it
// over when the old SA is deleted, so adding up the Children of one
// snapshot never counts a byte twice. In a ChildDown hook they are the
// final counters, read before the SA left the data plane.
type ChildSAInfo struct {
	Name        string    // the ChildConfig's name
	State       string    // "INSTALLED" (the IKEv2 engine reports no other state yet)
	Transport   bool      // transport mode instead of tunnel mode
	UDPEncap    bool      // ESP encapsulated in UDP (RFC 3948)
	ReqID       uint32    // the data plane's request ID of the SA pair (kept through rekeys)
	SPIIn       uint32    // inbound SA's SPI (chosen by us)
	SPIOut      uint32    // outbound SA's SPI (chosen by the peer)
	Proposal    string    // the selected ESP proposal in keyword form
	LocalTS     []string  // traffic selectors in strongSwan notation, e.g. "0.0.0.0/0"
	RemoteTS    []string  // the peer's traffic selectors, same notation
	BytesIn     uint64    // inner payload bytes received, as the data plane counts them
	BytesOut    uint64    // inner payload bytes sent
	PacketsIn   uint64    // packets received
	PacketsOut  uint64    // packets sent
	LastIn      time.Time // last packet received (zero if none or unknown)
	LastOut     time.Time // last packet sent (zero if none or unknown)
	Established time.Time // when the CHILD SA was installed
	RekeyAt     time.Time // when it will be rekeyed; zero when not scheduled
}
