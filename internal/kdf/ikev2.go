package kdf

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// PRFPlus returns the first n bytes of prf+(key, seed) (RFC 7296
// section 2.13): T1 = prf(K, S | 0x01), Tk = prf(K, Tk-1 | S | k).
func PRFPlus(prf alg.PRF, key, seed []byte, n int) (Key, error) {
	if n < 0 || n > prfPlusMaxBlocks*prf.Size() {
		return nil, fmt.Errorf("%w: %d bytes from %s (max %d)", ErrTooLong, n, prf, prfPlusMaxBlocks*prf.Size())
	}
	out := make(Key, 0, n+prf.Size())
	h := prf.New(key)
	var t []byte
	for i := 1; len(out) < n; i++ {
		h.Reset()
		h.Write(t)
		h.Write(seed)
		h.Write([]byte{byte(i)})
		start := len(out)
		out = h.Sum(out)
		t = out[start:]
	}
	clear(out[n:cap(out)])
	return out[:n], nil
}

// prf computes prf(key, parts...) in one call.
func prf(p alg.PRF, key []byte, parts ...[]byte) Key {
	h := p.New(key)
	for _, b := range parts {
		h.Write(b)
	}
	return h.Sum(nil)
}

// SKEYSEED computes prf(Ni | Nr, g^ir) for the initial IKE SA (RFC 7296
// section 2.14). For AES-XCBC-PRF-128 and AES-CMAC-PRF-128 only the first
// 64 bits of each nonce form the key, as that section requires for
// backward compatibility.
func SKEYSEED(p alg.PRF, ni, nr, gir []byte) Key {
	var key []byte
	if id := p.ID(); id == proposal.PRFAES128XCBC || id == proposal.PRFAES128CMAC {
		key = append(append(key, ni[:min(8, len(ni))]...), nr[:min(8, len(nr))]...)
	} else {
		key = append(append(key, ni...), nr...)
	}
	return prf(p, key, gir)
}

// RekeySKEYSEED computes the SKEYSEED of an IKE SA created by rekeying
// (RFC 7296 section 2.18): prf(SK_d(old), g^ir(new) | Ni | Nr), using the
// OLD IKE SA's PRF. secrets[0] is g^ir(new); further entries are the
// shared secrets of RFC 9370 additional key exchanges, appended as
// SK(0) | Ni | Nr | SK(1) | ... | SK(n) (RFC 9370 section 2.2.4).
func RekeySKEYSEED(oldPRF alg.PRF, oldSKd []byte, secrets [][]byte, ni, nr []byte) Key {
	parts := make([][]byte, 0, len(secrets)+2)
	if len(secrets) > 0 {
		parts = append(parts, secrets[0])
	}
	parts = append(parts, ni, nr)
	if len(secrets) > 1 {
		parts = append(parts, secrets[1:]...)
	}
	return prf(oldPRF, oldSKd, parts...)
}

// IntermediateSKEYSEED computes SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni |
// Nr) after the n-th additional key exchange of the initial exchanges
// (IKE_INTERMEDIATE, RFC 9370 section 2.2.2). The IKE SA keys are then
// recomputed with IKESAKeys from SKEYSEED(n) and the unchanged Ni, Nr,
// SPIi, SPIr.
func IntermediateSKEYSEED(p alg.PRF, prevSKd, sharedN, ni, nr []byte) Key {
	return prf(p, prevSKd, sharedN, ni, nr)
}

// IKEKeys are the seven IKE SA secrets of RFC 7296 section 2.14. "i" keys
// protect messages from the original initiator, "r" keys from the
// responder.
type IKEKeys struct {
	SKd  Key // derives CHILD SA and rekeyed IKE SA keys
	SKai Key // integrity, initiator to responder (empty for AEADs)
	SKar Key // integrity, responder to initiator
	SKei Key // encryption incl. salt, initiator to responder
	SKer Key // encryption incl. salt, responder to initiator
	SKpi Key // AUTH payload computation, initiator
	SKpr Key // AUTH payload computation, responder
}

// String shows the key lengths only.
func (k *IKEKeys) String() string {
	return fmt.Sprintf("IKEKeys{SK_d:%d SK_a:%d SK_e:%d SK_p:%d bytes, redacted}", len(k.SKd), len(k.SKai), len(k.SKei), len(k.SKpi))
}

// Wipe zeroes all seven keys.
func (k *IKEKeys) Wipe() {
	for _, b := range []Key{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer, k.SKpi, k.SKpr} {
		b.Wipe()
	}
}

// IKESAKeys expands SKEYSEED into {SK_d | SK_ai | SK_ar | SK_ei | SK_er |
// SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296
// section 2.14). encKeyLen is alg.KeyLen of the encryption transform
// (salt included), integKeyLen alg.IntegKeyLen (0 for AEADs); SK_d, SK_pi
// and SK_pr take the PRF's preferred key length.
func IKESAKeys(p alg.PRF, skeyseed, ni, nr, spii, spir []byte, encKeyLen, integKeyLen int) (*IKEKeys, error) {
	seed := make([]byte, 0, len(ni)+len(nr)+len(spii)+len(spir))
	seed = append(append(append(append(seed, ni...), nr...), spii...), spir...)
	pl := p.KeyLen()
	stream, err := PRFPlus(p, skeyseed, seed, 3*pl+2*integKeyLen+2*encKeyLen)
	if err != nil {
		return nil, err
	}
	take := func(n int) Key {
		k := stream[:n:n]
		stream = stream[n:]
		return k
	}
	k := &IKEKeys{}
	k.SKd = take(pl)
	k.SKai = take(integKeyLen)
	k.SKar = take(integKeyLen)
	k.SKei = take(encKeyLen)
	k.SKer = take(encKeyLen)
	k.SKpi = take(pl)
	k.SKpr = take(pl)
	return k, nil
}

// ChildKEYMAT returns n bytes of CHILD SA keying material (RFC 7296
// section 2.17): prf+(SK_d, Ni | Nr) without PFS, prf+(SK_d, g^ir(new) |
// Ni | Nr) with PFS. secrets holds g^ir(new) (nil or empty for no PFS)
// followed by RFC 9370 additional shared secrets, which go after the
// nonces: SK(0) | Ni | Nr | SK(1) | ... | SK(n) (RFC 9370 section 2.2.4).
// Ni and Nr are those of the exchange creating the CHILD SA (IKE_AUTH
// uses the IKE_SA_INIT nonces).
func ChildKEYMAT(p alg.PRF, skd, ni, nr []byte, secrets [][]byte, n int) (Key, error) {
	var seed []byte
	if len(secrets) > 0 {
		seed = append(seed, secrets[0]...)
	}
	seed = append(append(seed, ni...), nr...)
	for _, s := range secrets[min(1, len(secrets)):] {
		seed = append(seed, s...)
	}
	out, err := PRFPlus(p, skd, seed, n)
	clear(seed)
	return out, err
}

// ChildKeys are the keys of one CHILD SA pair. "I" is the SA carrying
// traffic from the initiator of the creating exchange to the responder.
type ChildKeys struct {
	EncI, IntegI Key // initiator to responder
	EncR, IntegR Key // responder to initiator
}

// String shows the key lengths only.
func (k *ChildKeys) String() string {
	return fmt.Sprintf("ChildKeys{enc:%d integ:%d bytes, redacted}", len(k.EncI), len(k.IntegI))
}

// Wipe zeroes all four keys.
func (k *ChildKeys) Wipe() {
	for _, b := range []Key{k.EncI, k.IntegI, k.EncR, k.IntegR} {
		b.Wipe()
	}
}

// ChildSAKeys splits ChildKEYMAT into the two directions (RFC 7296
// section 2.17): all keys for initiator-to-responder traffic first, each
// direction encryption key (with salt) before integrity key.
func ChildSAKeys(p alg.PRF, skd, ni, nr []byte, secrets [][]byte, encKeyLen, integKeyLen int) (*ChildKeys, error) {
	km, err := ChildKEYMAT(p, skd, ni, nr, secrets, 2*(encKeyLen+integKeyLen))
	if err != nil {
		return nil, err
	}
	take := func(n int) Key {
		k := km[:n:n]
		km = km[n:]
		return k
	}
	k := &ChildKeys{}
	k.EncI = take(encKeyLen)
	k.IntegI = take(integKeyLen)
	k.EncR = take(encKeyLen)
	k.IntegR = take(integKeyLen)
	return k, nil
}

// IntAuth computes one link of the IKE_INTERMEDIATE authentication chain
// (RFC 9242 section 3.3.2):
//
//	IntAuth_[i|r]1 = prf(SK_p[i|r]1,          IntAuth_1_A [| IntAuth_1_P])
//	IntAuth_[i|r]N = prf(SK_p[i|r]N, IntAuth_N-1 | IntAuth_N_A [| IntAuth_N_P])
//
// skp is the SK_pi or SK_pr in force for that message (it changes after
// each additional key exchange), prev the previous link (nil for the
// first), authenticated the message from the IKE header up to the end of
// the SK payload header (lengths as sent), plaintext the decrypted inner
// payloads. The last links for both directions enter the AUTH payload.
func IntAuth(p alg.PRF, skp, prev, authenticated, plaintext []byte) Key {
	return prf(p, skp, prev, authenticated, plaintext)
}
