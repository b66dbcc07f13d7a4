package wire_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"

	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// ccmFixture is testdata/ikev2-decrypt-aes128ccm12.fixture.json: frames
// 1-4 of Wireshark's ikev2-decrypt-aes128ccm12.pcap with SK_ei/SK_er.
type ccmFixture struct {
	SKei   string `json:"sk_ei"`
	SKer   string `json:"sk_er"`
	Frames []struct {
		Frame       int    `json:"frame"`
		Message     string `json:"ike_message_hex"`
		SPIi        string `json:"spi_i"`
		SPIr        string `json:"spi_r"`
		Exchange    int    `json:"exchange_type"`
		Flags       string `json:"flags"`
		MessageID   uint32 `json:"message_id"`
		Length      int    `json:"length"`
		SKFirst     *int   `json:"sk_first_payload"`
		KeyUsed     string `json:"key_used"`
		IV          string `json:"iv"`
		AAD         string `json:"aad_hex"`
		Plaintext   string `json:"decrypted_plaintext"`
		Inner       string `json:"inner_payloads"`
		PadLength   int    `json:"pad_length"`
		ICVVerified bool   `json:"icv_verified"`
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

// TestWiresharkCCMFixture decrypts the encrypted frames of Wireshark's
// ikev2-decrypt-aes128ccm12 capture with internal/alg's AES-CCM-12 through
// our SK code and checks every field the fixture records: header fields,
// IV, AAD, plaintext, pad length and the inner payloads.
func TestWiresharkCCMFixture(t *testing.T) {
	fx := loadFixture(t)
	// The pcap copy must carry the same bytes as the JSON.
	pcapMsgs := capturedMessages(t, "testdata/ikev2-decrypt-aes128ccm12.frames-from-scapy.pcap")
	if len(pcapMsgs) != len(fx.Frames) {
		t.Fatalf("pcap has %d messages, fixture %d", len(pcapMsgs), len(fx.Frames))
	}
	for i, fr := range fx.Frames {
		msg := unhex(fr.Message)
		if !bytes.Equal(pcapMsgs[i].Payload, msg) {
			t.Errorf("frame %d: pcap and JSON differ", fr.Frame)
		}
		m, err := wire.Parse(msg)
		if err != nil {
			t.Fatalf("frame %d: %v", fr.Frame, err)
		}
		h := m.Header
		flags, _ := strconv.ParseUint(fr.Flags, 0, 8)
		if fmt.Sprintf("%016x", h.SPIi) != fr.SPIi || fmt.Sprintf("%016x", h.SPIr) != fr.SPIr ||
			int(h.Exchange) != fr.Exchange || uint64(h.Flags) != flags || h.MessageID != fr.MessageID ||
			int(h.Length) != fr.Length {
			t.Errorf("frame %d: header %+v", fr.Frame, h)
		}
		if fr.SKFirst == nil {
			continue
		}
		sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK)
		if !ok {
			t.Fatalf("frame %d: no SK", fr.Frame)
		}
		if int(sk.FirstPayload) != *fr.SKFirst {
			t.Errorf("frame %d: first inner payload %d, want %d", fr.Frame, sk.FirstPayload, *fr.SKFirst)
		}
		c := fx.crypter(t, fr.KeyUsed == "SK_ei")
		if !bytes.Equal(sk.Body[:c.IVLen()], unhex(fr.IV)) {
			t.Errorf("frame %d: IV %x", fr.Frame, sk.Body[:c.IVLen()])
		}
		if !bytes.Equal(msg[:len(unhex(fr.AAD))], unhex(fr.AAD)) {
			t.Fatalf("frame %d: fixture AAD is not the message prefix", fr.Frame)
		}
		buf, err := m.Open(c, nil)
		if err != nil {
			t.Fatalf("frame %d: Open: %v", fr.Frame, err)
		}
		if !bytes.Equal(buf, unhex(fr.Plaintext)) {
			t.Errorf("frame %d: plaintext %x, want %s", fr.Frame, buf, fr.Plaintext)
		}
		if pad := int(buf[len(buf)-1]); pad != fr.PadLength {
			t.Errorf("frame %d: pad length %d", fr.Frame, pad)
		}
		inner, _, err := wire.AppendPayloads(nil, sk.Payloads)
		if err != nil || !bytes.Equal(inner, unhex(fr.Inner)) {
			t.Errorf("frame %d: inner chain %x (%v), want %s", fr.Frame, inner, err, fr.Inner)
		}
		switch fr.Frame {
		case 3:
			want := []wire.Payload{&wire.Delete{Protocol: wire.ProtoIKE}}
			if d := cmp.Diff(want, sk.Payloads, cmpOpts); d != "" {
				t.Errorf("frame 3 inner (-want +got):\n%s", d)
			}
			if s := m.Summary(); s != "INFORMATIONAL request 2 [ D ]" {
				t.Errorf("summary %q", s)
			}
		case 4:
			if len(sk.Payloads) != 0 || m.Summary() != "INFORMATIONAL response 2 [ ]" {
				t.Errorf("frame 4: %v %q", sk.Payloads, m.Summary())
			}
		}
		// The wrong key fails the ICV check with ErrIntegrity.
		wrong := fx.crypter(t, fr.KeyUsed != "SK_ei")
		m2, _ := wire.Parse(msg)
		if _, err := m2.Open(wrong, nil); !errors.Is(err, wire.ErrIntegrity) {
			t.Errorf("frame %d: wrong key: %v", fr.Frame, err)
		}
		// Re-sealing the decrypted payloads with the same IV reproduces
		// the captured message byte for byte (same padding choice).
		out := &wire.Message{Header: h, Payloads: []wire.Payload{&wire.SK{Payloads: sk.Payloads}}}
		resealed, err := out.AppendSealed(nil, c, bytes.NewReader(unhex(fr.IV)))
		if err != nil || !bytes.Equal(resealed, msg) {
			t.Errorf("frame %d: re-sealed %x (%v)\nwant %x", fr.Frame, resealed, err, msg)
		}
	}
}
