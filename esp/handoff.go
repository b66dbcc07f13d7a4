package esp

import (
	"errors"
	"net/netip"
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
