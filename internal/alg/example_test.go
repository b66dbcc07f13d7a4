package alg_test

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// Seal and open one ESP payload with AES-256-GCM-16: the key from KEYMAT
// carries the 4-byte salt at its end, the AAD is SPI || sequence number.
func ExampleNewCrypter() {
	keyLen, _ := alg.KeyLen(proposal.EncrAESGCM16, 256) // 32 + 4 bytes of salt
	key := make([]byte, keyLen)
	rand.Read(key)
	c, err := alg.NewCrypter(proposal.EncrAESGCM16, 256, proposal.IntegNone, key, nil)
	if err != nil {
		panic(err)
	}
	iv := make([]byte, c.IVLen()) // unique per packet, e.g. the sequence number
	aad := []byte{0xc0, 0x01, 0xd0, 0x0d, 0, 0, 0, 1}
	packet := c.Seal(nil, iv, []byte("inner IP packet"), aad, nil)
	plain, err := c.Open(nil, iv, packet, aad, nil)
	fmt.Println(len(packet)-len(plain) == c.ICVLen(), string(plain), err)

	packet[0] ^= 1
	_, err = c.Open(nil, iv, packet, aad, nil)
	fmt.Println(err)
	// Output:
	// true inner IP packet <nil>
	// alg: message authentication failed
}

// An X25519 exchange as IKE_SA_INIT runs it, and the check that refuses a
// hostile KE payload.
func ExampleNewKeyExchange() {
	initiator, _ := alg.NewKeyExchange(proposal.KECurve25519, rand.Reader)
	ke, _ := initiator.Public() // KE payload of the IKE_SA_INIT request

	responder, _ := alg.NewKeyExchange(proposal.KECurve25519, rand.Reader)
	reply, secretR, _ := responder.Respond(ke) // KE payload of the response

	secretI, _ := initiator.Shared(reply)
	fmt.Println(bytes.Equal(secretI, secretR), len(secretI))

	_, _, err := responder.Respond(make([]byte, 32)) // the all-zero point
	fmt.Println(err)
	// Output:
	// true 32
	// alg: invalid peer public value: CURVE_25519: low-order point (all-zero shared secret)
}

// Key lengths an IKE engine needs before running prf+.
func ExamplePRFKeyLen() {
	prfLen, _ := alg.PRFKeyLen(proposal.PRFHMACSHA2256)
	encLen, _ := alg.KeyLen(proposal.EncrAESCBC, 128)
	integLen, _ := alg.IntegKeyLen(proposal.IntegHMACSHA2256128)
	fmt.Println(prfLen, encLen, integLen)
	// Output: 32 16 32
}
