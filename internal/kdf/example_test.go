package kdf_test

import (
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// Derive the IKE SA keys after IKE_SA_INIT for
// aes256gcm16-prfsha384-ecp384, then the keys of the first CHILD SA
// (aes128gcm16, no separate integrity).
func ExampleIKESAKeys() {
	prf, _ := alg.NewPRF(proposal.PRFHMACSHA2384)
	ni, nr := make([]byte, 32), make([]byte, 32) // nonces from the Ni/Nr payloads
	spiI, spiR := make([]byte, 8), make([]byte, 8)
	gir := make([]byte, 48) // from alg.KeyExchange.Shared / Respond

	skeyseed := kdf.SKEYSEED(prf, ni, nr, gir)
	encLen, _ := alg.KeyLen(proposal.EncrAESGCM16, 256)
	keys, err := kdf.IKESAKeys(prf, skeyseed, ni, nr, spiI, spiR, encLen, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(keys.SKd), len(keys.SKei), len(keys.SKai), len(keys.SKpr))
	fmt.Println(keys.SKei) // secrets never print

	childEnc, _ := alg.KeyLen(proposal.EncrAESGCM16, 128)
	child, err := kdf.ChildSAKeys(prf, keys.SKd, ni, nr, nil, childEnc, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(child)
	// Output:
	// 48 36 0 48
	// [redacted 36 bytes]
	// ChildKeys{enc:20 integ:0 bytes, redacted}
}
