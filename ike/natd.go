package ike

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
)

// natHash computes NAT_DETECTION_SOURCE_IP / _DESTINATION_IP data: SHA-1
// over SPIi | SPIr | IP address | port (RFC 7296 section 2.23). In the
// IKE_SA_INIT request SPIr is zero.
func natHash(spii, spir uint64, ap netip.AddrPort) [sha1.Size]byte {
	var buf [8 + 8 + 16 + 2]byte
	binary.BigEndian.PutUint64(buf[0:], spii)
	binary.BigEndian.PutUint64(buf[8:], spir)
	n := 16
	a := ap.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		copy(buf[16:], b[:])
		n = 4
	} else {
		b := a.As16()
		copy(buf[16:], b[:])
	}
	binary.BigEndian.PutUint16(buf[16+n:], ap.Port())
	return sha1.Sum(buf[:16+n+2])
}

// udpEncap reports whether the SA's ESP goes in UDP: only when a NAT was
// detected on either side, or we force it (RFC 7296 section 2.23, RFC
// 3948). IKE on port 4500 alone does not mean a NAT: MOBIKE clients float
// there anyway (RFC 4555 section 3.1) and then send raw ESP, which a state
// expecting ESP in UDP would drop.
func (pt *path) udpEncap() bool {
	return pt.natLocal || pt.natRemote || pt.forceEncap
}

// natt reports whether the SA uses the NAT-T port.
func (pt *path) natt() bool { return pt.local.Port() == pt.nattPort }

// ourNATSource is the NAT_DETECTION_SOURCE_IP value for local: its hash,
// or with forced encapsulation the hash of port 0, which no real path
// has, so the peer detects a NAT in front of us.
func (pt *path) ourNATSource(spii, spir uint64, local netip.AddrPort) [sha1.Size]byte {
	if pt.forceEncap {
		local = netip.AddrPortFrom(local.Addr(), 0)
	}
	return natHash(spii, spir, local)
}

// natResult says who is behind a NAT after comparing NAT-D notifies.
type natResult struct {
	// LocalBehind: the peer saw a different address for us than we have
	// (its DESTINATION_IP hash does not match our address): we must send
	// keepalives.
	LocalBehind bool
	// RemoteBehind: the peer's SOURCE_IP hashes match none of what we see.
	RemoteBehind bool
}

// Any reports whether any NAT was detected, which moves IKE to port 4500
// and switches ESP to UDP encapsulation (RFC 7296 section 2.23).
func (r natResult) Any() bool { return r.LocalBehind || r.RemoteBehind }

// detectNAT compares the peer's NAT-D notifies with the addresses of the
// packet that carried them. srcHashes may hold several values (one per
// peer address, RFC 7296 section 2.23); a missing destination hash means
// no statement about us. A peer that fakes a mismatch to force UDP
// encapsulation (strongSwan's force_encap, the Android app) is seen as
// behind a NAT, which is what it wants.
func detectNAT(spii, spir uint64, local, remote netip.AddrPort, srcHashes [][]byte, dstHash []byte) natResult {
	var r natResult
	if len(srcHashes) > 0 {
		want := natHash(spii, spir, remote)
		r.RemoteBehind = true
		for _, h := range srcHashes {
			if subtle.ConstantTimeCompare(h, want[:]) == 1 {
				r.RemoteBehind = false
			}
		}
	}
	if dstHash != nil {
		want := natHash(spii, spir, local)
		r.LocalBehind = subtle.ConstantTimeCompare(dstHash, want[:]) != 1
	}
	return r
}

// path is where the IKE SA's messages go: our and the peer's outer
// addresses, NAT detection (RFC 7296 section 2.23) and the addresses of
// the request being processed (MOBIKE, RFC 4555).
type path struct {
	local, remote netip.AddrPort
	initRemote    netip.AddrPort // where the IKE_SA_INIT request came from (init table key); written under e.mu once registered
	natLocal      bool           // we are behind a NAT: send keepalives
	natRemote     bool           // the peer is behind a NAT
	reqFrom       reqAddrs       // where the request being processed came from (MOBIKE, responses)
	nattPort      uint16         // the transport's NAT-T port (4500 on the wire)
	forceEncap    bool           // WithForcedEncapsulation: ESP in UDP without a NAT
}

// newPath is the path of a new IKE SA between local and remote.
func newPath(e *engine, local, remote netip.AddrPort) path {
	_, natt := e.conn.Ports()
	return path{local: local, remote: remote, initRemote: remote, nattPort: natt, forceEncap: e.cfg.forceEncap}
}

// reqAddrs are the addresses a request arrived on (Packet's, without
// the bytes, which an idle SA does not keep).
type reqAddrs struct {
	Local, Remote netip.AddrPort
}
