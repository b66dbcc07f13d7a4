package ppp

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/goipsec/ipsec/internal/mschapv2"
)

// testLink records the frames the server writes.
type testLink struct {
	mu     sync.Mutex
	frames [][]byte
	closed int
	drop   func(b []byte) bool // loses a frame when true
}

func (l *testLink) WriteFrame(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drop != nil && l.drop(b) {
		return nil
	}
	l.frames = append(l.frames, bytes.Clone(b))
	return nil
}

func (l *testLink) Close() {
	l.mu.Lock()
	l.closed++
	l.mu.Unlock()
}

func (l *testLink) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.frames
	l.frames = nil
	return f
}

func (l *testLink) closes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// tclient is a test-only PPP client: just enough of LCP, PAP, CHAP,
// MS-CHAPv2, IPCP and IPV6CP to drive a server session, with knobs for
// the behaviours of real clients.
type tclient struct {
	t    *testing.T
	s    *Session
	link *testLink

	// configuration
	lcpReq        []byte                        // options of the client's LCP Configure-Request
	accept        []AuthProtocol                // auth protocols it accepts, first = the one it Naks with
	user, pass    string                        // credentials
	peerChallenge []byte                        // MS-CHAPv2 peer challenge (random if nil)
	ipcpReq       []byte                        // options of its IPCP Configure-Request (nil: no IPCP)
	ipv6cpReq     []byte                        // options of its IPV6CP Configure-Request (nil: none)
	afterAuth     [][]byte                      // frames it sends once authenticated
	lose          func(out bool, b []byte) bool // drop a frame (out: client to server)

	// observed
	trace        []string
	lcpAckRcvd   bool
	lcpAckSent   bool
	serverMagic  uint32
	authProto    AuthProtocol
	authOK       bool
	authFail     string
	successMsg   string
	ipcpAckRcvd  bool
	ipcpAckSent  bool
	ip6AckRcvd   bool
	ip6AckSent   bool
	protoRejects []uint16
	termReqs     int
	id           uint8
	lastChal     []byte
	lastChalID   uint8
	sentIPCP     bool
	lastResp     []byte // the last authentication frame, for retransmission
	echoReplies  int
}

func (c *tclient) opt(req []byte, typ uint8) []byte {
	opts, _ := parseOptions(req)
	for _, o := range opts {
		if o.typ == typ {
			return o.data
		}
	}
	return nil
}

func (c *tclient) send(proto uint16, code uint8, id uint8, data []byte) {
	c.sendFrame(appendPacket(nil, proto, code, id, data))
}

func (c *tclient) sendFrame(f []byte) {
	c.trace = append(c.trace, "C "+describe(f))
	if c.lose != nil && c.lose(true, f) {
		return
	}
	c.s.HandleFrame(f)
}

func (c *tclient) nextID() uint8 { c.id++; return c.id }

// start sends the client's LCP Configure-Request and runs until quiet.
func (c *tclient) start() {
	c.send(protoLCP, codeConfReq, c.nextID(), c.lcpReq)
	c.pump()
}

// pump feeds the server's frames to the client until neither side has
// anything to say (bounded).
func (c *tclient) pump() {
	for range 200 {
		fs := c.link.take()
		if len(fs) == 0 {
			return
		}
		for _, f := range fs {
			c.trace = append(c.trace, "S "+describe(f))
			if c.lose != nil && c.lose(false, f) {
				continue
			}
			c.handle(f)
		}
	}
	c.t.Fatal("pump: no end to the exchange")
}

func (c *tclient) handle(f []byte) {
	proto, info, err := parseProtocol(f)
	if err != nil {
		c.t.Fatalf("server sent a bad frame %x: %v", f, err)
	}
	p, err := parsePacket(info)
	if err != nil && proto != protoIPv4 && proto != protoIPv6 {
		c.t.Fatalf("server sent a bad packet %x: %v", f, err)
	}
	switch proto {
	case protoLCP:
		c.lcp(p)
	case protoCHAP:
		c.chap(p)
	case protoPAP:
		switch p.code {
		case papAck:
			c.authOK = true
			c.authed()
		case papNak:
			c.authFail = string(p.data[1:])
		}
	case protoIPCP:
		c.ncp(protoIPCP, p, &c.ipcpReq, &c.ipcpAckRcvd, &c.ipcpAckSent)
	case protoIPV6CP:
		c.ncp(protoIPV6CP, p, &c.ipv6cpReq, &c.ip6AckRcvd, &c.ip6AckSent)
	}
}

func (c *tclient) lcp(p packet) {
	switch p.code {
	case codeConfReq:
		a, ok := authFromOption(c.opt(p.data, lcpAuth))
		if ok && !slices.Contains(c.accept, a) {
			c.send(protoLCP, codeConfNak, p.id, appendAuth(nil, c.accept[0]))
			return
		}
		c.authProto = a
		c.serverMagic = binary.BigEndian.Uint32(append(c.opt(p.data, lcpMagic), 0, 0, 0, 0))
		c.send(protoLCP, codeConfAck, p.id, p.data)
		c.lcpAckSent = true
		c.lcpMaybeUp()
	case codeConfAck:
		c.lcpAckRcvd = true
		c.lcpMaybeUp()
	case codeConfRej:
		// drop what was rejected and ask again
		opts, _ := parseOptions(c.lcpReq)
		var keep []byte
		for _, o := range opts {
			if !bytes.Contains(p.data, o.raw) {
				keep = append(keep, o.raw...)
			}
		}
		c.lcpReq = keep
		c.send(protoLCP, codeConfReq, c.nextID(), c.lcpReq)
	case codeTermReq:
		c.termReqs++
		c.send(protoLCP, codeTermAck, p.id, nil)
	case codeProtoRej:
		c.protoRejects = append(c.protoRejects, binary.BigEndian.Uint16(p.data))
	case codeEchoReq:
		c.send(protoLCP, codeEchoRep, p.id, []byte{0, 0, 0, 1})
	case codeEchoRep:
		c.echoReplies++
	}
}

func (c *tclient) lcpMaybeUp() {
	if c.lcpAckRcvd && c.lcpAckSent && c.authProto == AuthPAP && !c.authOK {
		d := []byte{byte(len(c.user))}
		d = append(d, c.user...)
		d = append(d, byte(len(c.pass)))
		d = append(d, c.pass...)
		c.lastResp = appendPacket(nil, protoPAP, papRequest, c.nextID(), d)
		c.sendFrame(c.lastResp)
	}
}

func (c *tclient) chap(p packet) {
	switch p.code {
	case chapChallenge:
		chal := p.data[1 : 1+p.data[0]]
		c.lastChal, c.lastChalID = chal, p.id
		c.chapRespond(p.id, chal)
	case chapSuccess:
		c.successMsg = string(p.data)
		if !c.authOK {
			c.authOK = true
			c.authed()
		}
	case chapFailure:
		c.authFail = string(p.data)
	}
}

func (c *tclient) chapRespond(id uint8, chal []byte) {
	var value []byte
	switch c.authProto {
	case AuthCHAPMD5:
		h := md5.New()
		h.Write([]byte{id})
		h.Write([]byte(c.pass))
		h.Write(chal)
		value = h.Sum(nil)
	case AuthMSCHAPv2:
		pc := c.peerChallenge
		if pc == nil {
			pc = bytes.Repeat([]byte{0x5a}, 16)
		}
		nt := mschapv2.NTResponse(chal, pc, c.user, mschapv2.NTHash([]byte(c.pass)))
		value = append(append(append(append([]byte{}, pc...), make([]byte, 8)...), nt...), 0)
	}
	d := append([]byte{byte(len(value))}, value...)
	c.lastResp = appendPacket(nil, protoCHAP, chapResponse, id, append(d, c.user...))
	c.sendFrame(c.lastResp)
}

// retransmit resends what the client still waits an answer for, as a
// client's restart timers would.
func (c *tclient) retransmit() {
	if !c.lcpAckRcvd {
		c.send(protoLCP, codeConfReq, c.nextID(), c.lcpReq)
	}
	if c.lcpAckRcvd && c.lcpAckSent && !c.authOK && c.lastResp != nil {
		c.sendFrame(c.lastResp)
	}
	if c.authOK && c.ipcpReq != nil && !c.ipcpAckRcvd {
		c.send(protoIPCP, codeConfReq, c.nextID(), c.ipcpReq)
	}
	if c.authOK && c.ipv6cpReq != nil && !c.ip6AckRcvd {
		c.send(protoIPV6CP, codeConfReq, c.nextID(), c.ipv6cpReq)
	}
}

func (c *tclient) authed() {
	for _, f := range c.afterAuth {
		c.sendFrame(f)
	}
	if c.ipcpReq != nil && !c.sentIPCP {
		c.sentIPCP = true
		c.send(protoIPCP, codeConfReq, c.nextID(), c.ipcpReq)
	}
	if c.ipv6cpReq != nil {
		c.send(protoIPV6CP, codeConfReq, c.nextID(), c.ipv6cpReq)
	}
}

func (c *tclient) ncp(proto uint16, p packet, req *[]byte, ackRcvd, ackSent *bool) {
	switch p.code {
	case codeConfReq:
		c.send(proto, codeConfAck, p.id, p.data)
		*ackSent = true
	case codeConfAck:
		*ackRcvd = true
	case codeConfNak:
		// take the server's values
		opts, _ := parseOptions(*req)
		naks, _ := parseOptions(p.data)
		var out []byte
		for _, o := range opts {
			raw := o.raw
			for _, n := range naks {
				if n.typ == o.typ {
					raw = n.raw
				}
			}
			out = append(out, raw...)
		}
		for _, n := range naks {
			if c.opt(*req, n.typ) == nil {
				out = append(out, n.raw...)
			}
		}
		*req = out
		c.send(proto, codeConfReq, c.nextID(), *req)
	case codeConfRej:
		opts, _ := parseOptions(*req)
		var keep []byte
		for _, o := range opts {
			if !bytes.Contains(p.data, o.raw) {
				keep = append(keep, o.raw...)
			}
		}
		*req = keep
		c.send(proto, codeConfReq, c.nextID(), *req)
	}
}

// addr is the IPv4 address the client ended up with.
func (c *tclient) addr() netip.Addr {
	if a := c.opt(c.ipcpReq, ipcpAddress); len(a) == 4 {
		return netip.AddrFrom4([4]byte(a))
	}
	return netip.Addr{}
}

// dns is the client's n-th name server option value.
func (c *tclient) dns(typ uint8) netip.Addr {
	if a := c.opt(c.ipcpReq, typ); len(a) == 4 {
		return netip.AddrFrom4([4]byte(a))
	}
	return netip.Addr{}
}

// describe summarizes a frame like pppd's debug log: "LCP ConfReq id=1 [...]".
func describe(f []byte) string {
	proto, info, err := parseProtocol(f)
	if err != nil {
		return "bad " + hex.EncodeToString(f)
	}
	if proto == protoIPv4 || proto == protoIPv6 {
		return fmt.Sprintf("%s %d bytes", protoName(proto), len(info))
	}
	p, err := parsePacket(info)
	if err != nil {
		return protoName(proto) + " bad"
	}
	names := map[uint16][]string{
		protoLCP:    {"", "ConfReq", "ConfAck", "ConfNak", "ConfRej", "TermReq", "TermAck", "CodeRej", "ProtRej", "EchoReq", "EchoRep", "DiscReq", "Ident", "TimeRem"},
		protoIPCP:   {"", "ConfReq", "ConfAck", "ConfNak", "ConfRej", "TermReq", "TermAck", "CodeRej"},
		protoIPV6CP: {"", "ConfReq", "ConfAck", "ConfNak", "ConfRej", "TermReq", "TermAck", "CodeRej"},
		protoCHAP:   {"", "Challenge", "Response", "Success", "Failure"},
		protoPAP:    {"", "AuthReq", "AuthAck", "AuthNak"},
	}
	n := fmt.Sprint(p.code)
	if l := names[proto]; int(p.code) < len(l) {
		n = l[p.code]
	}
	var opts []string
	if p.code <= codeConfRej && proto != protoCHAP && proto != protoPAP {
		if os, err := parseOptions(p.data); err == nil {
			for _, o := range os {
				opts = append(opts, fmt.Sprintf("%d:%x", o.typ, o.data))
			}
		}
	}
	return fmt.Sprintf("%s %s id=%d [%s]", protoName(proto), n, p.id, strings.Join(opts, " "))
}
