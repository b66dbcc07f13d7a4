package wire_test

import (
	"bytes"
	"testing"

	"github.com/goipsec/ipsec/ike/wire"
)

// TestIntermediateMessageRoundTrip: an IKE_SA_INIT request offering
// additional key exchanges (RFC 9370 ADDKE1 and ADDKE2 transforms, NONE
// among them) with INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9242) and an
// IKE_INTERMEDIATE message with a large ML-KEM KE payload survive
// encoding and parsing unchanged.
func TestIntermediateMessageRoundTrip(t *testing.T) {
	sa := &wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtoIKE, Transforms: []wire.Transform{
		{Type: wire.TransformENCR, ID: 20, Attributes: []wire.Attribute{{Type: wire.AttrKeyLength, TV: true, Value: 256}}},
		{Type: wire.TransformPRF, ID: 7},
		{Type: wire.TransformKE, ID: 31},
		{Type: wire.TransformADDKE1, ID: 36},
		{Type: wire.TransformADDKE2, ID: 37},
		{Type: wire.TransformADDKE2, ID: 0},
		{Type: wire.TransformADDKE7, ID: 35},
	}}}}
	init := &wire.Message{Header: wire.Header{SPIi: 1, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{sa, &wire.KE{Group: 31, Data: bytes.Repeat([]byte{9}, 32)},
			&wire.Nonce{Data: bytes.Repeat([]byte{1}, 32)},
			&wire.Notify{Type: wire.INTERMEDIATE_EXCHANGE_SUPPORTED}}}
	b, err := init.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Payloads[0].(*wire.SA).Proposals[0].Transforms
	if len(got) != 7 {
		t.Fatalf("%d transforms, want 7", len(got))
	}
	for i, w := range sa.Proposals[0].Transforms {
		if got[i].Type != w.Type || got[i].ID != w.ID {
			t.Errorf("transform %d = %v/%d, want %v/%d", i, got[i].Type, got[i].ID, w.Type, w.ID)
		}
	}
	if n, ok := m.Payloads[3].(*wire.Notify); !ok || n.Type != wire.INTERMEDIATE_EXCHANGE_SUPPORTED {
		t.Errorf("payload 3 = %#v, want INTERMEDIATE_EXCHANGE_SUPPORTED", m.Payloads[3])
	}
	if b2, err := m.Append(nil); err != nil || !bytes.Equal(b, b2) {
		t.Errorf("re-encoding differs (err %v)", err)
	}
	if s := wire.TransformIDString(wire.TransformADDKE7, 35); s != "ML_KEM_512" {
		t.Errorf("ADDKE7 35 = %q", s)
	}

	ke := &wire.KE{Group: 37, Data: bytes.Repeat([]byte{7}, 1568)}
	im := &wire.Message{Header: wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.IKE_INTERMEDIATE, MessageID: 1, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{ke, &wire.Notify{Type: wire.ADDITIONAL_KEY_EXCHANGE, Data: []byte{1, 2}}}}
	b, err = im.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err = wire.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Exchange != wire.IKE_INTERMEDIATE || m.Header.MessageID != 1 {
		t.Errorf("header %+v", m.Header)
	}
	if k, ok := m.Payloads[0].(*wire.KE); !ok || k.Group != 37 || !bytes.Equal(k.Data, ke.Data) {
		t.Errorf("KE payload did not survive")
	}
	if s := m.Summary(); s != "IKE_INTERMEDIATE request 1 [ KE N(ADD_KE) ]" {
		t.Errorf("Summary = %q", s)
	}
}
