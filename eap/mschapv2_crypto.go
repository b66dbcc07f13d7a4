package eap

import (
	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/mschapv2"
)

// The MS-CHAPv2 primitives live in internal/mschapv2, shared with package
// ppp; these names keep eap's code and tests reading as before.

// NTHash returns MD4(UTF-16LE(password)), the NT password hash of RFC 2759
// section 8.3 ("NtPasswordHash"). Stores may keep it instead of the clear
// password for MSCHAPv2 and GTC. password is UTF-8; invalid sequences are
// hashed as U+FFFD like Windows does.
func NTHash(password []byte) ipsec.Secret { return mschapv2.NTHash(password) }

// mschapUserName strips a Windows "DOMAIN\" prefix (RFC 2759 section 8.2).
func mschapUserName(name string) string { return mschapv2.UserName(name) }

func md4Sum(b []byte) []byte { return mschapv2.MD4(b) }

// ntResponse is RFC 2759 section 8.1 GenerateNTResponse, given the NT hash.
func ntResponse(authChallenge, peerChallenge []byte, user string, ntHash []byte) []byte {
	return mschapv2.NTResponse(authChallenge, peerChallenge, user, ntHash)
}

// authenticatorResponse is RFC 2759 section 8.7
// GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits.
func authenticatorResponse(ntHash, ntResp, peerChallenge, authChallenge []byte, user string) string {
	return mschapv2.AuthenticatorResponse(ntHash, ntResp, peerChallenge, authChallenge, user)
}

// MSKLen is the length of the Master Session Key every key-deriving EAP
// method exports (RFC 5247 section 1.4).
const MSKLen = mschapv2.MSKLen

// mschapv2MSK is the 64-octet MSK of EAP-MSCHAPv2 (see mschapv2.MSK).
func mschapv2MSK(ntHash, ntResp []byte) ipsec.Secret { return mschapv2.MSK(ntHash, ntResp) }
