package ipsec

import (
	"net/netip"
	"time"
)

// IKESAInfo is a snapshot of an IKE SA (IKEv2 or IKEv1 phase 1) for status
// displays and hooks. It is a copy: holding it keeps nothing alive.
type IKESAInfo struct {
	Version     int    // 2 or 1
	State       string // e.g. "ESTABLISHED", "CONNECTING", "REKEYING", "DELETING"
	Initiator   bool   // whether we initiated the SA
	SPIi, SPIr  uint64
	Local       netip.AddrPort
	Remote      netip.AddrPort
	NATLocal    bool // we are behind a NAT
	NATRemote   bool // the peer is behind a NAT
	LocalID     Identity
	RemoteID    Identity
	EAPIdentity string // the identity the peer proved with EAP/XAuth, if any
	Proposal    string // the selected proposal in keyword form, e.g. "aes256-sha256-prfsha256-modp2048"
	VirtualIPs  []netip.Addr
	Established time.Time
	RekeyAt     time.Time // zero when the SA is not scheduled for rekeying
	Children    []ChildSAInfo
	// SessionID: stable for the life of the peer's session, kept across
	// IKE and CHILD rekeys and reauthentication handovers, unique per
	// engine, never reused. Zero only in snapshots of engines that do not
	// assign one.
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
	Name        string
	State       string
	Transport   bool // transport mode instead of tunnel mode
	UDPEncap    bool
	SPIIn       uint32
	SPIOut      uint32
	Proposal    string
	LocalTS     []string // traffic selectors in strongSwan notation, e.g. "0.0.0.0/0"
	RemoteTS    []string
	BytesIn     uint64
	BytesOut    uint64
	PacketsIn   uint64
	PacketsOut  uint64
	LastIn      time.Time
	LastOut     time.Time
	Established time.Time
	RekeyAt     time.Time
}
