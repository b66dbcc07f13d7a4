package xauth

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/goipsec/ipsec"
)

// DefaultMaxRequests bounds the REQUESTs a Client answers in one
// exchange: a gateway that keeps asking (our password is wrong and it
// allows many retries) gets no more answers after that.
const DefaultMaxRequests = 5

// ClientConfig configures our side of XAuth as an IKEv1 initiator.
type ClientConfig struct {
	// Name is the user name.
	Name string
	// Password is the password, sent for XAUTH_USER_PASSWORD and, as
	// racoon does, for XAUTH_PASSCODE.
	Password ipsec.Secret
	// MaxRequests bounds the REQUESTs answered (DefaultMaxRequests when
	// zero).
	MaxRequests int
}

// Client is the initiator side of one XAuth exchange: it answers the
// gateway's REQUESTs with the credentials and acknowledges its
// SET(XAUTH_STATUS). Like Server it is a state machine over Messages.
type Client struct {
	cfg      ClientConfig
	requests int
	lastReq  *Message
	lastOut  *Message
	messages []string
	result   Result
	done     bool
	lastAck  *Message
}

// NewClient checks cfg and returns an exchange waiting for the gateway's
// first REQUEST.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Name == "" || len(cfg.Name) > MaxNameLen {
		return nil, fmt.Errorf("xauth: ClientConfig.Name: want 1..%d octets", MaxNameLen)
	}
	if len(cfg.Password) > MaxPasswordLen {
		return nil, fmt.Errorf("xauth: ClientConfig.Password: longer than %d octets", MaxPasswordLen)
	}
	if cfg.MaxRequests < 0 {
		return nil, errors.New("xauth: ClientConfig.MaxRequests: negative")
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	cfg.Password = append(ipsec.Secret(nil), cfg.Password...)
	return &Client{cfg: cfg, result: Result{Name: cfg.Name}}, nil
}

// Messages returns the XAUTH_MESSAGE texts the gateway sent, oldest
// first (at most one per REQUEST or SET), for showing to the user.
func (c *Client) Messages() []string { return c.messages }

// Process takes a gateway message and returns our answer (nil when none):
//
//   - REQUEST: a REPLY with XAUTH_TYPE echoed (when present), the user
//     name and the password. A repeated REQUEST (same Identifier and
//     attributes) gets the same REPLY again. An XAUTH_TYPE other than
//     generic, or a prompt for XAUTH_NEXT_PIN or XAUTH_ANSWER, ends the
//     exchange with an *UnsupportedError and no answer.
//   - SET with XAUTH_STATUS: an ACK and StatusSuccess or StatusFailure.
//     A SET without a REQUEST before is accepted: gateways send a bare
//     STATUS OK on a Phase 1 rekey (strongSwan's xauth-noauth).
//
// Malformed messages and other types return an error wrapping
// ErrMalformed, ErrProtocol or ErrDiscarded and change nothing.
func (c *Client) Process(in *Message) (*Message, Result, error) {
	if c.done {
		if in != nil && in.Type == CfgSet && c.lastAck != nil && in.Identifier == c.lastAck.Identifier {
			return c.lastAck, c.result, nil // our ACK was lost
		}
		return nil, c.result, ErrFinished
	}
	if in == nil {
		return nil, c.result, ErrDiscarded
	}
	switch in.Type {
	case CfgRequest:
		return c.processRequest(in)
	case CfgSet:
		return c.processSet(in)
	}
	return nil, c.result, ErrDiscarded
}

func sameMessage(a, b *Message) bool {
	if a.Type != b.Type || a.Identifier != b.Identifier || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for i := range a.Attrs {
		x, y := a.Attrs[i], b.Attrs[i]
		if x.Type != y.Type || x.TV != y.TV || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func (c *Client) end(err error) (*Message, Result, error) {
	c.done = true
	c.result.Status = StatusFailure
	c.result.Err = err
	return nil, c.result, err
}

func (c *Client) processRequest(in *Message) (*Message, Result, error) {
	if c.lastReq != nil && sameMessage(in, c.lastReq) {
		return c.lastOut, c.result, nil
	}
	if !in.Has(XAuthUserName) && !in.Has(XAuthUserPassword) && !in.Has(XAuthPasscode) &&
		!in.Has(XAuthNextPIN) && !in.Has(XAuthAnswer) {
		return nil, c.result, protoErr("REQUEST asks for no credential")
	}
	out := &Message{Type: CfgReply, Identifier: in.Identifier}
	var msg string
	for _, a := range in.Attrs {
		switch a.Type {
		case XAuthType:
			t, ok := a.Uint16()
			if !a.TV || !ok {
				return nil, c.result, fmt.Errorf("%w: XAUTH_TYPE must be a basic attribute", ErrMalformed)
			}
			if t != TypeGeneric {
				return c.end(&UnsupportedError{Type: t})
			}
			out.Attrs = append(out.Attrs, Short(XAuthType, TypeGeneric))
		case XAuthUserName:
			out.Attrs = append(out.Attrs, Long(XAuthUserName, []byte(c.cfg.Name)))
		case XAuthUserPassword, XAuthPasscode:
			out.Attrs = append(out.Attrs, Long(a.Type, c.cfg.Password))
		case XAuthNextPIN, XAuthAnswer:
			return c.end(&UnsupportedError{Type: TypeGeneric, Attr: a.Type})
		case XAuthMessage:
			if !a.TV && msg == "" {
				msg = sanitize(a.Value)
			}
		}
	}
	c.requests++
	if c.requests > c.cfg.MaxRequests {
		return c.end(fmt.Errorf("%w: gateway sent more than %d requests", ErrTooManyAttempts, c.cfg.MaxRequests))
	}
	if msg != "" {
		c.messages = append(c.messages, msg)
	}
	c.lastReq = cloneMessage(in)
	c.lastOut = out
	return out, c.result, nil
}

func (c *Client) processSet(in *Message) (*Message, Result, error) {
	a, ok := in.Get(XAuthStatus)
	if !ok {
		return nil, c.result, protoErr("SET without XAUTH_STATUS")
	}
	v, ok := a.Uint16()
	if !ok {
		return nil, c.result, fmt.Errorf("%w: XAUTH_STATUS of %d octets", ErrMalformed, len(a.Value))
	}
	if m, ok := in.Get(XAuthMessage); ok && !m.TV && len(m.Value) > 0 {
		c.messages = append(c.messages, sanitize(m.Value))
	}
	c.done = true
	// racoon acknowledges with XAUTH_STATUS as a basic attribute of 0.
	out := &Message{Type: CfgAck, Identifier: in.Identifier, Attrs: []Attribute{Short(XAuthStatus, 0)}}
	if v == StatusOK {
		c.result.Status = StatusSuccess
		c.result.Err = nil
	} else {
		c.result.Status = StatusFailure
		c.result.Err = ErrAuthFailed
	}
	clear(c.cfg.Password)
	c.lastAck = out
	return out, c.result, nil
}

func cloneMessage(m *Message) *Message {
	out := &Message{Type: m.Type, Identifier: m.Identifier, Attrs: make([]Attribute, len(m.Attrs))}
	for i, a := range m.Attrs {
		out.Attrs[i] = Attribute{Type: a.Type, TV: a.TV, Value: append([]byte{}, a.Value...)}
	}
	return out
}

// sanitize makes gateway text safe to show and log: printable ASCII and
// UTF-8 kept, control characters replaced, at most 1024 octets.
func sanitize(b []byte) string {
	if len(b) > 1024 {
		b = b[:1024]
	}
	s := []rune(string(b))
	for i, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f {
			s[i] = '?'
		}
	}
	return string(s)
}
