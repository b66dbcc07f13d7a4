package eap

import (
	"crypto/tls"
	"errors"
	"net"
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
	return n, nil
}

func (c pipeConn) Write(b []byte) (int, error) {
	if len(c.p.out)+len(b) > c.p.maxOut {
		return 0, errors.New("eap: TLS flight exceeds the message limit")
	}
	c.p.out = append(c.p.out, b...)
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
// context is nil, which is RFC 5216's Key_Material; Go refuses it
// without Extended Master Secret (RFC 7627), which every current
// client negotiates.
func exportKeys(cs tls.ConnectionState) (msk, emsk []byte, err error) {
	var km []byte
	if cs.Version >= tls.VersionTLS13 {
		km, err = cs.ExportKeyingMaterial(tls13KeyLabel, []byte{byte(TypeTLS)}, tlsKeyMaterialLen)
	} else {
		km, err = cs.ExportKeyingMaterial(tls12KeyLabel, nil, tlsKeyMaterialLen)
	}
	if err != nil {
		return nil, nil, err
	}
	return km[:MSKLen], km[MSKLen:], nil
}
