package ike

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/goipsec/ipsec/internal/alg"
)

// Authentication methods of the AUTH payload (RFC 7296 section 3.8,
// RFC 4754, RFC 7427).
const (
	authRSASig      = 1  // RSA PKCS#1 v1.5 with SHA-1: what Apple and Windows expect
	authSharedKey   = 2  // Shared Key Message Integrity Code
	authDSSSig      = 3  // DSS with SHA-1 (not supported)
	authECDSA256    = 9  // ECDSA with SHA-256 on P-256 (RFC 4754)
	authECDSA384    = 10 // ECDSA with SHA-384 on P-384
	authECDSA521    = 11 // ECDSA with SHA-512 on P-521
	authNull        = 13 // NULL authentication (RFC 7619)
	authDigitalSign = 14 // Digital Signature (RFC 7427)
)

// Hash algorithms of SIGNATURE_HASH_ALGORITHMS (RFC 7427 section 7).
const (
	hashSHA1     = 1
	hashSHA2_256 = 2
	hashSHA2_384 = 3
	hashSHA2_512 = 4
	hashIdentity = 5 // RFC 8420: EdDSA signs the octets themselves
)

// keyPad is the fixed string of RFC 7296 section 2.15.
var keyPad = []byte("Key Pad for IKEv2")

// ErrAuthFailed is the cause behind AUTHENTICATION_FAILED: the peer's AUTH
// payload, certificate or identity did not verify.
var ErrAuthFailed = errors.New("ike: authentication failed")

func prfSum(p alg.PRF, key []byte, data ...[]byte) []byte {
	h := p.New(key)
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// signedOctets builds what AUTH covers (RFC 7296 section 2.15): the whole
// IKE_SA_INIT message the signer sent, the other side's nonce, and
// prf(SK_p, ID payload body) where the body starts at the ID type, then
// after IKE_INTERMEDIATE exchanges intAuth, IntAuth_i | IntAuth_r |
// IKE_AUTH_MID (RFC 9242 section 3.3.2; nil without them).
func signedOctets(p alg.PRF, message, peerNonce, skp, idBody, intAuth []byte) []byte {
	mac := prfSum(p, skp, idBody)
	out := make([]byte, 0, len(message)+len(peerNonce)+len(mac)+len(intAuth))
	out = append(out, message...)
	out = append(out, peerNonce...)
	out = append(out, mac...)
	return append(out, intAuth...)
}

// sharedKeyAuth computes a Shared Key Message Integrity Code: prf(prf(key,
// "Key Pad for IKEv2"), octets). key is the PSK, or the EAP MSK (or SK_pi/
// SK_pr when the method produced none), RFC 7296 sections 2.15 and 2.16.
func sharedKeyAuth(p alg.PRF, key, octets []byte) []byte {
	padded := prfSum(p, key, keyPad) // as good as the key for forging AUTH
	defer wipe(padded)
	return prfSum(p, padded, octets)
}

// signatureScheme is one RFC 7427 signature algorithm with the DER of its
// AlgorithmIdentifier, which prefixes the signature in the AUTH payload.
type signatureScheme struct {
	name    string
	hashAlg uint16      // SIGNATURE_HASH_ALGORITHMS value it needs
	hash    crypto.Hash // 0 for Ed25519
	pss     bool
	key     string // "rsa", "ecdsa", "ed25519"
	algID   []byte
}

var (
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

var asn1Null = asn1.RawValue{Tag: asn1.TagNull}

func mustDER(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // fixed inputs: a failure is a programming error
	}
	return b
}

// pssParams encodes RSASSA-PSS-params (RFC 4055) with hash h, MGF1 with h,
// and a salt as long as the hash, the parameters strongSwan and Windows use.
func pssParams(hashOID asn1.ObjectIdentifier, saltLen int) asn1.RawValue {
	type hashAlg struct {
		Algorithm asn1.ObjectIdentifier
	}
	type params struct {
		Hash    hashAlg             `asn1:"explicit,tag:0"`
		MGF     algorithmIdentifier `asn1:"explicit,tag:1"`
		SaltLen int                 `asn1:"explicit,tag:2"`
	}
	der := mustDER(params{
		Hash:    hashAlg{hashOID},
		MGF:     algorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mustDER(hashAlg{hashOID})}},
		SaltLen: saltLen,
	})
	return asn1.RawValue{FullBytes: der}
}

// signatureSchemes in our order of preference for signing. RSA signs with
// PKCS#1 v1.5 before PSS, as strongSwan does unless told otherwise
// (charon.rsa_pss): peers without the MGF1 plugin reject PSS.
var signatureSchemes = []signatureScheme{
	{name: "ECDSA-SHA256", hashAlg: hashSHA2_256, hash: crypto.SHA256, key: "ecdsa", algID: mustDER(algorithmIdentifier{Algorithm: oidECDSAWithSHA256})},
	{name: "ECDSA-SHA384", hashAlg: hashSHA2_384, hash: crypto.SHA384, key: "ecdsa", algID: mustDER(algorithmIdentifier{Algorithm: oidECDSAWithSHA384})},
	{name: "ECDSA-SHA512", hashAlg: hashSHA2_512, hash: crypto.SHA512, key: "ecdsa", algID: mustDER(algorithmIdentifier{Algorithm: oidECDSAWithSHA512})},
	{name: "RSA-SHA256", hashAlg: hashSHA2_256, hash: crypto.SHA256, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1Null})},
	{name: "RSA-SHA384", hashAlg: hashSHA2_384, hash: crypto.SHA384, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidSHA384WithRSA, Parameters: asn1Null})},
	{name: "RSA-SHA512", hashAlg: hashSHA2_512, hash: crypto.SHA512, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidSHA512WithRSA, Parameters: asn1Null})},
	{name: "RSA-PSS-SHA256", hashAlg: hashSHA2_256, hash: crypto.SHA256, pss: true, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidRSAPSS, Parameters: pssParams(oidSHA256, 32)})},
	{name: "RSA-PSS-SHA384", hashAlg: hashSHA2_384, hash: crypto.SHA384, pss: true, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidRSAPSS, Parameters: pssParams(oidSHA384, 48)})},
	{name: "RSA-PSS-SHA512", hashAlg: hashSHA2_512, hash: crypto.SHA512, pss: true, key: "rsa", algID: mustDER(algorithmIdentifier{Algorithm: oidRSAPSS, Parameters: pssParams(oidSHA512, 64)})},
	{name: "Ed25519", hashAlg: hashIdentity, key: "ed25519", algID: mustDER(algorithmIdentifier{Algorithm: oidEd25519})},
}

// ourHashAlgorithms is what we announce in SIGNATURE_HASH_ALGORITHMS.
var ourHashAlgorithms = []uint16{hashSHA2_256, hashSHA2_384, hashSHA2_512, hashIdentity}

func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case *ecdsa.PublicKey:
		return "ecdsa"
	case ed25519.PublicKey:
		return "ed25519"
	}
	return ""
}

// ecdsaMethod maps a curve to its RFC 4754 method and hash.
func ecdsaMethod(c elliptic.Curve) (uint8, crypto.Hash, bool) {
	switch c {
	case elliptic.P256():
		return authECDSA256, crypto.SHA256, true
	case elliptic.P384():
		return authECDSA384, crypto.SHA384, true
	case elliptic.P521():
		return authECDSA521, crypto.SHA512, true
	}
	return 0, 0, false
}

func digest(h crypto.Hash, data []byte) []byte {
	if h == 0 {
		return data
	}
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

// sign produces an AUTH payload's method and data for octets with key.
// When the peer announced SIGNATURE_HASH_ALGORITHMS (peerHashes not nil),
// RFC 7427 digital signatures are used (RFC 7427 section 4); otherwise the
// RFC 7296/4754 methods, which are all Apple's and Windows' native clients
// accept: RSA with SHA-1, or ECDSA matched to the curve.
func sign(key crypto.Signer, octets []byte, peerHashes []uint16, rand interface{ Read([]byte) (int, error) }) (method uint8, data []byte, err error) {
	kind := keyKind(key.Public())
	if kind == "" {
		return 0, nil, fmt.Errorf("ike: unsupported private key type %T", key.Public())
	}
	if peerHashes != nil {
		for _, s := range signatureSchemes {
			if s.key != kind || !slices.Contains(peerHashes, s.hashAlg) {
				continue
			}
			if s.key == "ecdsa" {
				// Only the hash that matches the curve's strength, as
				// strongSwan does, so P-384 keys sign with SHA-384.
				if _, h, ok := ecdsaMethod(key.Public().(*ecdsa.PublicKey).Curve); !ok || h != s.hash {
					continue
				}
			}
			sig, err := signWith(key, s, octets, rand)
			if err != nil {
				return 0, nil, err
			}
			out := make([]byte, 0, 1+len(s.algID)+len(sig))
			out = append(out, byte(len(s.algID)))
			out = append(out, s.algID...)
			return authDigitalSign, append(out, sig...), nil
		}
	}
	switch kind {
	case "rsa":
		sig, err := rsa.SignPKCS1v15(rand, key.(*rsa.PrivateKey), crypto.SHA1, digest(crypto.SHA1, octets))
		if err != nil {
			return 0, nil, fmt.Errorf("ike: RSA signature: %w", err)
		}
		return authRSASig, sig, nil
	case "ecdsa":
		pub := key.Public().(*ecdsa.PublicKey)
		m, h, ok := ecdsaMethod(pub.Curve)
		if !ok {
			return 0, nil, fmt.Errorf("ike: ECDSA curve %s has no RFC 4754 method", pub.Curve.Params().Name)
		}
		der, err := key.Sign(rand, digest(h, octets), h)
		if err != nil {
			return 0, nil, fmt.Errorf("ike: ECDSA signature: %w", err)
		}
		raw, err := ecdsaDERToRaw(der, (pub.Curve.Params().BitSize+7)/8)
		if err != nil {
			return 0, nil, err
		}
		return m, raw, nil
	}
	return 0, nil, fmt.Errorf("ike: %s keys need RFC 7427 signatures, which the peer did not announce", kind)
}

func signWith(key crypto.Signer, s signatureScheme, octets []byte, rand interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var opts crypto.SignerOpts = s.hash
	if s.pss {
		opts = &rsa.PSSOptions{SaltLength: s.hash.Size(), Hash: s.hash}
	}
	if s.key == "ed25519" {
		opts = crypto.Hash(0)
	}
	sig, err := key.Sign(rand, digest(s.hash, octets), opts)
	if err != nil {
		return nil, fmt.Errorf("ike: %s signature: %w", s.name, err)
	}
	return sig, nil
}

// verify checks an AUTH payload's signature over octets with the peer's
// certificate key. Every failure wraps ErrAuthFailed.
func verify(method uint8, data []byte, pub crypto.PublicKey, octets []byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrAuthFailed, fmt.Sprintf(format, args...))
	}
	switch method {
	case authRSASig:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fail("RSA signature with a %s key", keyKind(pub))
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA1, digest(crypto.SHA1, octets), data) != nil {
			return fail("RSA signature does not verify")
		}
		return nil
	case authECDSA256, authECDSA384, authECDSA521:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fail("ECDSA signature with a %s key", keyKind(pub))
		}
		m, h, ok := ecdsaMethod(k.Curve)
		if !ok || m != method {
			return fail("ECDSA method %d does not match the certificate's curve", method)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(data) != 2*n {
			return fail("ECDSA signature of %d bytes, want %d", len(data), 2*n)
		}
		r, s := new(big.Int).SetBytes(data[:n]), new(big.Int).SetBytes(data[n:])
		if !ecdsa.Verify(k, digest(h, octets), r, s) {
			return fail("ECDSA signature does not verify")
		}
		return nil
	case authDigitalSign:
		if len(data) < 1 || len(data) < 1+int(data[0]) {
			return fail("digital signature payload truncated")
		}
		algID, sig := data[1:1+int(data[0])], data[1+int(data[0]):]
		for _, s := range signatureSchemes {
			if !schemeMatches(s, algID) {
				continue
			}
			if keyKind(pub) != s.key {
				return fail("%s signature with a %s key", s.name, keyKind(pub))
			}
			var err error
			switch s.key {
			case "rsa":
				if s.pss {
					err = rsa.VerifyPSS(pub.(*rsa.PublicKey), s.hash, digest(s.hash, octets), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: s.hash})
				} else {
					err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), s.hash, digest(s.hash, octets), sig)
				}
			case "ecdsa":
				if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest(s.hash, octets), sig) {
					err = errors.New("mismatch")
				}
			case "ed25519":
				if !ed25519.Verify(pub.(ed25519.PublicKey), octets, sig) {
					err = errors.New("mismatch")
				}
			}
			if err != nil {
				return fail("%s signature does not verify", s.name)
			}
			return nil
		}
		return fail("unsupported signature algorithm %x", algID)
	}
	return fail("unsupported authentication method %d", method)
}

// schemeMatches compares AlgorithmIdentifiers; for RSASSA-PSS the
// parameters may differ from the ones we send (salt length), so only the
// hash inside them must match.
func schemeMatches(s signatureScheme, algID []byte) bool {
	if bytes.Equal(s.algID, algID) {
		return true
	}
	if !s.pss {
		// Absent vs NULL parameters are both seen for RSA PKCS#1.
		var ai algorithmIdentifier
		var ours algorithmIdentifier
		if _, err := asn1.Unmarshal(algID, &ai); err != nil {
			return false
		}
		asn1.Unmarshal(s.algID, &ours)
		return ai.Algorithm.Equal(ours.Algorithm) && (len(ai.Parameters.FullBytes) == 0 || ai.Parameters.Tag == asn1.TagNull)
	}
	var ai algorithmIdentifier
	if _, err := asn1.Unmarshal(algID, &ai); err != nil || !ai.Algorithm.Equal(oidRSAPSS) {
		return false
	}
	var p struct {
		Hash struct {
			Algorithm asn1.ObjectIdentifier
		} `asn1:"explicit,optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(ai.Parameters.FullBytes, &p); err != nil {
		return false
	}
	want := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256, crypto.SHA384: oidSHA384, crypto.SHA512: oidSHA512}[s.hash]
	return p.Hash.Algorithm.Equal(want)
}

// ecdsaDERToRaw converts an ASN.1 ECDSA signature to RFC 4754's r||s with
// each half n bytes.
func ecdsaDERToRaw(der []byte, n int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return nil, fmt.Errorf("ike: ECDSA signature encoding: %w", err)
	}
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out, nil
}
