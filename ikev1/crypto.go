package ikev1

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"

	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// p1keys are an ISAKMP SA's secrets (RFC 2409 section 5).
type p1keys struct {
	prf     alg.PRF
	newHash func() hash.Hash
	v1      *kdf.V1Keys
	encKey  kdf.Key
	crypto  *wire.Crypto
}

func (k *p1keys) wipe() {
	k.v1.Wipe()
	k.encKey.Wipe()
}

// hashFor returns the hash function behind an HMAC PRF: IKEv1 uses it for
// the phase 1 IVs and NAT-D.
func hashFor(id proposal.PRFID) (func() hash.Hash, error) {
	switch id {
	case proposal.PRFHMACMD5:
		return md5.New, nil
	case proposal.PRFHMACSHA1:
		return sha1.New, nil
	case proposal.PRFHMACSHA2256:
		return sha256.New, nil
	case proposal.PRFHMACSHA2384:
		return sha512.New384, nil
	case proposal.PRFHMACSHA2512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("ikev1: no IKEv1 hash for %s", id)
}

// phase1Block returns the phase 1 cipher for the negotiated algorithm and
// how many key bytes it takes.
func phase1KeyLen(e proposal.Encr) (int, error) {
	switch e.ID {
	case proposal.EncrAESCBC:
		return int(e.KeyLen) / 8, nil
	case proposal.Encr3DES:
		return 24, nil
	}
	return 0, fmt.Errorf("ikev1: phase 1 encryption %s is not supported", e.ID)
}

func phase1Block(e proposal.Encr, key []byte) (cipher.Block, error) {
	switch e.ID {
	case proposal.EncrAESCBC:
		return aes.NewCipher(key)
	case proposal.Encr3DES:
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("ikev1: phase 1 encryption %s is not supported", e.ID)
}

// prf computes prf(key, parts...).
func prfOf(p alg.PRF, key []byte, parts ...[]byte) []byte {
	h := p.New(key)
	for _, x := range parts {
		h.Write(x)
	}
	return h.Sum(nil)
}

// deriveKeys computes SKEYID and the keys derived from it once the
// Diffie-Hellman secret is known, and sets up the phase 1 encryption.
func (sa *isakmpSA) deriveKeys(gxy []byte) error {
	p1 := sa.p1
	prf, err := alg.NewPRF(sa.prop.PRF[0])
	if err != nil {
		return err
	}
	newHash, err := hashFor(sa.prop.PRF[0])
	if err != nil {
		return err
	}
	var skeyid kdf.Key
	switch sa.cfg.Auth {
	case AuthPSK:
		skeyid = kdf.V1SKEYIDPSK(prf, sa.cfg.PSK, p1.ni, p1.nr)
	default:
		skeyid = kdf.V1SKEYIDSignature(prf, p1.ni, p1.nr, gxy)
	}
	defer skeyid.Wipe()
	v1 := kdf.V1DeriveKeys(prf, skeyid, gxy, sa.ckyI[:], sa.ckyR[:])
	n, err := phase1KeyLen(sa.prop.Encr[0])
	if err != nil {
		v1.Wipe()
		return err
	}
	ek := kdf.V1EncryptionKey(prf, v1.SKEYIDe, n)
	block, err := phase1Block(sa.prop.Encr[0], ek)
	if err != nil {
		v1.Wipe()
		ek.Wipe()
		return err
	}
	sa.keys = &p1keys{prf: prf, newHash: newHash, v1: v1, encKey: ek,
		crypto: wire.NewCrypto(block, newHash, p1.gxi, p1.gxr)}
	sa.writeKeyLog()
	return nil
}

// hashI and hashR are HASH_I and HASH_R of RFC 2409 section 5:
//
//	HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
//	HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
func (sa *isakmpSA) hashI() []byte {
	p1 := sa.p1
	return prfOf(sa.keys.prf, sa.keys.v1.SKEYID, p1.gxi, p1.gxr, sa.ckyI[:], sa.ckyR[:], p1.saiB, p1.idiB)
}

func (sa *isakmpSA) hashR() []byte {
	p1 := sa.p1
	return prfOf(sa.keys.prf, sa.keys.v1.SKEYID, p1.gxr, p1.gxi, sa.ckyR[:], sa.ckyI[:], p1.saiB, p1.idrB)
}

// prfA computes prf(SKEYID_a, parts...), the HASH of phase 2 and
// informational exchanges.
func (sa *isakmpSA) prfA(parts ...[]byte) []byte {
	return prfOf(sa.keys.prf, sa.keys.v1.SKEYIDa, parts...)
}

// sign signs HASH_I or HASH_R with our key: RSA PKCS#1 v1.5 without a
// DigestInfo (RFC 2409 section 5.1), ECDSA r|s (RFC 4754 section 7).
func sign(key crypto.Signer, rand interface{ Read([]byte) (int, error) }, h []byte) ([]byte, error) {
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		return key.Sign(rand, h, crypto.Hash(0))
	case *ecdsa.PublicKey:
		d, err := ecdsaDigest(k, h)
		if err != nil {
			return nil, err
		}
		der, err := key.Sign(rand, d, crypto.Hash(0))
		if err != nil {
			return nil, err
		}
		return ecdsaDERToRaw(der, (k.Curve.Params().BitSize+7)/8)
	}
	return nil, errors.New("ikev1: key type not supported for signatures")
}

// verify checks a peer's signature over HASH_I or HASH_R.
func verify(cert *x509.Certificate, h, sig []byte) error {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.Hash(0), h, sig)
	case *ecdsa.PublicKey:
		d, err := ecdsaDigest(k, h)
		if err != nil {
			return err
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return errors.New("ikev1: ECDSA signature of the wrong length")
		}
		if !ecdsaVerifyRaw(k, d, sig[:n], sig[n:]) {
			return errors.New("ikev1: ECDSA signature does not verify")
		}
		return nil
	}
	return errors.New("ikev1: peer key type not supported")
}
