package alg

import (
	"crypto/mlkem"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/goipsec/ipsec/proposal"
)

// mlkemKE is ML-KEM (FIPS 203) as an IKEv2 key exchange
// (draft-ietf-ipsecme-ikev2-mlkem): the initiator's KE data is the
// encapsulation key, the responder's the ciphertext, the shared secret
// the 32-byte ML-KEM shared key. ML-KEM-768/1024 come from crypto/mlkem;
// ML-KEM-512, which the standard library omits, from circl.
//
// Keys are derived from a 64-byte seed (d || z) read from rand, so a
// fixed rand gives reproducible keys. Encapsulation keys are checked as
// FIPS 203 section 7.2 requires (length and modulus check); a ciphertext
// of the right length always decapsulates (implicit rejection), so a
// forged one yields an unrelated secret and the AUTH exchange fails.
type mlkemKE struct {
	id   proposal.KEID
	rand io.Reader
	// exactly one of these is set after Public
	dk768  *mlkem.DecapsulationKey768
	dk1024 *mlkem.DecapsulationKey1024
	dk512  *mlkem512.PrivateKey
	ek     []byte
	done   bool
}

func newMLKEM(id proposal.KEID, rand io.Reader) *mlkemKE {
	return &mlkemKE{id: id, rand: rand}
}

func (k *mlkemKE) Method() proposal.KEID { return k.id }

// String never shows the decapsulation key.
func (k *mlkemKE) String() string { return keName(k.id) }

func (k *mlkemKE) Public() ([]byte, error) {
	if k.ek != nil {
		return append([]byte(nil), k.ek...), nil
	}
	seed := make([]byte, mlkem.SeedSize)
	if _, err := io.ReadFull(k.rand, seed); err != nil {
		return nil, fmt.Errorf("alg: %s: key generation: %w", keName(k.id), err)
	}
	if err := k.setSeed(seed); err != nil {
		return nil, err
	}
	return append([]byte(nil), k.ek...), nil
}

func (k *mlkemKE) setSeed(seed []byte) error {
	var err error
	switch k.id {
	case proposal.KEMLKEM768:
		if k.dk768, err = mlkem.NewDecapsulationKey768(seed); err == nil {
			k.ek = k.dk768.EncapsulationKey().Bytes()
		}
	case proposal.KEMLKEM1024:
		if k.dk1024, err = mlkem.NewDecapsulationKey1024(seed); err == nil {
			k.ek = k.dk1024.EncapsulationKey().Bytes()
		}
	default:
		if len(seed) != mlkem512.KeySeedSize {
			return fmt.Errorf("%w: ML-KEM-512 seed", ErrKeySize)
		}
		var pk *mlkem512.PublicKey
		pk, k.dk512 = mlkem512.NewKeyFromSeed(seed)
		k.ek = make([]byte, mlkem512.PublicKeySize)
		pk.Pack(k.ek)
	}
	return err
}

func (k *mlkemKE) Shared(peer []byte) ([]byte, error) {
	if k.ek == nil {
		return nil, fmt.Errorf("%w: %s: Shared before Public", ErrKeyExchangeState, keName(k.id))
	}
	if k.done {
		return nil, fmt.Errorf("%w: %s: decapsulation key already used", ErrKeyExchangeState, keName(k.id))
	}
	_, want, _ := PublicLen(k.id)
	if len(peer) != want {
		return nil, lengthError(k.id, len(peer), want)
	}
	var ss []byte
	var err error
	switch k.id {
	case proposal.KEMLKEM768:
		ss, err = k.dk768.Decapsulate(peer)
	case proposal.KEMLKEM1024:
		ss, err = k.dk1024.Decapsulate(peer)
	default:
		ss = make([]byte, mlkem512.SharedKeySize)
		k.dk512.DecapsulateTo(ss, peer)
	}
	if err != nil {
		return nil, invalidPublic(k.id, "malformed ciphertext")
	}
	k.done = true
	return ss, nil
}

func (k *mlkemKE) Respond(peer []byte) ([]byte, []byte, error) {
	if k.ek != nil || k.done {
		return nil, nil, fmt.Errorf("%w: %s: Respond on an initiator or used value", ErrKeyExchangeState, keName(k.id))
	}
	want, _, _ := PublicLen(k.id)
	if len(peer) != want {
		return nil, nil, lengthError(k.id, len(peer), want)
	}
	var ct, ss []byte
	switch k.id {
	case proposal.KEMLKEM768:
		ek, err := mlkem.NewEncapsulationKey768(peer)
		if err != nil {
			return nil, nil, invalidPublic(k.id, "encapsulation key fails the FIPS 203 modulus check")
		}
		ss, ct = ek.Encapsulate()
	case proposal.KEMLKEM1024:
		ek, err := mlkem.NewEncapsulationKey1024(peer)
		if err != nil {
			return nil, nil, invalidPublic(k.id, "encapsulation key fails the FIPS 203 modulus check")
		}
		ss, ct = ek.Encapsulate()
	default:
		var pk mlkem512.PublicKey
		if err := pk.Unpack(peer); err != nil {
			return nil, nil, invalidPublic(k.id, "encapsulation key fails the FIPS 203 modulus check")
		}
		seed := make([]byte, mlkem512.EncapsulationSeedSize)
		if _, err := io.ReadFull(k.rand, seed); err != nil {
			return nil, nil, fmt.Errorf("alg: %s: encapsulation: %w", keName(k.id), err)
		}
		ct = make([]byte, mlkem512.CiphertextSize)
		ss = make([]byte, mlkem512.SharedKeySize)
		pk.EncapsulateTo(ct, ss, seed)
		clear(seed) // with the public key it yields the shared key
	}
	k.done = true
	// crypto/mlkem returns the key in a larger buffer (cap 64).
	return ct, ownedSecret(ss), nil
}
