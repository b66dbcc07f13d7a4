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
