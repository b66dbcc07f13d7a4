package wire

import (
	"bytes"
	"encoding/hex"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Well-known vendor IDs real IKEv1 peers send and expect. Compare with
// KnownVendorID, which also matches the ones that carry a version suffix.
var (
	// VIDNATTRFC3947 announces RFC 3947 NAT traversal (MD5 of "RFC 3947").
	VIDNATTRFC3947 = mustHex("4a131c81070358455c5728f20e95452f")
	// VIDNATTDraft00 is draft-ietf-ipsec-nat-t-ike-00.
	VIDNATTDraft00 = mustHex("4485152d18b6bbcd0be8a8469579ddcc")
	// VIDNATTDraft01 is draft-ietf-ipsec-nat-t-ike-01.
	VIDNATTDraft01 = mustHex("16f6ca16e4a4066d83821a0f0aeaa862")
	// VIDNATTDraft02 is draft-ietf-ipsec-nat-t-ike-02.
	VIDNATTDraft02 = mustHex("cd60464335df21f87cfdb2fc68b6a448")
	// VIDNATTDraft02N is draft-ietf-ipsec-nat-t-ike-02 with a newline
	// hashed in ("...-02\n"), which Apple and others send.
	VIDNATTDraft02N = mustHex("90cb80913ebb696e086381b5ec427b1f")
	// VIDNATTDraft03 is draft-ietf-ipsec-nat-t-ike-03.
	VIDNATTDraft03 = mustHex("7d9419a65310ca6f2c179d9215529d56")
	// VIDNATTDraft04 is draft-ietf-ipsec-nat-t-ike-04.
	VIDNATTDraft04 = mustHex("9909b64eed937c6573de52ace952fa6b")
	// VIDNATTDraft05 is draft-ietf-ipsec-nat-t-ike-05.
	VIDNATTDraft05 = mustHex("80d0bb3def54565ee84645d4c85ce3ee")
	// VIDNATTDraft06 is draft-ietf-ipsec-nat-t-ike-06.
	VIDNATTDraft06 = mustHex("4d1e0e136deafa34c4f3ea9f02ec7285")
	// VIDNATTDraft07 is draft-ietf-ipsec-nat-t-ike-07.
	VIDNATTDraft07 = mustHex("439b59f8ba676c4c7737ae22eab8f582")
	// VIDNATTDraft08 is draft-ietf-ipsec-nat-t-ike-08.
	VIDNATTDraft08 = mustHex("8f8d83826d246b6fc7a8a6a428c11de8")
	// VIDDPD announces Dead Peer Detection (RFC 3706), version 1.0.
	VIDDPD = mustHex("afcad71368a1f1c96b8696fc77570100")
	// VIDXAuth announces XAUTH (draft-ietf-ipsra-isakmp-xauth-06).
	VIDXAuth = mustHex("09002689dfd6b712")
	// VIDCiscoUnity announces the Cisco Unity extensions (version 1.0).
	VIDCiscoUnity = mustHex("12f5f28c457168a9702d9fe274cc0100")
	// VIDFragmentation announces Cisco/racoon IKE fragmentation; peers may
	// append 4 bytes of capability flags (0x80000000), so compare by prefix.
	VIDFragmentation = mustHex("4048b7d56ebce88525e7de7f00d6c2d3")
	// VIDMSNT5 is Microsoft's "MS NT5 ISAKMPOAKLEY" followed by a 4-byte
	// Windows version; compare by prefix.
	VIDMSNT5 = mustHex("1e2b516905991c7d7c96fcbfb587e461")
	// VIDMSNegotiationDiscovery is Microsoft's "MS-Negotiation Discovery
	// Capable".
	VIDMSNegotiationDiscovery = mustHex("fb1de3cdf341b7ea16b7e5be0855f120")
	// VIDMSInitialContact is Microsoft's "Vid-Initial-Contact".
	VIDMSInitialContact = mustHex("26244d38eddb61b3172a36e3d0cfb819")
	// VIDMSIKECGA is Microsoft's "IKE CGA version 1".
	VIDMSIKECGA = mustHex("e3a5966a76379fe707228231e5ce8652")
	// VIDStrongSwan is the vendor ID strongSwan sends (MD5 of "strongSwan").
	VIDStrongSwan = mustHex("882fe56d6fd20dbc2251613b2ebe5beb")
	// VIDKAME is racoon's (KAME) vendor ID, also sent by Apple's racoon.
	VIDKAME = mustHex("7003cbc1097dbe9c2600ba6983bc8b35")
)

type knownVID struct {
	name   string
	id     []byte
	prefix bool // the peer may append version bytes
}

var knownVIDs = []knownVID{
	{"RFC 3947", VIDNATTRFC3947, false},
	{"draft-ietf-ipsec-nat-t-ike-00", VIDNATTDraft00, false},
	{"draft-ietf-ipsec-nat-t-ike-01", VIDNATTDraft01, false},
	{"draft-ietf-ipsec-nat-t-ike-02", VIDNATTDraft02, false},
	{"draft-ietf-ipsec-nat-t-ike-02\\n", VIDNATTDraft02N, false},
	{"draft-ietf-ipsec-nat-t-ike-03", VIDNATTDraft03, false},
	{"draft-ietf-ipsec-nat-t-ike-04", VIDNATTDraft04, false},
	{"draft-ietf-ipsec-nat-t-ike-05", VIDNATTDraft05, false},
	{"draft-ietf-ipsec-nat-t-ike-06", VIDNATTDraft06, false},
	{"draft-ietf-ipsec-nat-t-ike-07", VIDNATTDraft07, false},
	{"draft-ietf-ipsec-nat-t-ike-08", VIDNATTDraft08, false},
	{"RFC 3706 DPD (Dead Peer Detection)", VIDDPD, false},
	{"XAUTH", VIDXAuth, false},
	{"CISCO-UNITY", VIDCiscoUnity, false},
	{"FRAGMENTATION", VIDFragmentation, true},
	{"MS NT5 ISAKMPOAKLEY", VIDMSNT5, true},
	{"MS-Negotiation Discovery Capable", VIDMSNegotiationDiscovery, false},
	{"Vid-Initial-Contact", VIDMSInitialContact, false},
	{"IKE CGA version 1", VIDMSIKECGA, false},
	{"strongSwan", VIDStrongSwan, false},
	{"KAME/racoon", VIDKAME, false},
}

// KnownVendorID names a well-known vendor ID. FRAGMENTATION and MS NT5
// ISAKMPOAKLEY match by prefix, since peers append flags or a version.
func KnownVendorID(b []byte) (name string, ok bool) {
	for _, k := range knownVIDs {
		if bytes.Equal(b, k.id) || (k.prefix && len(b) <= len(k.id)+4 && bytes.HasPrefix(b, k.id)) {
			return k.name, true
		}
	}
	return "", false
}
