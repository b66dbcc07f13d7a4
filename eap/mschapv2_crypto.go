package eap

import (
	"crypto/des"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/goipsec/ipsec"
	//lint:ignore SA1019 MS-CHAPv2 (RFC 2759) is defined over MD4; no other hash interoperates
	"golang.org/x/crypto/md4"
)

// NTHash returns MD4(UTF-16LE(password)), the NT password hash of RFC 2759
// section 8.3 ("NtPasswordHash"). Stores may keep it instead of the clear
// password for MSCHAPv2 and GTC. password is UTF-8; invalid sequences are
// hashed as U+FFFD like Windows does.
func NTHash(password []byte) ipsec.Secret {
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

// mschapUserName is the user name that enters the MSCHAPv2 challenge hash:
// RFC 2759 section 8.2 hashes "the user name (as presented by the peer and
// excluding any prepended domain name)"; Windows presents "DOMAIN\user"
// and hashes "user". Like strongSwan (extract_username) and
// wpa_supplicant (mschapv2_remove_domain), the domain ends at the first
// backslash.
func mschapUserName(name string) string {
	if i := strings.IndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// challengeHash is RFC 2759 section 8.2 ChallengeHash.
func challengeHash(peerChallenge, authChallenge []byte, user string) []byte {
	h := sha1.New()
	h.Write(peerChallenge)
	h.Write(authChallenge)
	h.Write([]byte(mschapUserName(user)))
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

// challengeResponse is RFC 2759 section 8.5 ChallengeResponse.
func challengeResponse(challenge, passwordHash []byte) []byte {
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

// ntResponse is RFC 2759 section 8.1 GenerateNTResponse, given the NT hash.
func ntResponse(authChallenge, peerChallenge []byte, user string, ntHash []byte) []byte {
	return challengeResponse(challengeHash(peerChallenge, authChallenge, user), ntHash)
}

func md4Sum(b []byte) []byte {
	h := md4.New()
	h.Write(b)
	return h.Sum(nil)
}

// RFC 2759 section 8.7 and RFC 3079 section 3.4 magic constants.
var (
	authMagic1 = []byte("Magic server to client signing constant")
	authMagic2 = []byte("Pad to make it do more than one iteration")
	mppeMagic1 = []byte("This is the MPPE Master Key")
	mppeMagic2 = []byte("On the client side, this is the send key; on the server side, it is the receive key.")
	mppeMagic3 = []byte("On the client side, this is the receive key; on the server side, it is the send key.")
)

// authenticatorResponse is RFC 2759 section 8.7
// GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits.
func authenticatorResponse(ntHash, ntResp, peerChallenge, authChallenge []byte, user string) string {
	h := sha1.New()
	h.Write(md4Sum(ntHash))
	h.Write(ntResp)
	h.Write(authMagic1)
	d := h.Sum(nil)
	h.Reset()
	h.Write(d)
	h.Write(challengeHash(peerChallenge, authChallenge, user))
	h.Write(authMagic2)
	return "S=" + strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// masterKey is RFC 3079 section 3.4 GetMasterKey.
func masterKey(ntHash, ntResp []byte) []byte {
	h := sha1.New()
	h.Write(md4Sum(ntHash))
	h.Write(ntResp)
	h.Write(mppeMagic1)
	return h.Sum(nil)[:16]
}

// asymmetricStartKey is RFC 3079 section 3.4 GetAsymmetricStartKey for a
// 128-bit key, with the magic chosen by the caller.
func asymmetricStartKey(master, magic []byte) []byte {
	var pad1, pad2 [40]byte
	for i := range pad2 {
		pad2[i] = 0xf2
	}
	h := sha1.New()
	h.Write(master)
	h.Write(pad1[:])
	h.Write(magic)
	h.Write(pad2[:])
	return h.Sum(nil)[:16]
}

// MSKLen is the length of the Master Session Key every key-deriving EAP
// method exports (RFC 5247 section 1.4).
const MSKLen = 64

// mschapv2MSK is the 64-octet MSK of EAP-MSCHAPv2 as IKEv2 and RADIUS use
// it (MS-MPPE-Recv-Key || MS-MPPE-Send-Key from the server's view, padded
// with 32 zero octets): the Magic2 key then the Magic3 key. strongSwan,
// hostapd and Windows agree; the testdata vector checks it.
func mschapv2MSK(ntHash, ntResp []byte) ipsec.Secret {
	mk := masterKey(ntHash, ntResp)
	msk := make(ipsec.Secret, 0, MSKLen)
	msk = append(msk, asymmetricStartKey(mk, mppeMagic2)...)
	msk = append(msk, asymmetricStartKey(mk, mppeMagic3)...)
	clear(mk)
	return append(msk, make([]byte, 32)...)
}
