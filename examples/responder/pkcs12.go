package main

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/pkcs12"
)

// A PKCS#12 (RFC 7292) encoder for the client certificates that export
// puts into Apple profiles and next to the Linux configuration: one
// certificate and its private key, protected by a password.
//
// Algorithms: pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 appendix C) for
// both the key bag and the certificate bag, and an HMAC-SHA-1 MAC with
// the RFC 7292 appendix B key derivation. This is the "legacy" format
// (openssl pkcs12 -export -legacy), and we choose it on purpose:
//   - iOS and macOS import it in every version; the PBES2/AES-256 +
//     HMAC-SHA-256 files OpenSSL 3 writes by default are refused with
//     "wrong password" by iOS before 17 and macOS before 14, and the
//     profile payload com.apple.security.pkcs12 goes through the same
//     importer;
//   - Windows (every version since XP) and Android's KeyChain import it;
//   - golang.org/x/crypto/pkcs12, which the responder uses to read
//     PKCS#12 files, decodes only this format, so the tests check our
//     output with an independent decoder.
//
// 3DES with SHA-1 is weak against a determined offline attack on the
// password, so the file (and the profile carrying it) is a secret in
// itself: export writes it with mode 0600 and a random 20-character
// password that is printed, not stored in the file (unless asked for).
var (
	oidDataContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedDataContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidPBEWithSHAAnd3KeyTDES    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPKCS8ShroudedKeyBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509CertType             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidSHA1                     = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
)

// pkcs12Iterations is the key derivation's iteration count for the
// encryption and the MAC: OpenSSL's default, which every importer
// handles quickly (Windows and older iPhones take seconds at 100,000+).
const pkcs12Iterations = 2048

// encodePKCS12 returns a PFX holding cert and key (the private key of
// cert), both encrypted under password, with friendlyName as the name
// Keychain and the Windows certificate store show.
func encodePKCS12(cert *x509.Certificate, key crypto.Signer, friendlyName, password string) ([]byte, error) {
	pw, err := bmpPassword(password)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// localKeyId ties the key to its certificate: Windows and Keychain
	// pair them by it. The certificate's SHA-1, as OpenSSL uses.
	keyID := sha1.Sum(cert.Raw)
	attrs := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidFriendlyName)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(30), func(b *cryptobyte.Builder) { // BMPString
						for _, u := range utf16.Encode([]rune(friendlyName)) {
							b.AddUint16(u)
						}
					})
				})
			})
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidLocalKeyID)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1OctetString(keyID[:])
				})
			})
		})
	}

	// The key: a pkcs8ShroudedKeyBag in a plain data ContentInfo (the
	// bag is encrypted itself).
	keyAlg, keyEnc, err := pbeEncrypt(pkcs8, pw)
	if err != nil {
		return nil, err
	}
	var keyBags cryptobyte.Builder
	keyBags.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPKCS8ShroudedKeyBag)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedPrivateKeyInfo
					b.AddBytes(keyAlg)
					b.AddASN1OctetString(keyEnc)
				})
			})
			attrs(b)
		})
	})
	keySafe, err := keyBags.Bytes()
	if err != nil {
		return nil, err
	}

	// The certificate: a certBag in an encryptedData ContentInfo, as
	// OpenSSL writes it, so the file reveals nothing without the password.
	var certBags cryptobyte.Builder
	certBags.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidCertBag)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidX509CertType)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(cert.Raw)
					})
				})
			})
			attrs(b)
		})
	})
	certSafe, err := certBags.Bytes()
	if err != nil {
		return nil, err
	}
	certAlg, certEnc, err := pbeEncrypt(certSafe, pw)
	if err != nil {
		return nil, err
	}

	var authSafe cryptobyte.Builder
	authSafe.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo, encryptedData
			b.AddASN1ObjectIdentifier(oidEncryptedDataContentType)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedData
					b.AddASN1Int64(0)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedContentInfo
						b.AddASN1ObjectIdentifier(oidDataContentType)
						b.AddBytes(certAlg)
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(certEnc)
						})
					})
				})
			})
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo, data
			b.AddASN1ObjectIdentifier(oidDataContentType)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(keySafe)
			})
		})
	})
	authSafeDER, err := authSafe.Bytes()
	if err != nil {
		return nil, err
	}

	// The MAC over the AuthenticatedSafe's DER (RFC 7292 section 4).
	macSalt := make([]byte, 8)
	rand.Read(macSalt)
	macKey := pkcs12KDF(pw, macSalt, 3, pkcs12Iterations, sha1.Size)
	h := hmac.New(sha1.New, macKey)
	h.Write(authSafeDER)
	mac := h.Sum(nil)

	var pfx cryptobyte.Builder
	pfx.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(3)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidDataContentType)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(authSafeDER)
			})
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // MacData
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // DigestInfo
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidSHA1)
					b.AddASN1NULL()
				})
				b.AddASN1OctetString(mac)
			})
			b.AddASN1OctetString(macSalt)
			b.AddASN1Int64(pkcs12Iterations)
		})
	})
	return pfx.Bytes()
}

// pbeEncrypt encrypts data with pbeWithSHAAnd3-KeyTripleDES-CBC and a
// fresh salt. It returns the DER AlgorithmIdentifier and the ciphertext.
func pbeEncrypt(data, pw []byte) (alg, ct []byte, err error) {
	salt := make([]byte, 8)
	rand.Read(salt)
	key := pkcs12KDF(pw, salt, 1, pkcs12Iterations, 24)
	iv := pkcs12KDF(pw, salt, 2, pkcs12Iterations, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, nil, err
	}
	// PKCS#5 padding: always 1 to 8 bytes.
	pad := des.BlockSize - len(data)%des.BlockSize
	ct = append(bytes.Clone(data), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidPBEWithSHAAnd3KeyTDES)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(salt)
			b.AddASN1Int64(pkcs12Iterations)
		})
	})
	alg, err = b.Bytes()
	return alg, ct, err
}

// bmpPassword is the password as RFC 7292 appendix B.1 feeds it to the
// key derivation: UTF-16 big endian with a terminating zero character.
func bmpPassword(s string) ([]byte, error) {
	out := make([]byte, 0, 2*len(s)+2)
	for _, r := range s {
		if r > 0xFFFF {
			// BMPString has no surrogates: importers disagree on them.
			return nil, errors.New("pkcs12: password characters must be in the Basic Multilingual Plane")
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0), nil
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2 with SHA-1
// (u = 20, v = 64 bytes): id 1 derives encryption keys, 2 IVs, 3 MAC
// keys.
func pkcs12KDF(pw, salt []byte, id byte, iterations, n int) []byte {
	const u, v = sha1.Size, 64
	fill := func(src []byte) []byte {
		if len(src) == 0 {
			return nil
		}
		out := make([]byte, v*((len(src)+v-1)/v))
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out
	}
	d := bytes.Repeat([]byte{id}, v)
	I := append(fill(salt), fill(pw)...)
	var out []byte
	for len(out) < n {
		h := sha1.New()
		h.Write(d)
		h.Write(I)
		var a [sha1.Size]byte
		h.Sum(a[:0])
		for range iterations - 1 {
			a = sha1.Sum(a[:])
		}
		out = append(out, a[:]...)
		if len(out) >= n {
			break
		}
		// I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, B being
		// A repeated to v bytes.
		b := make([]byte, v)
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(I); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(I[j+k]) + int(b[k]) + carry
				I[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:n]
}

// decodePKCS12 reads a PKCS#12 file: the certificate chain (leaf first:
// the certificate that matches the key) and the private key. It takes
// the legacy format (3DES or RC2 with a SHA-1 MAC), which
// golang.org/x/crypto/pkcs12 decodes; OpenSSL 3 writes PBES2/AES files
// by default, which need -legacy.
func decodePKCS12(data []byte, password string) ([]*x509.Certificate, crypto.Signer, error) {
	if err := checkPKCS12Iterations(data); err != nil {
		return nil, nil, err
	}
	blocks, err := pkcs12.ToPEM(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, errors.New("PKCS#12: wrong password (or a corrupted file)")
		}
		var ni pkcs12.NotImplementedError
		if errors.As(err, &ni) || strings.Contains(err.Error(), "unknown") || strings.Contains(err.Error(), "not implemented") {
			return nil, nil, fmt.Errorf("PKCS#12: %v (AES/PBES2 files, OpenSSL 3's default, are not supported: re-export with openssl pkcs12 -export -legacy, or use PEM files)", err)
		}
		return nil, nil, fmt.Errorf("PKCS#12: %v", err)
	}
	var certs []*x509.Certificate
	var key crypto.Signer
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("PKCS#12: certificate: %v", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			if key != nil {
				return nil, nil, errors.New("PKCS#12: more than one private key")
			}
			// ToPEM converts keys to PKCS#1 or SEC 1 despite the type.
			if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
				key = k
			} else if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
				key = k
			} else if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
				switch k := k.(type) {
				case *rsa.PrivateKey:
					key = k
				case *ecdsa.PrivateKey:
					key = k
				case ed25519.PrivateKey:
					key = k
				}
			}
			if key == nil {
				return nil, nil, errors.New("PKCS#12: unsupported private key")
			}
		}
	}
	if key == nil {
		return nil, nil, errors.New("PKCS#12: no private key")
	}
	type pub interface{ Equal(crypto.PublicKey) bool }
	leaf := -1
	for i, c := range certs {
		if p, ok := key.Public().(pub); ok && p.Equal(c.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, nil, errors.New("PKCS#12: no certificate for the private key")
	}
	certs[0], certs[leaf] = certs[leaf], certs[0]
	return certs, key, nil
}

// maxPKCS12Iterations bounds the key derivations' iteration counts a
// PKCS#12 file may ask for: x/crypto/pkcs12 runs whatever the file says,
// and 2^31 SHA-1 rounds per derivation would hang the start. Real files
// use 2,048 (OpenSSL), 10,000 or 600,000 (newer tools).
const maxPKCS12Iterations = 1_000_000

// checkPKCS12Iterations walks the parts of a PFX that are readable
// without the password (the MAC, the encryption parameters of each
// encrypted ContentInfo, the key bags of plain ContentInfos) and
// rejects an iteration count above maxPKCS12Iterations. A structure it
// cannot follow is left to the decoder, which reports it.
func checkPKCS12Iterations(data []byte) error {
	return checkPKCS12IterationsLimit(data, maxPKCS12Iterations)
}

// checkPKCS12IterationsLimit is checkPKCS12Iterations with the limit as
// a parameter, for tests.
func checkPKCS12IterationsLimit(data []byte, limit int64) error {
	tooMany := func(n int64) error {
		if n < 0 || n > limit {
			return fmt.Errorf("PKCS#12: iteration count %d outside 0..%d", n, limit)
		}
		return nil
	}
	// pbeParams reads AlgorithmIdentifier { OID, SEQUENCE { salt, iterations } }.
	pbeParams := func(alg cryptobyte.String) error {
		var oid asn1.ObjectIdentifier
		var params cryptobyte.String
		var salt []byte
		var n int64
		if alg.ReadASN1ObjectIdentifier(&oid) && alg.ReadASN1(&params, cbasn1.SEQUENCE) &&
			params.ReadASN1Bytes(&salt, cbasn1.OCTET_STRING) && params.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) {
			return tooMany(n)
		}
		return nil
	}
	in := cryptobyte.String(data)
	var pfx, authSafe, content, macData cryptobyte.String
	var version int64
	var oid asn1.ObjectIdentifier
	var safeDER []byte
	if !in.ReadASN1(&pfx, cbasn1.SEQUENCE) || !pfx.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) ||
		!pfx.ReadASN1(&authSafe, cbasn1.SEQUENCE) || !authSafe.ReadASN1ObjectIdentifier(&oid) ||
		!authSafe.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !content.ReadASN1Bytes(&safeDER, cbasn1.OCTET_STRING) {
		return nil
	}
	if pfx.ReadASN1(&macData, cbasn1.SEQUENCE) {
		var digest cryptobyte.String
		var salt []byte
		var n int64 = 1
		if macData.ReadASN1(&digest, cbasn1.SEQUENCE) && macData.ReadASN1Bytes(&salt, cbasn1.OCTET_STRING) {
			if !macData.Empty() && !macData.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) {
				return errors.New("PKCS#12: bad MAC iteration count")
			}
			if err := tooMany(n); err != nil {
				return err
			}
		}
	}
	var infos cryptobyte.String
	safe := cryptobyte.String(safeDER)
	if !safe.ReadASN1(&infos, cbasn1.SEQUENCE) {
		return nil
	}
	for !infos.Empty() {
		var ci, body cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !infos.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&typ) || !ci.ReadASN1(&body, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil
		}
		switch {
		case typ.Equal(oidEncryptedDataContentType):
			var ed, eci, alg cryptobyte.String
			var v int64
			if body.ReadASN1(&ed, cbasn1.SEQUENCE) && ed.ReadASN1Int64WithTag(&v, cbasn1.INTEGER) &&
				ed.ReadASN1(&eci, cbasn1.SEQUENCE) && eci.ReadASN1ObjectIdentifier(&oid) && eci.ReadASN1(&alg, cbasn1.SEQUENCE) {
				if err := pbeParams(alg); err != nil {
					return err
				}
			}
		case typ.Equal(oidDataContentType):
			var bagsDER []byte
			var bags cryptobyte.String
			if !body.ReadASN1Bytes(&bagsDER, cbasn1.OCTET_STRING) {
				continue
			}
			if b := cryptobyte.String(bagsDER); !b.ReadASN1(&bags, cbasn1.SEQUENCE) {
				continue
			}
			for !bags.Empty() {
				var bag, val, epki, alg cryptobyte.String
				var id asn1.ObjectIdentifier
				if !bags.ReadASN1(&bag, cbasn1.SEQUENCE) || !bag.ReadASN1ObjectIdentifier(&id) {
					break
				}
				if id.Equal(oidPKCS8ShroudedKeyBag) && bag.ReadASN1(&val, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
					val.ReadASN1(&epki, cbasn1.SEQUENCE) && epki.ReadASN1(&alg, cbasn1.SEQUENCE) {
					if err := pbeParams(alg); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// pemCert is a certificate in PEM.
func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
