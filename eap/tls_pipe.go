package eap

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// tlsPipe runs a crypto/tls handshake on an internal goroutine and turns
// it into a byte-in/byte-out step function. crypto/tls only offers a
// blocking net.Conn API for TLS 1.2 (the event-driven QUICConn is TLS 1.3
// and QUIC only), so the goroutine is the price; it is strictly lock-step
// with the caller (it runs only between feed and the next event) and
// ends when the handshake ends or close is called.
type tlsPipe struct {
	in   chan []byte
	ev   chan tlsEvent
	quit chan struct{}
	once sync.Once
	// owned by the goroutine while it runs, handed over with each event
	buf, out []byte
	maxOut   int
	ended    bool // an event with done set was received (caller side)
	// The first bytes each way, where the TLS 1.2 ServerHello (and its
	// random) appears; see helloRandom.
	wrote, read []byte
}

// helloPrefix is enough of a flight to hold the ServerHello's random:
// record header (5), handshake header (4), version (2), random (32).
const helloPrefix = 43

// helloRandom returns the server random of a ServerHello at the start of
// stream (the server's first flight), if it is there.
func helloRandom(stream []byte) []byte {
	if len(stream) < helloPrefix || stream[0] != 22 || stream[5] != 2 {
		return nil
	}
	return stream[11:43]
}

// tlsEvent is what the handshake goroutine reports each time it stops:
// it needs input (done false), or it finished (done true) with err nil
// on success.
type tlsEvent struct {
	out       []byte
	done      bool
	err       error
	msk, emsk []byte
	version   uint16
}

var errPipeClosed = errors.New("eap: TLS session closed")

// startTLSPipe starts run on a goroutine and returns the first event.
// run must only use the conn it is given.
func startTLSPipe(maxOut int, run func(c net.Conn) tlsEvent) (*tlsPipe, tlsEvent) {
	p := &tlsPipe{in: make(chan []byte), ev: make(chan tlsEvent), quit: make(chan struct{}), maxOut: maxOut}
	go func() {
		e := run(pipeConn{p})
		e.done = true
		e.out = append(p.out, e.out...)
		p.out = nil
		select {
		case p.ev <- e:
		case <-p.quit:
		}
	}()
	return p, p.wait()
}

func (p *tlsPipe) wait() tlsEvent {
	select {
	case e := <-p.ev:
		if e.done {
			p.ended = true
		}
		return e
	case <-p.quit:
		return tlsEvent{done: true, err: errPipeClosed}
	}
}

// feed hands one reassembled EAP-TLS message to the handshake and waits
// until it stops again.
func (p *tlsPipe) feed(b []byte) tlsEvent {
	if p.ended {
		return tlsEvent{done: true, err: errors.New("eap: TLS data after the handshake ended")}
	}
	select {
	case p.in <- b:
	case <-p.quit:
		return tlsEvent{done: true, err: errPipeClosed}
	}
	return p.wait()
}

func (p *tlsPipe) close() { p.once.Do(func() { close(p.quit) }) }

// pipeConn is the net.Conn crypto/tls reads from and writes to.
type pipeConn struct{ p *tlsPipe }

func (c pipeConn) Read(b []byte) (int, error) {
	p := c.p
	for len(p.buf) == 0 {
		// Out of input: flush what TLS wrote and ask for the peer's next
		// message.
		e := tlsEvent{out: p.out}
		p.out = nil
		select {
		case p.ev <- e:
		case <-p.quit:
			return 0, net.ErrClosed
		}
		select {
		case p.buf = <-p.in:
		case <-p.quit:
			return 0, net.ErrClosed
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.read) < helloPrefix {
		p.read = append(p.read, b[:min(n, helloPrefix-len(p.read))]...)
	}
	return n, nil
}

func (c pipeConn) Write(b []byte) (int, error) {
	if len(c.p.out)+len(b) > c.p.maxOut {
		return 0, errors.New("eap: TLS flight exceeds the message limit")
	}
	c.p.out = append(c.p.out, b...)
	if len(c.p.wrote) < helloPrefix {
		c.p.wrote = append(c.p.wrote, b[:min(len(b), helloPrefix-len(c.p.wrote))]...)
	}
	return len(b), nil
}

func (pipeConn) Close() error                     { return nil }
func (pipeConn) LocalAddr() net.Addr              { return eapAddr{} }
func (pipeConn) RemoteAddr() net.Addr             { return eapAddr{} }
func (pipeConn) SetDeadline(time.Time) error      { return nil }
func (pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (pipeConn) SetWriteDeadline(time.Time) error { return nil }

type eapAddr struct{}

func (eapAddr) Network() string { return "eap" }
func (eapAddr) String() string  { return "eap" }

// RFC 5216 section 2.3 and RFC 9190 section 2.3 key derivation.
const (
	tls12KeyLabel     = "client EAP encryption"
	tls13KeyLabel     = "EXPORTER_EAP_TLS_Key_Material"
	tlsKeyMaterialLen = 128 // MSK (64) || EMSK (64)
)

// exportKeys derives MSK and EMSK. For TLS 1.2 Go's exporter computes
// PRF(master_secret, label, client.random || server.random) when the
// context is nil, which is RFC 5216's Key_Material, but only after
// Extended Master Secret (RFC 7627). EAP-TLS predates EMS and strongSwan
// 5.x clients do not negotiate it, so without EMS the same formula is
// computed here from the master secret crypto/tls reports through its key
// log. Resumption and renegotiation, which the triple-handshake attack
// behind Go's refusal needs, are off in EAP-TLS sessions.
func exportKeys(cs tls.ConnectionState, ml *masterLog, serverRandom []byte) (msk, emsk []byte, err error) {
	var km []byte
	if cs.Version >= tls.VersionTLS13 {
		km, err = cs.ExportKeyingMaterial(tls13KeyLabel, []byte{byte(TypeTLS)}, tlsKeyMaterialLen)
	} else {
		km, err = cs.ExportKeyingMaterial(tls12KeyLabel, nil, tlsKeyMaterialLen)
		if err != nil {
			if ms, cr := ml.get(); ms != nil && len(serverRandom) == 32 {
				h := sha256.New
				if strings.HasSuffix(tls.CipherSuiteName(cs.CipherSuite), "SHA384") {
					h = sha512.New384
				}
				km, err = tls12PRF(h, ms, tls12KeyLabel, append(cr, serverRandom...), tlsKeyMaterialLen), nil
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return km[:MSKLen], km[MSKLen:], nil
}

// tls12PRF is the TLS 1.2 PRF, P_hash (RFC 5246 section 5).
func tls12PRF(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	seed = append([]byte(label), seed...)
	var out []byte
	a := seed
	for len(out) < n {
		m := hmac.New(h, secret)
		m.Write(a)
		a = m.Sum(nil)
		m.Reset()
		m.Write(a)
		m.Write(seed)
		out = m.Sum(out)
	}
	return out[:n]
}

// masterLog receives crypto/tls's key log (NSS format) of one session and
// keeps the TLS 1.2 master secret, nothing else; a user's KeyLogWriter
// still gets every line.
type masterLog struct {
	mu     sync.Mutex
	next   io.Writer
	secret []byte
	client []byte
}

func (l *masterLog) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) == 3 && f[0] == "CLIENT_RANDOM" {
		cr, err1 := hex.DecodeString(f[1])
		ms, err2 := hex.DecodeString(f[2])
		if err1 == nil && err2 == nil {
			l.mu.Lock()
			l.client, l.secret = cr, ms
			l.mu.Unlock()
		}
	}
	if l.next != nil {
		return l.next.Write(line)
	}
	return len(line), nil
}

func (l *masterLog) get() (secret, clientRandom []byte) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.secret, append([]byte(nil), l.client...)
}
