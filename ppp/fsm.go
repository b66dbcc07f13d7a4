package ppp

import (
	"bytes"
	"time"
)

// fsmHandler is what one control protocol (LCP, IPCP, IPV6CP) adds to the
// option negotiation automaton of RFC 1661 section 4: its options and the
// "this layer" actions.
type fsmHandler interface {
	// resetCI restores the options we ask for to their initial values
	// (the automaton's "irc" before a new negotiation).
	resetCI()
	// appendCI appends the options of our next Configure-Request.
	appendCI(dst []byte) []byte
	// nakCI and rejCI apply the client's Configure-Nak or -Reject of our
	// request; false means the packet does not fit our request and is
	// discarded.
	nakCI(opts []option) bool
	rejCI(opts []option) bool
	// reqCI judges the client's Configure-Request: codeConfAck,
	// codeConfNak or codeConfRej and the options for a Nak or Reject.
	// rejectIfDisagree turns Naks into Rejects (Max-Failure reached).
	// ok false: the request is invalid and discarded.
	reqCI(opts []option, rejectIfDisagree bool) (code uint8, reply []byte, ok bool)
	// up is This-Layer-Up, down This-Layer-Down, finished
	// This-Layer-Finished.
	up()
	down()
	finished()
	// extCode handles codes beyond Code-Reject (LCP's echo, discard,
	// Protocol-Reject); false means the code is unknown here.
	extCode(p packet) bool
	// codeRejected tells whether a Code-Reject of code is tolerable (RXJ+).
	codeRejected(code uint8) bool
}

// fsm is the option negotiation automaton of RFC 1661 section 4.1 for one
// control protocol. It runs under the session's lock.
type fsm struct {
	s     *Session
	proto uint16
	h     fsmHandler
	state State

	reqID   uint8  // Identifier of our outstanding Configure-Request
	lastCR  []byte // its options, to check a Configure-Ack against
	nextID  uint8
	restart int // the restart counter
	timer   *time.Timer
	gen     uint64 // timer generation: stale timer callbacks compare it
	termID  uint8

	naksSent int // consecutive Configure-Naks sent (Max-Failure)
	naksRcvd int // Naks and Rejects received since the last Ack
}

func newFSM(s *Session, proto uint16, h fsmHandler) *fsm {
	return &fsm{s: s, proto: proto, h: h, state: StateInitial, nextID: 1}
}

func (f *fsm) name() string { return protoName(f.proto) }

// up is the Up event: the lower layer is ready.
func (f *fsm) up() {
	switch f.state {
	case StateInitial:
		f.state = StateClosed
	case StateStarting:
		f.irc(true)
		f.scr()
		f.state = StateReqSent
	}
}

// down is the Down event: the lower layer is gone.
func (f *fsm) down() {
	switch f.state {
	case StateClosed, StateClosing:
		f.stopTimer()
		f.state = StateInitial
	case StateStopped:
		f.state = StateStarting
	case StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.stopTimer()
		f.state = StateStarting
	case StateOpened:
		f.h.down()
		f.state = StateStarting
	}
}

// open is the administrative Open event.
func (f *fsm) open() {
	switch f.state {
	case StateInitial:
		f.state = StateStarting
	case StateClosed:
		f.irc(true)
		f.scr()
		f.state = StateReqSent
	case StateClosing:
		f.state = StateStopping
	}
}

// close is the administrative Close event.
func (f *fsm) close() {
	switch f.state {
	case StateStarting:
		f.state = StateInitial
		f.h.finished()
	case StateStopped:
		f.state = StateClosed
	case StateStopping:
		f.state = StateClosing
	case StateReqSent, StateAckRcvd, StateAckSent:
		f.irc(false)
		f.str()
		f.state = StateClosing
	case StateOpened:
		f.h.down()
		f.irc(false)
		f.str()
		f.state = StateClosing
	}
}

// timeout is the Restart timer's expiry: TO+ or TO-.
func (f *fsm) timeout() {
	if f.restart > 0 {
		switch f.state {
		case StateClosing, StateStopping:
			f.str()
		case StateReqSent, StateAckRcvd:
			f.scr()
			f.state = StateReqSent
		case StateAckSent:
			f.scr()
		}
		return
	}
	switch f.state {
	case StateClosing:
		f.state = StateClosed
		f.h.finished()
	case StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.state = StateStopped
		f.h.finished()
	}
}

// input handles one control packet of this protocol.
func (f *fsm) input(p packet) {
	if f.state == StateInitial || f.state == StateStarting {
		f.s.stats.Dropped++ // RFC 1661 4.1: not expected in these states
		return
	}
	switch p.code {
	case codeConfReq:
		f.rcvConfReq(p)
	case codeConfAck:
		f.rcvConfAck(p)
	case codeConfNak, codeConfRej:
		f.rcvConfNakRej(p)
	case codeTermReq:
		f.rcvTermReq(p)
	case codeTermAck:
		f.rcvTermAck()
	case codeCodeRej:
		f.rcvCodeRej(p)
	default:
		if !f.h.extCode(p) {
			f.s.sendCodeReject(f.proto, p)
		}
	}
}

func (f *fsm) rcvConfReq(p packet) {
	opts, err := parseOptions(p.data)
	if err != nil {
		f.s.malformed(f.name()+" Configure-Request", err)
		return
	}
	switch f.state {
	case StateClosed:
		f.sta(p.id)
		return
	case StateClosing, StateStopping:
		return
	case StateOpened:
		f.h.down()
		f.scr()
	case StateStopped:
		f.irc(true)
		f.scr()
	}
	code, reply, ok := f.h.reqCI(opts, f.naksSent >= f.s.cfg.maxFailure())
	if !ok {
		f.s.malformed(f.name()+" Configure-Request", errMalformed)
		if f.state == StateOpened || f.state == StateStopped {
			f.state = StateReqSent
		}
		return
	}
	if code == codeConfAck {
		reply = p.data
		f.naksSent = 0
	} else if code == codeConfNak {
		f.naksSent++
	}
	f.s.sendPacket(f.proto, code, p.id, reply)
	if code == codeConfAck {
		switch f.state {
		case StateAckRcvd:
			f.stopTimer()
			f.state = StateOpened
			f.h.up()
		default: // Req-Sent, Ack-Sent, Opened (after scr), Stopped (after scr)
			f.state = StateAckSent
		}
		return
	}
	switch f.state {
	case StateAckRcvd:
		// stays
	default:
		f.state = StateReqSent
	}
}

func (f *fsm) rcvConfAck(p packet) {
	if p.id != f.reqID || !bytes.Equal(p.data, f.lastCR) {
		f.s.stats.Dropped++ // RFC 1661 5.2: an Ack that does not match is invalid
		return
	}
	f.naksRcvd = 0
	switch f.state {
	case StateClosed, StateStopped:
		f.sta(p.id)
	case StateReqSent:
		f.irc(true)
		f.state = StateAckRcvd
	case StateAckRcvd:
		f.scr()
		f.state = StateReqSent
	case StateAckSent:
		f.irc(true)
		f.stopTimer()
		f.state = StateOpened
		f.h.up()
	case StateOpened:
		f.h.down()
		f.scr()
		f.state = StateReqSent
	}
}

func (f *fsm) rcvConfNakRej(p packet) {
	if p.id != f.reqID {
		f.s.stats.Dropped++
		return
	}
	opts, err := parseOptions(p.data)
	if err != nil {
		f.s.malformed(f.name()+" Configure-Nak/Reject", err)
		return
	}
	switch f.state {
	case StateClosed, StateStopped:
		f.sta(p.id)
		return
	case StateClosing, StateStopping:
		return
	}
	var ok bool
	if p.code == codeConfNak {
		ok = f.h.nakCI(opts)
	} else {
		ok = f.h.rejCI(opts)
	}
	if !ok {
		f.s.malformed(f.name()+" Configure-Nak/Reject", errMalformed)
		return
	}
	// A client that keeps refusing our request would loop forever: RFC
	// 1661 leaves the bound to the implementation, we stop after
	// Max-Configure refusals in a row.
	if f.naksRcvd++; f.naksRcvd > f.s.cfg.maxConfigure() {
		f.s.logf("client refuses our configuration", "proto", f.name())
		f.close()
		return
	}
	switch f.state {
	case StateReqSent, StateAckSent:
		f.irc(true)
		f.scr()
	case StateAckRcvd:
		f.scr()
		f.state = StateReqSent
	case StateOpened:
		f.h.down()
		f.scr()
		f.state = StateReqSent
	}
}

func (f *fsm) rcvTermReq(p packet) {
	switch f.state {
	case StateReqSent, StateAckRcvd, StateAckSent:
		f.sta(p.id)
		f.state = StateReqSent
	case StateOpened:
		f.h.down()
		f.restart = 0
		f.sta(p.id)
		f.startTimer()
		f.state = StateStopping
	default:
		f.sta(p.id)
	}
}

func (f *fsm) rcvTermAck() {
	switch f.state {
	case StateClosing:
		f.stopTimer()
		f.state = StateClosed
		f.h.finished()
	case StateStopping:
		f.stopTimer()
		f.state = StateStopped
		f.h.finished()
	case StateAckRcvd:
		f.state = StateReqSent
	case StateOpened:
		f.h.down()
		f.scr()
		f.state = StateReqSent
	}
}

func (f *fsm) rcvCodeRej(p packet) {
	if len(p.data) < headerLen {
		f.s.malformed(f.name()+" Code-Reject", errMalformed)
		return
	}
	if f.h.codeRejected(p.data[0]) {
		if f.state == StateAckRcvd {
			f.state = StateReqSent
		}
		return
	}
	f.rxjMinus()
}

// rxjMinus is the RXJ- event: the client rejected something we cannot do
// without.
func (f *fsm) rxjMinus() {
	switch f.state {
	case StateClosed, StateClosing:
		f.stopTimer()
		f.state = StateClosed
		f.h.finished()
	case StateStopped, StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.stopTimer()
		f.state = StateStopped
		f.h.finished()
	case StateOpened:
		f.h.down()
		f.irc(false)
		f.str()
		f.state = StateStopping
	}
}

// irc initializes the restart counter.
func (f *fsm) irc(configure bool) {
	if configure {
		f.restart = f.s.cfg.maxConfigure()
	} else {
		f.restart = DefaultMaxTerminate
	}
}

// scr sends a Configure-Request.
func (f *fsm) scr() {
	if f.state != StateReqSent && f.state != StateAckRcvd && f.state != StateAckSent {
		// A new negotiation, not the next step of one: start from our
		// preferred options again (pppd's fsm_sconfreq does the same).
		f.h.resetCI()
		f.naksSent, f.naksRcvd = 0, 0
	}
	f.reqID = f.nextID
	f.nextID++
	f.lastCR = f.h.appendCI(f.lastCR[:0])
	f.s.sendPacket(f.proto, codeConfReq, f.reqID, f.lastCR)
	f.restart--
	f.startTimer()
}

// str sends a Terminate-Request.
func (f *fsm) str() {
	f.termID = f.nextID
	f.nextID++
	f.s.sendPacket(f.proto, codeTermReq, f.termID, nil)
	f.restart--
	f.startTimer()
}

// sta sends a Terminate-Ack.
func (f *fsm) sta(id uint8) { f.s.sendPacket(f.proto, codeTermAck, id, nil) }

func (f *fsm) startTimer() {
	f.stopTimer()
	gen := f.gen
	s := f.s
	f.timer = time.AfterFunc(s.cfg.restartTimer(), func() {
		s.mu.Lock()
		if f.gen != gen || s.dead {
			s.mu.Unlock()
			return
		}
		f.timer = nil
		f.timeout()
		s.unlockAndFlush()
	})
}

func (f *fsm) stopTimer() {
	f.gen++
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
}
