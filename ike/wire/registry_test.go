package wire_test

import (
	"fmt"
	"testing"

	"github.com/goipsec/ipsec/ike/wire"
)

func TestRegistryNames(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{wire.IKE_SA_INIT, "IKE_SA_INIT"},
		{wire.ExchangeType(38), "IKE_SESSION_RESUME"},
		{wire.ExchangeType(43), "IKE_INTERMEDIATE"},
		{wire.ExchangeType(44), "IKE_FOLLOWUP_KE"},
		{wire.ExchangeType(39), "GSA_AUTH"},
		{wire.ExchangeType(200), "EXCHANGE_TYPE(200)"},
		{wire.PayloadType(53), "SKF"},
		{wire.PayloadType(41), "N"},
		{wire.PayloadType(99), "PAYLOAD(99)"},
		{wire.NotifyType(1), "UNSUPPORTED_CRITICAL_PAYLOAD"},
		{wire.NotifyType(17), "INVALID_KE_PAYLOAD"},
		{wire.NotifyType(44), "CHILD_SA_NOT_FOUND"},
		{wire.NotifyType(16430), "IKEV2_FRAGMENTATION_SUPPORTED"},
		{wire.NotifyType(16431), "SIGNATURE_HASH_ALGORITHMS"},
		{wire.NotifyType(16435), "USE_PPK"},
		{wire.NotifyType(16407), "REDIRECT"},
		{wire.NotifyType(16438), "INTERMEDIATE_EXCHANGE_SUPPORTED"},
		{wire.NotifyType(16439), "IP4_ALLOWED"},
		{wire.NotifyType(16440), "IP6_ALLOWED"},
		{wire.NotifyType(16441), "ADDITIONAL_KEY_EXCHANGE"},
		{wire.NotifyType(16442), "USE_AGGFRAG"},
		{wire.NotifyType(16443), "SUPPORTED_AUTH_METHODS"},
		{wire.NotifyType(12345), "MS_STATUS"},
		{wire.NotifyType(9000), "PRIVATE_ERROR(9000)"},
		{wire.NotifyType(50000), "PRIVATE_STATUS(50000)"},
		{wire.NotifyType(100), "ERROR(100)"},
		{wire.NotifyType(20000), "STATUS(20000)"},
		{wire.ID_NULL, "ID_NULL"},
		{wire.ID_DER_ASN1_DN, "ID_DER_ASN1_DN"},
		{wire.CertEncoding(4), "X.509 Certificate - Signature"},
		{wire.CertEncoding(12), "Hash and URL of X.509 certificate"},
		{wire.AuthMethod(14), "Digital Signature"},
		{wire.AuthMethod(13), "NULL Authentication"},
		{wire.AuthMethod(2), "Shared Key Message Integrity Code"},
		{wire.CFG_REPLY, "CFG_REPLY"},
		{wire.CPAttrType(25), "INTERNAL_DNS_DOMAIN"},
		{wire.CPAttrType(26), "INTERNAL_DNSSEC_TA"},
		{wire.CPAttrType(20), "P_CSCF_IP4_ADDRESS"},
		{wire.CPAttrType(24), "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK"},
		{wire.TS_IPV6_ADDR_RANGE, "TS_IPV6_ADDR_RANGE"},
		{wire.TSType(99), "TS(99)"},
		{wire.HashAlgorithm(2), "SHA2-256"},
		{wire.HashAlgorithm(5), "Identity"},
		{wire.EncrID(20), "ENCR_AES_GCM_16"},
		{wire.EncrID(28), "ENCR_CHACHA20_POLY1305"},
		{wire.PRFID(5), "PRF_HMAC_SHA2_256"},
		{wire.IntegID(12), "AUTH_HMAC_SHA2_256_128"},
		{wire.KEID(31), "CURVE_25519"},
		{wire.KEID(36), "ML_KEM_768"},
		{wire.ESNID(1), "ESN"},
		{wire.TransformADDKE1, "ADDKE1"},
		{wire.ProtoESP, "ESP"},
		{wire.FlagInitiator | wire.FlagResponse, "I|R"},
		{wire.Flags(0), "0"},
		{wire.Flags(0x09), "I|0x1"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T(%v).String() = %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
	if got := wire.TransformIDString(wire.TransformADDKE2, 36); got != "ML_KEM_768" {
		t.Errorf("TransformIDString(ADDKE2, 36) = %q", got)
	}
	if got := wire.TransformIDString(wire.TransformINTEG, 0); got != "NONE" {
		t.Errorf("TransformIDString(INTEG, 0) = %q", got)
	}
	if !wire.NO_PROPOSAL_CHOSEN.IsError() || wire.INITIAL_CONTACT.IsError() {
		t.Error("IsError ranges")
	}
}

// Every named notify type has a distinct name, and every constant the
// package exports is named (no silent gaps between constants and table).
func TestNotifyNamesComplete(t *testing.T) {
	seen := map[string]wire.NotifyType{}
	for n := range 1 << 16 {
		nt := wire.NotifyType(n)
		s := nt.String()
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d share the name %q", prev, n, s)
		}
		seen[s] = nt
	}
	for _, nt := range []wire.NotifyType{wire.STATE_NOT_FOUND, wire.TS_MAX_QUEUE, wire.SA_RESOURCE_INFO,
		wire.PPK_IDENTITY_KEY, wire.USE_PPK_INT, wire.PUZZLE, wire.CLONE_IKE_SA} {
		if s := nt.String(); s[len(s)-1] == ')' {
			t.Errorf("%d unnamed: %s", nt, s)
		}
	}
}

func TestSummaryForms(t *testing.T) {
	for _, tc := range []struct {
		m    *wire.Message
		want string
	}{
		{&wire.Message{Header: wire.Header{Exchange: wire.IKE_AUTH, Flags: wire.FlagResponse, MessageID: 1},
			Payloads: []wire.Payload{&wire.SK{Payloads: []wire.Payload{
				&wire.EAP{Data: []byte{1, 7, 0, 5, 1}},
				&wire.CP{Type: wire.CFG_REPLY, Attributes: []wire.CPAttribute{{Type: 1}, {Type: 3}, {Type: 28672}}},
				&wire.Notify{Type: wire.MS_STATUS, Data: []byte{0xff, 0xff, 0xff, 0xfe}},
				&wire.Notify{Type: 40000},
				&wire.Unknown{Type: 150},
				&wire.EAP{Data: []byte{3, 7, 0, 4}},
				&wire.CP{Type: wire.CFG_ACK},
			}}}},
			"IKE_AUTH response 1 [ EAP/REQ/ID CPRP(ADDR DNS 28672) N(MS_STATUS(-2)) N(40000) UNKN(150) EAP/SUCC CPA ]"},
		{&wire.Message{Header: wire.Header{Exchange: wire.IKE_INTERMEDIATE, MessageID: 1},
			Payloads: []wire.Payload{&wire.SK{Body: []byte{1}}}},
			"IKE_INTERMEDIATE request 1 [ E ]"},
		{&wire.Message{Header: wire.Header{Exchange: wire.CREATE_CHILD_SA, MessageID: 4},
			Payloads: []wire.Payload{&wire.SK{Payloads: []wire.Payload{&wire.Notify{Type: wire.REKEY_SA},
				&wire.SA{}, &wire.Nonce{}, &wire.KE{}, &wire.TS{}, &wire.TS{Responder: true}}}}},
			"CREATE_CHILD_SA request 4 [ N(REKEY_SA) SA No KE TSi TSr ]"},
	} {
		if got := tc.m.Summary(); got != tc.want {
			t.Errorf("Summary =\n%q\nwant\n%q", got, tc.want)
		}
	}
}
