//go:build linux

package xfrm

import (
	"errors"
	"net/netip"
	"os"
	"time"

	"github.com/goipsec/ipsec/esp"
	"golang.org/x/sys/unix"
)

// readEvents turns XFRM expire and acquire messages into esp.Events until
// Close.
func (d *DataPlane) readEvents() {
	defer d.wg.Done()
	for {
		msgs, _, err := d.mon.Receive()
		if err != nil {
			select {
			case <-d.done:
				return
			default:
			}
			switch {
			case errors.Is(err, unix.ENOBUFS):
				// The kernel dropped messages: count at least one.
				d.dropped.Add(1)
				d.cfg.logger.Warn("xfrm: event socket overflowed, events lost")
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			case errors.Is(err, os.ErrClosed):
				return
			default:
				d.cfg.logger.Warn("xfrm: reading events", "err", err)
				time.Sleep(50 * time.Millisecond) // no busy loop on a persistent error
			}
			continue
		}
		for _, m := range msgs {
			d.handleEvent(m.Header.Type, m.Data)
		}
	}
}

// handleEvent processes one multicast message; messages about state or
// policies of others (other tags, not in the registry) are ignored.
func (d *DataPlane) handleEvent(typ uint16, data []byte) {
	switch typ {
	case msgExpire:
		m, err := parseExpire(data)
		if err != nil {
			d.cfg.logger.Warn("xfrm: expire message", "err", err)
			return
		}
		if !d.cfg.ownsIfID(m.sa.ifID) || !d.ownsMark(m.sa.hasMark, m.sa.markValue) {
			return
		}
		d.mu.Lock()
		e := d.byKern[kernKey{m.sa.dst, m.sa.spi}]
		if e == nil || d.closed {
			d.mu.Unlock()
			return
		}
		ev := esp.Event{Kind: esp.EventSoftExpire, SA: e.id, ReqID: e.sa.ReqID,
			Stats: esp.SAStats{Bytes: m.sa.bytes, Packets: m.sa.packets}} // the message carries the state's current lifetime counters
		if m.hard {
			// The kernel has deleted the state.
			ev.Kind = esp.EventHardExpire
			d.forgetLocked(e)
			if err := d.resyncLocked(ev.ReqID); err != nil {
				d.cfg.logger.Warn("xfrm: after hard expiry", "child_sa", e.id.String(), "err", err)
			}
		}
		d.mu.Unlock()
		d.emit(ev)
	case msgAcquire:
		m, err := parseAcquire(data)
		if err != nil {
			d.cfg.logger.Warn("xfrm: acquire message", "err", err)
			return
		}
		if !d.cfg.ownsIfID(m.ifID) || !d.ownsMark(m.hasMark, m.markValue) {
			return
		}
		d.mu.Lock()
		pe := d.byKSel[kselKey{m.policyDir, m.policy, m.ifID}]
		var ev esp.Event
		if pe != nil && !d.closed {
			// The triggering packet's addresses, protocol and ports: the
			// engine's first traffic selectors (RFC 7296 section 2.9).
			pk := &m.packet
			one := func(a netip.Addr, port uint16) esp.Selector {
				return esp.Selector{Start: a, End: a, Proto: pk.proto, StartPort: port, EndPort: port}
			}
			dst := one(pk.dst.Addr(), pk.dstPort)
			ev = esp.Event{
				Kind: esp.EventAcquire, ReqID: pe.p.ReqID, Policy: pe.p,
				Src: one(pk.src.Addr(), pk.srcPort), Dst: dst, Packet: dst,
			}
		}
		d.mu.Unlock()
		if pe != nil {
			d.emit(ev)
		}
	}
}

func (d *DataPlane) ownsMark(has bool, value uint32) bool {
	if d.cfg.markMask == 0 {
		return !has || value == 0
	}
	return has && value == d.cfg.markValue
}
