package eap

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goipsec/ipsec"
)

// MS-CHAPv2 opcodes (RFC 2759 section 3, draft-kamath-pppext-eap-mschapv2
// section 2).
const (
	mschapChallenge = 1
	mschapResponse  = 2
	mschapSuccess   = 3
	mschapFailure   = 4
)

const (
	mschapHeaderLen    = 4  // OpCode, MS-CHAPv2-ID, MS-Length
	mschapChallengeLen = 16 // RFC 2759 section 3: Value-Size 16
	mschapResponseLen  = 49 // RFC 2759 section 4: Value-Size 49
	// mschapErrAuthFailure is ERROR_AUTHENTICATION_FAILURE (RFC 2759
	// section 6); the same code answers unknown users.
	mschapErrAuthFailure = 691
	// maxMSCHAPName bounds the Name field we accept.
	maxMSCHAPName = MaxIdentityLen
)

// MSCHAPv2Packet is the decoded Type-Data of an EAP-MSCHAPv2 packet.
type MSCHAPv2Packet struct {
	// OpCode is the MS-CHAPv2 operation (Challenge, Response, Success, ...).
	OpCode uint8
	ID     uint8 // MS-CHAPv2-ID
	// Value is the 16-octet challenge (Challenge) or the 49-octet
	// response (Response); nil otherwise.
	Value []byte
	// Name is the authenticator name (Challenge) or user name (Response).
	Name string
	// Message is the text of a Success or Failure request.
	Message string
}

// ParseMSCHAPv2 decodes EAP-MSCHAPv2 Type-Data. A Success or Failure
// response is the opcode alone (draft-kamath section 2.3 and 2.4).
func ParseMSCHAPv2(data []byte) (*MSCHAPv2Packet, error) {
	perr := func(off int, format string, args ...any) error {
		return &ParseError{Method: TypeMSCHAPv2, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) == 0 {
		return nil, perr(0, "empty")
	}
	p := &MSCHAPv2Packet{OpCode: data[0]}
	if len(data) == 1 {
		if p.OpCode != mschapSuccess && p.OpCode != mschapFailure {
			return nil, perr(0, "opcode %d without header", p.OpCode)
		}
		return p, nil
	}
	if len(data) < mschapHeaderLen {
		return nil, perr(0, "%d octets, shorter than the header", len(data))
	}
	p.ID = data[1]
	n := int(binary.BigEndian.Uint16(data[2:4]))
	if n < mschapHeaderLen || n > len(data) {
		return nil, perr(2, "MS-Length %d with %d octets", n, len(data))
	}
	body := data[mschapHeaderLen:n]
	switch p.OpCode {
	case mschapChallenge, mschapResponse:
		want := mschapChallengeLen
		if p.OpCode == mschapResponse {
			want = mschapResponseLen
		}
		if len(body) < 1 || int(body[0]) != want || len(body) < 1+want {
			return nil, perr(4, "value size: want %d", want)
		}
		p.Value = body[1 : 1+want]
		name := body[1+want:]
		if len(name) > maxMSCHAPName {
			return nil, perr(5+want, "name of %d octets exceeds %d", len(name), maxMSCHAPName)
		}
		p.Name = string(name)
	case mschapSuccess, mschapFailure:
		p.Message = string(body)
	default:
		return nil, perr(0, "unsupported opcode %d", p.OpCode)
	}
	return p, nil
}

func appendMSCHAPv2(op, id uint8, body []byte) []byte {
	b := []byte{op, id, 0, 0}
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// mschapFailureMessage is the Failure-Request text of RFC 2759 section 6
// with R=0: no retry, the conversation ends with EAP-Failure (a client
// retry would need a new IKE_AUTH anyway). Only sent with
// ServerConfig.MSCHAPv2FailureRequest.
func mschapFailureMessage(challenge []byte) string {
	return fmt.Sprintf("E=%d R=0 C=%s V=3 M=Authentication failed", mschapErrAuthFailure, strings.ToUpper(hex.EncodeToString(challenge)))
}

// mschapv2Server is the authenticator's MSCHAPv2.
type mschapv2Server struct {
	s         *Server
	msid      uint8
	challenge []byte
	state     uint8 // 0 challenge sent, 1 success sent, 2 failure sent
	// result of the Response step, delivered after the Success-Response
	name string
	user *ipsec.User
	msk  ipsec.Secret
	why  error
}

func (m *mschapv2Server) start(id uint8) ([]byte, error) {
	c, err := m.s.random(mschapChallengeLen)
	if err != nil {
		return nil, err
	}
	m.challenge, m.msid = c, id
	body := append([]byte{mschapChallengeLen}, c...)
	return appendMSCHAPv2(mschapChallenge, m.msid, append(body, m.s.cfg.Name...)), nil
}

func (m *mschapv2Server) process(ctx context.Context, _ uint8, data []byte) (serverStep, error) {
	p, err := ParseMSCHAPv2(data)
	if err != nil {
		return serverStep{}, err
	}
	switch {
	case m.state == 0 && p.OpCode == mschapResponse:
		if p.ID != m.msid {
			return serverStep{}, protoErr(TypeMSCHAPv2, "MS-CHAPv2-ID %d, want %d", p.ID, m.msid)
		}
		return m.verify(ctx, p)
	case m.state == 1 && p.OpCode == mschapSuccess:
		return serverStep{done: true, ok: true, identity: m.name, user: m.user, msk: m.msk}, nil
	case m.state == 1 && p.OpCode == mschapFailure:
		// The peer rejected our authenticator response.
		return serverStep{done: true, identity: m.name, reason: fmt.Errorf("eap: MSCHAPV2: peer rejected the server's authenticator response: %w", ErrAuthFailed)}, nil
	case m.state == 2 && p.OpCode == mschapFailure:
		return serverStep{done: true, identity: m.name, reason: m.why}, nil
	}
	return serverStep{}, protoErr(TypeMSCHAPv2, "opcode %d in state %d", p.OpCode, m.state)
}

func (m *mschapv2Server) verify(ctx context.Context, p *MSCHAPv2Packet) (serverStep, error) {
	peerChallenge, resp := p.Value[:16], p.Value[24:48]
	m.name = p.Name
	var hash ipsec.Secret
	u, err := LookupUser(ctx, m.s.cfg.Users, p.Name)
	switch {
	case err == nil:
		var ok bool
		if hash, ok = ntHashOf(u); !ok {
			err = fmt.Errorf("eap: MSCHAPV2: user %q has no password usable for MSCHAPv2: %w", p.Name, ErrAuthFailed)
		}
	case errors.Is(err, ipsec.ErrUnknownUser):
		err = fmt.Errorf("eap: MSCHAPV2: unknown user %q: %w", p.Name, ErrAuthFailed)
	default:
		// A backend outage: the peer still sees E=691, the log the cause.
		err = fmt.Errorf("eap: MSCHAPV2: user lookup: %w", err)
	}
	if hash == nil {
		// Do the same work as for a real user so timing does not tell
		// unknown names from wrong passwords.
		hash = make(ipsec.Secret, 16)
	}
	want := ntResponse(m.challenge, peerChallenge, p.Name, hash)
	if err == nil && subtle.ConstantTimeCompare(want, resp) != 1 {
		err = fmt.Errorf("eap: MSCHAPV2: wrong password for %q: %w", p.Name, ErrAuthFailed)
	}
	if err != nil && !m.s.cfg.MSCHAPv2FailureRequest {
		return serverStep{done: true, identity: p.Name, reason: err}, nil
	}
	if err != nil {
		m.state, m.why = 2, err
		c, rerr := m.s.random(mschapChallengeLen)
		if rerr != nil {
			return serverStep{}, rerr
		}
		return serverStep{next: appendMSCHAPv2(mschapFailure, p.ID, []byte(mschapFailureMessage(c)))}, nil
	}
	m.state, m.user = 1, u
	m.msk = mschapv2MSK(hash, resp)
	msg := authenticatorResponse(hash, resp, peerChallenge, m.challenge, p.Name) + " M=Welcome"
	return serverStep{next: appendMSCHAPv2(mschapSuccess, p.ID, []byte(msg))}, nil
}

func (m *mschapv2Server) close() {}

// mschapv2Peer is the client's MSCHAPv2.
type mschapv2Peer struct {
	p        *Peer
	state    uint8 // 0 waiting for challenge, 1 response sent, 2 success acknowledged, 3 failed
	wantAuth string
	msk      ipsec.Secret
}

func (m *mschapv2Peer) process(data []byte) ([]byte, error) {
	q, err := ParseMSCHAPv2(data)
	if err != nil {
		return nil, err
	}
	switch {
	case m.state == 0 && q.OpCode == mschapChallenge:
		return m.respond(q)
	case m.state == 1 && q.OpCode == mschapSuccess:
		auth, _, _ := strings.Cut(q.Message, " ")
		if len(auth) != len(m.wantAuth) || subtle.ConstantTimeCompare([]byte(strings.ToUpper(auth)), []byte(m.wantAuth)) != 1 {
			m.state = 3
			return nil, fmt.Errorf("eap: MSCHAPV2: wrong authenticator response: %w", ErrServerAuth)
		}
		m.state = 2
		return []byte{mschapSuccess}, nil
	case m.state == 1 && q.OpCode == mschapFailure:
		m.state = 3
		m.p.failure = fmt.Errorf("eap: MSCHAPV2: server rejected the credentials (%s): %w", mschapErrorCode(q.Message), ErrAuthFailed)
		return []byte{mschapFailure}, nil
	}
	return nil, protoErr(TypeMSCHAPv2, "opcode %d in state %d", q.OpCode, m.state)
}

// mschapErrorCode extracts "E=691" from a Failure message for the error
// text; the rest (challenge, free text) stays out of logs.
func mschapErrorCode(msg string) string {
	for f := range strings.FieldsSeq(msg) {
		if v, ok := strings.CutPrefix(f, "E="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return "E=" + strconv.Itoa(n)
			}
		}
	}
	return "no error code"
}

func (m *mschapv2Peer) respond(q *MSCHAPv2Packet) ([]byte, error) {
	cfg := &m.p.cfg
	peerChallenge, err := m.p.random(16)
	if err != nil {
		return nil, err
	}
	hash := NTHash(cfg.Password)
	defer clear(hash)
	resp := ntResponse(q.Value, peerChallenge, cfg.Identity, hash)
	m.wantAuth = authenticatorResponse(hash, resp, peerChallenge, q.Value, cfg.Identity)
	m.msk = mschapv2MSK(hash, resp)
	body := make([]byte, 0, 1+mschapResponseLen+len(cfg.Identity))
	body = append(body, mschapResponseLen)
	body = append(body, peerChallenge...)
	body = append(body, make([]byte, 8)...) // Reserved
	body = append(body, resp...)
	body = append(body, 0) // Flags
	body = append(body, cfg.Identity...)
	m.state = 1
	return appendMSCHAPv2(mschapResponse, q.ID, body), nil
}

func (m *mschapv2Peer) finished() (bool, ipsec.Secret, ipsec.Secret) {
	if m.state != 2 {
		return false, nil, nil
	}
	return true, m.msk, nil
}

func (m *mschapv2Peer) close() {}
