package esp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec/internal/sockio"
)

// HandleUDPBatch passes a batch of ESP-in-UDP packets that a transport
// reading the shared port-4500 socket itself received into the engine's
// pipeline, the same one WithUDPConn feeds: crypto on all workers, packets
// of an SA leaving in the order they came, batched TUN writes. pkts[i]
// came from from[i] and starts at the SPI (the transport has already taken
// out IKE messages and keepalives). The packets are copied, not retained;
// HandleUDPBatch returns once they are queued, before they are decrypted,
// and blocks while every inbound batch is in use, which pushes back on the
// reader as the engine's own socket reader is pushed back. Batches of one
// socket must be passed from one goroutine in the order received, as the
// replay window and TCP expect. Drops are counted in Stats.
func (u *Userspace) HandleUDPBatch(pkts [][]byte, from []netip.AddrPort) error {
	if len(from) < len(pkts) {
		return errors.New("esp: HandleUDPBatch: fewer source addresses than packets")
	}
	// feedMu keeps Close from stopping the pipeline while a batch is
	// being queued.
	u.feedMu.RLock()
	defer u.feedMu.RUnlock()
	if u.closed.Load() {
		return ErrClosed
	}
	return u.feed(pkts, from)
}

// feed copies ESP packets into inbound batches and queues them; the
// caller keeps the pipeline alive (feedMu, or being one of its readers).
func (u *Userspace) feed(pkts [][]byte, from []netip.AddrPort) error {
	for len(pkts) > 0 {
		b := u.getBatch(u.inFree)
		if b == nil {
			return ErrClosed
		}
		n := 0
		for len(pkts) > 0 && n < len(b.pkts) {
			pkt, f := pkts[0], from[0]
			pkts, from = pkts[1:], from[1:]
			p := &b.pkts[n]
			if len(pkt) > len(p.buf)-inReadOffset {
				u.cnt.inTruncated.Add(1) // cannot be ours: larger than any buffer we read into
				continue
			}
			p.sa, p.err = nil, nil
			p.off, p.n = inReadOffset, len(pkt)
			p.from = netip.AddrPortFrom(f.Addr().Unmap(), f.Port())
			copy(p.buf[inReadOffset:], pkt)
			if len(pkt) == 0 {
				u.cnt.inTruncated.Add(1)
				continue // classifyIn skips empty slots as consumed
			}
			n++
		}
		if n == 0 {
			u.inFree <- b
			continue
		}
		b.n = n
		u.classifyIn(b)
		u.submit(b, u.inOrder)
	}
	return nil
}

// groReader is the state of a UDP socket read with UDP GRO: coalesced
// datagrams land in staging buffers and are split into packets there.
type groReader struct {
	r       *sockio.Reader
	bufs    [][]byte
	sizes   []int
	from    []netip.AddrPort
	esp     [][]byte
	espFrom []netip.AddrPort
}

// groStaging is the size of each staging buffer: a coalesced datagram
// is at most 64 KiB.
const groStaging = 65535

// newGROReader turns on UDP GRO on s and returns its reader, or nil when
// the kernel refuses (then readSock reads it packet by packet).
func newGROReader(s *udpSock, size int) *groReader {
	r, err := sockio.NewReader(s.c, size, sockio.GROSpace+16)
	if err != nil || !sockio.EnableUDPGRO(s.c) {
		return nil
	}
	g := &groReader{
		r:       r,
		bufs:    make([][]byte, size),
		sizes:   make([]int, size),
		from:    make([]netip.AddrPort, size),
		esp:     make([][]byte, 0, 4*size),
		espFrom: make([]netip.AddrPort, 0, 4*size),
	}
	mem := make([]byte, size*groStaging) // pages the kernel never fills are never touched
	for i := range g.bufs {
		g.bufs[i] = mem[i*groStaging : (i+1)*groStaging : (i+1)*groStaging]
	}
	return g
}

// readUDPGRO is the inbound reader of a WithUDPConn socket with UDP GRO:
// a peer's GSO burst arrives in one datagram, which is split into its
// segments (RFC 3948 section 2.2 tells each apart: keepalive, IKE with
// the non-ESP marker, or ESP) and the ESP packets fed to the pipeline.
func (u *Userspace) readUDPGRO(g *groReader) {
	defer u.wg.Done()
	for {
		n, err := g.r.Read(g.bufs, g.sizes, g.from)
		if err != nil {
			if u.stopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			u.logErr("esp: socket read", err)
			select {
			case <-u.closing:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		g.esp, g.espFrom = g.esp[:0], g.espFrom[:0]
		for i := range n {
			data := g.bufs[i][:g.sizes[i]]
			seg, ok := sockio.GROSegment(g.r.Control(i))
			if !ok || seg >= len(data) {
				seg = len(data)
			}
			for first := true; first || len(data) > 0; first = false {
				pkt := data[:min(seg, len(data))]
				data = data[len(pkt):]
				switch {
				case len(pkt) == 1 && pkt[0] == 0xff:
					u.cnt.keepalivesRecv.Add(1)
				case len(pkt) >= 4 && binary.BigEndian.Uint32(pkt) == 0:
					u.cnt.nonESP.Add(1)
					u.cfg.nonESP(pkt, g.from[i])
				default:
					if len(g.esp) == cap(g.esp) {
						if u.feed(g.esp, g.espFrom) != nil {
							return
						}
						g.esp, g.espFrom = g.esp[:0], g.espFrom[:0]
					}
					g.esp = append(g.esp, pkt)
					g.espFrom = append(g.espFrom, g.from[i])
				}
			}
		}
		if len(g.esp) > 0 && u.feed(g.esp, g.espFrom) != nil {
			return
		}
	}
}
