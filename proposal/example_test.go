package proposal_test

import (
	"errors"
	"fmt"

	"github.com/goipsec/ipsec/proposal"
)

// A responder chooses from what an iPhone offers.
func Example() {
	local, err := proposal.Parse("aes256gcm16-prfsha256-ecp256, aes256-sha256-ecp256-modp2048", proposal.ProtoIKE)
	if err != nil {
		fmt.Println(err)
		return
	}
	ios, _ := proposal.LookupProfile("ios")
	chosen, err := proposal.Select(local, ios.IKE, proposal.SelectOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Our first proposal (AEAD) matches none of iOS's; our second matches
	// iOS's first, MODP_2048, before its second (ECP_256) is looked at.
	fmt.Println(chosen.Describe(), "from peer proposal", chosen.Number)
	// Output: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048 from peer proposal 1
}

// Keyword strings round-trip; an integrity keyword implies its PRF in IKE.
func ExampleParse() {
	l, err := proposal.Parse("aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-ke1_mlkem768", proposal.ProtoIKE)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.String())
	fmt.Println(l.Describe())

	_, err = proposal.Parse("aes512-sha256-modp2048", proposal.ProtoIKE)
	fmt.Println(errors.Is(err, proposal.ErrKeyLength), err)
	// Output:
	// aes256gcm16-prfsha384-ecp384, aes256-sha256-modp2048-ke1_mlkem768
	// IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384, IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048/KE1_ML_KEM_768
	// true proposal: "aes512-sha256-modp2048": key size out of range "aes512": ENCR_AES_CBC takes 128, 192, 256 bit keys, not 512
}

// A failed selection explains itself: Windows 10 defaults against the
// strict defaults.
func ExampleMismatchError() {
	win, _ := proposal.LookupProfile("windows")
	_, err := proposal.Select(proposal.StrictIKE(), win.IKE, proposal.SelectOptions{})
	var mm *proposal.MismatchError
	if errors.As(err, &mm) {
		for _, h := range mm.Hints() {
			fmt.Println(h)
		}
	}
	// Output:
	// the peer offers only MODP_1024 for KE (weak: MODP group below 2048 bits (RFC 8247 SHOULD NOT / MUST NOT)); enable modp1024 in the ike proposal to accept this client, and prefer a client setting with a stronger choice
	// a separate ike proposal that accepts this peer as it is: "aes256-sha256-modp1024"
}

// The ESP proposals of a CHILD SA created in IKE_AUTH are matched without
// their KE transforms.
func ExampleSelect_childSA() {
	local := proposal.StrictESP()
	macos, _ := proposal.LookupProfile("macos")
	chosen, err := proposal.Select(local, macos.ESP, proposal.SelectOptions{SkipKE: true})
	fmt.Println(chosen.Describe(), err)
	rekey, err := proposal.Select(local, macos.ESPRekey, proposal.SelectOptions{})
	fmt.Println(rekey.Describe(), err)
	// Output:
	// ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ <nil>
	// ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ <nil>
}
