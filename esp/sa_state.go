package esp

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// saState is an installed SA with its runtime state. Packet goroutines hold
// pointers to it across table changes, so removal only marks it dead.
type saState struct {
	cfg   atomic.Pointer[SA] // replaced, never changed in place, by UpdateSA (under u.mu); packet goroutines load it
	id    SAID
	suite suite
	added time.Time

	// outer is the precomputed destination for sends (UDP or raw ESP);
	// replaced as a whole by UpdateSA.
	outer atomic.Pointer[outerDst]

	seq atomic.Uint64 // outbound: last sequence number used

	mu     sync.Mutex // inbound: guards replay
	replay replayWindow

	bytes, packets atomic.Uint64
	lastUse        atomic.Int64 // unix nanoseconds
	replayDrops    atomic.Uint64
	authFailures   atomic.Uint64
	lastKeepalive  atomic.Int64

	softSent, hardSent, dead atomic.Bool

	hk hkPos // its place in the housekeeping wheel (guarded by Userspace.hk.mu)
}

// outerDst is where an outbound SA's packets go.
type outerDst struct {
	sock      *udpSock       // ESP in UDP: the socket to send from
	udp       *net.UDPAddr   // ESP in UDP
	udpAP     netip.AddrPort // udp as an AddrPort (SendUDP's allocation-free send)
	ip        *net.IPAddr    // raw ESP
	ipAddr    netip.Addr     // ip as a netip.Addr (the batched raw sends)
	encap     bool
	keepalive bool
}

func newOuterDst(sa *SA, socks []*udpSock) *outerDst {
	d := &outerDst{encap: sa.UDPEncap(), keepalive: sa.NATKeepalive}
	a := sa.Dst.Addr().Unmap()
	if d.encap {
		d.sock = pickUDP(socks, sa.Src, sa.Dst)
		d.udpAP = netip.AddrPortFrom(a, sa.Dst.Port())
		d.udp = net.UDPAddrFromAddrPort(d.udpAP)
	} else {
		d.ip = &net.IPAddr{IP: a.AsSlice()}
		d.ipAddr = a
	}
	return d
}

// account adds one packet of n payload bytes and reports whether a soft
// or hard limit was crossed by it.
func (s *saState) account(n int, now int64) (soft, hard bool) {
	b := s.bytes.Add(uint64(n))
	p := s.packets.Add(1)
	s.lastUse.Store(now)
	lt := &s.cfg.Load().Lifetime
	if (lt.Hard.Bytes != 0 && b > lt.Hard.Bytes) || (lt.Hard.Packets != 0 && p > lt.Hard.Packets) {
		return false, true
	}
	if (lt.Soft.Bytes != 0 && b >= lt.Soft.Bytes) || (lt.Soft.Packets != 0 && p >= lt.Soft.Packets) {
		return true, false
	}
	return false, false
}

func (s *saState) stats() SAStats {
	st := SAStats{
		Bytes:        s.bytes.Load(),
		Packets:      s.packets.Load(),
		ReplayDrops:  s.replayDrops.Load(),
		AuthFailures: s.authFailures.Load(),
	}
	if t := s.lastUse.Load(); t != 0 {
		st.LastUse = time.Unix(0, t)
	}
	if s.id.Dir == DirOut {
		st.Seq = s.seq.Load()
	} else {
		s.mu.Lock()
		st.Seq = s.replay.top
		s.mu.Unlock()
	}
	return st
}
