// Package mschapv2 holds the MS-CHAPv2 primitives of RFC 2759 and the key
// derivation of RFC 3079 that EAP-MSCHAPv2 (package eap) and PPP's
// MS-CHAPv2 (package ppp) share: the NT password hash, the challenge hash,
// the NT-Response, the authenticator response and the MPPE master keys.
package mschapv2

import (
	"crypto/des"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	//lint:ignore SA1019 MS-CHAPv2 (RFC 2759) is defined over MD4; no other hash interoperates
	"golang.org/x/crypto/md4"
)

// NTHash returns MD4(UTF-16LE(password)), the NT password hash of RFC 2759
// section 8.3 ("NtPasswordHash"). password is UTF-8; invalid sequences are
// hashed as U+FFFD like Windows does.
func NTHash(password []byte) []byte {
	u := make([]byte, 0, 2*len(password))
	for len(password) > 0 {
		r, n := utf8.DecodeRune(password)
		password = password[n:]
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			u = append(u, byte(r1), byte(r1>>8), byte(r2), byte(r2>>8))
			continue
		}
		u = append(u, byte(r), byte(r>>8))
	}
	h := md4.New()
	h.Write(u)
	clear(u)
	return h.Sum(nil)
}

// MD4 returns MD4(b); HashNtPasswordHash of RFC 2759 section 8.4 is MD4 of
// the NT hash.
func MD4(b []byte) []byte {
	h := md4.New()
	h.Write(b)
	return h.Sum(nil)
}

// UserName is the user name that enters the challenge hash: RFC 2759
// section 8.2 hashes "the user name (as presented by the peer and
// excluding any prepended domain name)"; Windows presents "DOMAIN\user"
// and hashes "user". Like strongSwan (extract_username) and wpa_supplicant
// (mschapv2_remove_domain), the domain ends at the first backslash.
func UserName(name string) string {
	if i := strings.IndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// ChallengeHash is RFC 2759 section 8.2 ChallengeHash.
func ChallengeHash(peerChallenge, authChallenge []byte, user string) []byte {
	h := sha1.New()
	h.Write(peerChallenge)
	h.Write(authChallenge)
	h.Write([]byte(UserName(user)))
	return h.Sum(nil)[:8]
}

// desKey spreads 7 key octets over 8 with (ignored) parity bits, RFC 2759
// section 8.6 DesEncrypt.
func desKey(k []byte) []byte {
	return []byte{
		k[0] & 0xfe,
		(k[0]<<7 | k[1]>>1) & 0xfe,
		(k[1]<<6 | k[2]>>2) & 0xfe,
		(k[2]<<5 | k[3]>>3) & 0xfe,
		(k[3]<<4 | k[4]>>4) & 0xfe,
		(k[4]<<3 | k[5]>>5) & 0xfe,
		(k[5]<<2 | k[6]>>6) & 0xfe,
		k[6] << 1,
	}
}

// ChallengeResponse is RFC 2759 section 8.5 ChallengeResponse: the 8-octet
// challenge encrypted with the three DES keys taken from the (zero-padded)
// password hash.
func ChallengeResponse(challenge, passwordHash []byte) []byte {
	var z [21]byte
	copy(z[:], passwordHash)
	out := make([]byte, 24)
	for i := range 3 {
		c, _ := des.NewCipher(desKey(z[7*i : 7*i+7])) // 8-byte key: cannot fail
		c.Encrypt(out[8*i:], challenge)
	}
	clear(z[:])
	return out
}

// NTResponse is RFC 2759 section 8.1 GenerateNTResponse, given the NT hash.
func NTResponse(authChallenge, peerChallenge []byte, user string, ntHash []byte) []byte {
	return ChallengeResponse(ChallengeHash(peerChallenge, authChallenge, user), ntHash)
}

// RFC 2759 section 8.7 and RFC 3079 section 3.4 magic constants.
const (
	authMagic1 = "Magic server to client signing constant"
	authMagic2 = "Pad to make it do more than one iteration"
	mppeMagic1 = "This is the MPPE Master Key"
	// Magic2 derives the client's send key (the server's receive key).
	Magic2 = "On the client side, this is the send key; on the server side, it is the receive key."
	// Magic3 derives the client's receive key (the server's send key).
	Magic3 = "On the client side, this is the receive key; on the server side, it is the send key."
)

// AuthenticatorResponse is RFC 2759 section 8.7
// GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits.
func AuthenticatorResponse(ntHash, ntResp, peerChallenge, authChallenge []byte, user string) string {
	h := sha1.New()
	h.Write(MD4(ntHash))
	h.Write(ntResp)
	h.Write([]byte(authMagic1))
	d := h.Sum(nil)
	h.Reset()
	h.Write(d)
	h.Write(ChallengeHash(peerChallenge, authChallenge, user))
	h.Write([]byte(authMagic2))
	return "S=" + strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// MasterKey is RFC 3079 section 3.4 GetMasterKey.
func MasterKey(ntHash, ntResp []byte) []byte {
	h := sha1.New()
	h.Write(MD4(ntHash))
	h.Write(ntResp)
	h.Write([]byte(mppeMagic1))
	return h.Sum(nil)[:16]
}

// AsymmetricStartKey is RFC 3079 section 3.4 GetAsymmetricStartKey for a
// 128-bit key; magic is Magic2 or Magic3.
func AsymmetricStartKey(master []byte, magic string) []byte {
	var pad1, pad2 [40]byte
	for i := range pad2 {
		pad2[i] = 0xf2
	}
	h := sha1.New()
	h.Write(master)
	h.Write(pad1[:])
	h.Write([]byte(magic))
	h.Write(pad2[:])
	return h.Sum(nil)[:16]
}

// MSKLen is the length of the Master Session Key of EAP-MSCHAPv2 (RFC 5247
// section 1.4).
const MSKLen = 64

// MSK is the 64-octet MSK of EAP-MSCHAPv2 as IKEv2 and RADIUS use it
// (MS-MPPE-Recv-Key || MS-MPPE-Send-Key from the server's view, padded with
// 32 zero octets): the Magic2 key then the Magic3 key. strongSwan, hostapd
// and Windows agree; the testdata vector checks it.
func MSK(ntHash, ntResp []byte) []byte {
	mk := MasterKey(ntHash, ntResp)
	msk := make([]byte, 0, MSKLen)
	msk = append(msk, AsymmetricStartKey(mk, Magic2)...)
	msk = append(msk, AsymmetricStartKey(mk, Magic3)...)
	clear(mk)
	return append(msk, make([]byte, 32)...)
}
