package xauth

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/goipsec/ipsec"
)

// Status is where an exchange stands after a Process call.
type Status uint8

// Statuses.
const (
	// StatusContinue: send the returned message (if any) and wait.
	StatusContinue Status = iota
	// StatusSuccess: the user is authenticated (server: the client
	// acknowledged XAUTH_STATUS OK; client: the gateway sent it).
	StatusSuccess
	// StatusFailure: authentication failed; delete the ISAKMP SA.
	StatusFailure
)

// String returns "continue", "success" or "failure".
func (s Status) String() string {
	switch s {
	case StatusContinue:
		return "continue"
	case StatusSuccess:
		return "success"
	case StatusFailure:
		return "failure"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result describes an exchange. Once Status is final it no longer changes.
type Result struct {
	// Status is how far the exchange got.
	Status Status
	// Name is the user name the client sent (the last one, after
	// retries); on the client side, our own.
	Name string
	// User is the authenticated account (server side, at Success): its
	// fixed addresses and groups feed Mode Config and authorization.
	User *ipsec.User
	// Attempts counts the REPLYs the server checked.
	Attempts int
	// Err is why the exchange failed; errors.Is(Err, ErrAuthFailed) for
	// bad credentials. It never contains a password.
	Err error
}

// String summarises r without secrets.
func (r Result) String() string {
	s := fmt.Sprintf("xauth %s user=%q attempts=%d", r.Status, r.Name, r.Attempts)
	if r.Err != nil {
		s += " err=" + r.Err.Error()
	}
	return s
}

// GoString is String.
func (r Result) GoString() string { return r.String() }

// DefaultMaxAttempts is how many REQUESTs a Server sends before it gives
// up: the client's password prompt gets three tries, like a login.
const DefaultMaxAttempts = 3

// MaxNameLen bounds a user name (what RADIUS can carry in User-Name, RFC
// 2865 section 5.1); MaxPasswordLen bounds a password (RADIUS
// User-Password, RFC 2865 section 5.2).
const (
	MaxNameLen     = 253
	MaxPasswordLen = 128
)

// ServerConfig configures the gateway side of XAuth.
type ServerConfig struct {
	// Users checks generic user names and passwords. Names are tried as
	// sent, then without a "DOMAIN\" prefix. Accounts need a clear
	// Password (an NT hash alone cannot check XAuth generic). When Users
	// also implements ipsec.PasswordVerifier (a RADIUS client, say), the
	// Server hands it the name and password (ipsec.PasswordPAP) instead
	// of looking the account up.
	Users ipsec.UserStore
	// Backend, when set, checks the credentials instead of Users.
	Backend Backend
	// MaxAttempts bounds the REQUESTs (DefaultMaxAttempts when zero);
	// after that many wrong passwords the Server sends XAUTH_STATUS FAIL.
	MaxAttempts int
	// Message is an XAUTH_MESSAGE shown with the first prompt (none when
	// empty); RetryMessage is shown with the following ones ("Wrong user
	// name or password, try again." when empty).
	Message, RetryMessage string
	// OmitType leaves XAUTH_TYPE out of the REQUEST, as strongSwan does.
	// By default the REQUEST carries XAUTH_TYPE generic as a basic
	// attribute, which racoon (iOS, macOS) checks and echoes.
	OmitType bool
	// Rand is the source of Identifiers (crypto/rand when nil).
	Rand io.Reader
}

type serverState uint8

const (
	srvNew serverState = iota
	srvRequest
	srvStatus
	srvDone
)

// Server is the gateway side of one XAuth exchange (draft-beaulieu-ike-
// xauth-02): REQUEST(XAUTH_TYPE, USER_NAME, USER_PASSWORD[, MESSAGE]),
// the client's REPLY, SET(XAUTH_STATUS) and the client's ACK. It is a
// state machine over Messages: no I/O, no logging, not safe for
// concurrent use (the ISAKMP SA's goroutine owns it).
type Server struct {
	cfg      ServerConfig
	backend  Backend
	state    serverState
	pending  *Message
	attempts int
	ok       bool
	result   Result
}

// NewServer checks cfg and returns an exchange ready for Start.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Backend == nil && cfg.Users == nil {
		return nil, errors.New("xauth: ServerConfig: set Users or Backend")
	}
	if cfg.MaxAttempts < 0 || cfg.MaxAttempts > 100 {
		return nil, fmt.Errorf("xauth: ServerConfig.MaxAttempts: %d out of range 0..100", cfg.MaxAttempts)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if len(cfg.Message) > 1024 || len(cfg.RetryMessage) > 1024 {
		return nil, errors.New("xauth: ServerConfig.Message: longer than 1024 octets")
	}
	if cfg.RetryMessage == "" {
		cfg.RetryMessage = "Wrong user name or password, try again."
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	s := &Server{cfg: cfg, backend: cfg.Backend}
	if s.backend == nil {
		if v, ok := cfg.Users.(ipsec.PasswordVerifier); ok {
			s.backend = verifierBackend{v}
		} else {
			s.backend = storeBackend{cfg.Users}
		}
	}
	return s, nil
}

// Start returns the first REQUEST.
func (s *Server) Start() (*Message, error) {
	if s.state != srvNew {
		return nil, errors.New("xauth: Start called twice")
	}
	m, err := s.request(s.cfg.Message)
	if err != nil {
		return nil, err
	}
	s.state = srvRequest
	return m, nil
}

// Pending returns the message awaiting an answer, for retransmission
// (nil when none).
func (s *Server) Pending() *Message { return s.pending }

// Result returns the current state of the exchange.
func (s *Server) Result() Result { return s.result }

func (s *Server) newID() (uint16, error) {
	var b [2]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return 0, fmt.Errorf("xauth: identifier: %w", err)
	}
	id := binary.BigEndian.Uint16(b[:])
	if s.pending != nil && id == s.pending.Identifier {
		id++ // a retry must not look like a retransmission
	}
	return id, nil
}

func (s *Server) request(msg string) (*Message, error) {
	id, err := s.newID()
	if err != nil {
		return nil, err
	}
	m := &Message{Type: CfgRequest, Identifier: id}
	if !s.cfg.OmitType {
		m.Attrs = append(m.Attrs, Short(XAuthType, TypeGeneric))
	}
	m.Attrs = append(m.Attrs, Attribute{Type: XAuthUserName, Value: []byte{}}, Attribute{Type: XAuthUserPassword, Value: []byte{}})
	if msg != "" {
		m.Attrs = append(m.Attrs, Long(XAuthMessage, []byte(msg)))
	}
	s.pending = m
	return m, nil
}

func (s *Server) status(ok bool) (*Message, error) {
	id, err := s.newID()
	if err != nil {
		return nil, err
	}
	v := StatusFail
	if ok {
		v = StatusOK
	}
	m := &Message{Type: CfgSet, Identifier: id, Attrs: []Attribute{Short(XAuthStatus, v)}}
	s.pending = m
	s.ok = ok
	s.state = srvStatus
	return m, nil
}

// Process takes the client's message and returns the one to send (nil
// when none) and the exchange's state:
//
//   - a REPLY to the outstanding REQUEST: right credentials give
//     SET(STATUS OK); wrong ones a new REQUEST, or SET(STATUS FAIL) after
//     MaxAttempts; an unsupported method (a REPLY with XAUTH_TYPE other
//     than generic, or with a token answer instead of a password) and a
//     REPLY without the credentials give SET(STATUS FAIL) at once.
//   - the ACK of the SET: StatusSuccess or StatusFailure.
//
// A message of the wrong type or Identifier returns ErrDiscarded and
// changes nothing (a retransmission: resend Pending()). ctx bounds the
// credential check and carries NAS for a Backend.
func (s *Server) Process(ctx context.Context, in *Message) (*Message, Result, error) {
	switch {
	case s.state == srvDone:
		return nil, s.result, ErrFinished
	case s.state == srvNew:
		return nil, s.result, errors.New("xauth: Process before Start")
	case in == nil || s.pending == nil || (in.Identifier != s.pending.Identifier && in.Identifier != 0):
		// strongSwan's client answers with Identifier 0; the exchange's
		// message ID already binds the answer to our message.
		return nil, s.result, ErrDiscarded
	case s.state == srvRequest && in.Type == CfgReply:
		return s.processReply(ctx, in)
	case s.state == srvStatus && in.Type == CfgAck:
		s.state = srvDone
		s.pending = nil
		if s.ok {
			s.result.Status = StatusSuccess
		} else {
			s.result.Status = StatusFailure
		}
		return nil, s.result, nil
	}
	return nil, s.result, ErrDiscarded
}

func (s *Server) fail(err error) (*Message, Result, error) {
	s.result.Err = err
	s.result.User = nil
	out, e := s.status(false)
	if e != nil {
		s.state = srvDone
		s.result.Status = StatusFailure
		return nil, s.result, e
	}
	return out, s.result, nil
}

func (s *Server) processReply(ctx context.Context, in *Message) (*Message, Result, error) {
	s.attempts++
	s.result.Attempts = s.attempts
	if a, ok := in.Get(XAuthType); ok {
		t, ok := a.Uint16()
		if !ok {
			return s.fail(fmt.Errorf("%w: XAUTH_TYPE of %d octets", ErrMalformed, len(a.Value)))
		}
		if t != TypeGeneric {
			return s.fail(&UnsupportedError{Type: t})
		}
	}
	name, hasName := in.Get(XAuthUserName)
	pass, hasPass := in.Get(XAuthUserPassword)
	if !hasPass {
		for _, p := range []uint16{XAuthPasscode, XAuthNextPIN, XAuthAnswer} {
			if in.Has(p) {
				return s.fail(&UnsupportedError{Type: TypeGeneric, Attr: p})
			}
		}
	}
	if !hasName || !hasPass || name.TV || pass.TV {
		return s.fail(protoErr("REPLY without XAUTH_USER_NAME and XAUTH_USER_PASSWORD"))
	}
	if len(name.Value) > MaxNameLen || len(pass.Value) > MaxPasswordLen {
		return s.fail(fmt.Errorf("%w: user name or password too long", ErrMalformed))
	}
	s.result.Name = string(name.Value)
	// Copy the password out of the packet buffer, hand it to the backend,
	// and wipe the copy: nothing here keeps it.
	pw := ipsec.Secret(append([]byte(nil), pass.Value...))
	u, err := s.backend.Authenticate(ctx, s.result.Name, pw)
	clear(pw)
	switch {
	case err == nil && u != nil:
		s.result.User = u
		s.result.Err = nil
		out, err := s.status(true)
		if err != nil {
			s.state = srvDone
			s.result.Status = StatusFailure
			s.result.Err = err
			return nil, s.result, err
		}
		return out, s.result, nil
	case err == nil || errors.Is(err, ErrAuthFailed):
		if s.attempts >= s.cfg.MaxAttempts {
			return s.fail(fmt.Errorf("%w: user %q: %w", ErrTooManyAttempts, s.result.Name, ErrAuthFailed))
		}
		s.result.Err = fmt.Errorf("user %q: %w", s.result.Name, ErrAuthFailed)
		out, err := s.request(s.cfg.RetryMessage)
		if err != nil {
			s.state = srvDone
			s.result.Status = StatusFailure
			return nil, s.result, err
		}
		return out, s.result, nil
	default:
		// A backend outage: asking again would not help.
		return s.fail(fmt.Errorf("xauth: user %q: backend: %w", s.result.Name, err))
	}
}
