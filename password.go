package ipsec

import (
	"context"
	"errors"
	"fmt"
)

// PasswordMethod is how a client proved its password where the gateway
// holds the challenge: clear text or one of the CHAP variants.
type PasswordMethod uint8

const (
	// PasswordPAP is a clear-text password: XAuth generic, PPP PAP.
	PasswordPAP PasswordMethod = iota + 1
	// PasswordCHAPMD5 is CHAP with MD5 (RFC 1994): Response is
	// MD5(ID || password || Challenge).
	PasswordCHAPMD5
	// PasswordMSCHAPv2 is Microsoft CHAP version 2 (RFC 2759):
	// Challenge is the authenticator challenge, PeerChallenge the
	// client's and Response the NT-Response.
	PasswordMSCHAPv2
)

// String returns the method's name.
func (m PasswordMethod) String() string {
	switch m {
	case PasswordPAP:
		return "PAP"
	case PasswordCHAPMD5:
		return "CHAP-MD5"
	case PasswordMSCHAPv2:
		return "MS-CHAPv2"
	}
	return fmt.Sprintf("PasswordMethod(%d)", uint8(m))
}

// PasswordRequest is one password check as the client made it. Its
// fields alias the caller's buffers; a verifier must not keep them after
// it returns.
type PasswordRequest struct {
	// Name is the user name as the client sent it.
	Name string
	// Method says which of the other fields are set.
	Method PasswordMethod
	// Password is the clear-text password (PasswordPAP only).
	Password Secret
	// ID is the CHAP Identifier of the Challenge answered (CHAP-MD5,
	// MS-CHAPv2).
	ID uint8
	// Challenge is what the gateway sent: the CHAP challenge, or the
	// 16-octet MS-CHAPv2 authenticator challenge.
	Challenge []byte
	// PeerChallenge is the client's 16-octet MS-CHAPv2 peer challenge.
	PeerChallenge []byte
	// Response is the client's answer: the 16-octet CHAP-MD5 hash or the
	// 24-octet MS-CHAPv2 NT-Response.
	Response []byte
}

// String describes the request without the password or the response.
func (r *PasswordRequest) String() string {
	return fmt.Sprintf("password check %s for %q", r.Method, r.Name)
}

// PasswordResult is a successful check.
type PasswordResult struct {
	// User is the account: its fixed Addresses and Groups are used like
	// those of a UserStore's User. It may be a bare &User{Name: name}.
	User *User
	// AuthenticatorResponse is the MS-CHAPv2 "S=<40 hex digits>" the
	// gateway sends in its Success message (RFC 2759 section 5); empty
	// for the other methods.
	AuthenticatorResponse string
	// MPPESendKey and MPPERecvKey are the MS-CHAPv2 MPPE keys from the
	// gateway's point of view (RFC 3079), when the verifier has them.
	MPPESendKey, MPPERecvKey Secret
}

// PasswordVerifier checks passwords somewhere else than in a table of
// users: a RADIUS server (RFC 2865 User-Password, CHAP-Password,
// MS-CHAP2-Response), a PAM or LDAP bridge. The XAuth and PPP servers
// ask it instead of calling LookupUser when their UserStore also
// implements PasswordVerifier. Implementations must be safe for
// concurrent use and honour ctx for their deadline.
type PasswordVerifier interface {
	// VerifyPassword returns the account for good credentials, an error
	// wrapping ErrPasswordRejected (or ErrUnknownUser) for bad ones,
	// and any other error when it could not decide (the server is
	// unreachable): callers then fail the attempt as well, but may log
	// it as an outage rather than a wrong password.
	VerifyPassword(ctx context.Context, req *PasswordRequest) (*PasswordResult, error)
}

// ErrPasswordRejected is what a PasswordVerifier returns for a wrong
// password or a refused account.
var ErrPasswordRejected = errors.New("ipsec: password rejected")
