package eap

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/goipsec/ipsec"
)

// EAP-TLS flags (RFC 5216 section 3.1; RFC 9190 keeps them).
const (
	TLSFlagLength = 0x80 // L: TLS Message Length present
	TLSFlagMore   = 0x40 // M: more fragments follow
	TLSFlagStart  = 0x20 // S: EAP-TLS Start
)

// TLSPacket is decoded EAP-TLS Type-Data.
type TLSPacket struct {
	// Flags are the EAP-TLS flags (TLSFlagLength, TLSFlagMore, TLSFlagStart).
	Flags uint8
	// Length is the TLS Message Length when Flags has TLSFlagLength.
	Length uint32
	// Data is the TLS data (a fragment); it aliases the input.
	Data []byte
}

// ParseTLS decodes EAP-TLS Type-Data. Reserved flag bits are ignored as
// RFC 5216 section 3.1 asks.
func ParseTLS(data []byte) (*TLSPacket, error) {
	if len(data) < 1 {
		return nil, &ParseError{Method: TypeTLS, Reason: "no flags octet"}
	}
	p := &TLSPacket{Flags: data[0]}
	rest := data[1:]
	if p.Flags&TLSFlagLength != 0 {
		if len(rest) < 4 {
			return nil, &ParseError{Method: TypeTLS, Offset: 1, Reason: "L flag without a 4-octet length"}
		}
		p.Length = binary.BigEndian.Uint32(rest)
		rest = rest[4:]
	}
	p.Data = rest
	return p, nil
}

func isTLSAck(p *TLSPacket) bool { return len(p.Data) == 0 && p.Flags&(TLSFlagMore|TLSFlagStart) == 0 }

// tlsAck is an EAP-TLS packet without data, acknowledging a fragment
// (RFC 5216 section 2.1.5) or, from the peer, the server's last flight.
var tlsAck = []byte{0}

// tlsOut fragments one outgoing TLS flight.
type tlsOut struct {
	data  []byte
	total int
	first bool
}

func (o *tlsOut) set(b []byte) { o.data, o.total, o.first = b, len(b), true }

// pending reports that fragments remain to be sent after an ACK.
func (o *tlsOut) pending() bool { return len(o.data) > 0 && !o.first }

// next returns the next fragment's Type-Data. RFC 5216 section 2.1.5: L
// on the first fragment of a fragmented message, M on all but the last.
func (o *tlsOut) next(size int) []byte {
	n := min(size, len(o.data))
	chunk, rest := o.data[:n], o.data[n:]
	var flags uint8
	if len(rest) > 0 {
		flags |= TLSFlagMore
		if o.first {
			flags |= TLSFlagLength
		}
	}
	b := []byte{flags}
	if flags&TLSFlagLength != 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(o.total))
	}
	b = append(b, chunk...)
	o.first = false
	o.data = rest
	return b
}

// tlsIn reassembles one incoming TLS flight, bounded by max.
type tlsIn struct {
	buf    []byte
	total  int // from the L flag, -1 unknown
	active bool
	max    int
}

func (r *tlsIn) add(p *TLSPacket) (msg []byte, complete bool, err error) {
	perr := func(format string, args ...any) error {
		return &ParseError{Method: TypeTLS, Reason: fmt.Sprintf(format, args...)}
	}
	if !r.active {
		r.total = -1
	}
	if p.Flags&TLSFlagLength != 0 {
		switch {
		case int64(p.Length) > int64(r.max):
			return nil, false, perr("TLS message length %d exceeds the limit %d", p.Length, r.max)
		case r.active && r.total >= 0 && int(p.Length) != r.total:
			return nil, false, perr("TLS message length changed from %d to %d", r.total, p.Length)
		}
		r.total = int(p.Length)
	}
	if len(r.buf)+len(p.Data) > r.max || (r.total >= 0 && len(r.buf)+len(p.Data) > r.total) {
		return nil, false, perr("fragments exceed the announced or allowed length")
	}
	r.buf = append(r.buf, p.Data...)
	r.active = true
	if p.Flags&TLSFlagMore != 0 {
		if len(p.Data) == 0 {
			return nil, false, perr("empty fragment with the M flag")
		}
		return nil, false, nil
	}
	if r.total >= 0 && len(r.buf) != r.total {
		return nil, false, perr("reassembled %d octets, announced %d", len(r.buf), r.total)
	}
	msg = r.buf
	r.buf, r.active = nil, false
	return msg, true, nil
}

// tlsBinding is what the server's certificate callback needs; it must
// not reference the Server so that an abandoned Server can be collected
// and its cleanup stop the handshake goroutine.
type tlsBinding struct {
	mu       sync.Mutex
	identity string
	certs    *CertVerifier
	proved   string
	user     *ipsec.User
}

func (b *tlsBinding) verify(cs tls.ConnectionState) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var (
		id   string
		user *ipsec.User
		err  error
	)
	switch {
	case b.certs != nil:
		id, user, err = b.certs.verify(context.Background(), b.identity, cs.PeerCertificates)
	case len(cs.PeerCertificates) == 0:
		err = errors.New("eap: no client certificate")
	default:
		id, err = bindIdentity(b.identity, cs.PeerCertificates[0])
	}
	if err != nil {
		return err
	}
	b.user = user
	b.proved = id
	return nil
}

// tlsServer is EAP-TLS on the authenticator side.
type tlsServer struct {
	s      *Server
	pipe   *tlsPipe
	bind   *tlsBinding
	out    tlsOut
	in     tlsIn
	phase  uint8 // 0 handshaking, 1 final flight sent, 2 alert sent
	ev     tlsEvent
	reason error
}

func newTLSServer(s *Server) (*tlsServer, error) {
	return &tlsServer{s: s, in: tlsIn{max: s.cfg.TLSMaxMessage}}, nil
}

func (m *tlsServer) start(uint8) ([]byte, error) {
	s := m.s
	certs := s.cfg.Certs
	if certs != nil && certs.Now == nil {
		c := *certs
		c.Now = s.cfg.Now // one clock for the handshake and the chain check
		certs = &c
	}
	m.bind = &tlsBinding{identity: s.ident, certs: certs}
	cfg := s.cfg.TLS.Clone()
	cfg.SessionTicketsDisabled = true
	cfg.Rand, cfg.Time = s.cfg.Rand, s.cfg.Now
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12 // RFC 9190 section 2.5 deprecates older versions
	}
	if s.cfg.Certs != nil {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	bind, user := m.bind, cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if user != nil {
			if err := user(cs); err != nil {
				return err
			}
		}
		return bind.verify(cs)
	}
	maxOut := s.cfg.TLSMaxMessage
	ml := &masterLog{next: cfg.KeyLogWriter}
	cfg.KeyLogWriter = ml
	pipe, ev := startTLSPipe(maxOut, func(c net.Conn) tlsEvent {
		conn := tls.Server(c, cfg)
		if err := conn.Handshake(); err != nil {
			return tlsEvent{err: err}
		}
		cs := conn.ConnectionState()
		if cs.Version >= tls.VersionTLS13 {
			// RFC 9190 section 2.5: one octet 0x00 of application data
			// is the protected success indication.
			if _, err := conn.Write([]byte{0}); err != nil {
				return tlsEvent{err: err}
			}
		}
		msk, emsk, err := exportKeys(cs, ml, helloRandom(c.(pipeConn).p.wrote))
		return tlsEvent{err: err, msk: msk, emsk: emsk, version: cs.Version}
	})
	m.pipe = pipe
	// An abandoned Server must not leak the handshake goroutine.
	runtime.AddCleanup(s, func(p *tlsPipe) { p.close() }, pipe)
	if ev.done || len(ev.out) != 0 {
		pipe.close()
		return nil, fmt.Errorf("eap: TLS server did not wait for the ClientHello: %v", ev.err)
	}
	return []byte{TLSFlagStart}, nil
}

func (m *tlsServer) process(_ context.Context, _ uint8, data []byte) (serverStep, error) {
	pk, err := ParseTLS(data)
	if err != nil {
		return serverStep{}, err
	}
	if m.out.pending() {
		if !isTLSAck(pk) {
			return serverStep{}, protoErr(TypeTLS, "data while we were sending fragments")
		}
		return serverStep{next: m.out.next(m.s.cfg.TLSFragmentSize)}, nil
	}
	switch m.phase {
	case 1:
		if !isTLSAck(pk) {
			return serverStep{done: true, reason: fmt.Errorf("eap: TLS: peer answered our final flight with data (an alert): %w", ErrAuthFailed)}, nil
		}
		return m.success()
	case 2:
		return serverStep{done: true, reason: m.reason}, nil
	}
	if isTLSAck(pk) && !m.in.active {
		return serverStep{}, protoErr(TypeTLS, "unexpected acknowledgement")
	}
	msg, complete, err := m.in.add(pk)
	if err != nil {
		return serverStep{}, err
	}
	if !complete {
		return serverStep{next: tlsAck}, nil
	}
	ev := m.pipe.feed(msg)
	if ev.err != nil {
		m.reason = fmt.Errorf("eap: TLS handshake: %w: %w", ErrAuthFailed, ev.err)
		if len(ev.out) == 0 {
			return serverStep{done: true, reason: m.reason}, nil
		}
		// RFC 5216 section 2.1.3: send the alert, then EAP-Failure after
		// the peer acknowledges it.
		m.phase = 2
		m.out.set(ev.out)
		return serverStep{next: m.out.next(m.s.cfg.TLSFragmentSize)}, nil
	}
	if len(ev.out) == 0 {
		if ev.done {
			m.ev = ev
			return m.success()
		}
		return serverStep{}, protoErr(TypeTLS, "incomplete TLS flight")
	}
	if ev.done {
		m.ev, m.phase = ev, 1
	}
	m.out.set(ev.out)
	return serverStep{next: m.out.next(m.s.cfg.TLSFragmentSize)}, nil
}

func (m *tlsServer) success() (serverStep, error) {
	m.bind.mu.Lock()
	id, user := m.bind.proved, m.bind.user
	m.bind.mu.Unlock()
	if user == nil && m.s.cfg.Users != nil {
		// Attributes only: the certificate is the credential, so an
		// identity unknown to the table still passes.
		if u, err := LookupUser(context.Background(), m.s.cfg.Users, id); err == nil {
			user = u
		}
	}
	return serverStep{done: true, ok: true, identity: id, user: user, msk: m.ev.msk, emsk: m.ev.emsk}, nil
}

func (m *tlsServer) close() {
	if m.pipe != nil {
		m.pipe.close()
	}
}

// tlsPeer is EAP-TLS on the peer side.
type tlsPeer struct {
	p      *Peer
	cfg    *tls.Config
	pipe   *tlsPipe
	out    tlsOut
	in     tlsIn
	done   bool
	failed bool
	ev     tlsEvent
}

func newTLSPeer(p *Peer) (*tlsPeer, error) {
	if p.cfg.TLS == nil {
		return nil, errors.New("eap: PeerConfig.TLS: EAP-TLS requested but no TLS config")
	}
	cfg := p.cfg.TLS.Clone()
	cfg.Rand, cfg.Time = p.cfg.Rand, p.cfg.Now
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.ClientSessionCache = nil // no resumption
	return &tlsPeer{p: p, cfg: cfg, in: tlsIn{max: p.cfg.TLSMaxMessage}}, nil
}

func (m *tlsPeer) process(data []byte) ([]byte, error) {
	pk, err := ParseTLS(data)
	if err != nil {
		return nil, err
	}
	size := m.p.cfg.TLSFragmentSize
	if pk.Flags&TLSFlagStart != 0 {
		if m.pipe != nil {
			return nil, protoErr(TypeTLS, "second Start")
		}
		cfg := m.cfg.Clone()
		ml := &masterLog{next: cfg.KeyLogWriter}
		cfg.KeyLogWriter = ml
		pipe, ev := startTLSPipe(m.p.cfg.TLSMaxMessage, func(c net.Conn) tlsEvent {
			conn := tls.Client(c, cfg)
			if err := conn.Handshake(); err != nil {
				return tlsEvent{err: err}
			}
			cs := conn.ConnectionState()
			if cs.Version >= tls.VersionTLS13 {
				// RFC 9190 section 2.5: wait for the server's
				// protected success indication, one octet 0x00.
				var b [1]byte
				n, err := conn.Read(b[:])
				if err != nil {
					return tlsEvent{err: err}
				}
				if n != 1 || b[0] != 0 {
					return tlsEvent{err: errors.New("eap: TLS 1.3 server sent application data other than 0x00")}
				}
			}
			msk, emsk, err := exportKeys(cs, ml, helloRandom(c.(pipeConn).p.read))
			return tlsEvent{err: err, msk: msk, emsk: emsk, version: cs.Version}
		})
		m.pipe = pipe
		runtime.AddCleanup(m.p, func(p *tlsPipe) { p.close() }, pipe)
		return m.handle(ev)
	}
	if m.pipe == nil {
		return nil, protoErr(TypeTLS, "request before Start")
	}
	if m.out.pending() {
		if !isTLSAck(pk) {
			return nil, protoErr(TypeTLS, "data while we were sending fragments")
		}
		return m.out.next(size), nil
	}
	if isTLSAck(pk) && !m.in.active {
		return nil, protoErr(TypeTLS, "unexpected acknowledgement")
	}
	msg, complete, err := m.in.add(pk)
	if err != nil {
		return nil, err
	}
	if !complete {
		return tlsAck, nil
	}
	if m.done || m.failed {
		return nil, protoErr(TypeTLS, "TLS data after the handshake ended")
	}
	return m.handle(m.pipe.feed(msg))
}

func (m *tlsPeer) handle(ev tlsEvent) ([]byte, error) {
	if ev.err != nil {
		// Send our alert (or acknowledge the server's) and let the
		// server end with EAP-Failure; remember why.
		m.failed = true
		m.p.failure = fmt.Errorf("eap: TLS handshake: %w: %w", ErrServerAuth, ev.err)
		if len(ev.out) == 0 {
			return tlsAck, nil
		}
		m.out.set(ev.out)
		return m.out.next(m.p.cfg.TLSFragmentSize), nil
	}
	if ev.done {
		m.done, m.ev = true, ev
	}
	if len(ev.out) == 0 {
		if !ev.done {
			return nil, protoErr(TypeTLS, "incomplete TLS flight")
		}
		return tlsAck, nil
	}
	m.out.set(ev.out)
	return m.out.next(m.p.cfg.TLSFragmentSize), nil
}

func (m *tlsPeer) finished() (bool, ipsec.Secret, ipsec.Secret) {
	if !m.done || m.failed || m.out.pending() {
		return false, nil, nil
	}
	return true, m.ev.msk, m.ev.emsk
}

func (m *tlsPeer) close() {
	if m.pipe != nil {
		m.pipe.close()
	}
}
