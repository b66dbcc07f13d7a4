package ppp

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/mschapv2"
)

// CHAP codes (RFC 1994 section 4) and PAP codes (RFC 1334 section 2.2).
const (
	chapChallenge = 1
	chapResponse  = 2
	chapSuccess   = 3
	chapFailure   = 4

	papRequest = 1
	papAck     = 2
	papNak     = 3
)

const (
	// mschapChallengeLen is the Authenticator Challenge of RFC 2759
	// section 4; md5ChallengeLen the challenge we send for CHAP-MD5.
	mschapChallengeLen = 16
	md5ChallengeLen    = 16
	// mschapResponseLen is the Response's Value-Size, RFC 2759 section 4.
	mschapResponseLen = 49
	// serverName is the Name field of our CHAP Challenges.
	serverName = "goipsec"
)

// errAuthFailed is what every authentication failure wraps, whatever the
// reason (unknown user, wrong password, no usable credential): the client
// sees the same answer for each.
var errAuthFailed = errors.New("ppp: authentication failed")

// authState is the authentication phase of a session.
type authState struct {
	proto     AuthProtocol
	id        uint8  // Identifier of the outstanding Challenge
	challenge []byte // for CHAP and MS-CHAPv2
	tries     int    // Challenges sent (retransmissions)
	failures  int    // wrong answers
	timer     *time.Timer
	gen       uint64
	deadline  time.Time
	success   []byte // the Success packet's data, resent for a repeated Response
	successID uint8
	done      bool
}

// startAuth begins the authentication phase after LCP opened: a CHAP
// Challenge, or waiting for PAP's Authenticate-Request.
func (s *Session) startAuth() {
	a := &s.auth
	a.proto = s.cfg.Auth[s.lcpO.authIdx]
	a.done, a.failures, a.tries, a.success = false, 0, 0, nil
	a.deadline = time.Now().Add(s.cfg.authTimeout())
	if a.proto == AuthPAP {
		s.armAuthTimer(s.cfg.authTimeout())
		return
	}
	s.newChallenge()
	s.sendChallenge()
}

func (s *Session) newChallenge() {
	a := &s.auth
	n := md5ChallengeLen
	if a.proto == AuthMSCHAPv2 {
		n = mschapChallengeLen
	}
	a.challenge = s.random(n)
	a.id++
	a.tries = 0
}

func (s *Session) sendChallenge() {
	a := &s.auth
	d := make([]byte, 0, 1+len(a.challenge)+len(serverName))
	d = append(d, byte(len(a.challenge)))
	d = append(d, a.challenge...)
	d = append(d, serverName...)
	s.sendPacket(protoCHAP, chapChallenge, a.id, d)
	a.tries++
	s.armAuthTimer(s.cfg.restartTimer())
}

// armAuthTimer retransmits the Challenge (RFC 1994 section 4.1) up to
// Max-Configure times and ends the link when the phase takes longer than
// AuthTimeout.
func (s *Session) armAuthTimer(d time.Duration) {
	s.stopAuthTimer()
	gen := s.auth.gen
	s.auth.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		if s.dead || s.auth.gen != gen || s.phase != PhaseAuthenticate {
			s.mu.Unlock()
			return
		}
		a := &s.auth
		if a.proto == AuthPAP || a.tries >= s.cfg.maxConfigure() || !time.Now().Before(a.deadline) {
			s.logf("authentication timed out", "proto", a.proto.String())
			s.lcp.close()
		} else {
			s.sendChallenge()
		}
		s.unlockAndFlush()
	})
}

func (s *Session) stopAuthTimer() {
	s.auth.gen++
	if s.auth.timer != nil {
		s.auth.timer.Stop()
		s.auth.timer = nil
	}
}

// authInput handles a PAP or CHAP packet in the authentication phase.
func (s *Session) authInput(proto uint16, info []byte) {
	p, err := parsePacket(info)
	if err != nil {
		s.malformed(protoName(proto), err)
		return
	}
	a := &s.auth
	switch {
	case proto == protoPAP && a.proto == AuthPAP && p.code == papRequest:
		s.papRequest(p)
	case proto == protoCHAP && a.proto != AuthPAP && p.code == chapResponse:
		s.chapResponse(p)
	default:
		// Not the protocol we negotiated, or a code only a server sends.
		s.stats.Dropped++
	}
}

// lookupUser finds name the way eap.LookupUser does: exactly as sent,
// then without a Windows "DOMAIN\" prefix.
func (s *Session) lookupUser(name string) (*ipsec.User, error) {
	ctx, cancel := lookupCtx()
	defer cancel()
	u, err := s.cfg.Users.LookupUser(ctx, name)
	if err == nil || !errors.Is(err, ipsec.ErrUnknownUser) {
		return u, err
	}
	if bare := mschapv2.UserName(name); bare != name && bare != "" {
		return s.cfg.Users.LookupUser(ctx, bare)
	}
	return nil, err
}

// verify asks a PasswordVerifier; every rejection wraps errAuthFailed,
// an outage keeps its own error (for the log) and wraps it too, so the
// client sees the same Failure. A nil User becomes a bare account.
func (s *Session) verify(v ipsec.PasswordVerifier, req *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	ctx, cancel := lookupCtx()
	defer cancel()
	res, err := v.VerifyPassword(ctx, req)
	switch {
	case errors.Is(err, ipsec.ErrPasswordRejected), errors.Is(err, ipsec.ErrUnknownUser):
		return nil, errAuthFailed
	case err != nil:
		return nil, fmt.Errorf("%w: password verifier: %w", errAuthFailed, err)
	case res == nil:
		res = &ipsec.PasswordResult{}
	}
	if res.User == nil {
		res.User = &ipsec.User{Name: req.Name}
	}
	return res, nil
}

// validAuthenticatorResponse accepts "S=" and 40 hex digits.
func validAuthenticatorResponse(s string) bool {
	if len(s) != 42 || !strings.HasPrefix(s, "S=") {
		return false
	}
	_, err := hex.DecodeString(s[2:])
	return err == nil
}

// papRequest checks an Authenticate-Request (RFC 1334 section 2.2.1).
func (s *Session) papRequest(p packet) {
	d := p.data
	if len(d) < 1 || len(d) < 1+int(d[0])+1 || len(d) < 2+int(d[0])+int(d[1+int(d[0])]) {
		s.malformed("PAP Authenticate-Request", errMalformed)
		return
	}
	name := string(d[1 : 1+d[0]])
	pwLen := int(d[1+int(d[0])])
	pw := d[2+int(d[0]) : 2+int(d[0])+pwLen]
	if v, ok := s.cfg.Users.(ipsec.PasswordVerifier); ok {
		u, err := s.verify(v, &ipsec.PasswordRequest{Name: name, Method: ipsec.PasswordPAP, Password: pw})
		if err != nil {
			s.authFailed(name, err, func() {
				s.sendPacket(protoPAP, papNak, p.id, papMessage("Authentication failed"))
			}, false)
			return
		}
		s.sendPacket(protoPAP, papAck, p.id, papMessage("Welcome"))
		s.auth.successID = p.id
		s.authSucceeded(name, u.User, AuthPAP)
		return
	}
	u, err := s.lookupUser(name)
	if err == nil {
		ok := false
		switch {
		case len(u.Password) > 0:
			ok = subtle.ConstantTimeCompare(u.Password, pw) == 1
		case len(u.NTHash) == 16:
			ok = subtle.ConstantTimeCompare(u.NTHash, mschapv2.NTHash(pw)) == 1
		}
		if !ok {
			err = errAuthFailed
		}
	}
	if err != nil {
		s.authFailed(name, err, func() {
			s.sendPacket(protoPAP, papNak, p.id, papMessage("Authentication failed"))
		}, false)
		return
	}
	s.sendPacket(protoPAP, papAck, p.id, papMessage("Welcome"))
	s.auth.successID = p.id
	s.authSucceeded(name, u, AuthPAP)
}

func papMessage(m string) []byte { return append([]byte{byte(len(m))}, m...) }

// chapResponse checks a CHAP-MD5 (RFC 1994) or MS-CHAPv2 (RFC 2759)
// Response to our Challenge.
func (s *Session) chapResponse(p packet) {
	a := &s.auth
	if p.id != a.id {
		s.stats.Dropped++ // an answer to an old Challenge
		return
	}
	d := p.data
	if len(d) < 1 || len(d) < 1+int(d[0]) {
		s.malformed("CHAP Response", errMalformed)
		return
	}
	value, name := d[1:1+d[0]], string(d[1+d[0]:])
	var (
		u    *ipsec.User
		err  error
		succ []byte
	)
	switch a.proto {
	case AuthCHAPMD5:
		if len(value) != md5.Size {
			s.malformed("CHAP Response", errMalformed)
			return
		}
		if v, ok := s.cfg.Users.(ipsec.PasswordVerifier); ok {
			var res *ipsec.PasswordResult
			if res, err = s.verify(v, &ipsec.PasswordRequest{Name: name, Method: ipsec.PasswordCHAPMD5, ID: p.id, Challenge: a.challenge, Response: value}); err == nil {
				u = res.User
			}
			succ = []byte("Welcome")
			break
		}
		u, err = s.lookupUser(name)
		if err == nil {
			if len(u.Password) == 0 {
				err = fmt.Errorf("%w: user has no clear-text password for CHAP-MD5", errAuthFailed)
			} else {
				h := md5.New()
				h.Write([]byte{p.id})
				h.Write(u.Password)
				h.Write(a.challenge)
				if subtle.ConstantTimeCompare(h.Sum(nil), value) != 1 {
					err = errAuthFailed
				}
			}
		}
		succ = []byte("Welcome")
	case AuthMSCHAPv2:
		if len(value) != mschapResponseLen {
			s.malformed("MS-CHAPv2 Response", errMalformed)
			return
		}
		peerChallenge, ntResp := value[:16], value[24:48]
		if v, ok := s.cfg.Users.(ipsec.PasswordVerifier); ok {
			var res *ipsec.PasswordResult
			res, err = s.verify(v, &ipsec.PasswordRequest{Name: name, Method: ipsec.PasswordMSCHAPv2, ID: p.id, Challenge: a.challenge, PeerChallenge: peerChallenge, Response: ntResp})
			if err == nil && !validAuthenticatorResponse(res.AuthenticatorResponse) {
				// Without S= the client cannot authenticate us and
				// hangs up (RFC 2759 section 5).
				err = fmt.Errorf("%w: verifier gave no MS-CHAPv2 authenticator response", errAuthFailed)
			}
			if err == nil {
				u, succ = res.User, []byte(res.AuthenticatorResponse+" M=Welcome")
			}
			break
		}
		u, err = s.lookupUser(name)
		var hash []byte
		if err == nil {
			switch {
			case len(u.NTHash) == 16:
				hash = u.NTHash
			case len(u.Password) > 0:
				hash = mschapv2.NTHash(u.Password)
			default:
				err = fmt.Errorf("%w: user has no password usable for MS-CHAPv2", errAuthFailed)
			}
		}
		if hash == nil {
			hash = make([]byte, 16) // the same work for unknown users
		}
		want := mschapv2.NTResponse(a.challenge, peerChallenge, name, hash)
		if err == nil && subtle.ConstantTimeCompare(want, ntResp) != 1 {
			err = errAuthFailed
		}
		if err == nil {
			succ = []byte(mschapv2.AuthenticatorResponse(hash, ntResp, peerChallenge, a.challenge, name) + " M=Welcome")
		}
		clear(hash)
	}
	if err != nil {
		retry := a.failures+1 < s.cfg.authRetries()
		s.authFailed(name, err, func() {
			msg := []byte("Authentication failed")
			if a.proto == AuthMSCHAPv2 {
				// RFC 2759 section 6: E=691 (bad password), R retry
				// allowed, C the next challenge, V=3.
				r := "0"
				if retry {
					r = "1"
				}
				next := s.random(mschapChallengeLen)
				msg = []byte("E=691 R=" + r + " C=" + strings.ToUpper(hex.EncodeToString(next)) + " V=3 M=Authentication failed")
				if retry {
					a.challenge = next
				}
			}
			s.sendPacket(protoCHAP, chapFailure, p.id, msg)
		}, retry)
		if retry && a.proto == AuthCHAPMD5 {
			s.newChallenge()
			s.sendChallenge()
		} else if retry {
			// MS-CHAPv2: the client answers C= with a Response of the
			// next Identifier (RFC 2759 section 6).
			a.id++
			s.armAuthTimer(s.cfg.authTimeout())
		}
		return
	}
	a.success, a.successID = succ, p.id
	s.sendPacket(protoCHAP, chapSuccess, p.id, succ)
	s.authSucceeded(name, u, a.proto)
}

// resendAuthSuccess answers a retransmitted CHAP Response or PAP
// Authenticate-Request after success with the same Success or
// Authenticate-Ack: ours may have been lost (RFC 1994 section 4.2, RFC
// 1334 section 2.2.2; pppd's upap re-acks the same way). Only the
// identifier and, for PAP, the user name of the successful attempt
// qualify; nothing is checked again.
func (s *Session) resendAuthSuccess(proto uint16, info []byte) {
	a := &s.auth
	p, err := parsePacket(info)
	if err != nil || !a.done {
		return
	}
	switch {
	case proto == protoCHAP && a.proto != AuthPAP && p.code == chapResponse && a.success != nil && p.id == a.successID:
		s.sendPacket(protoCHAP, chapSuccess, p.id, a.success)
	case proto == protoPAP && a.proto == AuthPAP && p.code == papRequest && p.id == a.successID &&
		len(p.data) >= 1+int(p.data[0]) && string(p.data[1:1+p.data[0]]) == s.user:
		s.sendPacket(protoPAP, papAck, p.id, papMessage("Welcome"))
	}
}

// authFailed answers a failed attempt; without retries left the link is
// terminated (LCP Terminate-Request after the Failure).
func (s *Session) authFailed(name string, err error, answer func(), retry bool) {
	a := &s.auth
	a.failures++
	s.log.Warn("ppp authentication failed", "user", name, "proto", a.proto.String(), "err", err)
	answer()
	if !retry {
		s.stopAuthTimer()
		s.lcp.close()
	}
}

func (s *Session) authSucceeded(name string, u *ipsec.User, proto AuthProtocol) {
	a := &s.auth
	a.done = true
	s.stopAuthTimer()
	if s.user != "" && s.user != name {
		// LCP renegotiated and someone else logged in over the same
		// link: the address belongs to the first user, end it all.
		s.logf("a different user authenticated on the renegotiated link", "user", name)
		s.lcp.close()
		return
	}
	s.user, s.authProto = name, proto
	s.ip4.fixed = netipFirst4(u)
	s.log.Info("ppp authenticated", "user", name, "proto", proto.String())
	s.phase = PhaseNetwork
	s.ipcp.open()
	s.ipcp.up()
	if s.cfg.IPv6 {
		s.ip6cp.open()
		s.ip6cp.up()
	}
}
