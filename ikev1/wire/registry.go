package wire

import "strconv"

// This file holds the IANA "Internet Security Association and Key
// Management Protocol (ISAKMP) Identifiers" and "IPsec DOI" registries the
// codec names (RFC 2407, 2408, 2409, 3947 and the drafts real clients still
// use). Values are plain typed numbers; the engine maps them to algorithms.

func lookup[T ~uint8 | ~uint16](m map[T]string, v T, typ string) string {
	if s, ok := m[v]; ok {
		return s
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// ExchangeType is the ISAKMP exchange type (RFC 2408 section 3.1, RFC 2409).
type ExchangeType uint8

// Exchange types.
const (
	Base               ExchangeType = 1  // RFC 2408 4.4
	IdentityProtection ExchangeType = 2  // Main Mode (RFC 2409 5)
	AuthOnly           ExchangeType = 3  // RFC 2408 4.6
	Aggressive         ExchangeType = 4  // Aggressive Mode (RFC 2409 5)
	Informational      ExchangeType = 5  // RFC 2408 4.8
	Transaction        ExchangeType = 6  // Mode Config / XAuth (draft-dukes-ike-mode-cfg)
	QuickMode          ExchangeType = 32 // RFC 2409 5.5
	NewGroup           ExchangeType = 33 // New Group Mode (RFC 2409 5.6)
)

// Main is the common name of the Identity Protection exchange.
const Main = IdentityProtection

// strongSwan's exchange names (ike_header.c), as operators see them in
// charon logs; the IANA names are in the comments above.
var exchangeNames = map[ExchangeType]string{
	Base: "BASE", IdentityProtection: "ID_PROT", AuthOnly: "AUTH_ONLY", Aggressive: "AGGRESSIVE",
	Informational: "INFORMATIONAL_V1", Transaction: "TRANSACTION", QuickMode: "QUICK_MODE",
	NewGroup: "NEW_GROUP_MODE",
}

// String returns strongSwan's name of the exchange (ID_PROT, AGGRESSIVE,
// QUICK_MODE, INFORMATIONAL_V1, TRANSACTION, ...).
func (e ExchangeType) String() string { return lookup(exchangeNames, e, "EXCHANGE_TYPE") }

// Flags are the ISAKMP header flags (RFC 2408 section 3.1).
type Flags uint8

// Header flags.
const (
	FlagEncryption Flags = 1 // E: the body after the header is encrypted
	FlagCommit     Flags = 2 // C: commit bit (RFC 2408 3.1, RFC 2409 5.5)
	FlagAuthOnly   Flags = 4 // A: authentication only
)

// String lists the set flags as "E|C|A", "0" when none are set; unknown
// bits are shown as a hex remainder.
func (f Flags) String() string {
	s := ""
	add := func(b Flags, n string) {
		if f&b != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	add(FlagEncryption, "E")
	add(FlagCommit, "C")
	add(FlagAuthOnly, "A")
	if r := f &^ (FlagEncryption | FlagCommit | FlagAuthOnly); r != 0 {
		if s != "" {
			s += "|"
		}
		s += "0x" + strconv.FormatUint(uint64(r), 16)
	}
	if s == "" {
		return "0"
	}
	return s
}

// PayloadType is the ISAKMP payload type (RFC 2408 section 3.1).
type PayloadType uint8

// Payload types.
const (
	PayloadNone       PayloadType = 0   // No Next Payload
	PayloadSA         PayloadType = 1   // Security Association
	PayloadProposal   PayloadType = 2   // Proposal (nested in SA)
	PayloadTransform  PayloadType = 3   // Transform (nested in Proposal)
	PayloadKE         PayloadType = 4   // Key Exchange
	PayloadID         PayloadType = 5   // Identification
	PayloadCERT       PayloadType = 6   // Certificate
	PayloadCR         PayloadType = 7   // Certificate Request
	PayloadHASH       PayloadType = 8   // Hash
	PayloadSIG        PayloadType = 9   // Signature
	PayloadNonce      PayloadType = 10  // Nonce
	PayloadNotify     PayloadType = 11  // Notification
	PayloadDelete     PayloadType = 12  // Delete
	PayloadVendorID   PayloadType = 13  // Vendor ID
	PayloadAttributes PayloadType = 14  // Attributes (Transaction exchange)
	PayloadNATD       PayloadType = 20  // NAT Discovery (RFC 3947)
	PayloadNATOA      PayloadType = 21  // NAT Original Address (RFC 3947)
	PayloadNATDDraft  PayloadType = 130 // NAT-D of draft-ietf-ipsec-nat-t-ike-01..03
	PayloadNATOADraft PayloadType = 131 // NAT-OA of the drafts
	PayloadFragment   PayloadType = 132 // IKE fragment (Cisco/racoon)
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadProposal: "P", PayloadTransform: "T",
	PayloadKE: "KE", PayloadID: "ID", PayloadCERT: "CERT", PayloadCR: "CR", PayloadHASH: "HASH",
	PayloadSIG: "SIG", PayloadNonce: "NONCE", PayloadNotify: "N", PayloadDelete: "D",
	PayloadVendorID: "VID", PayloadAttributes: "ATTR", PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
	PayloadNATDDraft: "NAT-D(draft)", PayloadNATOADraft: "NAT-OA(draft)", PayloadFragment: "FRAG",
}

// String returns the payload's abbreviation (RFC 2408 3.1).
func (p PayloadType) String() string { return lookup(payloadNames, p, "PAYLOAD") }

// DOIIPsec is the IPsec Domain of Interpretation (RFC 2407).
const DOIIPsec uint32 = 1

// SituationIdentityOnly is the IPsec DOI situation every implementation
// uses (RFC 2407 section 4.2).
const SituationIdentityOnly uint32 = 1

// ProtocolID is the protocol of a proposal, notification or delete
// (RFC 2407 section 4.4.1).
type ProtocolID uint8

// Protocol IDs.
const (
	ProtoISAKMP   ProtocolID = 1
	ProtoIPsecAH  ProtocolID = 2
	ProtoIPsecESP ProtocolID = 3
	ProtoIPCOMP   ProtocolID = 4
)

var protocolNames = map[ProtocolID]string{
	0: "RESERVED", ProtoISAKMP: "PROTO_ISAKMP", ProtoIPsecAH: "PROTO_IPSEC_AH",
	ProtoIPsecESP: "PROTO_IPSEC_ESP", ProtoIPCOMP: "PROTO_IPCOMP",
}

// String returns the IANA name.
func (p ProtocolID) String() string { return lookup(protocolNames, p, "PROTO") }

// Transform IDs (RFC 2407 section 4.4). The ISAKMP protocol has one
// transform, KEY_IKE; the others are numbered per protocol.
const (
	KeyIKE uint8 = 1 // KEY_IKE, the only ISAKMP transform ID

	AH_MD5      uint8 = 2
	AH_SHA      uint8 = 3
	AH_DES      uint8 = 4
	AH_SHA2_256 uint8 = 5
	AH_SHA2_384 uint8 = 6
	AH_SHA2_512 uint8 = 7

	ESP_DES_IV64       uint8 = 1
	ESP_DES            uint8 = 2
	ESP_3DES           uint8 = 3
	ESP_RC5            uint8 = 4
	ESP_IDEA           uint8 = 5
	ESP_CAST           uint8 = 6
	ESP_BLOWFISH       uint8 = 7
	ESP_3IDEA          uint8 = 8
	ESP_DES_IV32       uint8 = 9
	ESP_RC4            uint8 = 10
	ESP_NULL           uint8 = 11
	ESP_AES            uint8 = 12 // AES-CBC (RFC 3602)
	ESP_AES_CTR        uint8 = 13 // RFC 3686
	ESP_AES_CCM_8      uint8 = 14 // RFC 4309
	ESP_AES_CCM_12     uint8 = 15
	ESP_AES_CCM_16     uint8 = 16
	ESP_AES_GCM_8      uint8 = 18 // RFC 4106
	ESP_AES_GCM_12     uint8 = 19
	ESP_AES_GCM_16     uint8 = 20
	ESP_SEED_CBC       uint8 = 21
	ESP_CAMELLIA       uint8 = 22
	ESP_NULL_AUTH_GMAC uint8 = 23 // RFC 4543

	IPCOMP_OUI     uint8 = 1
	IPCOMP_DEFLATE uint8 = 2
	IPCOMP_LZS     uint8 = 3
	IPCOMP_LZJH    uint8 = 4
)

var espNames = map[uint8]string{
	1: "ESP_DES_IV64", 2: "ESP_DES", 3: "ESP_3DES", 4: "ESP_RC5", 5: "ESP_IDEA", 6: "ESP_CAST",
	7: "ESP_BLOWFISH", 8: "ESP_3IDEA", 9: "ESP_DES_IV32", 10: "ESP_RC4", 11: "ESP_NULL", 12: "ESP_AES",
	13: "ESP_AES-CTR", 14: "ESP_AES-CCM_8", 15: "ESP_AES-CCM_12", 16: "ESP_AES-CCM_16",
	18: "ESP_AES-GCM_8", 19: "ESP_AES-GCM_12", 20: "ESP_AES-GCM_16", 21: "ESP_SEED_CBC",
	22: "ESP_CAMELLIA", 23: "ESP_NULL_AUTH_AES-GMAC",
}

var ahNames = map[uint8]string{
	2: "AH_MD5", 3: "AH_SHA", 4: "AH_DES", 5: "AH_SHA2-256", 6: "AH_SHA2-384", 7: "AH_SHA2-512",
}

var ipcompNames = map[uint8]string{1: "IPCOMP_OUI", 2: "IPCOMP_DEFLATE", 3: "IPCOMP_LZS", 4: "IPCOMP_LZJH"}

// TransformIDString names transform ID id of protocol p (KEY_IKE,
// ESP_AES, AH_SHA, ...).
func TransformIDString(p ProtocolID, id uint8) string {
	var m map[uint8]string
	switch p {
	case ProtoISAKMP:
		m = map[uint8]string{1: "KEY_IKE"}
	case ProtoIPsecAH:
		m = ahNames
	case ProtoIPsecESP:
		m = espNames
	case ProtoIPCOMP:
		m = ipcompNames
	}
	return lookup(m, id, "TRANSFORM")
}

// Phase 1 (ISAKMP SA) attribute classes (RFC 2409 Appendix A). Life
// Duration, Group Prime and the curve parameters are variable length
// (TLV); the others are basic (TV).
const (
	AttrEncryption   uint16 = 1
	AttrHash         uint16 = 2
	AttrAuthMethod   uint16 = 3
	AttrGroupDesc    uint16 = 4
	AttrGroupType    uint16 = 5
	AttrGroupPrime   uint16 = 6
	AttrGroupGenOne  uint16 = 7
	AttrGroupGenTwo  uint16 = 8
	AttrGroupCurveA  uint16 = 9
	AttrGroupCurveB  uint16 = 10
	AttrLifeType     uint16 = 11
	AttrLifeDuration uint16 = 12
	AttrPRF          uint16 = 13
	AttrKeyLength    uint16 = 14
	AttrFieldSize    uint16 = 15
	AttrGroupOrder   uint16 = 16
)

var p1AttrNames = map[uint16]string{
	1: "Encryption-Algorithm", 2: "Hash-Algorithm", 3: "Authentication-Method",
	4: "Group-Description", 5: "Group-Type", 6: "Group-Prime", 7: "Group-Generator-One",
	8: "Group-Generator-Two", 9: "Group-Curve-A", 10: "Group-Curve-B", 11: "Life-Type",
	12: "Life-Duration", 13: "PRF", 14: "Key-Length", 15: "Field-Size", 16: "Group-Order",
}

// Phase1AttrString names a phase 1 attribute class.
func Phase1AttrString(t uint16) string { return lookup(p1AttrNames, t, "ATTR") }

// IPsec DOI (phase 2) SA attribute classes (RFC 2407 section 4.5, RFC
// 4304 for ESN).
const (
	AttrSALifeType       uint16 = 1
	AttrSALifeDuration   uint16 = 2
	AttrGroupDescription uint16 = 3 // PFS group
	AttrEncapsulation    uint16 = 4
	AttrAuthAlgorithm    uint16 = 5
	AttrIPsecKeyLength   uint16 = 6
	AttrKeyRounds        uint16 = 7
	AttrCompressDictSize uint16 = 8
	AttrCompressPrivAlg  uint16 = 9
	AttrECNTunnel        uint16 = 10 // RFC 3168
	AttrExtendedSeqNum   uint16 = 11 // RFC 4304
)

var p2AttrNames = map[uint16]string{
	1: "SA-Life-Type", 2: "SA-Life-Duration", 3: "Group-Description", 4: "Encapsulation-Mode",
	5: "Authentication-Algorithm", 6: "Key-Length", 7: "Key-Rounds", 8: "Compress-Dictionary-Size",
	9: "Compress-Private-Algorithm", 10: "ECN-Tunnel", 11: "Extended-Sequence-Number",
}

// Phase2AttrString names an IPsec DOI SA attribute class.
func Phase2AttrString(t uint16) string { return lookup(p2AttrNames, t, "ATTR") }

// EncrAlg is the phase 1 Encryption Algorithm attribute value.
type EncrAlg uint16

// Phase 1 encryption algorithms.
const (
	EncrDES      EncrAlg = 1
	EncrIDEA     EncrAlg = 2
	EncrBlowfish EncrAlg = 3
	EncrRC5      EncrAlg = 4
	Encr3DES     EncrAlg = 5
	EncrCAST     EncrAlg = 6
	EncrAES      EncrAlg = 7 // AES-CBC (RFC 3602)
	EncrCamellia EncrAlg = 8 // RFC 4312
)

var encrNames = map[EncrAlg]string{
	1: "DES-CBC", 2: "IDEA-CBC", 3: "Blowfish-CBC", 4: "RC5-R16-B64-CBC", 5: "3DES-CBC",
	6: "CAST-CBC", 7: "AES-CBC", 8: "CAMELLIA-CBC",
}

// String returns the IANA name.
func (e EncrAlg) String() string { return lookup(encrNames, e, "ENCR") }

// HashAlg is the phase 1 Hash Algorithm attribute value.
type HashAlg uint16

// Phase 1 hash algorithms.
const (
	HashMD5     HashAlg = 1
	HashSHA     HashAlg = 2
	HashTiger   HashAlg = 3
	HashSHA2256 HashAlg = 4
	HashSHA2384 HashAlg = 5
	HashSHA2512 HashAlg = 6
)

var hashNames = map[HashAlg]string{
	1: "MD5", 2: "SHA", 3: "Tiger", 4: "SHA2-256", 5: "SHA2-384", 6: "SHA2-512",
}

// String returns the IANA name.
func (h HashAlg) String() string { return lookup(hashNames, h, "HASH") }

// AuthMethod is the phase 1 Authentication Method attribute value.
type AuthMethod uint16

// Phase 1 authentication methods (RFC 2409, RFC 4754 for ECDSA; the
// XAUTH and Hybrid values of draft-ietf-ipsec-isakmp-xauth and
// draft-ietf-ipsec-isakmp-hybrid-auth, private-use numbers every client
// sends).
const (
	AuthPSK                     AuthMethod = 1
	AuthDSS                     AuthMethod = 2
	AuthRSA                     AuthMethod = 3
	AuthRSAEncryption           AuthMethod = 4
	AuthRSARevisedEncryption    AuthMethod = 5
	AuthECDSASHA256             AuthMethod = 9
	AuthECDSASHA384             AuthMethod = 10
	AuthECDSASHA512             AuthMethod = 11
	AuthHybridInitRSA           AuthMethod = 64221
	AuthHybridRespRSA           AuthMethod = 64222
	AuthHybridInitDSS           AuthMethod = 64223
	AuthHybridRespDSS           AuthMethod = 64224
	AuthXAUTHInitPreShared      AuthMethod = 65001
	AuthXAUTHRespPreShared      AuthMethod = 65002
	AuthXAUTHInitDSS            AuthMethod = 65003
	AuthXAUTHRespDSS            AuthMethod = 65004
	AuthXAUTHInitRSA            AuthMethod = 65005
	AuthXAUTHRespRSA            AuthMethod = 65006
	AuthXAUTHInitRSAEncryption  AuthMethod = 65007
	AuthXAUTHRespRSAEncryption  AuthMethod = 65008
	AuthXAUTHInitRSARevisedEncr AuthMethod = 65009
	AuthXAUTHRespRSARevisedEncr AuthMethod = 65010
)

var authNames = map[AuthMethod]string{
	1: "Pre-Shared-Key", 2: "DSS-Signature", 3: "RSA-Signature", 4: "Encryption-RSA",
	5: "Revised-Encryption-RSA", 9: "ECDSA-SHA256", 10: "ECDSA-SHA384", 11: "ECDSA-SHA512",
	64221: "HybridInitRSA", 64222: "HybridRespRSA", 64223: "HybridInitDSS", 64224: "HybridRespDSS",
	65001: "XAUTHInitPreShared", 65002: "XAUTHRespPreShared", 65003: "XAUTHInitDSS",
	65004: "XAUTHRespDSS", 65005: "XAUTHInitRSA", 65006: "XAUTHRespRSA",
	65007: "XAUTHInitRSAEncryption", 65008: "XAUTHRespRSAEncryption",
	65009: "XAUTHInitRSARevisedEncryption", 65010: "XAUTHRespRSARevisedEncryption",
}

// String returns the IANA (or draft) name.
func (a AuthMethod) String() string { return lookup(authNames, a, "AUTH") }

// GroupDesc is the Group Description attribute value, in phase 1 and as
// the PFS group of phase 2; IKEv1 shares the numbers with IKEv2's key
// exchange registry.
type GroupDesc uint16

// Groups.
const (
	MODP768    GroupDesc = 1
	MODP1024   GroupDesc = 2
	MODP1536   GroupDesc = 5
	MODP2048   GroupDesc = 14
	MODP3072   GroupDesc = 15
	MODP4096   GroupDesc = 16
	MODP6144   GroupDesc = 17
	MODP8192   GroupDesc = 18
	ECP256     GroupDesc = 19
	ECP384     GroupDesc = 20
	ECP521     GroupDesc = 21
	ECP192     GroupDesc = 25
	ECP224     GroupDesc = 26
	Curve25519 GroupDesc = 31
	Curve448   GroupDesc = 32
)

var groupNames = map[GroupDesc]string{
	1: "MODP_768", 2: "MODP_1024", 3: "EC2N_155", 4: "EC2N_185", 5: "MODP_1536", 14: "MODP_2048",
	15: "MODP_3072", 16: "MODP_4096", 17: "MODP_6144", 18: "MODP_8192", 19: "ECP_256", 20: "ECP_384",
	21: "ECP_521", 22: "MODP_1024_160", 23: "MODP_2048_224", 24: "MODP_2048_256", 25: "ECP_192",
	26: "ECP_224", 27: "ECP_224_BP", 28: "ECP_256_BP", 29: "ECP_384_BP", 30: "ECP_512_BP",
	31: "CURVE_25519", 32: "CURVE_448",
}

// String returns the name strongSwan and IANA use (MODP_2048, ECP_384, ...).
func (g GroupDesc) String() string { return lookup(groupNames, g, "GROUP") }

// LifeType is the Life Type (phase 1) and SA Life Type (phase 2) value.
type LifeType uint16

// Life types.
const (
	LifeSeconds   LifeType = 1
	LifeKilobytes LifeType = 2
)

var lifeNames = map[LifeType]string{1: "Seconds", 2: "Kilobytes"}

// String returns the IANA name.
func (l LifeType) String() string { return lookup(lifeNames, l, "LIFE") }

// EncapMode is the Encapsulation Mode attribute value of phase 2.
type EncapMode uint16

// Encapsulation modes (RFC 2407 4.5, RFC 3947 and the NAT-T drafts).
const (
	EncapTunnel            EncapMode = 1
	EncapTransport         EncapMode = 2
	EncapUDPTunnel         EncapMode = 3     // RFC 3947
	EncapUDPTransport      EncapMode = 4     // RFC 3947
	EncapUDPTunnelDraft    EncapMode = 61443 // draft-ietf-ipsec-nat-t-ike-00..08
	EncapUDPTransportDraft EncapMode = 61444 // draft-ietf-ipsec-nat-t-ike-00..08
)

var encapNames = map[EncapMode]string{
	1: "Tunnel", 2: "Transport", 3: "UDP-Encapsulated-Tunnel", 4: "UDP-Encapsulated-Transport",
	61443: "UDP-Encapsulated-Tunnel(draft)", 61444: "UDP-Encapsulated-Transport(draft)",
}

// String returns the IANA name.
func (e EncapMode) String() string { return lookup(encapNames, e, "ENCAP") }

// UDPEncapsulated reports whether e is one of the UDP-encapsulated modes.
func (e EncapMode) UDPEncapsulated() bool {
	return e == EncapUDPTunnel || e == EncapUDPTransport || e == EncapUDPTunnelDraft || e == EncapUDPTransportDraft
}

// Tunnel reports whether e is a tunnel mode (plain or UDP-encapsulated).
func (e EncapMode) Tunnel() bool {
	return e == EncapTunnel || e == EncapUDPTunnel || e == EncapUDPTunnelDraft
}

// AuthAlg is the Authentication Algorithm attribute value of phase 2.
type AuthAlg uint16

// Phase 2 authentication algorithms (RFC 2407 4.5 and later additions).
const (
	AuthHMACMD5     AuthAlg = 1
	AuthHMACSHA     AuthAlg = 2
	AuthDESMAC      AuthAlg = 3
	AuthKPDK        AuthAlg = 4
	AuthHMACSHA2256 AuthAlg = 5
	AuthHMACSHA2384 AuthAlg = 6
	AuthHMACSHA2512 AuthAlg = 7
	AuthHMACRIPEMD  AuthAlg = 8
	AuthAESXCBCMAC  AuthAlg = 9
	AuthSIGRSA      AuthAlg = 10
	AuthAES128GMAC  AuthAlg = 11
	AuthAES192GMAC  AuthAlg = 12
	AuthAES256GMAC  AuthAlg = 13
)

var authAlgNames = map[AuthAlg]string{
	1: "HMAC-MD5", 2: "HMAC-SHA", 3: "DES-MAC", 4: "KPDK", 5: "HMAC-SHA2-256", 6: "HMAC-SHA2-384",
	7: "HMAC-SHA2-512", 8: "HMAC-RIPEMD", 9: "AES-XCBC-MAC", 10: "SIG-RSA", 11: "AES-128-GMAC",
	12: "AES-192-GMAC", 13: "AES-256-GMAC",
}

// String returns the IANA name.
func (a AuthAlg) String() string { return lookup(authAlgNames, a, "AUTH_ALG") }

// IDType is the IPsec DOI identification type (RFC 2407 section 4.6.2.1).
type IDType uint8

// Identification types.
const (
	IDIPv4Addr       IDType = 1
	IDFQDN           IDType = 2
	IDUserFQDN       IDType = 3
	IDIPv4AddrSubnet IDType = 4
	IDIPv6Addr       IDType = 5
	IDIPv6AddrSubnet IDType = 6
	IDIPv4AddrRange  IDType = 7
	IDIPv6AddrRange  IDType = 8
	IDDERASN1DN      IDType = 9
	IDDERASN1GN      IDType = 10
	IDKeyID          IDType = 11
	IDList           IDType = 12 // RFC 3554
)

var idNames = map[IDType]string{
	1: "ID_IPV4_ADDR", 2: "ID_FQDN", 3: "ID_USER_FQDN", 4: "ID_IPV4_ADDR_SUBNET", 5: "ID_IPV6_ADDR",
	6: "ID_IPV6_ADDR_SUBNET", 7: "ID_IPV4_ADDR_RANGE", 8: "ID_IPV6_ADDR_RANGE", 9: "ID_DER_ASN1_DN",
	10: "ID_DER_ASN1_GN", 11: "ID_KEY_ID", 12: "ID_LIST",
}

// String returns the IANA name.
func (t IDType) String() string { return lookup(idNames, t, "ID") }

// Certificate encodings (RFC 2408 section 3.9); Cert.Encoding and
// CertReq.Encoding hold these numbers.
const (
	CertPKCS7           uint8 = 1
	CertPGP             uint8 = 2
	CertDNSSignedKey    uint8 = 3
	CertX509Signature   uint8 = 4
	CertX509KeyExchange uint8 = 5
	CertKerberos        uint8 = 6
	CertCRL             uint8 = 7
	CertARL             uint8 = 8
	CertSPKI            uint8 = 9
	CertX509Attribute   uint8 = 10
	CertHashURLX509     uint8 = 12 // RFC 4306 numbering, used by some IKEv1 peers
)

// NotifyType is the ISAKMP notify message type (RFC 2408 section 3.14.1,
// RFC 2407 section 4.6.3, RFC 3706).
type NotifyType uint16

// Notify message types.
const (
	INVALID_PAYLOAD_TYPE      NotifyType = 1
	DOI_NOT_SUPPORTED         NotifyType = 2
	SITUATION_NOT_SUPPORTED   NotifyType = 3
	INVALID_COOKIE            NotifyType = 4
	INVALID_MAJOR_VERSION     NotifyType = 5
	INVALID_MINOR_VERSION     NotifyType = 6
	INVALID_EXCHANGE_TYPE     NotifyType = 7
	INVALID_FLAGS             NotifyType = 8
	INVALID_MESSAGE_ID        NotifyType = 9
	INVALID_PROTOCOL_ID       NotifyType = 10
	INVALID_SPI               NotifyType = 11
	INVALID_TRANSFORM_ID      NotifyType = 12
	ATTRIBUTES_NOT_SUPPORTED  NotifyType = 13
	NO_PROPOSAL_CHOSEN        NotifyType = 14
	BAD_PROPOSAL_SYNTAX       NotifyType = 15
	PAYLOAD_MALFORMED         NotifyType = 16
	INVALID_KEY_INFORMATION   NotifyType = 17
	INVALID_ID_INFORMATION    NotifyType = 18
	INVALID_CERT_ENCODING     NotifyType = 19
	INVALID_CERTIFICATE       NotifyType = 20
	CERT_TYPE_UNSUPPORTED     NotifyType = 21
	INVALID_CERT_AUTHORITY    NotifyType = 22
	INVALID_HASH_INFORMATION  NotifyType = 23
	AUTHENTICATION_FAILED     NotifyType = 24
	INVALID_SIGNATURE         NotifyType = 25
	ADDRESS_NOTIFICATION      NotifyType = 26
	NOTIFY_SA_LIFETIME        NotifyType = 27
	CERTIFICATE_UNAVAILABLE   NotifyType = 28
	UNSUPPORTED_EXCHANGE_TYPE NotifyType = 29
	UNEQUAL_PAYLOAD_LENGTHS   NotifyType = 30
	CONNECTED                 NotifyType = 16384
	RESPONDER_LIFETIME        NotifyType = 24576 // RFC 2407 4.6.3.1
	REPLAY_STATUS             NotifyType = 24577 // RFC 2407 4.6.3.2
	INITIAL_CONTACT           NotifyType = 24578 // RFC 2407 4.6.3.3
	R_U_THERE                 NotifyType = 36136 // RFC 3706
	R_U_THERE_ACK             NotifyType = 36137 // RFC 3706
	UNITY_LOAD_BALANCE        NotifyType = 40501 // Cisco
)

var notifyNames = map[NotifyType]string{
	1: "INVALID-PAYLOAD-TYPE", 2: "DOI-NOT-SUPPORTED", 3: "SITUATION-NOT-SUPPORTED",
	4: "INVALID-COOKIE", 5: "INVALID-MAJOR-VERSION", 6: "INVALID-MINOR-VERSION",
	7: "INVALID-EXCHANGE-TYPE", 8: "INVALID-FLAGS", 9: "INVALID-MESSAGE-ID",
	10: "INVALID-PROTOCOL-ID", 11: "INVALID-SPI", 12: "INVALID-TRANSFORM-ID",
	13: "ATTRIBUTES-NOT-SUPPORTED", 14: "NO-PROPOSAL-CHOSEN", 15: "BAD-PROPOSAL-SYNTAX",
	16: "PAYLOAD-MALFORMED", 17: "INVALID-KEY-INFORMATION", 18: "INVALID-ID-INFORMATION",
	19: "INVALID-CERT-ENCODING", 20: "INVALID-CERTIFICATE", 21: "CERT-TYPE-UNSUPPORTED",
	22: "INVALID-CERT-AUTHORITY", 23: "INVALID-HASH-INFORMATION", 24: "AUTHENTICATION-FAILED",
	25: "INVALID-SIGNATURE", 26: "ADDRESS-NOTIFICATION", 27: "NOTIFY-SA-LIFETIME",
	28: "CERTIFICATE-UNAVAILABLE", 29: "UNSUPPORTED-EXCHANGE-TYPE", 30: "UNEQUAL-PAYLOAD-LENGTHS",
	16384: "CONNECTED", 24576: "RESPONDER-LIFETIME", 24577: "REPLAY-STATUS", 24578: "INITIAL-CONTACT",
	36136: "R-U-THERE", 36137: "R-U-THERE-ACK", 40501: "UNITY-LOAD-BALANCE",
}

// String returns the IANA name.
func (n NotifyType) String() string { return lookup(notifyNames, n, "NOTIFY") }

// IsError reports whether n is an error type (below 8192, RFC 2408 3.14.1).
func (n NotifyType) IsError() bool { return n < 8192 }

// CfgType is the type of an Attributes payload (draft-dukes-ike-mode-cfg
// section 3.2).
type CfgType uint8

// Attributes payload types.
const (
	CFG_REQUEST CfgType = 1
	CFG_REPLY   CfgType = 2
	CFG_SET     CfgType = 3
	CFG_ACK     CfgType = 4
)

var cfgNames = map[CfgType]string{1: "ISAKMP_CFG_REQUEST", 2: "ISAKMP_CFG_REPLY", 3: "ISAKMP_CFG_SET", 4: "ISAKMP_CFG_ACK"}

// String returns the draft's name.
func (t CfgType) String() string { return lookup(cfgNames, t, "CFG") }

// Mode Config attribute types (draft-dukes-ike-mode-cfg 3.2), XAUTH
// attributes (draft-beaulieu-ike-xauth-02 6.4) and the Cisco Unity
// extensions real clients request. Attribute.Type holds these numbers.
const (
	INTERNAL_IP4_ADDRESS    uint16 = 1
	INTERNAL_IP4_NETMASK    uint16 = 2
	INTERNAL_IP4_DNS        uint16 = 3
	INTERNAL_IP4_NBNS       uint16 = 4
	INTERNAL_ADDRESS_EXPIRY uint16 = 5
	INTERNAL_IP4_DHCP       uint16 = 6
	APPLICATION_VERSION     uint16 = 7
	INTERNAL_IP6_ADDRESS    uint16 = 8
	INTERNAL_IP6_NETMASK    uint16 = 9
	INTERNAL_IP6_DNS        uint16 = 10
	INTERNAL_IP6_NBNS       uint16 = 11
	INTERNAL_IP6_DHCP       uint16 = 12
	INTERNAL_IP4_SUBNET     uint16 = 13
	SUPPORTED_ATTRIBUTES    uint16 = 14
	INTERNAL_IP6_SUBNET     uint16 = 15

	XAUTH_TYPE          uint16 = 16520
	XAUTH_USER_NAME     uint16 = 16521
	XAUTH_USER_PASSWORD uint16 = 16522
	XAUTH_PASSCODE      uint16 = 16523
	XAUTH_MESSAGE       uint16 = 16524
	XAUTH_CHALLENGE     uint16 = 16525
	XAUTH_DOMAIN        uint16 = 16526
	XAUTH_STATUS        uint16 = 16527
	XAUTH_NEXT_PIN      uint16 = 16528
	XAUTH_ANSWER        uint16 = 16529

	UNITY_BANNER         uint16 = 28672
	UNITY_SAVE_PASSWD    uint16 = 28673
	UNITY_DEF_DOMAIN     uint16 = 28674
	UNITY_SPLITDNS_NAME  uint16 = 28675
	UNITY_SPLIT_INCLUDE  uint16 = 28676
	UNITY_NATT_PORT      uint16 = 28677
	UNITY_LOCAL_LAN      uint16 = 28678
	UNITY_PFS            uint16 = 28679
	UNITY_FW_TYPE        uint16 = 28680
	UNITY_BACKUP_SERVERS uint16 = 28681
	UNITY_DDNS_HOSTNAME  uint16 = 28682
)
