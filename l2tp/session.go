package l2tp

import (
	"fmt"
	"sync"
	"time"
)

type sessState int

const (
	sessWaitConnect sessState = iota // ICRP sent, waiting for ICCN
	sessEstablished
	sessClosed
)

func (s sessState) String() string {
	switch s {
	case sessWaitConnect:
		return "wait-connect"
	case sessEstablished:
		return "established"
	}
	return "closed"
}

// Session is one L2TP session: one PPP link of a tunnel. *Session
// implements the Link interface of package ppp. Its methods are safe for
// concurrent use.
type Session struct {
	t   *tunnel
	srv *Server
	// Guarded by srv.mu.
	localID, remoteID                      uint16
	callSerial                             uint32
	txSpeed                                uint32
	state                                  sessState
	sequencing                             bool   // we send Ns on data messages
	seqIn                                  bool   // the peer sends Ns
	nextNs                                 uint16 // next Ns expected from the peer
	ns                                     uint16 // our next data Ns
	handler                                FrameHandler
	established                            time.Time
	halfOpen                               *time.Timer
	framesIn, framesOut, bytesIn, bytesOut uint64
}

// WriteFrame sends one PPP frame starting at the protocol field; l2tp adds
// the FF 03 address and control bytes. frame is not retained.
func (s *Session) WriteFrame(frame []byte) error {
	if len(frame) == 0 || len(frame) > maxFrame {
		return fmt.Errorf("l2tp: WriteFrame: frame of %d bytes", len(frame))
	}
	srv := s.srv
	srv.mu.Lock()
	if s.state != sessEstablished || s.t.state != stateEstablished {
		srv.mu.Unlock()
		return errSessionClosed
	}
	tid, sid, seq, ns, to := s.t.remoteID, s.remoteID, s.sequencing, s.ns, s.t.peer
	if seq {
		s.ns++
	}
	s.framesOut++
	s.bytesOut += uint64(len(frame))
	srv.mu.Unlock()
	bp := dataBufs.Get().(*[]byte)
	b := appendData((*bp)[:0], tid, sid, seq, ns, frame)
	err := srv.conn.WriteTo(b, to)
	if cap(b) <= maxPooled {
		*bp = b
		dataBufs.Put(bp)
	}
	return err
}

// dataBufs recycles data message buffers: PacketConn.WriteTo does not
// retain them, so steady-state sending does not allocate.
var dataBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooled keeps rare huge frames from pinning big buffers in the pool.
const maxPooled = 4096

// Info returns a snapshot of the session.
func (s *Session) Info() SessionInfo {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.infoLocked()
}

func (s *Session) infoLocked() SessionInfo {
	return SessionInfo{
		Peer:           s.t.peer,
		TunnelID:       s.t.localID,
		RemoteTunnelID: s.t.remoteID,
		LocalID:        s.localID,
		RemoteID:       s.remoteID,
		HostName:       s.t.hostName,
		CallSerial:     s.callSerial,
		TxConnectSpeed: s.txSpeed,
		Sequencing:     s.sequencing,
		State:          s.state.String(),
		FramesIn:       s.framesIn,
		FramesOut:      s.framesOut,
		BytesIn:        s.bytesIn,
		BytesOut:       s.bytesOut,
		Established:    s.established,
	}
}

// Close ends the session with CDN (result 3, administrative) and closes
// its FrameHandler. Closing a closed session does nothing.
func (s *Session) Close() {
	var fx effects
	s.srv.mu.Lock()
	s.close(cdnAdministrative, 0, "session closed", &fx)
	s.srv.mu.Unlock()
	s.srv.run(&fx)
}

// close sends CDN and ends the session.
func (s *Session) close(result, errCode uint16, msg string, fx *effects) {
	if s.state == sessClosed {
		return
	}
	if s.t.state < stateClosing {
		s.t.sendCDN(s.remoteID, s.localID, result, errCode, msg, fx)
	}
	s.end(fx)
}

// end removes the session without a message and closes its handler.
func (s *Session) end(fx *effects) {
	if s.state == sessClosed {
		return
	}
	s.state = sessClosed
	if s.halfOpen != nil {
		s.halfOpen.Stop()
		s.halfOpen = nil
	}
	if s.t.sessions[s.localID] == s {
		delete(s.t.sessions, s.localID)
		s.srv.nsessions--
	}
	if h := s.handler; h != nil {
		s.handler = nil
		fx.calls = append(fx.calls, h.Close)
	}
	s.srv.log.Info("l2tp: session down", "peer", s.t.peer.Addr, "tunnel", s.t.localID, "session", s.localID)
}

// establish marks the session up and calls Config.NewSession after the
// lock is released.
func (s *Session) establish(fx *effects) {
	srv := s.srv
	s.state = sessEstablished
	s.established = time.Now()
	if s.halfOpen != nil {
		s.halfOpen.Stop()
		s.halfOpen = nil
	}
	srv.stats.SessionsOpened++
	srv.log.Info("l2tp: session up", "peer", s.t.peer.Addr, "tunnel", s.t.localID, "session", s.localID, "peer_session", s.remoteID)
	fx.calls = append(fx.calls, func() {
		var h FrameHandler
		var err error
		if srv.cfg.NewSession != nil {
			h, err = srv.cfg.NewSession(s)
		} else {
			err = fmt.Errorf("l2tp: no Config.NewSession")
		}
		var fx effects
		srv.mu.Lock()
		switch {
		case s.state != sessEstablished:
			if h != nil {
				fx.calls = append(fx.calls, h.Close)
			}
		case err != nil || h == nil:
			srv.log.Info("l2tp: session refused", "peer", s.t.peer.Addr, "session", s.localID, "err", err)
			srv.stats.Refused++
			s.close(cdnGeneralError, 0, "session refused", &fx)
			if h != nil {
				fx.calls = append(fx.calls, h.Close)
			}
		default:
			s.handler = h
		}
		srv.mu.Unlock()
		srv.run(&fx)
	})
}

func (s *Session) halfOpenExpired() {
	var fx effects
	s.srv.mu.Lock()
	if s.state == sessWaitConnect {
		s.close(cdnGeneralError, 0, "no ICCN", &fx)
	}
	s.srv.mu.Unlock()
	s.srv.run(&fx)
}
