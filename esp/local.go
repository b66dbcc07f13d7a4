package esp

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"sync"
)

// LocalDatagram is a UDP datagram that arrived through a transport-mode
// SA for a port registered with WithLocalUDP: the decrypted L2TP traffic
// of an L2TP/IPsec client, for example.
type LocalDatagram struct {
	// ReqID is the ReqID of the inbound SA the datagram came through. Two
	// clients behind one NAT have the same Src (the NAT's address and
	// often the same port), so the ReqID is what tells them apart.
	ReqID uint32
	// Src and Dst are the inner UDP ports with the addresses of the outer
	// packet: Src's address is the SA's peer address as we see it (behind
	// a NAT, the NAT's public address, not the client's private one), Dst's
	// is our address.
	Src, Dst netip.AddrPort
	// Payload is the UDP payload. It aliases an engine buffer and is valid
	// only during the call: copy what you keep.
	Payload []byte
}

// localUDP is one WithLocalUDP registration.
type localUDP struct {
	port uint16
	h    func(LocalDatagram)
}

// WithLocalUDP delivers inbound transport-mode UDP datagrams (IPv4 and
// IPv6) to port to h instead of writing them to the TUN device: an
// in-process server (an L2TP LNS on port 1701) gets the decrypted traffic
// of its IPsec clients without a kernel socket. Repeat the option for
// other ports; a port given twice is a configuration error.
//
// The inner UDP checksum is not verified on this path: after a NAT it
// covers the client's private address, which we do not know for sure
// (RFC 3948 section 3.1.2 lets the receiver skip it in transport mode),
// and the ESP ICV has already authenticated every byte. Datagrams whose
// UDP length field does not fit the decrypted payload are dropped and
// counted as InMalformed; the inbound policy check (RFC 4301 section 5.2)
// applies as for every other packet.
//
// h runs on the engine's inbound writer goroutine (or in HandleUDP's
// caller) after the batch's table lock is released, so it may call
// SendUDP; it must not block for long, since it holds up the packets
// behind it. h must not retain d.Payload.
func WithLocalUDP(port uint16, h func(d LocalDatagram)) Option {
	return func(cf *config) { cf.local = append(cf.local, localUDP{port: port, h: h}) }
}

func validateLocal(l []localUDP) error {
	for i, x := range l {
		switch {
		case x.port == 0:
			return errOpt("WithLocalUDP", "port 0")
		case x.h == nil:
			return errOpt("WithLocalUDP", "nil handler")
		}
		for _, y := range l[:i] {
			if y.port == x.port {
				return errOpt("WithLocalUDP", "port registered twice")
			}
		}
	}
	return nil
}

// localHandler returns the handler registered for port, or nil. The list
// is short (normally one entry), so a scan beats a map.
func (cf *config) localHandler(port uint16) func(LocalDatagram) {
	for i := range cf.local {
		if cf.local[i].port == port {
			return cf.local[i].h
		}
	}
	return nil
}

// localFlow is acceptIn's transport-mode step for a UDP datagram to a
// WithLocalUDP port: it checks the UDP length and returns the flow for
// the policy check. No IP header is rebuilt and the UDP checksum is not
// checked (see WithLocalUDP).
func localFlow(p *packet, cfg *SA) (flow, bool) {
	l4 := p.buf[p.off : p.off+p.n]
	ul := int(binary.BigEndian.Uint16(l4[4:]))
	if ul < 8 || ul > len(l4) {
		return flow{}, false
	}
	f := flow{
		src: p.from.Addr().Unmap(), dst: cfg.Dst.Addr().Unmap(), proto: protoUDP,
		sport: binary.BigEndian.Uint16(l4), dport: binary.BigEndian.Uint16(l4[2:]),
	}
	f.hdrLen = 20
	if f.dst.Is6() {
		f.hdrLen = 40
	}
	f.totalLen = f.hdrLen + ul
	return f, true
}

// deliverLocal hands the datagrams acceptLocal accepted to their
// handlers. It runs without u.mu held, so handlers may call SendUDP.
func deliverLocal(b *batch) {
	for i := range b.n {
		p := &b.pkts[i]
		if p.local == nil {
			continue
		}
		h := p.local
		p.local = nil
		cfg := p.sa.cfg.Load()
		l4 := p.buf[p.off-8 : p.off]
		h(LocalDatagram{
			ReqID:   cfg.ReqID,
			Src:     netip.AddrPortFrom(p.from.Addr().Unmap(), binary.BigEndian.Uint16(l4)),
			Dst:     netip.AddrPortFrom(cfg.Dst.Addr().Unmap(), binary.BigEndian.Uint16(l4[2:])),
			Payload: p.buf[p.off : p.off+p.n : p.off+p.n],
		})
	}
}

// Errors of SendUDP.
var (
	// ErrNoOutboundSA: no live outbound SA has the ReqID.
	ErrNoOutboundSA = errors.New("esp: no outbound SA for the ReqID")
	// ErrNotTransport: the ReqID's newest outbound SA is in tunnel mode.
	ErrNotTransport = errors.New("esp: SendUDP needs a transport-mode SA")
	// ErrTooBig: the datagram does not fit one ESP packet in one IP packet.
	ErrTooBig = errors.New("esp: datagram too big for one ESP packet")
)

// maxSealed bounds an ESP packet SendUDP builds: it must fit one UDP
// datagram over IPv4 (65535 - 20 - 8), the smallest of the carriers.
const maxSealed = 65507

// sendBuf is a pooled SendUDP buffer.
type sendBuf struct{ b []byte }

var sendBufs = sync.Pool{New: func() any { return &sendBuf{b: make([]byte, 2048)} }}

// SendUDP encrypts one UDP datagram from src to dst (the inner ports and
// the addresses its checksum covers: our address and the peer's outer
// address, as LocalDatagram reports them) and sends it through the newest
// outbound SA of reqID, raw or UDP-encapsulated as that SA is. No policy
// lookup happens: two clients behind one NAT have identical selectors,
// and only the ReqID tells them apart. The SA must be in transport mode.
// payload is not retained. SendUDP is safe for concurrent use and, for
// UDP-encapsulated SAs, allocates nothing in steady state.
//
// Errors: ErrNoOutboundSA, ErrNotTransport, ErrTooBig, ErrExpired (the SA
// reached a hard limit with this packet), ErrClosed, or the socket's.
func (u *Userspace) SendUDP(reqID uint32, src, dst netip.AddrPort, payload []byte) error {
	if u.closed.Load() {
		return ErrClosed
	}
	u.mu.RLock()
	s := u.t.outSA(reqID)
	u.mu.RUnlock()
	if s == nil || s.dead.Load() {
		u.cnt.outNoSA.Add(1)
		return ErrNoOutboundSA
	}
	cfg := s.cfg.Load()
	if cfg.Mode != ModeTransport {
		return ErrNotTransport
	}
	n := 8 + len(payload)
	if n > maxSealed || espHeaderLen+s.suite.ivLen+n+s.suite.padLen(n)+2+s.suite.icvLen > maxSealed {
		return ErrTooBig
	}
	sb := sendBufs.Get().(*sendBuf)
	defer sendBufs.Put(sb)
	if need := Headroom + n + Tailroom; cap(sb.b) < need {
		sb.b = make([]byte, need)
	}
	buf := sb.b[:cap(sb.b)]
	l4 := buf[Headroom : Headroom+n]
	binary.BigEndian.PutUint16(l4, src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint16(l4[4:], uint16(n))
	l4[6], l4[7] = 0, 0
	copy(l4[8:], payload)
	udpChecksum(l4, src.Addr().Unmap(), dst.Addr().Unmap())

	now := u.cfg.now().UnixNano()
	seq := s.seq.Add(1)
	if (!cfg.ESN && seq > math.MaxUint32) || seq == 0 {
		s.seq.Store(math.MaxUint64 - 1<<32) // stay exhausted, as classifyOut does
		u.cnt.outSeqOverflow.Add(1)
		u.expireHard(s)
		return ErrSeqOverflow
	}
	soft, hard := s.account(n, now)
	if hard {
		u.expireHard(s)
		return ErrExpired
	}
	if soft {
		u.expireSoft(s)
	}
	sc := u.scratchs.Get().(*scratch)
	pkt, err := s.suite.seal(sc, buf, Headroom, n, protoUDP, cfg.SPI, seq, cfg.ESN, nil)
	u.scratchs.Put(sc)
	if err != nil {
		return err
	}
	d := s.outer.Load()
	if d.encap {
		if d.sock == nil {
			u.cnt.outNoSocket.Add(1)
			return ErrClosed
		}
		_, _, err = d.sock.c.WriteMsgUDPAddrPort(pkt, nil, d.udpAP)
	} else {
		rs := u.raw6
		if d.ip.IP.To4() != nil {
			rs = u.raw4
		}
		if rs == nil {
			u.cnt.outNoSocket.Add(1)
			return ErrClosed
		}
		_, err = rs.c.WriteToIP(pkt, d.ip)
	}
	if err != nil {
		u.cnt.sendErrors.Add(1)
		return err
	}
	u.cnt.outPackets.Add(1)
	u.cnt.outBytes.Add(uint64(n))
	return nil
}

// udpChecksum sets the checksum of the UDP datagram l4 for the pseudo
// header of src and dst (RFC 768, RFC 8200 section 8.1).
func udpChecksum(l4 []byte, src, dst netip.Addr) {
	var a [32]byte
	var addrs []byte
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		copy(a[:], s[:])
		copy(a[4:], d[:])
		addrs = a[:8]
	} else {
		s, d := src.As16(), dst.As16()
		copy(a[:], s[:])
		copy(a[16:], d[:])
		addrs = a[:]
	}
	l4[6], l4[7] = 0, 0
	c := foldChecksum(checksum(l4, checksum(addrs, uint64(protoUDP)+uint64(len(l4)))))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[6:], c)
}
