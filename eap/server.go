package eap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
)

// ServerConfig configures the EAP authenticator (the IKE responder side).
type ServerConfig struct {
	// Methods are the methods offered, in order of preference. The first
	// is proposed; a peer that NAKs it gets the next one it asked for
	// (Windows NAKs TLS and asks for MSCHAPv2). Identity, Notification
	// and NAK are implicit and not listed. Ignored when Backend is set.
	Methods []Type
	// Users looks up accounts for MSCHAPv2, MD5 and GTC, and (optionally)
	// the attributes of EAP-TLS users. Names are tried as sent, then
	// without a "DOMAIN\" prefix (see LookupUser).
	Users ipsec.UserStore
	// TLS is the server side of EAP-TLS: Certificates must hold our
	// certificate. Without Certs, ClientAuth must be
	// tls.RequireAndVerifyClientCert with ClientCAs. The config is
	// cloned; session tickets are disabled (no resumption).
	TLS *tls.Config
	// Certs verifies EAP-TLS client certificates and binds them to the
	// EAP identity. When nil, TLS.ClientCAs does the chain check and the
	// identity is still bound with the rules of CertVerifier.
	Certs *CertVerifier
	// TLSFragmentSize is the TLS payload per EAP-TLS request
	// (DefaultTLSFragmentSize when zero).
	TLSFragmentSize int
	// TLSMaxMessage bounds a reassembled EAP-TLS message
	// (DefaultTLSMaxMessage when zero).
	TLSMaxMessage int
	// Backend, when set, receives the whole conversation after the
	// identity exchange (a RADIUS client); Methods and Users are unused,
	// and SkipIdentity is ignored because the backend needs the peer's
	// EAP-Response/Identity (RFC 3579 section 2.1).
	Backend Backend
	// SkipIdentity starts the first method directly when Start gets an
	// identity hint (the IKE IDi), saving one round trip. Windows sends
	// its IP address as IDi, so leave it off for Windows clients.
	SkipIdentity bool
	// MSCHAPv2FailureRequest makes a failed MSCHAPv2 login answer with
	// the RFC 2759 Failure-Request "E=691 R=0 C=... V=3" and send
	// EAP-Failure after the peer's Failure-Response. By default the
	// server sends EAP-Failure at once, as strongSwan does: Windows does
	// not answer an R=0 Failure-Request, and strongSwan clients do not
	// either, so the conversation would hang until IKE gives up.
	MSCHAPv2FailureRequest bool
	// Name is the authenticator name in MSCHAPv2 and MD5 challenges
	// ("goipsec" when empty).
	Name string
	// MaxRounds bounds the requests per conversation (DefaultMaxRounds
	// when zero).
	MaxRounds int
	// Rand is the randomness source (crypto/rand when nil).
	Rand io.Reader
	// Now is the clock for certificate validity (time.Now when nil).
	Now func() time.Time
}

func (c *ServerConfig) validate() error {
	if c.Backend != nil {
		return nil
	}
	if len(c.Methods) == 0 {
		return errors.New("eap: ServerConfig.Methods: no method configured")
	}
	for i, m := range c.Methods {
		switch m {
		case TypeMSCHAPv2, TypeMD5Challenge, TypeGTC:
			if c.Users == nil {
				return fmt.Errorf("eap: ServerConfig.Users: method %s needs a user store", m)
			}
		case TypeTLS:
			if c.TLS == nil || (len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil) {
				return errors.New("eap: ServerConfig.TLS: EAP-TLS needs a server certificate")
			}
			if c.Certs == nil && (c.TLS.ClientAuth != tls.RequireAndVerifyClientCert || c.TLS.ClientCAs == nil) {
				return errors.New("eap: ServerConfig.Certs: EAP-TLS authenticates the peer by its certificate: set Certs or TLS.ClientAuth=RequireAndVerifyClientCert with ClientCAs")
			}
		default:
			return fmt.Errorf("eap: ServerConfig.Methods: method %s cannot be offered", m)
		}
		if slices.Index(c.Methods, m) != i {
			return fmt.Errorf("eap: ServerConfig.Methods: method %s listed twice", m)
		}
	}
	if c.TLSFragmentSize < 0 || c.TLSFragmentSize > MaxPacketLen-10 {
		return fmt.Errorf("eap: ServerConfig.TLSFragmentSize: %d out of range", c.TLSFragmentSize)
	}
	if len(c.Name) > MaxIdentityLen {
		return fmt.Errorf("eap: ServerConfig.Name: %d octets exceeds %d", len(c.Name), MaxIdentityLen)
	}
	if c.TLSMaxMessage < 0 || c.MaxRounds < 0 {
		return errors.New("eap: ServerConfig: negative limit")
	}
	return nil
}

// Server is one EAP conversation on the authenticator side. It is a
// byte-in/byte-out state machine: it never does I/O, starts no goroutine
// visible to the caller and is not safe for concurrent use (an IKE SA's
// goroutine owns it). Call Close when the conversation ends or is
// abandoned; EAP-TLS holds a crypto/tls handshake that Close releases.
type Server struct {
	cfg     ServerConfig
	state   serverState
	id      uint8 // Identifier of the outstanding request
	last    []byte
	rounds  int
	method  serverMethod
	mtype   Type
	mrounds int // responses processed by the current method
	tried   []Type
	ident   string
	result  Result
	backend BackendConversation
}

type serverState uint8

const (
	stateNew serverState = iota
	stateIdentity
	stateMethod
	stateBackend
	stateDone
)

// NewServer checks cfg and returns a conversation ready for Start.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Methods = slices.Clone(cfg.Methods)
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = DefaultMaxRounds
	}
	if cfg.TLSFragmentSize == 0 {
		cfg.TLSFragmentSize = DefaultTLSFragmentSize
	}
	if cfg.TLSMaxMessage == 0 {
		cfg.TLSMaxMessage = DefaultTLSMaxMessage
	}
	if cfg.Name == "" {
		cfg.Name = "goipsec"
	}
	return &Server{cfg: cfg}, nil
}

// Start returns the first request. With SkipIdentity and a non-empty
// identityHint (the IKE IDi) it is the first method's request; otherwise
// it is EAP-Request/Identity.
func (s *Server) Start(identityHint string) ([]byte, error) {
	return s.StartContext(context.Background(), identityHint)
}

// StartContext is Start with a context for the backend.
func (s *Server) StartContext(ctx context.Context, identityHint string) ([]byte, error) {
	if s.state != stateNew {
		return nil, fmt.Errorf("eap: Start called twice: %w", ErrFinished)
	}
	var b [1]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return nil, fmt.Errorf("eap: random: %w", err)
	}
	// RFC 3748 section 4: the first Identifier should be random.
	s.id = b[0] - 1
	if s.cfg.SkipIdentity && identityHint != "" && s.cfg.Backend == nil {
		if len(identityHint) > MaxIdentityLen {
			return nil, fmt.Errorf("eap: identity hint of %d octets exceeds %d", len(identityHint), MaxIdentityLen)
		}
		s.ident = identityHint
		s.result.Identity = identityHint
		out, _, err := s.startMethod(s.cfg.Methods[0])
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	s.state = stateIdentity
	return s.request(TypeIdentity, nil), nil
}

// Pending returns the last packet sent (the outstanding request, or the
// final Success/Failure), for an engine that must retransmit it.
func (s *Server) Pending() []byte { return slices.Clone(s.last) }

// Result returns the current state of the conversation.
func (s *Server) Result() Result { return s.result }

// Close releases the method's resources. It is safe to call more than
// once and after the conversation ended.
func (s *Server) Close() error {
	if s.method != nil {
		s.method.close()
	}
	if s.backend != nil {
		s.backend.Close()
		s.backend = nil
	}
	if s.state != stateDone {
		s.state = stateDone
		if s.result.Status == StatusContinue {
			s.result.Status = StatusFailure
			s.result.Err = ErrFinished
		}
	}
	return nil
}

// Process consumes one EAP response and returns the packet to send: the
// next request, or EAP-Success/EAP-Failure when res.Status is final.
//
// Rules for the caller: send out whenever it is non-nil. When err
// matches ErrDiscarded, out is nil and nothing changed (a stale or
// duplicate response): wait, or retransmit Pending(). ErrFinished (a
// call after the end or before Start) also comes without a packet. Any
// other error comes with the EAP-Failure that ends the conversation and
// explains it; res.Err holds the same reason.
func (s *Server) Process(resp []byte) (out []byte, res Result, err error) {
	return s.ProcessContext(context.Background(), resp)
}

// ProcessContext is Process with a context for user-store and backend
// lookups.
func (s *Server) ProcessContext(ctx context.Context, resp []byte) (out []byte, res Result, err error) {
	switch s.state {
	case stateDone:
		return nil, s.result, ErrFinished
	case stateNew:
		return nil, s.result, fmt.Errorf("eap: Process before Start: %w", ErrProtocol)
	}
	p, err := Parse(resp)
	if err != nil {
		// Inside IKE the EAP message arrives integrity-protected from the
		// IKE peer, so a malformed one is a broken client rather than an
		// injected packet (the reason RFC 3748 section 4 discards): end
		// with a prompt EAP-Failure instead of a timeout.
		return s.fail(err)
	}
	if p.Code != CodeResponse {
		return s.fail(protoErr(p.Type, "authenticator got %s", p.Code))
	}
	if p.Identifier != s.id {
		// RFC 3748 section 4.1: responses that do not match the
		// outstanding request are silently discarded.
		return nil, s.result, fmt.Errorf("eap: response id %d, outstanding request id %d: %w", p.Identifier, s.id, ErrDiscarded)
	}
	s.rounds++
	if s.rounds > s.cfg.MaxRounds {
		return s.fail(fmt.Errorf("eap: %d rounds: %w", s.rounds, ErrTooManyRounds))
	}
	switch s.state {
	case stateIdentity:
		return s.onIdentity(ctx, p, resp)
	case stateBackend:
		return s.onBackend(ctx, resp)
	}
	return s.onMethod(ctx, p)
}

func (s *Server) onIdentity(ctx context.Context, p *Packet, raw []byte) ([]byte, Result, error) {
	if p.Type != TypeIdentity {
		return s.fail(protoErr(p.Type, "expected an Identity response"))
	}
	if len(p.Data) > MaxIdentityLen {
		return s.fail(&ParseError{Method: TypeIdentity, Reason: fmt.Sprintf("identity of %d octets exceeds %d", len(p.Data), MaxIdentityLen)})
	}
	s.ident = string(p.Data)
	s.result.Identity = s.ident
	if s.cfg.Backend != nil {
		conv, err := s.cfg.Backend.Start(ctx, s.ident)
		if err != nil {
			return s.fail(fmt.Errorf("eap: backend: %w", err))
		}
		s.backend = conv
		s.state = stateBackend
		return s.onBackend(ctx, raw)
	}
	return s.startMethod(s.cfg.Methods[0])
}

func (s *Server) startMethod(t Type) ([]byte, Result, error) {
	if s.method != nil {
		s.method.close()
	}
	m, err := s.newMethod(t)
	if err != nil {
		return s.fail(err)
	}
	s.method, s.mtype, s.mrounds = m, t, 0
	s.tried = append(s.tried, t)
	s.result.Method = t
	s.state = stateMethod
	data, err := m.start(s.id + 1)
	if err != nil {
		return s.fail(err)
	}
	return s.request(t, data), s.result, nil
}

func (s *Server) newMethod(t Type) (serverMethod, error) {
	switch t {
	case TypeMSCHAPv2:
		return &mschapv2Server{s: s}, nil
	case TypeMD5Challenge:
		return &md5Server{s: s}, nil
	case TypeGTC:
		return &gtcServer{s: s}, nil
	case TypeTLS:
		m, err := newTLSServer(s)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("eap: method %s not supported", t)
}

func (s *Server) onMethod(ctx context.Context, p *Packet) ([]byte, Result, error) {
	if p.Type == TypeNAK {
		// RFC 3748 section 5.3.1: a NAK is only valid in response to the
		// initial request of a method.
		if s.mrounds != 0 {
			return s.fail(protoErr(TypeNAK, "NAK after the method started"))
		}
		return s.onNAK(p.Data)
	}
	if p.Type != s.mtype {
		return s.fail(protoErr(p.Type, "response to %s request", s.mtype))
	}
	s.mrounds++
	st, err := s.method.process(ctx, p.Identifier, p.Data)
	if err != nil {
		return s.fail(err)
	}
	if !st.done {
		return s.request(s.mtype, st.next), s.result, nil
	}
	if !st.ok {
		s.result.Identity = firstNonEmpty(st.identity, s.result.Identity)
		return s.fail(st.reason)
	}
	s.result.Identity = firstNonEmpty(st.identity, s.ident)
	s.result.MSK, s.result.EMSK, s.result.User = st.msk, st.emsk, st.user
	return s.finish(CodeSuccess, nil)
}

func (s *Server) onNAK(data []byte) ([]byte, Result, error) {
	if len(data) == 0 {
		return s.fail(&ParseError{Method: TypeNAK, Reason: "empty NAK"})
	}
	for _, want := range s.cfg.Methods {
		if slices.Contains(s.tried, want) {
			continue
		}
		if slices.Contains(data, byte(want)) {
			return s.startMethod(want)
		}
	}
	return s.fail(fmt.Errorf("eap: peer NAKed %s and proposed %v, none of which is configured or untried: %w", s.mtype, typeList(data), ErrNoMethod))
}

func typeList(b []byte) []Type {
	ts := make([]Type, 0, len(b))
	for _, t := range b {
		ts = append(ts, Type(t))
	}
	return ts
}

func (s *Server) onBackend(ctx context.Context, resp []byte) ([]byte, Result, error) {
	out, res, err := s.backend.Exchange(ctx, resp)
	if err != nil {
		return s.fail(fmt.Errorf("eap: backend: %w", err))
	}
	p, err := Parse(out)
	if err != nil {
		return s.fail(fmt.Errorf("eap: backend sent a malformed packet: %w", err))
	}
	switch p.Code {
	case CodeRequest:
		s.id = p.Identifier
		s.last = slices.Clone(out[:4+1+len(p.Data)])
		s.result.Method = p.Type
		return slices.Clone(s.last), s.result, nil
	case CodeSuccess:
		if res.Identity != "" {
			s.result.Identity = res.Identity
		}
		s.result.Method = firstNonZero(res.Method, s.result.Method)
		s.result.MSK, s.result.EMSK, s.result.User = res.MSK, res.EMSK, res.User
		return s.finish(CodeSuccess, nil)
	case CodeFailure:
		return s.finish(CodeFailure, firstErr(res.Err, ErrAuthFailed))
	}
	return s.fail(fmt.Errorf("eap: backend sent %s: %w", p.Code, ErrProtocol))
}

func (s *Server) request(t Type, data []byte) []byte {
	s.id++
	p := Packet{Code: CodeRequest, Identifier: s.id, Type: t, Data: data}
	b, err := p.Append(nil)
	if err != nil {
		// Unreachable: validate bounds Name and TLSFragmentSize, so no
		// method builds a request near MaxPacketLen.
		panic(err)
	}
	s.last = b
	return slices.Clone(b)
}

func (s *Server) fail(reason error) ([]byte, Result, error) {
	return s.finish(CodeFailure, reason)
}

// finish ends the conversation. RFC 3748 section 4.2: the Identifier of
// Success/Failure is that of the response it answers, i.e. s.id.
func (s *Server) finish(code Code, reason error) ([]byte, Result, error) {
	if s.method != nil {
		s.method.close()
	}
	if s.backend != nil {
		s.backend.Close()
		s.backend = nil
	}
	s.state = stateDone
	s.last = []byte{byte(code), s.id, 0, 4}
	if code == CodeSuccess {
		s.result.Status = StatusSuccess
		return slices.Clone(s.last), s.result, nil
	}
	s.result.Status = StatusFailure
	s.result.Err = reason
	s.result.MSK, s.result.EMSK, s.result.User = nil, nil, nil
	return slices.Clone(s.last), s.result, reason
}

func (s *Server) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return nil, fmt.Errorf("eap: random: %w", err)
	}
	return b, nil
}

// serverMethod is one method on the authenticator side.
type serverMethod interface {
	// start returns the Type-Data of the method's first request, which
	// will carry Identifier id.
	start(id uint8) ([]byte, error)
	// process consumes a response's Type-Data. An error is a malformed or
	// out-of-sequence response and ends the conversation.
	process(ctx context.Context, id uint8, data []byte) (serverStep, error)
	close()
}

type serverStep struct {
	next      []byte // Type-Data of the next request while !done
	done, ok  bool
	identity  string // the authenticated name, if the method learned one
	user      *ipsec.User
	msk, emsk ipsec.Secret
	reason    error // why !ok
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstNonZero(a, b Type) Type {
	if a != 0 {
		return a
	}
	return b
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
