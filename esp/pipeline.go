package esp

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.zx2c4.com/wireguard/tun"
)

// inReadOffset is where received ESP packets start in their buffers: room
// in front for the virtio header the TUN device writes and for the IP
// header a transport-mode packet gets back after decryption.
const inReadOffset = Headroom

// packet is one packet's slot in a batch.
type packet struct {
	buf  []byte // the whole buffer; capacity is fixed
	off  int    // payload start in buf
	n    int    // payload length
	sa   *saState
	seq  uint64
	nh   byte
	err  error
	from netip.AddrPort
	out  []byte // outbound: the sealed ESP packet
	// local is the WithLocalUDP handler an accepted inbound datagram goes
	// to instead of the TUN device; off/n are then the UDP payload.
	local func(LocalDatagram)
}

// batch is the unit of work of the pipeline. A worker signals done when
// the crypto is finished; the in-order writer waits for it, so batches
// leave in the order they were read while workers finish in any order.
type batch struct {
	done  chan struct{} // capacity 1, reused
	out   bool
	n     int
	pkts  []packet
	bufs  [][]byte         // TUN read/write views
	sizes []int            // TUN read sizes
	from  []netip.AddrPort // socket read source addresses
	// outbound sends, grouped by socket
	udp      []ipv4.Message
	udpSocks []*udpSock // the socket of each udp message
	// raw ESP sends per family: packets and their destinations
	raw4, raw6     [][]byte
	raw4To, raw6To []netip.Addr
	// inbound TUN writes
	tw [][]byte
	// UDP_SEGMENT control messages for GSO sends
	oob []byte
}

func newBatch(size, bufSize int, out bool) *batch {
	b := &batch{
		done:  make(chan struct{}, 1),
		out:   out,
		pkts:  make([]packet, size),
		bufs:  make([][]byte, size),
		sizes: make([]int, size),
		from:  make([]netip.AddrPort, size),
		tw:    make([][]byte, 0, size),
		oob:   make([]byte, size*segmentCmsgSpace),
	}
	mk := func() []ipv4.Message {
		m := make([]ipv4.Message, 0, size)
		return m
	}
	b.udp = mk()
	b.raw4, b.raw6 = make([][]byte, 0, size), make([][]byte, 0, size)
	b.raw4To, b.raw6To = make([]netip.Addr, 0, size), make([]netip.Addr, 0, size)
	b.udpSocks = make([]*udpSock, 0, size)
	mem := make([]byte, size*bufSize)
	for i := range b.pkts {
		b.pkts[i].buf = mem[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]
	}
	return b
}

func (u *Userspace) startPipeline() {
	w := u.cfg.workers
	nb := 2*w + 2 // batches per direction in flight: bounds memory
	u.work = make(chan *batch, 2*nb)
	u.outOrder = make(chan *batch, nb)
	u.inOrder = make(chan *batch, nb)
	u.outFree = make(chan *batch, nb)
	u.inFree = make(chan *batch, nb)
	outBuf := Headroom + u.mtu + Tailroom
	if outBuf < 2048 {
		outBuf = 2048
	}
	for range nb {
		u.outFree <- newBatch(u.cfg.batch, outBuf, true)
		u.inFree <- newBatch(u.cfg.batch, u.cfg.inBufSize, false)
	}
	for range w {
		u.pipes.Add(1)
		go u.worker()
	}
	u.pipes.Add(2)
	go u.writeOut()
	go u.writeIn()
	u.wg.Add(1)
	go u.readTUN()
	for _, s := range u.udpAll {
		if u.cfg.nonESP != nil {
			s.reading = true
			u.wg.Add(1)
			if g := newGROReader(s, u.cfg.batch); g != nil {
				go u.readUDPGRO(g)
			} else {
				go u.readSock(s.br, true, false)
			}
		}
	}
	if u.raw4 != nil {
		u.wg.Add(2)
		go u.readSock(u.raw4.br, false, true)
		go u.readSock(u.raw6.br, false, false)
	}
	u.wg.Add(1)
	go u.housekeeping()
}

// stopPipeline runs after every reader has returned.
func (u *Userspace) stopPipeline() {
	close(u.work)
	close(u.outOrder)
	close(u.inOrder)
	u.pipes.Wait()
}

func (u *Userspace) getBatch(free chan *batch) *batch {
	select {
	case b := <-free:
		return b
	case <-u.closing:
		return nil
	}
}

func (u *Userspace) submit(b *batch, order chan *batch) {
	u.work <- b
	order <- b
}

func (u *Userspace) worker() {
	defer u.pipes.Done()
	sc := newScratch()
	for b := range u.work {
		if b.out {
			sealBatch(b, sc)
		} else {
			openBatch(b, sc)
		}
		b.done <- struct{}{}
	}
}

// sealBatch encrypts every packet of b that classifyOut gave an SA.
func sealBatch(b *batch, sc *scratch) {
	for i := range b.n {
		p := &b.pkts[i]
		if p.sa == nil {
			continue
		}
		s := p.sa
		cfg := s.cfg.Load()
		p.out, p.err = s.suite.seal(sc, p.buf, p.off, p.n, p.nh, cfg.SPI, p.seq, cfg.ESN, nil)
	}
}

// openBatch authenticates and decrypts every packet of b that classifyIn
// accepted; the replay window is updated later, in order, by finishIn.
func openBatch(b *batch, sc *scratch) {
	for i := range b.n {
		p := &b.pkts[i]
		if p.sa == nil || p.err != nil {
			continue
		}
		pl, nh, err := p.sa.suite.open(sc, p.buf[p.off:p.off+p.n], p.seq, p.sa.cfg.Load().ESN)
		if err != nil {
			p.err = err
			if err == ErrAuth {
				p.sa.authFailures.Add(1)
			}
			continue
		}
		p.off += espHeaderLen + p.sa.suite.ivLen
		p.n, p.nh = len(pl), nh
	}
}

// readTUN is the outbound reader.
func (u *Userspace) readTUN() {
	defer u.wg.Done()
	for {
		b := u.getBatch(u.outFree)
		if b == nil {
			return
		}
		for i := range b.bufs {
			b.bufs[i] = b.pkts[i].buf
		}
		n, err := u.dev.Read(b.bufs, b.sizes, Headroom)
		if err != nil && n == 0 {
			u.outFree <- b
			if u.stopped() || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, tun.ErrTooManySegments) {
				u.cnt.outMalformed.Add(1)
				continue
			}
			u.logErr("esp: TUN read", err)
			select {
			case <-u.closing:
				return
			case <-time.After(10 * time.Millisecond): // a failing device must not spin
			}
			continue
		}
		b.n = n
		u.classifyOut(b)
		u.submit(b, u.outOrder)
	}
}

// classifyOut finds policy and SA for each packet of b and assigns
// sequence numbers, in read order so that they ascend on the wire.
func (u *Userspace) classifyOut(b *batch) {
	now := u.cfg.now().UnixNano()
	u.mu.RLock()
	defer u.mu.RUnlock()
	for i := range b.n {
		p := &b.pkts[i]
		p.sa, p.err, p.out = nil, nil, nil
		p.off, p.n = Headroom, b.sizes[i]
		f, ok := parseFlow(p.buf[p.off : p.off+p.n])
		if !ok {
			u.cnt.outMalformed.Add(1)
			continue
		}
		ps := u.t.spdOut.lookup(&f)
		if ps == nil {
			u.cnt.outNoPolicy.Add(1)
			continue
		}
		switch ps.p.Action {
		case ActionDiscard:
			u.cnt.outDiscard.Add(1)
			continue
		case ActionBypass:
			u.cnt.outBypass.Add(1)
			continue
		}
		s := u.t.outSA(ps.p.ReqID)
		if s == nil || s.dead.Load() {
			u.cnt.outNoSA.Add(1)
			u.acquire(ps, &f, now)
			continue
		}
		if s.cfg.Load().Mode == ModeTransport {
			p.off += f.hdrLen
			p.n = f.totalLen - f.hdrLen
			p.nh = f.proto
		} else {
			p.n = f.totalLen
			p.nh = protoIPv4
			if f.src.Is6() {
				p.nh = protoIPv6
			}
		}
		if p.off+p.n+maxAlign+2+s.suite.icvLen > cap(p.buf) {
			u.cnt.outMalformed.Add(1)
			continue
		}
		seq := s.seq.Add(1)
		// RFC 4303 section 3.3.3: the counter must not cycle; the SA has
		// to be rekeyed before 2^32 (or 2^64 with ESN) packets.
		if (!s.cfg.Load().ESN && seq > math.MaxUint32) || seq == 0 {
			s.seq.Store(math.MaxUint64 - 1<<32) // stay exhausted
			u.cnt.outSeqOverflow.Add(1)
			u.expireHard(s)
			continue
		}
		soft, hard := s.account(p.n, now)
		if hard {
			u.expireHard(s)
			continue
		}
		if soft {
			u.expireSoft(s)
		}
		p.sa, p.seq = s, seq
	}
}

// acquire raises EventAcquire at most once a second per policy.
func (u *Userspace) acquire(ps *policyState, f *flow, now int64) {
	last := ps.lastAcquire.Load()
	if now-last < int64(time.Second) || !ps.lastAcquire.CompareAndSwap(last, now) {
		return
	}
	u.emit(Event{
		Kind:   EventAcquire,
		ReqID:  ps.p.ReqID,
		Policy: ps.p,
		Src:    Selector{Start: f.src, End: f.src, Proto: f.proto, StartPort: f.sport, EndPort: f.sport},
		Dst:    Selector{Start: f.dst, End: f.dst, Proto: f.proto, StartPort: f.dport, EndPort: f.dport},
		Packet: Selector{Start: f.dst, End: f.dst, Proto: f.proto, StartPort: f.dport, EndPort: f.dport},
	})
}

func (u *Userspace) expireSoft(s *saState) {
	if s.softSent.CompareAndSwap(false, true) {
		u.emit(Event{Kind: EventSoftExpire, SA: s.id, ReqID: s.cfg.Load().ReqID, Stats: s.stats()})
	}
}

// expireHard stops the SA at once; housekeeping removes it from the tables.
func (u *Userspace) expireHard(s *saState) {
	s.dead.Store(true)
	if s.hardSent.CompareAndSwap(false, true) {
		u.hardStopped(s) // the next tick removes it
		u.emit(Event{Kind: EventHardExpire, SA: s.id, ReqID: s.cfg.Load().ReqID, Stats: s.stats()})
	}
}

// writeOut sends sealed batches in read order.
func (u *Userspace) writeOut() {
	defer u.pipes.Done()
	for b := range u.outOrder {
		<-b.done
		u.sendBatch(b)
		u.outFree <- b
	}
}

// sendBatch sends the sealed packets of b: ESP in UDP grouped into GSO
// sends per SA and sendmmsg calls per socket, raw ESP in one batch per
// address family.
func (u *Userspace) sendBatch(b *batch) {
	b.udp, b.udpSocks = b.udp[:0], b.udpSocks[:0]
	b.raw4, b.raw6, b.raw4To, b.raw6To = b.raw4[:0], b.raw6[:0], b.raw4To[:0], b.raw6To[:0]
	oob := 0
	for i := 0; i < b.n; i++ {
		p := &b.pkts[i]
		if p.sa == nil || p.err != nil {
			continue
		}
		d := p.sa.outer.Load()
		b.bufs[i] = p.out
		u.cnt.outPackets.Add(1)
		u.cnt.outBytes.Add(uint64(p.n))
		if !d.encap {
			if d.ipAddr.Is4() {
				b.raw4, b.raw4To = append(b.raw4, p.out), append(b.raw4To, d.ipAddr)
			} else {
				b.raw6, b.raw6To = append(b.raw6, p.out), append(b.raw6To, d.ipAddr)
			}
			continue
		}
		sock := d.sock
		// Coalesce the following packets of the same SA and size into
		// one UDP GSO send; the last segment may be shorter.
		j := i
		if sock != nil && sock.gso.Load() {
			size, total := len(p.out), len(p.out)
			for j+1 < b.n && j+1-i < udpGSOMaxSegments {
				q := &b.pkts[j+1]
				if q.sa != p.sa || q.err != nil || len(q.out) > size || total+len(q.out) > udpGSOMaxBytes {
					break
				}
				j++
				b.bufs[j] = q.out
				total += len(q.out)
				u.cnt.outPackets.Add(1)
				u.cnt.outBytes.Add(uint64(q.n))
				if len(q.out) < size {
					break
				}
			}
		}
		m := ipv4.Message{Buffers: b.bufs[i : j+1], Addr: d.udp}
		if j > i {
			m.OOB = segmentCmsg(b.oob[oob:], len(p.out))
			oob += segmentCmsgSpace
		}
		b.udp = append(b.udp, m)
		b.udpSocks = append(b.udpSocks, sock)
		i = j
	}
	// One sendmmsg per run of messages for the same socket.
	for k := 0; k < len(b.udp); {
		e := k + 1
		for e < len(b.udp) && b.udpSocks[e] == b.udpSocks[k] {
			e++
		}
		u.sendUDP(b.udp[k:e], b.udpSocks[k])
		k = e
	}
	u.sendRaw(u.raw4, b.raw4, b.raw4To)
	u.sendRaw(u.raw6, b.raw6, b.raw6To)
}

// sendUDP sends ESP-in-UDP messages; a GSO message the kernel refuses
// turns GSO off for the socket and is sent again packet by packet.
func (u *Userspace) sendUDP(ms []ipv4.Message, s *udpSock) {
	if s == nil {
		u.send(ms, nil)
		return
	}
	for len(ms) > 0 {
		n, err := s.bc.WriteBatch(ms, 0)
		if err == nil && n > 0 {
			ms = ms[n:]
			continue
		}
		m := &ms[max(n, 0)]
		if len(m.OOB) > 0 {
			s.gso.Store(false)
			for k := range m.Buffers {
				u.send([]ipv4.Message{{Buffers: m.Buffers[k : k+1], Addr: m.Addr}}, s.bc)
			}
		} else {
			u.cnt.sendErrors.Add(1)
		}
		ms = ms[max(n, 0)+1:]
	}
}

// sendRaw sends raw ESP packets on s's sender; a packet the kernel
// refuses is counted and skipped.
func (u *Userspace) sendRaw(s *rawSock, bufs [][]byte, to []netip.Addr) {
	if len(bufs) == 0 {
		return
	}
	if s == nil {
		u.cnt.outNoSocket.Add(uint64(len(bufs)))
		return
	}
	for len(bufs) > 0 {
		n, err := s.snd.send(bufs, to)
		if err == nil {
			return
		}
		if n < len(bufs) && errors.Is(err, syscall.EMSGSIZE) {
			// Larger than the device's MTU: the sender does not fragment
			// (sockio.RawSender); the reading socket's kernel path does.
			if _, err := s.c.WriteToIP(bufs[n], &net.IPAddr{IP: to[n].AsSlice()}); err != nil {
				u.cnt.sendErrors.Add(1)
			}
		} else {
			u.cnt.sendErrors.Add(1)
		}
		n = min(n+1, len(bufs))
		bufs, to = bufs[n:], to[n:]
	}
}

func (u *Userspace) send(ms []ipv4.Message, bc batchConn) {
	if len(ms) == 0 {
		return
	}
	if bc == nil {
		u.cnt.outNoSocket.Add(uint64(len(ms)))
		return
	}
	for len(ms) > 0 {
		n, err := bc.WriteBatch(ms, 0)
		if err != nil {
			// Skip the message the kernel refused and go on with the rest.
			u.cnt.sendErrors.Add(1)
			n++
		}
		if n <= 0 {
			n = 1
		}
		ms = ms[min(n, len(ms)):]
	}
}

// readSock is an inbound reader for a UDP (encap) or raw ESP socket.
func (u *Userspace) readSock(br batchReader, encap, rawV4 bool) {
	defer u.wg.Done()
	for {
		b := u.getBatch(u.inFree)
		if b == nil {
			return
		}
		for i := range b.bufs {
			b.bufs[i] = b.pkts[i].buf[inReadOffset:]
		}
		n, err := br.readBatch(b.bufs, b.sizes, b.from)
		if err != nil || n == 0 {
			u.inFree <- b
			if u.stopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				u.logErr("esp: socket read", err)
				select {
				case <-u.closing:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		n = topUp(br, b, n)
		b.n = n
		for i := range n {
			p := &b.pkts[i]
			p.sa, p.err = nil, nil
			p.off, p.n = inReadOffset, b.sizes[i]
			p.from = b.from[i]
			data := p.buf[p.off : p.off+p.n]
			if rawV4 {
				// IPv4 raw sockets deliver the IP header too.
				if len(data) < 20 || int(data[0]&0x0f)*4 > len(data) {
					u.cnt.inTruncated.Add(1)
					p.n = 0
					continue
				}
				hl := int(data[0]&0x0f) * 4
				p.off += hl
				p.n -= hl
			} else if encap {
				// RFC 3948 section 2.2: keepalive 0xFF, non-ESP marker 0x00000000.
				if p.n == 1 && data[0] == 0xff {
					u.cnt.keepalivesRecv.Add(1)
					p.n = 0
					continue
				}
				if p.n >= 4 && binary.BigEndian.Uint32(data) == 0 {
					u.cnt.nonESP.Add(1)
					u.cfg.nonESP(data, p.from)
					p.n = 0
					continue
				}
			}
		}
		u.classifyIn(b)
		u.submit(b, u.inOrder)
	}
}

// topUp fills the rest of a short batch with the datagrams queued in the
// meantime, without waiting: a peer without segmentation offload (raw
// ESP) delivers a burst packet by packet, and a reader that hands on
// every few packets pays a wake-up, a pipeline pass and a TUN write for
// each (and the TUN device coalesces fewer TCP segments). It yields the
// processor between reads so that the workers and the writer run while
// more packets arrive, and stops at the first empty read or a full batch.
func topUp(br batchReader, b *batch, n int) int {
	for n < len(b.bufs) {
		runtime.Gosched()
		m, err := br.readMore(b.bufs[n:], b.sizes[n:], b.from[n:])
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	return n
}

// classifyIn finds the SA of every ESP packet and rejects replays before
// any crypto is spent on them.
func (u *Userspace) classifyIn(b *batch) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for i := range b.n {
		p := &b.pkts[i]
		if p.n == 0 {
			continue // consumed by the reader: keepalive, IKE, bad IP header
		}
		data := p.buf[p.off : p.off+p.n]
		if len(data) < espHeaderLen {
			u.cnt.inTruncated.Add(1)
			p.err = ErrTruncated
			continue
		}
		s := u.t.in[binary.BigEndian.Uint32(data)]
		if s == nil || s.dead.Load() {
			u.cnt.inUnknownSPI.Add(1)
			p.err = ErrUnknownSPI
			continue
		}
		if len(data) < espHeaderLen+s.suite.ivLen+2+s.suite.icvLen {
			u.cnt.inTruncated.Add(1)
			p.err = ErrTruncated
			continue
		}
		s.mu.Lock()
		seq := s.replay.infer(binary.BigEndian.Uint32(data[4:]), s.cfg.Load().ESN)
		ok := s.replay.check(seq)
		s.mu.Unlock()
		if !ok {
			s.replayDrops.Add(1)
			u.cnt.inReplay.Add(1)
			p.err = ErrReplay
			continue
		}
		p.sa, p.seq = s, seq
	}
}

// writeIn delivers opened batches to the TUN device in read order.
func (u *Userspace) writeIn() {
	defer u.pipes.Done()
	for b := range u.inOrder {
		<-b.done
		u.finishIn(b)
		u.inFree <- b
	}
}

func (u *Userspace) finishIn(b *batch) {
	now := u.cfg.now().UnixNano()
	b.tw = b.tw[:0]
	curOff := -1
	u.mu.RLock()
	locals := false
	for i := range b.n {
		p := &b.pkts[i]
		p.local = nil
		if p.sa == nil {
			continue
		}
		if p.err != nil {
			u.cnt.countInErr(p.err)
			continue
		}
		off, n, err := u.acceptIn(p, now)
		if err != nil {
			p.err = err
			u.cnt.countInErr(err)
			continue
		}
		if p.local != nil {
			locals = true
			continue
		}
		// The TUN device takes one offset per write call; SAs with
		// different IV sizes or modes put payloads at different offsets.
		if off != curOff && len(b.tw) > 0 {
			u.writeTUN(b.tw, curOff)
			b.tw = b.tw[:0]
		}
		curOff = off
		b.tw = append(b.tw, p.buf[:off+n])
	}
	u.mu.RUnlock()
	if len(b.tw) > 0 {
		u.writeTUN(b.tw, curOff)
	}
	if locals {
		deliverLocal(b)
	}
}

func (u *Userspace) writeTUN(bufs [][]byte, off int) {
	if _, err := u.dev.Write(bufs, off); err != nil {
		u.cnt.tunWriteErrors.Add(failedWrites(err, len(bufs)))
	}
}

// acceptIn runs the steps after decryption (RFC 4303 section 3.4.3 and
// RFC 4301 section 5.2): replay window update, dummy packet discard,
// inner header check and selector check, counters. It returns where the
// packet to hand to the TUN device is.
func (u *Userspace) acceptIn(p *packet, now int64) (int, int, error) {
	s := p.sa
	if s.dead.Load() {
		return 0, 0, ErrExpired
	}
	s.mu.Lock()
	ok := s.replay.update(p.seq)
	s.mu.Unlock()
	if !ok {
		s.replayDrops.Add(1)
		return 0, 0, ErrReplay
	}
	if p.nh == protoNoNext {
		return 0, 0, ErrDummy
	}
	off, n := p.off, p.n
	var f flow
	var local func(LocalDatagram)
	cfg := s.cfg.Load() // one snapshot per packet (UpdateSA replaces it)
	if cfg.Mode == ModeTunnel {
		if p.nh != protoIPv4 && p.nh != protoIPv6 {
			return 0, 0, ErrUnsupportedNH
		}
		var ok bool
		f, ok = parseFlow(p.buf[off : off+n])
		if !ok || (p.nh == protoIPv4) != f.src.Is4() {
			return 0, 0, ErrInnerPacket
		}
		n = f.totalLen // drop TFC padding (RFC 4303 section 2.7)
	} else if h := u.localFor(p, cfg); h != nil {
		var ok bool
		if f, ok = localFlow(p, cfg); !ok {
			return 0, 0, ErrInnerPacket
		}
		local = h
		n = f.totalLen
	} else {
		hl := 40
		if cfg.Dst.Addr().Unmap().Is4() {
			hl = 20
		}
		if p.nh == protoUDP && n >= 8 {
			// TFC padding behind a UDP datagram (RFC 4303 section 2.7,
			// possible in transport mode because UDP carries its length):
			// the rebuilt packet ends with the datagram, as the checksum
			// computed below and the receiving stack both assume.
			if ul := int(binary.BigEndian.Uint16(p.buf[off+4:])); ul >= 8 && ul < n {
				n = ul
			}
		}
		if off-hl < 10 || n+hl > 0xffff {
			return 0, 0, ErrInnerPacket
		}
		off -= hl
		n += hl
		buildTransportHeader(p.buf[off:off+n], p.from.Addr(), cfg.Dst.Addr().Unmap(), p.nh)
		var ok bool
		if f, ok = parseFlow(p.buf[off : off+n]); !ok {
			return 0, 0, ErrInnerPacket
		}
	}
	if !u.t.inboundAllowed(cfg.ReqID, &f) {
		return 0, 0, ErrSelector
	}
	soft, hard := s.account(n, now)
	if hard {
		u.expireHard(s)
		return 0, 0, ErrExpired
	}
	if soft {
		u.expireSoft(s)
	}
	u.cnt.inPackets.Add(1)
	u.cnt.inBytes.Add(uint64(n))
	if local != nil {
		u.cnt.inLocal.Add(1)
		p.local = local
		p.off += 8
		p.n = f.totalLen - f.hdrLen - 8
		return p.off, p.n, nil
	}
	return off, n, nil
}

// localFor returns the WithLocalUDP handler for a decrypted transport-mode
// payload, or nil when it is no UDP datagram to a registered port.
func (u *Userspace) localFor(p *packet, cfg *SA) func(LocalDatagram) {
	if len(u.cfg.local) == 0 || p.nh != protoUDP || p.n < 8 {
		return nil
	}
	return u.cfg.localHandler(binary.BigEndian.Uint16(p.buf[p.off+2:]))
}

// failedWrites estimates how many packets a failed TUN write lost: the
// wireguard device joins one error per refused write, and refuses the
// whole batch with a single error when it cannot coalesce it.
func failedWrites(err error, n int) uint64 {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return uint64(max(len(j.Unwrap()), 1))
	}
	return uint64(max(n, 1))
}
