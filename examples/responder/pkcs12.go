package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// PKCS#12 (RFC 7292) in both directions through
// software.sslmate.com/src/go-pkcs12: the responder reads the server's
// certificate chain and key from one (server.pkcs12), and export packs
// each certificate client's certificate and key into one, protected by a
// random password.
//
// Two profiles, chosen per target platform (p12ProfileFor):
//   - legacy: pbeWithSHAAnd3-KeyTripleDES-CBC for the key and the
//     certificate, an HMAC-SHA-1 MAC with the RFC 7292 appendix B key
//     derivation (openssl pkcs12 -export -legacy). iOS and macOS refuse
//     the PBES2/AES files OpenSSL 3 writes by default with "wrong
//     password" before iOS 17 and macOS 14 (the profile payload
//     com.apple.security.pkcs12 goes through the same importer),
//     Windows imports AES files only since Windows 10 1709 / Server 2019,
//     and Android's KeyChain (the strongSwan app imports through it)
//     takes 3DES in every version: Apple, Windows and Android get this.
//   - modern: PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC, an
//     HMAC-SHA-256 MAC (OpenSSL 3's default). The PKCS#12 beside the
//     Linux configuration is read by OpenSSL 1.1.1 or newer (strongSwan's
//     openssl plugin, NetworkManager), which takes it.
//
// 3DES with SHA-1 is weak against a determined offline attack on the
// password, so the file (and the profile carrying it) is a secret in
// itself: export writes it with mode 0600 and a random 20-character
// password that is printed, not stored in the file (unless asked for).
//
// The encoder writes a localKeyId attribute (the certificate's SHA-1,
// which Windows and Keychain pair key and certificate by) but no
// friendlyName: Keychain and the Windows certificate store then show the
// certificate's subject.

// Object identifiers the iteration check follows.
var (
	oidDataContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedDataContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidPKCS8ShroudedKeyBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidPBKDF2                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBES2                    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBMAC1                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

// p12Profile is a PKCS#12 algorithm profile.
type p12Profile int

const (
	p12Legacy p12Profile = iota // 3DES, HMAC-SHA-1 MAC
	p12Modern                   // PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256, HMAC-SHA-256 MAC
)

// pkcs12Iterations is the key derivations' iteration count for the
// encryption and the MAC: OpenSSL's default, which every importer
// handles quickly (Windows and older iPhones take seconds at 100,000+).
// The password is 20 random characters, so more rounds add little.
const pkcs12Iterations = 2048

// p12ProfileFor is the profile of the PKCS#12 export writes for an
// export kind (apple, windows, android, linux): modern only where every
// importer of that target reads it.
func p12ProfileFor(kind string) p12Profile {
	if kind == "linux" {
		return p12Modern
	}
	return p12Legacy
}

// encoder is the library's encoder for the profile.
func (p p12Profile) encoder() *pkcs12.Encoder {
	if p == p12Modern {
		return pkcs12.Modern2023.WithIterations(pkcs12Iterations)
	}
	// LegacyDES derives the MAC key with one round; 2048 as OpenSSL's
	// -legacy does.
	return pkcs12.LegacyDES.WithIterations(pkcs12Iterations)
}

// encode returns a PFX holding cert and key (the private key of cert),
// both encrypted under password.
func (p p12Profile) encode(cert *x509.Certificate, key crypto.Signer, password string) ([]byte, error) {
	// The library refuses passwords outside the Basic Multilingual
	// Plane (BMPString has no surrogates: importers disagree on them).
	return p.encoder().Encode(key, cert, nil, password)
}

// encodePKCS12 is p12Legacy.encode: the profile every importer takes.
func encodePKCS12(cert *x509.Certificate, key crypto.Signer, password string) ([]byte, error) {
	return p12Legacy.encode(cert, key, password)
}

// decodePKCS12 reads a PKCS#12 file: the certificate chain (leaf first:
// the certificate that matches the key) and the private key. It takes
// the legacy formats (3DES or RC2 with a SHA-1 MAC) and the PBES2/AES
// files OpenSSL 3 writes by default (also with a PBMAC1 MAC). The
// iteration counts are checked first (checkPKCS12Iterations); the caller
// bounds the size.
func decodePKCS12(data []byte, password string) ([]*x509.Certificate, crypto.Signer, error) {
	if err := checkPKCS12Iterations(data); err != nil {
		return nil, nil, err
	}
	k, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, errors.New("PKCS#12: wrong password (or a corrupted file)")
		}
		var ni pkcs12.NotImplementedError
		if errors.As(err, &ni) {
			return nil, nil, fmt.Errorf("PKCS#12: %v (or use PEM files)", err)
		}
		return nil, nil, fmt.Errorf("PKCS#12: %v", err)
	}
	var key crypto.Signer
	switch k := k.(type) {
	case *rsa.PrivateKey:
		key = k
	case *ecdsa.PrivateKey:
		key = k
	case ed25519.PrivateKey:
		key = k
	default:
		return nil, nil, fmt.Errorf("PKCS#12: unsupported private key %T", k)
	}
	// The library takes the first certificate as the leaf; files from
	// other tools may put a CA first. The leaf is the one of the key.
	certs := append([]*x509.Certificate{leaf}, cas...)
	type pub interface{ Equal(crypto.PublicKey) bool }
	i := -1
	for j, c := range certs {
		if p, ok := key.Public().(pub); ok && p.Equal(c.PublicKey) {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, nil, errors.New("PKCS#12: no certificate for the private key")
	}
	certs[0], certs[i] = certs[i], certs[0]
	return certs, key, nil
}

// maxPKCS12Iterations bounds the key derivations' iteration counts a
// PKCS#12 file may ask for: go-pkcs12 runs whatever the file says,
// and 2^31 SHA-1 rounds per derivation would hang the start. Real files
// use 2,048 (OpenSSL), 10,000 or 600,000 (newer tools).
const maxPKCS12Iterations = 1_000_000

// checkPKCS12Iterations walks the parts of a PFX that are readable
// without the password (the MAC, also PBMAC1's, the encryption
// parameters, RFC 7292's or PBES2's PBKDF2, of each encrypted
// ContentInfo and of the key bags of plain ContentInfos) and
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
	// pbkdf2 reads the inside of the AlgorithmIdentifier { PBKDF2,
	// SEQUENCE { salt, iterationCount, ... } } of PBES2 and PBMAC1
	// (RFC 8018 A.2, RFC 9579).
	pbkdf2 := func(kdf cryptobyte.String) error {
		var oid asn1.ObjectIdentifier
		var params cryptobyte.String
		var n int64
		if kdf.ReadASN1ObjectIdentifier(&oid) && oid.Equal(oidPBKDF2) && kdf.ReadASN1(&params, cbasn1.SEQUENCE) &&
			params.SkipASN1(cbasn1.OCTET_STRING) && params.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) {
			return tooMany(n)
		}
		return nil
	}
	// pbeParams reads the inside of an AlgorithmIdentifier: RFC 7292's
	// { OID, SEQUENCE { salt, iterations } } or PBES2's { OID, SEQUENCE {
	// keyDerivationFunc, encryptionScheme } }.
	pbeParams := func(alg cryptobyte.String) error {
		var oid asn1.ObjectIdentifier
		var params, kdf cryptobyte.String
		var n int64
		if !alg.ReadASN1ObjectIdentifier(&oid) || !alg.ReadASN1(&params, cbasn1.SEQUENCE) {
			return nil
		}
		if oid.Equal(oidPBES2) {
			if params.ReadASN1(&kdf, cbasn1.SEQUENCE) {
				return pbkdf2(kdf)
			}
			return nil
		}
		if params.SkipASN1(cbasn1.OCTET_STRING) && params.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) {
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
			// DigestInfo { AlgorithmIdentifier, digest }: with PBMAC1
			// (RFC 9579) the PBKDF2 parameters are in the
			// AlgorithmIdentifier.
			var alg, params, kdf cryptobyte.String
			var macOID asn1.ObjectIdentifier
			if digest.ReadASN1(&alg, cbasn1.SEQUENCE) && alg.ReadASN1ObjectIdentifier(&macOID) && macOID.Equal(oidPBMAC1) &&
				alg.ReadASN1(&params, cbasn1.SEQUENCE) && params.ReadASN1(&kdf, cbasn1.SEQUENCE) {
				if err := pbkdf2(kdf); err != nil {
					return err
				}
			}
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
