package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/goipsec/ipsec/internal/sockio"
)

// Default UDP ports: IKE (RFC 7296 section 2) and NAT traversal
// (RFC 3948 section 2.1, RFC 7296 section 2.23).
const (
	PortIKE  = 500
	PortNATT = 4500
)

// maxDatagram is the largest UDP payload; IKE messages above the path MTU
// arrive as IP fragments and are reassembled by the kernel before we see
// them (Windows before 1803 depends on that).
const maxDatagram = 65535

// Packet is one IKE datagram as the transport hands it to an engine or
// takes it from one.
type Packet struct {
	// Data is the IKE message without the non-ESP marker. Received packets
	// own their Data.
	Data []byte
	// Local is our address and port the packet arrived on or leaves from.
	Local netip.AddrPort
	// Remote is the peer's address and port.
	Remote netip.AddrPort
}

// Encapsulated reports whether the packet uses the NAT-T port, where IKE
// carries the 4-byte non-ESP marker (RFC 3948 section 2.2).
func (p Packet) Encapsulated(t *Transport) bool { return p.Local.Port() == t.nattPort }

// Stats counts what the transport dropped or passed on.
type Stats struct {
	IKEv2, IKEv1, ESP  uint64 // packets handed to each receiver
	Keepalives         uint64 // NAT keepalives (RFC 3948 section 2.3), dropped
	Unclaimed          uint64 // no receiver registered for the protocol or the IKE SA
	Malformed          uint64 // too short or an unknown IKE major version
	ReadErrors, Errors uint64 // failed socket reads; failed sends
	// RecvDrops counts the datagrams the kernel dropped on the
	// transport's sockets because their receive queues were full, as the
	// kernel counts them (SO_MEMINFO, Linux only): ESP and IKE the
	// readers were too slow for.
	RecvDrops uint64
}

// Transport owns the UDP sockets of IKE: port 500 and the NAT-T port 4500,
// on IPv4 and IPv6. It demultiplexes what arrives: IKE messages to the
// registered engines (Register; routed by version, SPI and role, see
// Router), ESP in UDP (RFC 3948) to the data plane, and drops NAT
// keepalives. One Transport is shared by every engine of a process: a
// Responder and Initiators (a site-to-site gateway dials its peers and
// answers them on the same ports), and IKEv1 beside IKEv2.
type Transport struct {
	ikePort, nattPort uint16
	logger            *slog.Logger

	socks []*socket

	router Router
	esp    atomic.Pointer[espReceiver]

	stats struct {
		ikev2, ikev1, esp, keepalive, unclaimed, malformed, readErr, err atomic.Uint64
	}

	closeOnce sync.Once
	wg        sync.WaitGroup
}

// socket is one bound UDP socket with its control-message wrapper, which
// tells us the destination address of each packet when bound to a wildcard
// address and lets us pick the source address of replies.
type socket struct {
	conn  *net.UDPConn
	local netip.AddrPort // as bound (port resolved)
	v4    *ipv4.PacketConn
	v6    *ipv6.PacketConn
	natt  bool
	batch *readBatch // recvmmsg state (Linux); nil: one datagram per read
}

// readBatch is a socket's recvmmsg reader with its buffers and the ESP
// packets of the current batch, reused for every read.
type readBatch struct {
	r                 *sockio.Reader
	bufs              [][]byte
	sizes             []int
	from              []netip.AddrPort
	esp               [][]byte
	espFrom, espLocal []netip.AddrPort
}

// Datagrams per read: the NAT-T port carries ESP at line rate (a UDP GSO
// burst of a peer is up to 64 packets); port 500 only IKE.
const (
	nattBatch = 64
	ikeBatch  = 8
)

// oobSpace is the control buffer per datagram: an IP_PKTINFO or
// IPV6_PKTINFO message and a UDP_GRO one, with room to spare.
const oobSpace = 96

// espRunMax bounds the ESP packets collected before they are handed on:
// a read of coalesced datagrams (UDP GRO) can carry far more packets than
// datagrams.
const espRunMax = 256

func newReadBatch(c *net.UDPConn, size int) *readBatch {
	r, err := sockio.NewReader(c, size, max(oobSpace, sockio.PacketInfoSpace+sockio.GROSpace))
	if err != nil {
		return nil // not Linux: the one-datagram loop
	}
	b := &readBatch{
		r:        r,
		bufs:     make([][]byte, size),
		sizes:    make([]int, size),
		from:     make([]netip.AddrPort, size),
		esp:      make([][]byte, 0, espRunMax),
		espFrom:  make([]netip.AddrPort, 0, espRunMax),
		espLocal: make([]netip.AddrPort, 0, espRunMax),
	}
	// One allocation; pages the kernel never writes to are never touched.
	mem := make([]byte, size*maxDatagram)
	for i := range b.bufs {
		b.bufs[i] = mem[i*maxDatagram : (i+1)*maxDatagram : (i+1)*maxDatagram]
	}
	return b
}

// espReceiver is the data plane's receiver of ESP in UDP: one of the two.
type espReceiver struct {
	one   func(pkt []byte, local, remote netip.AddrPort)
	batch func(pkts [][]byte, remotes []netip.AddrPort)
}

type config struct {
	addrs    []netip.Addr
	ikePort  int
	nattPort int
	logger   *slog.Logger
}

// Option configures ListenUDP.
type Option func(*config)

// WithListenAddrs sets the local addresses to listen on. The default is
// the IPv4 and IPv6 wildcard addresses.
func WithListenAddrs(addrs ...netip.Addr) Option {
	return func(c *config) { c.addrs = append([]netip.Addr(nil), addrs...) }
}

// WithPorts overrides the IKE and NAT-T ports (500 and 4500). Port 0 picks
// a free port, which tests use; the NAT-T port must differ from the IKE
// port because packets on it carry the non-ESP marker.
func WithPorts(ike, natt int) Option {
	return func(c *config) { c.ikePort, c.nattPort = ike, natt }
}

// WithLogger sets the logger for socket-level problems. Nothing is
// logged per packet.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// ListenUDP opens the IKE sockets and starts reading them. ctx bounds only
// the set-up; call Close to stop.
func ListenUDP(ctx context.Context, opts ...Option) (*Transport, error) {
	cfg := config{
		addrs:    []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
		ikePort:  PortIKE,
		nattPort: PortNATT,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case len(cfg.addrs) == 0:
		return nil, errors.New("transport: WithListenAddrs: no address")
	case cfg.ikePort < 0 || cfg.ikePort > 65535 || cfg.nattPort < 0 || cfg.nattPort > 65535:
		return nil, fmt.Errorf("transport: WithPorts: %d/%d out of range", cfg.ikePort, cfg.nattPort)
	case cfg.ikePort != 0 && cfg.ikePort == cfg.nattPort:
		return nil, fmt.Errorf("transport: WithPorts: IKE and NAT-T port are both %d", cfg.ikePort)
	}
	t := &Transport{logger: cfg.logger}
	// Resolve port 0 once, on the first address, so every address listens
	// on the same pair of ports.
	ikePort, nattPort := cfg.ikePort, cfg.nattPort
	for _, a := range cfg.addrs {
		if err := ctx.Err(); err != nil {
			t.closeSockets()
			return nil, err
		}
		for _, natt := range []bool{false, true} {
			port := ikePort
			if natt {
				port = nattPort
			}
			s, err := listen(a, port, natt)
			if err != nil {
				t.closeSockets()
				return nil, fmt.Errorf("transport: listen %s: %w", netip.AddrPortFrom(a, uint16(port)), err)
			}
			t.socks = append(t.socks, s)
			if natt {
				nattPort = int(s.local.Port())
			} else {
				ikePort = int(s.local.Port())
			}
		}
	}
	t.ikePort, t.nattPort = uint16(ikePort), uint16(nattPort)
	for _, s := range t.socks {
		t.wg.Add(1)
		go t.readLoop(s)
	}
	return t, nil
}

func listen(a netip.Addr, port int, natt bool) (*socket, error) {
	network := "udp4"
	if a.Is6() && !a.Is4In6() {
		network = "udp6" // Go sets IPV6_V6ONLY, so [::] and 0.0.0.0 coexist
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(port))))
	if err != nil {
		return nil, err
	}
	s := &socket{conn: conn, local: conn.LocalAddr().(*net.UDPAddr).AddrPort(), natt: natt}
	s.local = netip.AddrPortFrom(s.local.Addr().Unmap(), s.local.Port())
	if network == "udp4" {
		s.v4 = ipv4.NewPacketConn(conn)
		err = s.v4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	} else {
		s.v6 = ipv6.NewPacketConn(conn)
		err = s.v6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("enable packet info: %w", err)
	}
	// Best effort (see sockio.DefaultBufferSize): without it the socket
	// overflows at the first burst of ESP while the reader is busy.
	_ = sockio.SetBuffers(conn, sockio.DefaultBufferSize)
	size := ikeBatch
	if natt {
		size = nattBatch
	}
	s.batch = newReadBatch(conn, size)
	return s, nil
}

// Ports returns the IKE and NAT-T ports in use (useful after WithPorts(0, 0)).
func (t *Transport) Ports() (ike, natt uint16) { return t.ikePort, t.nattPort }

// LocalAddrs returns the bound addresses and ports.
func (t *Transport) LocalAddrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(t.socks))
	for i, s := range t.socks {
		out[i] = s.local
	}
	return out
}

// NATTConns returns the NAT-T sockets, which a userspace data plane uses to
// send ESP in UDP from the same port as IKE (RFC 3948 requires one port).
// The transport keeps reading them and hands ESP to the SetESPHandler
// receiver.
func (t *Transport) NATTConns() []*net.UDPConn {
	var out []*net.UDPConn
	for _, s := range t.socks {
		if s.natt {
			out = append(out, s.conn)
		}
	}
	return out
}

// IKEConns returns the sockets on the IKE port (500). The transport keeps
// reading them; a kernel data plane exempts them from IPsec policies
// ((*xfrm.DataPlane).UseTransport calls xfrm.BypassSocket on them), which
// transport-mode SAs between the two hosts need.
func (t *Transport) IKEConns() []*net.UDPConn {
	var out []*net.UDPConn
	for _, s := range t.socks {
		if !s.natt {
			out = append(out, s.conn)
		}
	}
	return out
}

// Register adds an engine to the transport's routes (see Router): the
// Responder and Initiator of this package register themselves, an IKEv1
// engine registers its own PacketHandler. Any number of initiators and
// one responder per IKE version share the transport.
func (t *Transport) Register(h PacketHandler) (*Registration, error) { return t.router.Register(h) }

// SetESPHandler registers the receiver of ESP-in-UDP packets arriving on
// the NAT-T port, one call per packet. pkt starts at the SPI and is valid
// only during the call. It replaces a SetESPBatchHandler receiver.
func (t *Transport) SetESPHandler(f func(pkt []byte, local, remote netip.AddrPort)) {
	t.esp.Store(&espReceiver{one: f})
	t.enableGRO()
}

// SetESPBatchHandler registers the receiver of ESP-in-UDP packets arriving
// on the NAT-T port in batches: on Linux the transport reads the socket
// with recvmmsg and passes the ESP packets of each read in one call
// (esp.Userspace.HandleUDPBatch is such a receiver), IKE messages of the
// same read go to the engines as always. pkts[i] starts at the SPI and
// came from remotes[i]; both slices and the packets are valid only during
// the call. Calls for one socket come from one goroutine, in the order
// read. It replaces a SetESPHandler receiver.
func (t *Transport) SetESPBatchHandler(f func(pkts [][]byte, remotes []netip.AddrPort)) {
	t.esp.Store(&espReceiver{batch: f})
	t.enableGRO()
}

// enableGRO turns on UDP GRO on the NAT-T sockets read in batches, once
// ESP is to come up to userspace: a peer's UDP GSO burst then arrives as
// one datagram (split in dispatchBatch), one receive instead of up to 64.
// Not before: a kernel data plane (XFRM) decapsulates ESP on these
// sockets itself and never registers an ESP receiver.
func (t *Transport) enableGRO() {
	for _, s := range t.socks {
		if s.natt && s.batch != nil {
			sockio.EnableUDPGRO(s.conn)
		}
	}
}

// Stats returns a snapshot of the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		IKEv2: t.stats.ikev2.Load(), IKEv1: t.stats.ikev1.Load(), ESP: t.stats.esp.Load(),
		Keepalives: t.stats.keepalive.Load(), Unclaimed: t.stats.unclaimed.Load(),
		Malformed: t.stats.malformed.Load(), ReadErrors: t.stats.readErr.Load(), Errors: t.stats.err.Load(),
		RecvDrops: t.recvDrops(),
	}
}

func (t *Transport) recvDrops() uint64 {
	var n uint64
	for _, s := range t.socks {
		d, _ := sockio.Drops(s.conn)
		n += d
	}
	return n
}

// ikeHeaderLen is the fixed IKE header (RFC 7296 section 3.1, RFC 2408
// section 3.1); its 18th byte holds the major version.
const ikeHeaderLen = 28

func (t *Transport) readLoop(s *socket) {
	defer t.wg.Done()
	if s.batch != nil {
		t.readBatches(s)
		return
	}
	buf := make([]byte, maxDatagram)
	one, oneFrom, oneLocal := make([][]byte, 1), make([]netip.AddrPort, 1), make([]netip.AddrPort, 1)
	for {
		var (
			n   int
			src net.Addr
			dst net.IP
			err error
		)
		if s.v4 != nil {
			var cm *ipv4.ControlMessage
			n, cm, src, err = s.v4.ReadFrom(buf)
			if cm != nil {
				dst = cm.Dst
			}
		} else {
			var cm *ipv6.ControlMessage
			n, cm, src, err = s.v6.ReadFrom(buf)
			if cm != nil {
				dst = cm.Dst
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.stats.readErr.Add(1)
			continue
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		remote := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
		local := s.local
		if d, ok := netip.AddrFromSlice(dst); ok && !d.IsUnspecified() {
			local = netip.AddrPortFrom(d.Unmap(), s.local.Port())
		}
		if s.natt && isESP(buf[:n]) {
			one[0], oneFrom[0], oneLocal[0] = buf[:n], remote, local
			t.deliverESP(one, oneFrom, oneLocal)
			continue
		}
		t.dispatch(buf[:n], local, remote, s.natt)
	}
}

// readBatches reads s with recvmmsg batches (Linux): IKE messages go to
// the engines one by one as before, the ESP packets of a batch to the
// data plane in one call.
func (t *Transport) readBatches(s *socket) {
	b := s.batch
	for {
		n, err := b.r.Read(b.bufs, b.sizes, b.from)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.stats.readErr.Add(1)
			continue
		}
		t.dispatchBatch(s, n)
	}
}

// dispatchBatch hands on the n datagrams of the last read of s.
func (t *Transport) dispatchBatch(s *socket, n int) {
	b := s.batch
	b.esp, b.espFrom, b.espLocal = b.esp[:0], b.espFrom[:0], b.espLocal[:0]
	for i := range n {
		if b.r.Truncated(i) { // larger than maxDatagram: cannot be a whole packet
			t.stats.malformed.Add(1)
			continue
		}
		data := b.bufs[i][:b.sizes[i]]
		oob := b.r.Control(i)
		local := s.local
		if d, ok := sockio.PacketDst(oob); ok && !d.IsUnspecified() {
			local = netip.AddrPortFrom(d, s.local.Port())
		}
		// UDP GRO: runs of equal-sized datagrams of one peer arrive
		// as one; each segment is a datagram of its own (ESP, or an
		// IKE message or keepalive that happened to be the last).
		if len(data) == 0 {
			t.dispatch(data, local, b.from[i], s.natt) // counted as malformed
			continue
		}
		seg, ok := sockio.GROSegment(oob)
		if !ok || seg >= len(data) {
			seg = len(data)
		}
		for len(data) > 0 {
			pkt := data[:min(seg, len(data))]
			data = data[len(pkt):]
			if s.natt && isESP(pkt) {
				if len(b.esp) == cap(b.esp) {
					t.deliverESP(b.esp, b.espFrom, b.espLocal)
					b.esp, b.espFrom, b.espLocal = b.esp[:0], b.espFrom[:0], b.espLocal[:0]
				}
				b.esp = append(b.esp, pkt)
				b.espFrom = append(b.espFrom, b.from[i])
				b.espLocal = append(b.espLocal, local)
				continue
			}
			t.dispatch(pkt, local, b.from[i], s.natt)
		}
	}
	if len(b.esp) > 0 {
		t.deliverESP(b.esp, b.espFrom, b.espLocal)
	}
}

// isESP tells ESP in UDP from IKE (zero non-ESP marker) and keepalives
// (a single 0xFF byte) on the NAT-T port (RFC 3948 section 2).
func isESP(b []byte) bool {
	return len(b) >= 4 && b[0]|b[1]|b[2]|b[3] != 0
}

// deliverESP hands ESP-in-UDP packets to the data plane: in one call to a
// batch receiver, or one by one to a SetESPHandler receiver.
func (t *Transport) deliverESP(pkts [][]byte, remotes, locals []netip.AddrPort) {
	r := t.esp.Load()
	var good int
	for i, p := range pkts {
		if len(p) < 8 { // SPI + sequence number at least
			t.stats.malformed.Add(1)
			continue
		}
		pkts[good], remotes[good], locals[good] = p, remotes[i], locals[i]
		good++
	}
	pkts, remotes, locals = pkts[:good], remotes[:good], locals[:good]
	if len(pkts) == 0 {
		return
	}
	switch {
	case r == nil:
		t.stats.unclaimed.Add(uint64(len(pkts)))
	case r.batch != nil:
		t.stats.esp.Add(uint64(len(pkts)))
		r.batch(pkts, remotes)
	default:
		t.stats.esp.Add(uint64(len(pkts)))
		for i, p := range pkts {
			r.one(p, locals[i], remotes[i])
		}
	}
}

// dispatch classifies one datagram (RFC 3948 section 2: on the NAT-T port
// a zero 4-byte marker precedes IKE, a single 0xFF byte is a keepalive,
// anything else is ESP whose SPI is never zero).
func (t *Transport) dispatch(b []byte, local, remote netip.AddrPort, natt bool) {
	if natt {
		switch {
		case len(b) == 1 && b[0] == 0xff:
			t.stats.keepalive.Add(1)
			return
		case len(b) >= 4 && b[0]|b[1]|b[2]|b[3] == 0:
			b = b[4:]
		default:
			// ESP went to deliverESP (isESP); this is 1 to 3 bytes
			// that are no keepalive.
			t.stats.malformed.Add(1)
			return
		}
	}
	if len(b) < ikeHeaderLen {
		t.stats.malformed.Add(1)
		return
	}
	var counter *atomic.Uint64
	switch b[17] >> 4 {
	case 0:
		t.stats.malformed.Add(1)
		return
	case 1:
		counter = &t.stats.ikev1
	default:
		// RFC 7296 section 2.5 would have us answer an unknown higher
		// major version with INVALID_MAJOR_VERSION; that is the IKEv2
		// responder's job, so the router hands versions above 2 to it.
		counter = &t.stats.ikev2
	}
	h := t.router.Lookup(b)
	if h == nil {
		t.stats.unclaimed.Add(1)
		return
	}
	counter.Add(1)
	h.HandlePacket(Packet{Data: append([]byte(nil), b...), Local: local, Remote: remote})
}

// Send transmits an IKE message from p.Local to p.Remote. The socket is
// chosen by p.Local's port (500 or the NAT-T port) and family; on the
// NAT-T port the non-ESP marker is prepended. When p.Local's address is
// set, it becomes the packet's source address (multi-homed gateways must
// answer from the address the request reached).
func (t *Transport) Send(p Packet) error {
	s := t.socketFor(p.Local)
	if s == nil {
		t.stats.err.Add(1)
		return fmt.Errorf("transport: no socket for local address %s", p.Local)
	}
	data := p.Data
	if s.natt {
		data = make([]byte, 4+len(p.Data))
		copy(data[4:], p.Data)
	}
	return t.write(s, data, p.Local.Addr(), p.Remote)
}

// SendKeepalive sends a NAT keepalive (a single 0xFF byte, RFC 3948
// section 2.3) from the NAT-T socket of local's family.
func (t *Transport) SendKeepalive(local, remote netip.AddrPort) error {
	if local.Port() != t.nattPort {
		local = netip.AddrPortFrom(local.Addr(), t.nattPort)
	}
	s := t.socketFor(local)
	if s == nil {
		return fmt.Errorf("transport: no NAT-T socket for %s", local)
	}
	return t.write(s, []byte{0xff}, local.Addr(), remote)
}

func (t *Transport) write(s *socket, data []byte, src netip.Addr, remote netip.AddrPort) error {
	dst := net.UDPAddrFromAddrPort(remote)
	var err error
	switch {
	case s.v4 != nil:
		var cm *ipv4.ControlMessage
		if src.IsValid() && !src.IsUnspecified() && s.local.Addr().IsUnspecified() {
			cm = &ipv4.ControlMessage{Src: src.AsSlice()}
		}
		_, err = s.v4.WriteTo(data, cm, dst)
	default:
		var cm *ipv6.ControlMessage
		if src.IsValid() && !src.IsUnspecified() && s.local.Addr().IsUnspecified() {
			cm = &ipv6.ControlMessage{Src: src.AsSlice()}
		}
		_, err = s.v6.WriteTo(data, cm, dst)
	}
	if err != nil {
		t.stats.err.Add(1)
		return fmt.Errorf("transport: send to %s: %w", remote, err)
	}
	return nil
}

// socketFor finds the socket bound to local's port whose address is
// local's address or a wildcard of its family.
func (t *Transport) socketFor(local netip.AddrPort) *socket {
	a := local.Addr().Unmap()
	var wildcard *socket
	for _, s := range t.socks {
		if s.local.Port() != local.Port() {
			continue
		}
		sa := s.local.Addr()
		if sa == a {
			return s
		}
		if sa.IsUnspecified() && sa.Is4() == a.Is4() && wildcard == nil {
			wildcard = s
		}
	}
	return wildcard
}

// Close stops reading and closes the sockets. Handlers are not called after
// Close returns.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closeSockets()
		t.wg.Wait()
	})
	return nil
}

func (t *Transport) closeSockets() {
	for _, s := range t.socks {
		s.conn.Close()
	}
}
