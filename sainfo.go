package ipsec

import (
	"net/netip"
	"time"
)

// IKESAInfo is a snapshot of an IKE SA (IKEv2 or IKEv1 phase 1) for status
// displays and hooks. It is a copy: holding it keeps nothing alive.
type IKESAInfo struct {
	Version int // 2 or 1
	// SessionID is stable for the life of the peer's session, kept across
	// IKE and CHILD rekeys and reauthentication handovers, unique per
	// engine, never reused (never 0 for a live SA). Status displays,
	// accounting and (*ike.Responder).Terminate identify a session by it;
	// SPIs change with every IKE rekey.
	SessionID   uint64
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
}

// ChildSAInfo is a snapshot of a CHILD SA pair (IKEv2) or a Quick Mode SA
// pair (IKEv1).
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
