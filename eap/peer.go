package eap

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
)

// PeerConfig configures the EAP peer (the IKE initiator side).
type PeerConfig struct {
	// Identity is sent in the Identity response and used as MSCHAPv2
	// user name ("DOMAIN\user" is hashed as "user", like Windows).
	Identity string
	// Password answers MSCHAPv2, MD5 and GTC.
	Password ipsec.Secret
	// TLS is the client side of EAP-TLS: Certificates holds our client
	// certificate, RootCAs/ServerName verify the server. Cloned.
	TLS *tls.Config
	// Methods are the methods we accept, in order of preference; a
	// request for another method is answered with a NAK listing these.
	// Empty means MSCHAPv2, then TLS if TLS is set.
	Methods []Type
	// TLSFragmentSize and TLSMaxMessage: see ServerConfig.
	TLSFragmentSize int
	TLSMaxMessage   int
	// MaxRounds bounds the requests we answer (DefaultMaxRounds when 0).
	MaxRounds int
	// Rand is the randomness source (crypto/rand when nil).
	Rand io.Reader
	// Now is the clock for certificate validity (time.Now when nil).
	Now func() time.Time
}

// Peer is one EAP conversation on the peer side: a byte-in/byte-out
// state machine like Server, not safe for concurrent use. Call Close when
// done.
type Peer struct {
	cfg     PeerConfig
	method  peerMethod
	mtype   Type
	reqID   uint8 // Identifier of the request being processed
	lastReq []byte
	lastRes []byte
	rounds  int
	done    bool
	result  Result
	failure error // set by a method that saw the server reject us
}

// NewPeer returns a peer conversation. Configuration mistakes surface at
// the first request that needs the missing piece, so NewPeer cannot fail.
func NewPeer(cfg PeerConfig) *Peer {
	cfg.Password = bytes.Clone(cfg.Password)
	if len(cfg.Methods) == 0 {
		cfg.Methods = []Type{TypeMSCHAPv2}
		if cfg.TLS != nil {
			cfg.Methods = append(cfg.Methods, TypeTLS)
		}
	} else {
		cfg.Methods = slices.Clone(cfg.Methods)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = DefaultMaxRounds
	}
	if cfg.TLSFragmentSize <= 0 || cfg.TLSFragmentSize > MaxPacketLen-10 {
		cfg.TLSFragmentSize = DefaultTLSFragmentSize
	}
	if cfg.TLSMaxMessage <= 0 {
		cfg.TLSMaxMessage = DefaultTLSMaxMessage
	}
	return &Peer{cfg: cfg, result: Result{Identity: cfg.Identity}}
}

// Result returns the current state; MSK is set once Status is
// StatusSuccess.
func (p *Peer) Result() Result { return p.result }

// Close releases the method's resources (the EAP-TLS handshake).
func (p *Peer) Close() error {
	if p.method != nil {
		p.method.close()
	}
	if !p.done {
		p.done = true
		p.result.Status = StatusFailure
		p.result.Err = ErrFinished
	}
	return nil
}

// Process consumes one EAP packet from the authenticator and returns the
// response to send (nil after Success/Failure).
//
// A retransmitted request (same Identifier and bytes as the previous
// one) gets the previous response again without reprocessing (RFC 3748
// section 4.1). A packet the peer must drop (malformed, a Response)
// yields an error matching ErrDiscarded and changes nothing. Other errors
// end the conversation with Status Failure: the server failed to
// authenticate itself (ErrServerAuth) or broke the method.
func (p *Peer) Process(req []byte) (resp []byte, res Result, err error) {
	if p.done {
		return nil, p.result, ErrFinished
	}
	q, err := Parse(req)
	if err != nil {
		return nil, p.result, fmt.Errorf("%w: %w", ErrDiscarded, err)
	}
	switch q.Code {
	case CodeSuccess:
		return p.onSuccess()
	case CodeFailure:
		return p.end(firstErr(p.failure, fmt.Errorf("eap: server sent EAP-Failure: %w", ErrAuthFailed)))
	case CodeResponse:
		return nil, p.result, fmt.Errorf("eap: peer got a Response: %w", ErrDiscarded)
	}
	if p.lastReq != nil && q.Identifier == p.reqID && bytes.Equal(req[:headerLen+1+len(q.Data)], p.lastReq) {
		return slices.Clone(p.lastRes), p.result, nil
	}
	p.rounds++
	if p.rounds > p.cfg.MaxRounds {
		return p.end(fmt.Errorf("eap: %d rounds: %w", p.rounds, ErrTooManyRounds))
	}
	p.reqID = q.Identifier
	var data []byte
	typ := q.Type
	switch q.Type {
	case TypeIdentity:
		if len(p.cfg.Identity) > MaxIdentityLen {
			return p.end(fmt.Errorf("eap: PeerConfig.Identity: %d octets exceeds %d", len(p.cfg.Identity), MaxIdentityLen))
		}
		data = []byte(p.cfg.Identity)
	case TypeNotification:
		// RFC 3748 section 5.2: acknowledge with an empty Notification.
	case TypeNAK, TypeExpanded:
		return nil, p.result, fmt.Errorf("eap: request of type %s: %w", q.Type, ErrDiscarded)
	default:
		if p.method == nil || p.mtype != q.Type {
			if !slices.Contains(p.cfg.Methods, q.Type) {
				typ, data = TypeNAK, p.nakList()
				break
			}
			if err := p.startMethod(q.Type); err != nil {
				return p.end(err)
			}
		}
		data, err = p.method.process(q.Data)
		if err != nil {
			return p.end(err)
		}
	}
	out := Packet{Code: CodeResponse, Identifier: q.Identifier, Type: typ, Data: data}
	resp, err = out.Append(nil)
	if err != nil {
		return p.end(err)
	}
	p.lastReq = slices.Clone(req[:headerLen+1+len(q.Data)])
	p.lastRes = resp
	return slices.Clone(resp), p.result, nil
}

func (p *Peer) nakList() []byte {
	var l []byte
	for _, t := range p.cfg.Methods {
		if t > TypeNAK && t < TypeExpanded {
			l = append(l, byte(t))
		}
	}
	if len(l) == 0 {
		// RFC 3748 section 5.3.1: 0 means no alternative.
		l = []byte{0}
	}
	return l
}

func (p *Peer) startMethod(t Type) error {
	if p.method != nil {
		p.method.close()
	}
	var m peerMethod
	switch t {
	case TypeMSCHAPv2:
		m = &mschapv2Peer{p: p}
	case TypeMD5Challenge:
		m = &md5Peer{p: p}
	case TypeGTC:
		m = &gtcPeer{p: p}
	case TypeTLS:
		tm, err := newTLSPeer(p)
		if err != nil {
			return err
		}
		m = tm
	default:
		return fmt.Errorf("eap: method %s not supported", t)
	}
	p.method, p.mtype = m, t
	p.result.Method = t
	return nil
}

// onSuccess accepts EAP-Success only after the method finished, so a
// forged early Success cannot skip the server's proof (RFC 3748 section
// 4.2, and RFC 9190 section 2.1.1 for TLS 1.3's protected result).
func (p *Peer) onSuccess() ([]byte, Result, error) {
	if p.method == nil {
		return p.end(fmt.Errorf("eap: EAP-Success before any method: %w", ErrServerAuth))
	}
	ok, msk, emsk := p.method.finished()
	if !ok {
		return p.end(fmt.Errorf("eap: EAP-Success before %s completed: %w", p.mtype, ErrServerAuth))
	}
	p.method.close()
	p.done = true
	p.result.Status = StatusSuccess
	p.result.MSK, p.result.EMSK = msk, emsk
	return nil, p.result, nil
}

func (p *Peer) end(reason error) ([]byte, Result, error) {
	if p.method != nil {
		p.method.close()
	}
	p.done = true
	p.result.Status = StatusFailure
	p.result.Err = reason
	p.result.MSK, p.result.EMSK = nil, nil
	return nil, p.result, reason
}

func (p *Peer) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.cfg.Rand, b); err != nil {
		return nil, fmt.Errorf("eap: random: %w", err)
	}
	return b, nil
}

// peerMethod is one method on the peer side.
type peerMethod interface {
	// process consumes a request's Type-Data and returns the response's.
	process(data []byte) ([]byte, error)
	// finished reports whether EAP-Success may be accepted, and the keys.
	finished() (ok bool, msk, emsk ipsec.Secret)
	close()
}
