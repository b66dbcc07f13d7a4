package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/goipsec/ipsec"
)

// RADIUS's own cryptography is MD5 and HMAC-MD5 (RFC 2865, RFC 3579),
// the protocol's fixed choice: nothing here is a design decision of
// ours, and the shared secret is what protects it.

// EncodeRequest encodes p as a request. For Access-Request and
// Status-Server the Authenticator is random (RFC 2865 section 3; read
// from rnd and written back to p; with rnd nil p's Authenticator is used
// as it is, which a User-Password hidden beforehand needs); for
// Accounting-Request, Disconnect-Request and CoA-Request it is the MD5
// of the packet and the secret (RFC 2866 section 3, RFC 5176 section
// 2.3). A Message-Authenticator attribute in p, whatever its value, is
// computed (RFC 3579 section 3.2, RFC 5176 section 3.1).
func EncodeRequest(b []byte, p *Packet, secret ipsec.Secret, rnd io.Reader) ([]byte, error) {
	if !p.Code.isRequest() {
		return nil, fmt.Errorf("radius: EncodeRequest of %s", p.Code)
	}
	random := p.Code == CodeAccessRequest || p.Code == CodeStatusServer
	if random {
		if rnd != nil {
			if _, err := io.ReadFull(rnd, p.Authenticator[:]); err != nil {
				return nil, fmt.Errorf("radius: random: %w", err)
			}
		}
	} else {
		p.Authenticator = [16]byte{}
	}
	start := len(b)
	b, err := p.appendRaw(b)
	if err != nil {
		return nil, err
	}
	pkt := b[start:]
	signMessageAuthenticator(pkt, secret)
	if !random {
		h := md5.New()
		h.Write(pkt)
		h.Write(secret)
		h.Sum(pkt[4:4])
		copy(p.Authenticator[:], pkt[4:20])
	}
	return b, nil
}

// EncodeResponse encodes p as the answer to a request whose
// Authenticator was reqAuth: the Message-Authenticator (if p has one)
// over the packet with reqAuth in place, then the Response
// Authenticator MD5(Code+ID+Length+reqAuth+Attributes+secret) (RFC 2865
// section 3, RFC 3579 section 3.2).
func EncodeResponse(b []byte, p *Packet, reqAuth [16]byte, secret ipsec.Secret) ([]byte, error) {
	p.Authenticator = reqAuth
	start := len(b)
	b, err := p.appendRaw(b)
	if err != nil {
		return nil, err
	}
	pkt := b[start:]
	signMessageAuthenticator(pkt, secret)
	h := md5.New()
	h.Write(pkt)
	h.Write(secret)
	h.Sum(pkt[4:4])
	copy(p.Authenticator[:], pkt[4:20])
	return b, nil
}

// messageAuthenticatorOffset returns the offset of the first
// Message-Authenticator value in a well-formed packet, or -1.
func messageAuthenticatorOffset(pkt []byte) int {
	for off := HeaderLen; off+2 <= len(pkt); {
		l := int(pkt[off+1])
		if l < 2 || off+l > len(pkt) {
			return -1
		}
		if Type(pkt[off]) == TypeMessageAuthenticator && l == 18 {
			return off + 2
		}
		off += l
	}
	return -1
}

// signMessageAuthenticator fills the Message-Authenticator of pkt (whose
// value is zero and whose Authenticator field holds what the HMAC covers).
func signMessageAuthenticator(pkt []byte, secret ipsec.Secret) {
	off := messageAuthenticatorOffset(pkt)
	if off < 0 {
		return
	}
	m := hmac.New(md5.New, secret)
	m.Write(pkt)
	m.Sum(pkt[off:off])
}

// checkMessageAuthenticator verifies the Message-Authenticator of pkt
// with auth in the Authenticator field; present reports whether there
// is one.
func checkMessageAuthenticator(pkt []byte, auth []byte, secret ipsec.Secret) (present bool, ok bool) {
	off := messageAuthenticatorOffset(pkt)
	if off < 0 {
		return false, false
	}
	m := hmac.New(md5.New, secret)
	m.Write(pkt[:4])
	m.Write(auth)
	m.Write(pkt[20:off])
	m.Write(zero16[:])
	m.Write(pkt[off+16:])
	return true, hmac.Equal(m.Sum(nil), pkt[off:off+16])
}

// VerifyResponse checks a parsed response against the request it
// answers: the Response Authenticator (RFC 2865 section 3) and the
// Message-Authenticator when present, or when requireMA is set (RFC 3579
// section 3.2: every response carrying EAP-Message has one).
func VerifyResponse(p *Packet, reqAuth [16]byte, secret ipsec.Secret, requireMA bool) error {
	pkt := p.Raw
	if len(pkt) < HeaderLen {
		return fmt.Errorf("radius: VerifyResponse: %w", ErrMalformed)
	}
	h := md5.New()
	h.Write(pkt[:4])
	h.Write(reqAuth[:])
	h.Write(pkt[20:])
	h.Write(secret)
	if subtle.ConstantTimeCompare(h.Sum(nil), pkt[4:20]) != 1 {
		return ErrAuthenticator
	}
	present, ok := checkMessageAuthenticator(pkt, reqAuth[:], secret)
	if present && !ok || !present && (requireMA || hasEAP(p)) {
		return ErrMessageAuthenticator
	}
	return nil
}

// VerifyRequest checks a parsed request from a client that shares
// secret: for Accounting-, Disconnect- and CoA-Request the Request
// Authenticator (RFC 2866 section 3, RFC 5176 section 3.1); for every
// request the Message-Authenticator when present or when requireMA is
// set. An Access-Request has no verifiable Request Authenticator.
func VerifyRequest(p *Packet, secret ipsec.Secret, requireMA bool) error {
	pkt := p.Raw
	if len(pkt) < HeaderLen {
		return fmt.Errorf("radius: VerifyRequest: %w", ErrMalformed)
	}
	maAuth := pkt[4:20]
	if p.Code != CodeAccessRequest && p.Code != CodeStatusServer {
		h := md5.New()
		h.Write(pkt[:4])
		h.Write(zero16[:])
		h.Write(pkt[20:])
		h.Write(secret)
		if subtle.ConstantTimeCompare(h.Sum(nil), pkt[4:20]) != 1 {
			return ErrAuthenticator
		}
		maAuth = zero16[:]
	}
	present, ok := checkMessageAuthenticator(pkt, maAuth, secret)
	if present && !ok || !present && (requireMA || hasEAP(p)) {
		return ErrMessageAuthenticator
	}
	return nil
}

func hasEAP(p *Packet) bool {
	_, ok := p.Get(TypeEAPMessage)
	return ok
}

// maxPasswordLen is the longest User-Password (RFC 2865 section 5.2).
const maxPasswordLen = 128

// HidePassword returns the User-Password value for password (RFC 2865
// section 5.2): padded with zeros to a multiple of 16 octets, each block
// XORed with MD5(secret + previous block), the first with the Request
// Authenticator.
func HidePassword(password []byte, secret ipsec.Secret, reqAuth [16]byte) ([]byte, error) {
	if len(password) > maxPasswordLen {
		return nil, fmt.Errorf("radius: password of %d octets exceeds %d", len(password), maxPasswordLen)
	}
	n := max(16, (len(password)+15)/16*16)
	out := make([]byte, n)
	copy(out, password)
	xorChain(out, secret, reqAuth[:], nil, true)
	return out, nil
}

// RevealPassword inverts HidePassword (a server's view); trailing zero
// padding is removed.
func RevealPassword(hidden []byte, secret ipsec.Secret, reqAuth [16]byte) (ipsec.Secret, error) {
	if len(hidden) < 16 || len(hidden)%16 != 0 || len(hidden) > maxPasswordLen {
		return nil, &ParseError{Reason: fmt.Sprintf("User-Password of %d octets", len(hidden))}
	}
	out := append(ipsec.Secret(nil), hidden...)
	xorChain(out, secret, reqAuth[:], nil, false)
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
}

// xorChain is the cipher of RFC 2865 5.2 and RFC 2548 2.4.2: block i is
// XORed with MD5(secret + iv + salt) for i = 0 and MD5(secret + c(i-1))
// after, where c is the ciphertext block.
func xorChain(buf []byte, secret ipsec.Secret, iv, salt []byte, encrypt bool) {
	var prev [16]byte
	for i := 0; i < len(buf); i += 16 {
		h := md5.New()
		h.Write(secret)
		if i == 0 {
			h.Write(iv)
			h.Write(salt)
		} else {
			h.Write(prev[:])
		}
		var k [16]byte
		h.Sum(k[:0])
		blk := buf[i : i+16]
		if !encrypt {
			copy(prev[:], blk)
		}
		subtle.XORBytes(blk, blk, k[:])
		if encrypt {
			copy(prev[:], blk)
		}
	}
}

// EncryptSalted encrypts key as MS-MPPE-Send-Key/Recv-Key (RFC 2548
// section 2.4.2) and Tunnel-Password (RFC 2868 section 3.5) do: a
// 2-octet salt with its high bit set, then the encryption of a length
// octet, key and zero padding, keyed by secret, the Request
// Authenticator reqAuth and the salt. salt[0]'s high bit is forced.
func EncryptSalted(key []byte, secret ipsec.Secret, reqAuth [16]byte, salt [2]byte) ([]byte, error) {
	if len(key) > 239 {
		return nil, fmt.Errorf("radius: salted key of %d octets too long", len(key))
	}
	salt[0] |= 0x80
	n := (1 + len(key) + 15) / 16 * 16
	out := make([]byte, 2+n)
	out[0], out[1] = salt[0], salt[1]
	out[2] = byte(len(key))
	copy(out[3:], key)
	xorChain(out[2:], secret, reqAuth[:], salt[:], true)
	return out, nil
}

// DecryptSalted inverts EncryptSalted: v is the attribute value from
// the salt on (for Tunnel-Password, after the tag octet). The Request
// Authenticator is that of the Access-Request the packet answers.
func DecryptSalted(v []byte, secret ipsec.Secret, reqAuth [16]byte) (ipsec.Secret, error) {
	if len(v) < 2+16 || (len(v)-2)%16 != 0 {
		return nil, &ParseError{Reason: fmt.Sprintf("salt-encrypted value of %d octets", len(v))}
	}
	if v[0]&0x80 == 0 {
		return nil, &ParseError{Reason: "salt without its high bit"}
	}
	buf := append([]byte(nil), v[2:]...)
	xorChain(buf, secret, reqAuth[:], v[:2], false)
	l := int(buf[0])
	if l > len(buf)-1 {
		clear(buf)
		return nil, ErrBadSecret
	}
	out := append(ipsec.Secret(nil), buf[1:1+l]...)
	clear(buf)
	return out, nil
}

// DecryptTunnelPassword decrypts a Tunnel-Password value (RFC 2868
// section 3.5): a tag octet, then the salted encryption. It returns the
// tag and the password.
func DecryptTunnelPassword(v []byte, secret ipsec.Secret, reqAuth [16]byte) (tag uint8, pw ipsec.Secret, err error) {
	if len(v) < 1 {
		return 0, nil, &ParseError{Reason: "empty Tunnel-Password"}
	}
	pw, err = DecryptSalted(v[1:], secret, reqAuth)
	return v[0], pw, err
}

// CHAPPassword builds a CHAP-Password value: the CHAP identifier and
// MD5(id + password + challenge) (RFC 1994 section 4.1, RFC 2865 5.3).
// The PPP layer normally computes the response; this helper serves
// tests and clients.
func CHAPPassword(id uint8, password []byte, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write(password)
	h.Write(challenge)
	return h.Sum([]byte{id})
}

var errShortUint = errors.New("radius: integer attribute is not 4 octets")

func u32(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, errShortUint
	}
	return binary.BigEndian.Uint32(v), nil
}
