package ppp

import (
	"encoding/binary"
	"time"
)

// LCP configuration options, RFC 1661 section 6 and IANA.
const (
	lcpMRU   = 1
	lcpACCM  = 2
	lcpAuth  = 3
	lcpMagic = 5
	lcpPFC   = 7
	lcpACFC  = 8
)

const (
	// minMRU is the smallest MRU we accept from a client: below it not
	// even an LCP packet of ours fits (RFC 1661 section 6.1 allows the
	// peer to ask for less, and pppd Naks such values too).
	minMRU = 128
	// defaultPeerMRU is what we may send when the client names no MRU
	// (RFC 1661 section 6.1).
	defaultPeerMRU = 1500
	// chapMD5 and chapMSv2 are the CHAP algorithms of RFC 1994 and RFC 2759.
	chapMD5  = 5
	chapMSv2 = 0x81
)

// lcpOptions is the LCP state of a session: what we ask for and what the
// client asked for.
type lcpOptions struct {
	magic     uint32 // ours
	peerMagic uint32
	sendMRU   bool
	mru       uint16 // the MRU we ask for
	sendMagic bool
	authIdx   int // index into Config.Auth of the protocol we ask for
	peerMRU   uint16
	pfc, acfc bool // the client compresses (accepted, not used by us)
}

// lcpHandler is the Session seen as LCP's fsmHandler.
type lcpHandler Session

func (h *lcpHandler) s() *Session { return (*Session)(h) }

func (h *lcpHandler) resetCI() {
	o := &h.lcpO
	o.sendMRU, o.mru = true, h.cfg.mru()
	o.sendMagic = true
	o.authIdx = 0
	o.peerMRU = defaultPeerMRU
	o.peerMagic = 0
	o.pfc, o.acfc = false, false
}

// appendAuth appends the Authentication-Protocol option for a.
func appendAuth(dst []byte, a AuthProtocol) []byte {
	switch a {
	case AuthMSCHAPv2:
		return appendOption(dst, lcpAuth, byte(protoCHAP>>8), byte(protoCHAP&0xff), chapMSv2)
	case AuthCHAPMD5:
		return appendOption(dst, lcpAuth, byte(protoCHAP>>8), byte(protoCHAP&0xff), chapMD5)
	}
	return appendOption16(dst, lcpAuth, protoPAP)
}

// authFromOption maps an Authentication-Protocol option value to ours.
func authFromOption(d []byte) (AuthProtocol, bool) {
	if len(d) < 2 {
		return 0, false
	}
	switch binary.BigEndian.Uint16(d) {
	case protoPAP:
		return AuthPAP, len(d) == 2
	case protoCHAP:
		if len(d) != 3 {
			return 0, false
		}
		switch d[2] {
		case chapMD5:
			return AuthCHAPMD5, true
		case chapMSv2:
			return AuthMSCHAPv2, true
		}
	}
	return 0, false
}

func (h *lcpHandler) appendCI(dst []byte) []byte {
	o := &h.lcpO
	if o.sendMRU {
		dst = appendOption16(dst, lcpMRU, o.mru)
	}
	if o.authIdx < len(h.cfg.Auth) {
		dst = appendAuth(dst, h.cfg.Auth[o.authIdx])
	}
	if o.sendMagic {
		dst = appendOption32(dst, lcpMagic, o.magic)
	}
	return dst
}

func (h *lcpHandler) nakCI(opts []option) bool {
	o := &h.lcpO
	for _, op := range opts {
		switch op.typ {
		case lcpMRU:
			if len(op.data) != 2 {
				return false
			}
			// The client wants to send us frames of another size: take
			// a smaller one, or stop asking if it wants larger ones
			// (then the default of 1500 applies, which L2TP carries).
			if v := binary.BigEndian.Uint16(op.data); v >= minMRU && v < o.mru {
				o.mru = v
			} else {
				o.sendMRU = false
			}
		case lcpAuth:
			if o.authIdx >= len(h.cfg.Auth) {
				return false
			}
			// Move to the protocol the client suggests if we allow it,
			// else to the next one we allow (RFC 1661 6.2).
			if a, ok := authFromOption(op.data); ok {
				for i := o.authIdx + 1; i < len(h.cfg.Auth); i++ {
					if h.cfg.Auth[i] == a {
						o.authIdx = i
						goto next
					}
				}
			}
			o.authIdx++
			if o.authIdx >= len(h.cfg.Auth) {
				h.s().logf("client accepts none of our authentication protocols")
				h.s().lcp.close()
				return true
			}
		case lcpMagic:
			if len(op.data) != 4 {
				return false
			}
			o.magic = h.s().randomMagic()
		}
	next:
	}
	return true
}

func (h *lcpHandler) rejCI(opts []option) bool {
	o := &h.lcpO
	for _, op := range opts {
		switch op.typ {
		case lcpMRU:
			o.sendMRU = false
		case lcpAuth:
			// Authentication is not optional for a server.
			h.s().logf("client rejects authentication")
			h.s().lcp.close()
			return true
		case lcpMagic:
			o.sendMagic = false
		}
	}
	return true
}

func (h *lcpHandler) reqCI(opts []option, rejectIfDisagree bool) (uint8, []byte, bool) {
	o := &h.lcpO
	var nak, rej []byte
	mru, magic, pfc, acfc := uint16(defaultPeerMRU), uint32(0), false, false
	for _, op := range opts {
		switch op.typ {
		case lcpMRU:
			if len(op.data) != 2 {
				rej = append(rej, op.raw...)
				continue
			}
			v := binary.BigEndian.Uint16(op.data)
			if v < minMRU {
				if rejectIfDisagree {
					rej = append(rej, op.raw...)
				} else {
					nak = appendOption16(nak, lcpMRU, minMRU)
				}
				continue
			}
			mru = v
		case lcpACCM:
			// Meaningless on L2TP (synchronous framing); accepted.
			if len(op.data) != 4 {
				rej = append(rej, op.raw...)
			}
		case lcpMagic:
			if len(op.data) != 4 {
				rej = append(rej, op.raw...)
				continue
			}
			v := binary.BigEndian.Uint32(op.data)
			// RFC 1661 6.4: zero is illegal; our own number means the
			// link may be looped back. Either way suggest another one.
			if v == 0 || (o.sendMagic && v == o.magic) {
				if rejectIfDisagree {
					rej = append(rej, op.raw...)
				} else {
					nak = appendOption32(nak, lcpMagic, h.s().randomMagic())
				}
				continue
			}
			magic = v
		case lcpPFC, lcpACFC:
			if len(op.data) != 0 {
				rej = append(rej, op.raw...)
				continue
			}
			if op.typ == lcpPFC {
				pfc = true
			} else {
				acfc = true
			}
		default:
			// Authentication-Protocol (the server does not authenticate
			// itself to the client), Quality-Protocol, callback, MRRU,
			// endpoint discriminator and the rest.
			rej = append(rej, op.raw...)
		}
	}
	switch {
	case rej != nil:
		return codeConfRej, rej, true
	case nak != nil:
		return codeConfNak, nak, true
	}
	o.peerMRU, o.peerMagic, o.pfc, o.acfc = mru, magic, pfc, acfc
	return codeConfAck, nil, true
}

func (h *lcpHandler) up() {
	s := h.s()
	s.phase = PhaseAuthenticate
	s.startEcho()
	s.startAuth()
}

func (h *lcpHandler) down() {
	s := h.s()
	s.stopEcho()
	s.stopAuthTimer()
	s.ipcp.down()
	s.ip6cp.down()
	if s.phase != PhaseDead {
		s.phase = PhaseTerminate
	}
}

func (h *lcpHandler) finished() {
	h.s().end("LCP finished", true)
}

func (h *lcpHandler) codeRejected(code uint8) bool {
	// The codes a client may not know: echo, discard, identification.
	return code >= codeEchoReq
}

func (h *lcpHandler) extCode(p packet) bool {
	s := h.s()
	switch p.code {
	case codeProtoRej:
		if len(p.data) < 2 {
			s.malformed("LCP Protocol-Reject", errMalformed)
			return true
		}
		if s.lcp.state != StateOpened {
			s.stats.Dropped++
			return true
		}
		switch proto := binary.BigEndian.Uint16(p.data); proto {
		case protoIPCP:
			s.ipcp.rxjMinus()
		case protoIPV6CP:
			s.ip6cp.rxjMinus()
		case protoLCP, protoPAP, protoCHAP:
			// RFC 1661 5.7: the link cannot work without these.
			s.logf("client rejects a required protocol", "proto", protoName(proto))
			s.lcp.rxjMinus()
		default:
			s.stats.Dropped++
		}
	case codeEchoReq:
		if s.lcp.state != StateOpened {
			s.stats.Dropped++
			return true
		}
		if len(p.data) < 4 {
			s.malformed("LCP Echo-Request", errMalformed)
			return true
		}
		if m := binary.BigEndian.Uint32(p.data); m != 0 && h.lcpO.sendMagic && m == h.lcpO.magic {
			s.logf("LCP echo with our own magic number: the link may be looped back")
			s.stats.Dropped++
			return true
		}
		rep := binary.BigEndian.AppendUint32(make([]byte, 0, len(p.data)), h.ourMagic())
		rep = s.fit(append(rep, p.data[4:]...), headerLen)
		s.sendPacket(protoLCP, codeEchoRep, p.id, rep)
	case codeEchoRep:
		if s.lcp.state != StateOpened || len(p.data) < 4 {
			s.stats.Dropped++
			return true
		}
		if m := binary.BigEndian.Uint32(p.data); m != 0 && h.lcpO.sendMagic && m == h.lcpO.magic {
			s.stats.Dropped++ // our own request looped back
			return true
		}
		s.echoOut = 0
		s.stats.EchoReplies++
	case codeDiscard, codeIdentif, codeTimeRemai:
		// Silently discarded (Windows sends Identification).
	default:
		return false
	}
	return true
}

// ourMagic is the magic number the client agreed to, or zero when it
// rejected the option.
func (h *lcpHandler) ourMagic() uint32 {
	if h.lcpO.sendMagic {
		return h.lcpO.magic
	}
	return 0
}

// startEcho arms the liveness probe: an Echo-Request every EchoInterval,
// the link down after EchoFailures unanswered ones in a row.
func (s *Session) startEcho() {
	iv := s.cfg.echoInterval()
	if iv < 0 {
		return
	}
	s.stopEcho()
	gen := s.echoGen
	s.echoTimer = time.AfterFunc(iv, func() {
		s.mu.Lock()
		if s.dead || s.echoGen != gen || s.lcp.state != StateOpened {
			s.mu.Unlock()
			return
		}
		if s.echoOut >= s.cfg.echoFailures() {
			s.logf("no answer to LCP echo requests", "sent", s.echoOut)
			s.lcp.close()
			s.unlockAndFlush()
			return
		}
		s.echoOut++
		s.echoID++
		s.stats.EchoRequests++
		s.sendPacket(protoLCP, codeEchoReq, s.echoID, binary.BigEndian.AppendUint32(nil, (*lcpHandler)(s).ourMagic()))
		s.startEcho()
		s.unlockAndFlush()
	})
}

func (s *Session) stopEcho() {
	s.echoGen++
	if s.echoTimer != nil {
		s.echoTimer.Stop()
		s.echoTimer = nil
	}
}
