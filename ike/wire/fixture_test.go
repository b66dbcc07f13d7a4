package wire_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// ccmFixture is testdata/ikev2-decrypt-aes128ccm12.fixture.json: frames
// 1-4 of Wireshark's ikev2-decrypt-aes128ccm12.pcap with SK_ei/SK_er.
type ccmFixture struct {
	SKei   string `json:"sk_ei"`
	SKer   string `json:"sk_er"`
	Frames []struct {
		Frame        int    `json:"frame"`
		Message      string `json:"ike_message_hex"`
		SPIi         string `json:"spi_i"`
		SPIr         string `json:"spi_r"`
		Exchange     int    `json:"exchange_type"`
		Flags        string `json:"flags"`
		MessageID    uint32 `json:"message_id"`
		Length       int    `json:"length"`
		SKFirst      *int   `json:"sk_first_payload"`
		KeyUsed      string `json:"key_used"`
		IV           string `json:"iv"`
		AAD          string `json:"aad_hex"`
		Plaintext    string `json:"decrypted_plaintext"`
		Inner        string `json:"inner_payloads"`
		PadLength    int    `json:"pad_length"`
		ICVVerified  bool   `json:"icv_verified"`
	} `json:"frames"`
}

func loadFixture(t testing.TB) *ccmFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/ikev2-decrypt-aes128ccm12.fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	var f ccmFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// tsharkRow is the fixture's row of Wireshark's IKEv2 decryption table.
func (f *ccmFixture) tsharkRow() string {
	return fmt.Sprintf("%s,%s,%s,%s,\"AES-CCM-128 with 12 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"",
		f.Frames[1].SPIi, f.Frames[1].SPIr, f.SKei, f.SKer)
}

// crypter returns the AES-CCM-12 crypter for SK_ei (initiator) or SK_er.
func (f *ccmFixture) crypter(t testing.TB, initiator bool) alg.Crypter {
	t.Helper()
	k := f.SKer
	if initiator {
		k = f.SKei
	}
	key, _ := hex.DecodeString(k)
	c, err := alg.NewCrypter(proposal.EncrAESCCM12, 128, proposal.IntegNone, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
