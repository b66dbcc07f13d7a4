package eap

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/goipsec/ipsec"
)

// md5ValueLen is the MD5-Challenge value size (RFC 1994 section 4.1 via
// RFC 3748 section 5.4).
const md5ValueLen = 16

// ParseMD5 decodes MD5-Challenge Type-Data: Value-Size, Value, Name.
func ParseMD5(data []byte) (value []byte, name string, err error) {
	if len(data) < 1 || int(data[0]) == 0 || len(data) < 1+int(data[0]) {
		return nil, "", &ParseError{Method: TypeMD5Challenge, Reason: "value size exceeds the data"}
	}
	n := 1 + int(data[0])
	return data[1:n], string(data[n:]), nil
}

func md5Response(id uint8, password, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write(password)
	h.Write(challenge)
	return h.Sum(nil)
}

// authLookup resolves the user for a password method; the error wraps
// ErrAuthFailed for unknown or disabled users.
func authLookup(ctx context.Context, s *Server, t Type, name string) (*ipsec.User, error) {
	u, err := LookupUser(ctx, s.cfg.Users, name)
	if errors.Is(err, ipsec.ErrUnknownUser) {
		return nil, fmt.Errorf("eap: %s: unknown user %q: %w", t, name, ErrAuthFailed)
	}
	if err != nil {
		return nil, fmt.Errorf("eap: %s: user lookup: %w", t, err)
	}
	return u, nil
}

// md5Server is EAP-MD5-Challenge (RFC 3748 section 5.4). It needs the
// clear password and derives no MSK.
type md5Server struct {
	s         *Server
	challenge []byte
}

func (m *md5Server) start(uint8) ([]byte, error) {
	c, err := m.s.random(md5ValueLen)
	if err != nil {
		return nil, err
	}
	m.challenge = c
	return append(append([]byte{md5ValueLen}, c...), m.s.cfg.Name...), nil
}

func (m *md5Server) process(ctx context.Context, id uint8, data []byte) (serverStep, error) {
	v, _, err := ParseMD5(data)
	if err != nil {
		return serverStep{}, err
	}
	if len(v) != md5.Size {
		return serverStep{}, &ParseError{Method: TypeMD5Challenge, Reason: fmt.Sprintf("response of %d octets", len(v))}
	}
	name := m.s.ident
	u, err := authLookup(ctx, m.s, TypeMD5Challenge, name)
	pw := ipsec.Secret{}
	if err == nil {
		if len(u.Password) == 0 {
			err = fmt.Errorf("eap: MD5: user %q has no clear-text password: %w", name, ErrAuthFailed)
		} else {
			pw = u.Password
		}
	}
	want := md5Response(id, pw, m.challenge)
	if err == nil && subtle.ConstantTimeCompare(want, v) != 1 {
		err = fmt.Errorf("eap: MD5: wrong password for %q: %w", name, ErrAuthFailed)
	}
	if err != nil {
		return serverStep{done: true, reason: err}, nil
	}
	return serverStep{done: true, ok: true, identity: name, user: u}, nil
}

func (m *md5Server) close() {}

type md5Peer struct {
	p    *Peer
	done bool
}

func (m *md5Peer) process(data []byte) ([]byte, error) {
	v, _, err := ParseMD5(data)
	if err != nil {
		return nil, err
	}
	m.done = true
	return append([]byte{md5.Size}, md5Response(m.p.reqID, m.p.cfg.Password, v)...), nil
}

// finished: MD5 does not authenticate the server; IKE already did with
// its certificate, so EAP-Success is accepted once we answered.
func (m *md5Peer) finished() (bool, ipsec.Secret, ipsec.Secret) { return m.done, nil, nil }
func (m *md5Peer) close()                                       {}

// gtcPrompt is the GTC request text (strongSwan sends "password").
const gtcPrompt = "Password: "

// gtcResponsePrefix introduces the "RESPONSE=user\0password" form some
// GTC peers send (Cisco's EAP-FAST inner GTC, handled by hostapd too).
var gtcResponsePrefix = []byte("RESPONSE=")

// ParseGTCResponse returns the password of a GTC response and the user
// name if the "RESPONSE=user\0password" form was used.
func ParseGTCResponse(data []byte) (user string, password []byte, err error) {
	if rest, ok := bytes.CutPrefix(data, gtcResponsePrefix); ok {
		u, pw, found := bytes.Cut(rest, []byte{0})
		if !found {
			return "", nil, &ParseError{Method: TypeGTC, Offset: len(gtcResponsePrefix), Reason: "RESPONSE= without a NUL separator"}
		}
		data, user = pw, string(u)
	}
	if len(data) == 0 || len(data) > maxPasswordLen {
		return "", nil, &ParseError{Method: TypeGTC, Reason: fmt.Sprintf("password of %d octets", len(data))}
	}
	return user, data, nil
}

// gtcServer is EAP-GTC (RFC 3748 section 5.6) used for passwords, as
// strongSwan's eap-gtc does: the response is the password in the clear,
// protected only by IKE's encryption. The store may hold the clear
// password or its NT hash.
type gtcServer struct{ s *Server }

func (m *gtcServer) start(uint8) ([]byte, error) { return []byte(gtcPrompt), nil }

func (m *gtcServer) process(ctx context.Context, _ uint8, data []byte) (serverStep, error) {
	user, pw, err := ParseGTCResponse(data)
	if err != nil {
		return serverStep{}, err
	}
	name := m.s.ident
	if user != "" && user != name && mschapUserName(user) != mschapUserName(name) {
		return serverStep{done: true, reason: fmt.Errorf("eap: GTC: response names another user than identity %q: %w", name, ErrAuthFailed)}, nil
	}
	u, err := authLookup(ctx, m.s, TypeGTC, name)
	ok := false
	if err == nil {
		switch {
		case len(u.Password) > 0:
			ok = u.Password.Equal(pw)
		case len(u.NTHash) == 16:
			ok = u.NTHash.Equal(NTHash(pw))
		}
		if !ok {
			err = fmt.Errorf("eap: GTC: wrong password for %q: %w", name, ErrAuthFailed)
		}
	}
	if err != nil {
		return serverStep{done: true, reason: err}, nil
	}
	return serverStep{done: true, ok: true, identity: name, user: u}, nil
}

func (m *gtcServer) close() {}

type gtcPeer struct {
	p    *Peer
	done bool
}

func (m *gtcPeer) process([]byte) ([]byte, error) {
	m.done = true
	return bytes.Clone(m.p.cfg.Password), nil
}

func (m *gtcPeer) finished() (bool, ipsec.Secret, ipsec.Secret) { return m.done, nil, nil }
func (m *gtcPeer) close()                                       {}
