package wire

import "strconv"

// This file holds the IANA "Internet Key Exchange Version 2 (IKEv2)
// Parameters" registries the codec names. wire deliberately does not import
// proposal (DESIGN.md section 1): transform IDs are plain numbers here with
// their own small typed enums, and the engine converts.

func lookup[T ~uint8 | ~uint16](m map[T]string, v T, typ string) string {
	if s, ok := m[v]; ok {
		return s
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// ExchangeType is the IKEv2 exchange type (RFC 7296 section 3.1).
type ExchangeType uint8

// Exchange types.
const (
	IKE_SA_INIT        ExchangeType = 34
	IKE_AUTH           ExchangeType = 35
	CREATE_CHILD_SA    ExchangeType = 36
	INFORMATIONAL      ExchangeType = 37
	IKE_SESSION_RESUME ExchangeType = 38 // RFC 5723
	GSA_AUTH           ExchangeType = 39 // RFC 9838 (G-IKEv2)
	GSA_REGISTRATION   ExchangeType = 40 // RFC 9838
	GSA_REKEY          ExchangeType = 41 // RFC 9838
	GSA_INBAND_REKEY   ExchangeType = 42 // RFC 9838
	IKE_INTERMEDIATE   ExchangeType = 43 // RFC 9242
	IKE_FOLLOWUP_KE    ExchangeType = 44 // RFC 9370
)

var exchangeNames = map[ExchangeType]string{
	IKE_SA_INIT: "IKE_SA_INIT", IKE_AUTH: "IKE_AUTH", CREATE_CHILD_SA: "CREATE_CHILD_SA",
	INFORMATIONAL: "INFORMATIONAL", IKE_SESSION_RESUME: "IKE_SESSION_RESUME",
	GSA_AUTH: "GSA_AUTH", GSA_REGISTRATION: "GSA_REGISTRATION", GSA_REKEY: "GSA_REKEY",
	GSA_INBAND_REKEY: "GSA_INBAND_REKEY", IKE_INTERMEDIATE: "IKE_INTERMEDIATE",
	IKE_FOLLOWUP_KE: "IKE_FOLLOWUP_KE",
}

// String returns the IANA name.
func (e ExchangeType) String() string { return lookup(exchangeNames, e, "EXCHANGE_TYPE") }

// PayloadType is the IKEv2 payload type (RFC 7296 section 3.2).
type PayloadType uint8

// Payload types.
const (
	PayloadNone     PayloadType = 0  // No Next Payload
	PayloadSA       PayloadType = 33 // Security Association
	PayloadKE       PayloadType = 34 // Key Exchange
	PayloadIDi      PayloadType = 35 // Identification - Initiator
	PayloadIDr      PayloadType = 36 // Identification - Responder
	PayloadCERT     PayloadType = 37 // Certificate
	PayloadCERTREQ  PayloadType = 38 // Certificate Request
	PayloadAUTH     PayloadType = 39 // Authentication
	PayloadNonce    PayloadType = 40 // Nonce (Ni, Nr)
	PayloadNotify   PayloadType = 41 // Notify (N)
	PayloadDelete   PayloadType = 42 // Delete (D)
	PayloadVendorID PayloadType = 43 // Vendor ID (V)
	PayloadTSi      PayloadType = 44 // Traffic Selector - Initiator
	PayloadTSr      PayloadType = 45 // Traffic Selector - Responder
	PayloadSK       PayloadType = 46 // Encrypted and Authenticated
	PayloadCP       PayloadType = 47 // Configuration
	PayloadEAP      PayloadType = 48 // Extensible Authentication
	PayloadGSPM     PayloadType = 49 // Generic Secure Password Methods (RFC 6467)
	PayloadIDg      PayloadType = 50 // Group Identification (RFC 9838)
	PayloadGSA      PayloadType = 51 // Group Security Association (RFC 9838)
	PayloadKD       PayloadType = 52 // Key Download (RFC 9838)
	PayloadSKF      PayloadType = 53 // Encrypted and Authenticated Fragment (RFC 7383)
	PayloadPS       PayloadType = 54 // Puzzle Solution (RFC 8019)
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
	PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH", PayloadNonce: "Nonce",
	PayloadNotify: "N", PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi", PayloadTSr: "TSr",
	PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP", PayloadGSPM: "GSPM", PayloadIDg: "IDg",
	PayloadGSA: "GSA", PayloadKD: "KD", PayloadSKF: "SKF", PayloadPS: "PS",
}

// String returns the IANA notation (RFC 7296 section 3.2 column "Notation").
func (p PayloadType) String() string { return lookup(payloadNames, p, "PAYLOAD") }

// Flags is the IKEv2 header flags byte (RFC 7296 section 3.1).
type Flags uint8

// Header flags.
const (
	FlagInitiator Flags = 0x08 // I: sent by the original initiator
	FlagVersion   Flags = 0x10 // V: sender could speak a higher major version
	FlagResponse  Flags = 0x20 // R: this is a response
)

// String lists the set flags as Wireshark/strongSwan do.
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
	add(FlagInitiator, "I")
	add(FlagVersion, "V")
	add(FlagResponse, "R")
	if rest := f &^ (FlagInitiator | FlagVersion | FlagResponse); rest != 0 {
		if s != "" {
			s += "|"
		}
		s += "0x" + strconv.FormatUint(uint64(rest), 16)
	}
	if s == "" {
		return "0"
	}
	return s
}

// ProtocolID is the security protocol identifier (RFC 7296 section 3.3.1).
type ProtocolID uint8

// Protocol IDs.
const (
	ProtoNone               ProtocolID = 0
	ProtoIKE                ProtocolID = 1
	ProtoAH                 ProtocolID = 2
	ProtoESP                ProtocolID = 3
	ProtoFCESPHeader        ProtocolID = 4 // RFC 4595
	ProtoFCCTAuthentication ProtocolID = 5 // RFC 4595
	ProtoGIKEUpdate         ProtocolID = 6 // RFC 9838
)

var protocolNames = map[ProtocolID]string{
	ProtoNone: "NONE", ProtoIKE: "IKE", ProtoAH: "AH", ProtoESP: "ESP",
	ProtoFCESPHeader: "FC_ESP_HEADER", ProtoFCCTAuthentication: "FC_CT_AUTHENTICATION",
	ProtoGIKEUpdate: "GIKE_UPDATE",
}

// String returns the IANA name.
func (p ProtocolID) String() string { return lookup(protocolNames, p, "PROTO") }

// TransformType is the transform type (RFC 7296 section 3.3.2, RFC 9370).
type TransformType uint8

// Transform types.
const (
	TransformENCR   TransformType = 1
	TransformPRF    TransformType = 2
	TransformINTEG  TransformType = 3
	TransformKE     TransformType = 4 // Key Exchange Method (was D-H)
	TransformESN    TransformType = 5 // Sequence Numbers
	TransformADDKE1 TransformType = 6 // RFC 9370 Additional Key Exchange 1..7
	TransformADDKE2 TransformType = 7
	TransformADDKE3 TransformType = 8
	TransformADDKE4 TransformType = 9
	TransformADDKE5 TransformType = 10
	TransformADDKE6 TransformType = 11
	TransformADDKE7 TransformType = 12
)

var transformTypeNames = map[TransformType]string{
	TransformENCR: "ENCR", TransformPRF: "PRF", TransformINTEG: "INTEG", TransformKE: "KE",
	TransformESN: "ESN", TransformADDKE1: "ADDKE1", TransformADDKE2: "ADDKE2", TransformADDKE3: "ADDKE3",
	TransformADDKE4: "ADDKE4", TransformADDKE5: "ADDKE5", TransformADDKE6: "ADDKE6", TransformADDKE7: "ADDKE7",
}

// String returns the IANA abbreviation.
func (t TransformType) String() string { return lookup(transformTypeNames, t, "TRANSFORM_TYPE") }

// EncrID is a Transform Type 1 ID.
type EncrID uint16

var encrNames = map[EncrID]string{
	1: "ENCR_DES_IV64", 2: "ENCR_DES", 3: "ENCR_3DES", 4: "ENCR_RC5", 5: "ENCR_IDEA", 6: "ENCR_CAST",
	7: "ENCR_BLOWFISH", 8: "ENCR_3IDEA", 9: "ENCR_DES_IV32", 11: "ENCR_NULL", 12: "ENCR_AES_CBC",
	13: "ENCR_AES_CTR", 14: "ENCR_AES_CCM_8", 15: "ENCR_AES_CCM_12", 16: "ENCR_AES_CCM_16",
	18: "ENCR_AES_GCM_8", 19: "ENCR_AES_GCM_12", 20: "ENCR_AES_GCM_16", 21: "ENCR_NULL_AUTH_AES_GMAC",
	23: "ENCR_CAMELLIA_CBC", 24: "ENCR_CAMELLIA_CTR", 25: "ENCR_CAMELLIA_CCM_8",
	26: "ENCR_CAMELLIA_CCM_12", 27: "ENCR_CAMELLIA_CCM_16", 28: "ENCR_CHACHA20_POLY1305",
	29: "ENCR_AES_CCM_8_IIV", 30: "ENCR_AES_GCM_16_IIV", 31: "ENCR_CHACHA20_POLY1305_IIV",
	32: "ENCR_KUZNYECHIK_MGM_KTREE", 33: "ENCR_MAGMA_MGM_KTREE", 34: "ENCR_KUZNYECHIK_MGM_MAC_KTREE",
	35: "ENCR_MAGMA_MGM_MAC_KTREE",
}

// String returns the IANA name.
func (e EncrID) String() string { return lookup(encrNames, e, "ENCR") }

// PRFID is a Transform Type 2 ID.
type PRFID uint16

var prfNames = map[PRFID]string{
	1: "PRF_HMAC_MD5", 2: "PRF_HMAC_SHA1", 3: "PRF_HMAC_TIGER", 4: "PRF_AES128_XCBC",
	5: "PRF_HMAC_SHA2_256", 6: "PRF_HMAC_SHA2_384", 7: "PRF_HMAC_SHA2_512", 8: "PRF_AES128_CMAC",
	9: "PRF_HMAC_STREEBOG_512",
}

// String returns the IANA name.
func (p PRFID) String() string { return lookup(prfNames, p, "PRF") }

// IntegID is a Transform Type 3 ID.
type IntegID uint16

var integNames = map[IntegID]string{
	0: "NONE", 1: "AUTH_HMAC_MD5_96", 2: "AUTH_HMAC_SHA1_96", 3: "AUTH_DES_MAC", 4: "AUTH_KPDK_MD5",
	5: "AUTH_AES_XCBC_96", 6: "AUTH_HMAC_MD5_128", 7: "AUTH_HMAC_SHA1_160", 8: "AUTH_AES_CMAC_96",
	9: "AUTH_AES_128_GMAC", 10: "AUTH_AES_192_GMAC", 11: "AUTH_AES_256_GMAC",
	12: "AUTH_HMAC_SHA2_256_128", 13: "AUTH_HMAC_SHA2_384_192", 14: "AUTH_HMAC_SHA2_512_256",
}

// String returns the IANA name.
func (i IntegID) String() string { return lookup(integNames, i, "AUTH") }

// KEID is a Transform Type 4 (and 6..12) ID: a key exchange method. The
// IANA registry describes groups in prose ("1024-bit MODP Group"); String
// uses the identifier forms strongSwan and libreswan print.
type KEID uint16

var keNames = map[KEID]string{
	0: "NONE", 1: "MODP_768", 2: "MODP_1024", 5: "MODP_1536", 14: "MODP_2048", 15: "MODP_3072",
	16: "MODP_4096", 17: "MODP_6144", 18: "MODP_8192", 19: "ECP_256", 20: "ECP_384", 21: "ECP_521",
	22: "MODP_1024_160", 23: "MODP_2048_224", 24: "MODP_2048_256", 25: "ECP_192", 26: "ECP_224",
	27: "ECP_224_BP", 28: "ECP_256_BP", 29: "ECP_384_BP", 30: "ECP_512_BP", 31: "CURVE_25519",
	32: "CURVE_448", 33: "GOST3410_2012_256", 34: "GOST3410_2012_512", 35: "ML_KEM_512",
	36: "ML_KEM_768", 37: "ML_KEM_1024",
}

// String returns the method's name.
func (k KEID) String() string { return lookup(keNames, k, "KE") }

// ESNID is a Transform Type 5 ID.
type ESNID uint16

var esnNames = map[ESNID]string{0: "NO_ESN", 1: "ESN"}

// String returns the name.
func (e ESNID) String() string { return lookup(esnNames, e, "ESN") }

// TransformIDString names id in the registry of transform type t.
func TransformIDString(t TransformType, id uint16) string {
	switch {
	case t == TransformENCR:
		return EncrID(id).String()
	case t == TransformPRF:
		return PRFID(id).String()
	case t == TransformINTEG:
		return IntegID(id).String()
	case t == TransformKE || (t >= TransformADDKE1 && t <= TransformADDKE7):
		return KEID(id).String()
	case t == TransformESN:
		return ESNID(id).String()
	}
	return strconv.Itoa(int(id))
}

// IDType is the identification type (RFC 7296 section 3.5).
type IDType uint8

// ID types.
const (
	ID_IPV4_ADDR   IDType = 1
	ID_FQDN        IDType = 2
	ID_RFC822_ADDR IDType = 3
	ID_IPV6_ADDR   IDType = 5
	ID_DER_ASN1_DN IDType = 9
	ID_DER_ASN1_GN IDType = 10
	ID_KEY_ID      IDType = 11
	ID_FC_NAME     IDType = 12 // RFC 4595
	ID_NULL        IDType = 13 // RFC 7619
)

var idNames = map[IDType]string{
	ID_IPV4_ADDR: "ID_IPV4_ADDR", ID_FQDN: "ID_FQDN", ID_RFC822_ADDR: "ID_RFC822_ADDR",
	ID_IPV6_ADDR: "ID_IPV6_ADDR", ID_DER_ASN1_DN: "ID_DER_ASN1_DN", ID_DER_ASN1_GN: "ID_DER_ASN1_GN",
	ID_KEY_ID: "ID_KEY_ID", ID_FC_NAME: "ID_FC_NAME", ID_NULL: "ID_NULL",
}

// String returns the IANA name.
func (t IDType) String() string { return lookup(idNames, t, "ID") }

// CertEncoding is the certificate encoding (RFC 7296 section 3.6).
type CertEncoding uint8

// Certificate encodings.
const (
	CertPKCS7             CertEncoding = 1
	CertPGP               CertEncoding = 2
	CertDNSSignedKey      CertEncoding = 3
	CertX509Signature     CertEncoding = 4
	CertKerberosToken     CertEncoding = 6
	CertCRL               CertEncoding = 7
	CertARL               CertEncoding = 8
	CertSPKI              CertEncoding = 9
	CertX509Attribute     CertEncoding = 10
	CertRawRSAKey         CertEncoding = 11 // deprecated by RFC 7296
	CertHashURLX509       CertEncoding = 12
	CertHashURLX509Bundle CertEncoding = 13
	CertOCSPContent       CertEncoding = 14 // RFC 4806
	CertRawPublicKey      CertEncoding = 15 // RFC 7670
)

var certNames = map[CertEncoding]string{
	1: "PKCS #7 wrapped X.509 certificate", 2: "PGP Certificate", 3: "DNS Signed Key",
	4: "X.509 Certificate - Signature", 6: "Kerberos Token", 7: "Certificate Revocation List (CRL)",
	8: "Authority Revocation List (ARL)", 9: "SPKI Certificate", 10: "X.509 Certificate - Attribute",
	11: "Raw RSA Key", 12: "Hash and URL of X.509 certificate", 13: "Hash and URL of X.509 bundle",
	14: "OCSP Content", 15: "Raw Public Key",
}

// String returns the IANA name.
func (c CertEncoding) String() string { return lookup(certNames, c, "CERT_ENCODING") }

// AuthMethod is the authentication method (RFC 7296 section 3.8).
type AuthMethod uint8

// Authentication methods.
const (
	AuthRSASig           AuthMethod = 1
	AuthSharedKey        AuthMethod = 2
	AuthDSSSig           AuthMethod = 3
	AuthECDSA256         AuthMethod = 9  // RFC 4754
	AuthECDSA384         AuthMethod = 10 // RFC 4754
	AuthECDSA521         AuthMethod = 11 // RFC 4754
	AuthGSPAM            AuthMethod = 12 // RFC 6467
	AuthNULL             AuthMethod = 13 // RFC 7619
	AuthDigitalSignature AuthMethod = 14 // RFC 7427
)

var authNames = map[AuthMethod]string{
	1: "RSA Digital Signature", 2: "Shared Key Message Integrity Code", 3: "DSS Digital Signature",
	9: "ECDSA with SHA-256 on the P-256 curve", 10: "ECDSA with SHA-384 on the P-384 curve",
	11: "ECDSA with SHA-512 on the P-521 curve", 12: "Generic Secure Password Authentication Method",
	13: "NULL Authentication", 14: "Digital Signature",
}

// String returns the IANA name.
func (a AuthMethod) String() string { return lookup(authNames, a, "AUTH_METHOD") }

// HashAlgorithm is an RFC 7427 hash algorithm identifier, carried in the
// SIGNATURE_HASH_ALGORITHMS notify.
type HashAlgorithm uint16

// Hash algorithms.
const (
	HashSHA1     HashAlgorithm = 1
	HashSHA2_256 HashAlgorithm = 2
	HashSHA2_384 HashAlgorithm = 3
	HashSHA2_512 HashAlgorithm = 4
	HashIdentity HashAlgorithm = 5 // RFC 8420
)

var hashNames = map[HashAlgorithm]string{
	0: "Reserved", 1: "SHA1", 2: "SHA2-256", 3: "SHA2-384", 4: "SHA2-512", 5: "Identity",
}

// String returns the IANA name.
func (h HashAlgorithm) String() string { return lookup(hashNames, h, "HASH") }

// TSType is the traffic selector type (RFC 7296 section 3.13.1).
type TSType uint8

// Traffic selector types.
const (
	TS_IPV4_ADDR_RANGE TSType = 7
	TS_IPV6_ADDR_RANGE TSType = 8
	TS_FC_ADDR_RANGE   TSType = 9  // RFC 4595
	TS_SECLABEL        TSType = 10 // RFC 9478
)

var tsNames = map[TSType]string{
	7: "TS_IPV4_ADDR_RANGE", 8: "TS_IPV6_ADDR_RANGE", 9: "TS_FC_ADDR_RANGE", 10: "TS_SECLABEL",
}

// String returns the IANA name.
func (t TSType) String() string { return lookup(tsNames, t, "TS") }

// CPType is the configuration payload type (RFC 7296 section 3.15).
type CPType uint8

// Configuration payload types.
const (
	CFG_REQUEST CPType = 1
	CFG_REPLY   CPType = 2
	CFG_SET     CPType = 3
	CFG_ACK     CPType = 4
)

var cpNames = map[CPType]string{1: "CFG_REQUEST", 2: "CFG_REPLY", 3: "CFG_SET", 4: "CFG_ACK"}

// String returns the IANA name.
func (t CPType) String() string { return lookup(cpNames, t, "CFG") }

// CPAttrType is a configuration attribute type (RFC 7296 section 3.15.1),
// 15 bits.
type CPAttrType uint16

// Configuration attribute types.
const (
	INTERNAL_IP4_ADDRESS              CPAttrType = 1
	INTERNAL_IP4_NETMASK              CPAttrType = 2
	INTERNAL_IP4_DNS                  CPAttrType = 3
	INTERNAL_IP4_NBNS                 CPAttrType = 4
	INTERNAL_IP4_DHCP                 CPAttrType = 6
	APPLICATION_VERSION               CPAttrType = 7
	INTERNAL_IP6_ADDRESS              CPAttrType = 8
	INTERNAL_IP6_DNS                  CPAttrType = 10
	INTERNAL_IP6_DHCP                 CPAttrType = 12
	INTERNAL_IP4_SUBNET               CPAttrType = 13
	SUPPORTED_ATTRIBUTES              CPAttrType = 14
	INTERNAL_IP6_SUBNET               CPAttrType = 15
	MIP6_HOME_PREFIX                  CPAttrType = 16 // RFC 5026
	INTERNAL_IP6_LINK                 CPAttrType = 17 // RFC 5739
	INTERNAL_IP6_PREFIX               CPAttrType = 18 // RFC 5739
	HOME_AGENT_ADDRESS                CPAttrType = 19 // RFC 5844
	P_CSCF_IP4_ADDRESS                CPAttrType = 20 // RFC 7651
	P_CSCF_IP6_ADDRESS                CPAttrType = 21 // RFC 7651
	FTT_KAT                           CPAttrType = 22 // RFC 7651
	EXTERNAL_SOURCE_IP4_NAT_INFO      CPAttrType = 23 // RFC 7651
	TIMEOUT_PERIOD_FOR_LIVENESS_CHECK CPAttrType = 24 // RFC 7651
	INTERNAL_DNS_DOMAIN               CPAttrType = 25 // RFC 8598
	INTERNAL_DNSSEC_TA                CPAttrType = 26 // RFC 8598
	ENCDNS_IP4                        CPAttrType = 27 // RFC 9464
	ENCDNS_IP6                        CPAttrType = 28 // RFC 9464
	ENCDNS_DIGEST_INFO                CPAttrType = 29 // RFC 9464
	// INTERNAL_IP4_SERVER and INTERNAL_IP6_SERVER are strongSwan's
	// private-use attributes for arbitrary server addresses.
	INTERNAL_IP4_SERVER CPAttrType = 23456
	INTERNAL_IP6_SERVER CPAttrType = 23457
)

var cpAttrNames = map[CPAttrType]string{
	1: "INTERNAL_IP4_ADDRESS", 2: "INTERNAL_IP4_NETMASK", 3: "INTERNAL_IP4_DNS", 4: "INTERNAL_IP4_NBNS",
	5: "INTERNAL_ADDRESS_EXPIRY", 6: "INTERNAL_IP4_DHCP", 7: "APPLICATION_VERSION",
	8: "INTERNAL_IP6_ADDRESS", 9: "INTERNAL_IP6_NETMASK", 10: "INTERNAL_IP6_DNS", 11: "INTERNAL_IP6_NBNS",
	12: "INTERNAL_IP6_DHCP", 13: "INTERNAL_IP4_SUBNET", 14: "SUPPORTED_ATTRIBUTES",
	15: "INTERNAL_IP6_SUBNET", 16: "MIP6_HOME_PREFIX", 17: "INTERNAL_IP6_LINK", 18: "INTERNAL_IP6_PREFIX",
	19: "HOME_AGENT_ADDRESS", 20: "P_CSCF_IP4_ADDRESS", 21: "P_CSCF_IP6_ADDRESS", 22: "FTT_KAT",
	23: "EXTERNAL_SOURCE_IP4_NAT_INFO", 24: "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK",
	25: "INTERNAL_DNS_DOMAIN", 26: "INTERNAL_DNSSEC_TA", 27: "ENCDNS_IP4", 28: "ENCDNS_IP6",
	29: "ENCDNS_DIGEST_INFO", 23456: "INTERNAL_IP4_SERVER", 23457: "INTERNAL_IP6_SERVER",
}

// String returns the IANA name (5, 9 and 11 are the RFC 4306 names that
// RFC 7296 retired).
func (t CPAttrType) String() string { return lookup(cpAttrNames, t, "CP_ATTR") }

// NotifyType is the notify message type (RFC 7296 section 3.10.1). Types
// below 16384 report errors, the rest status.
type NotifyType uint16

// Notify message types: error types.
const (
	UNSUPPORTED_CRITICAL_PAYLOAD NotifyType = 1
	INVALID_IKE_SPI              NotifyType = 4
	INVALID_MAJOR_VERSION        NotifyType = 5
	INVALID_SYNTAX               NotifyType = 7
	INVALID_MESSAGE_ID           NotifyType = 9
	INVALID_SPI                  NotifyType = 11
	NO_PROPOSAL_CHOSEN           NotifyType = 14
	INVALID_KE_PAYLOAD           NotifyType = 17
	AUTHENTICATION_FAILED        NotifyType = 24
	SINGLE_PAIR_REQUIRED         NotifyType = 34
	NO_ADDITIONAL_SAS            NotifyType = 35
	INTERNAL_ADDRESS_FAILURE     NotifyType = 36
	FAILED_CP_REQUIRED           NotifyType = 37
	TS_UNACCEPTABLE              NotifyType = 38
	INVALID_SELECTORS            NotifyType = 39
	UNACCEPTABLE_ADDRESSES       NotifyType = 40 // RFC 4555
	UNEXPECTED_NAT_DETECTED      NotifyType = 41 // RFC 4555
	USE_ASSIGNED_HoA             NotifyType = 42 // RFC 5026
	TEMPORARY_FAILURE            NotifyType = 43
	CHILD_SA_NOT_FOUND           NotifyType = 44
	INVALID_GROUP_ID             NotifyType = 45 // RFC 9838
	AUTHORIZATION_FAILED         NotifyType = 46 // RFC 9838
	STATE_NOT_FOUND              NotifyType = 47 // RFC 9867
	TS_MAX_QUEUE                 NotifyType = 48 // RFC 9611
	// MS_STATUS is not IANA-assigned: Windows sends it from the private
	// error range with a 4-byte status code (strongSwan: MS_NOTIFY_STATUS).
	MS_STATUS NotifyType = 12345
)

// Notify message types: status types.
const (
	INITIAL_CONTACT                     NotifyType = 16384
	SET_WINDOW_SIZE                     NotifyType = 16385
	ADDITIONAL_TS_POSSIBLE              NotifyType = 16386
	IPCOMP_SUPPORTED                    NotifyType = 16387
	NAT_DETECTION_SOURCE_IP             NotifyType = 16388
	NAT_DETECTION_DESTINATION_IP        NotifyType = 16389
	COOKIE                              NotifyType = 16390
	USE_TRANSPORT_MODE                  NotifyType = 16391
	HTTP_CERT_LOOKUP_SUPPORTED          NotifyType = 16392
	REKEY_SA                            NotifyType = 16393
	ESP_TFC_PADDING_NOT_SUPPORTED       NotifyType = 16394
	NON_FIRST_FRAGMENTS_ALSO            NotifyType = 16395
	MOBIKE_SUPPORTED                    NotifyType = 16396 // RFC 4555
	ADDITIONAL_IP4_ADDRESS              NotifyType = 16397
	ADDITIONAL_IP6_ADDRESS              NotifyType = 16398
	NO_ADDITIONAL_ADDRESSES             NotifyType = 16399
	UPDATE_SA_ADDRESSES                 NotifyType = 16400
	COOKIE2                             NotifyType = 16401
	NO_NATS_ALLOWED                     NotifyType = 16402
	AUTH_LIFETIME                       NotifyType = 16403 // RFC 4478
	MULTIPLE_AUTH_SUPPORTED             NotifyType = 16404 // RFC 4739
	ANOTHER_AUTH_FOLLOWS                NotifyType = 16405 // RFC 4739
	REDIRECT_SUPPORTED                  NotifyType = 16406 // RFC 5685
	REDIRECT                            NotifyType = 16407 // RFC 5685
	REDIRECTED_FROM                     NotifyType = 16408 // RFC 5685
	TICKET_LT_OPAQUE                    NotifyType = 16409 // RFC 5723
	TICKET_REQUEST                      NotifyType = 16410
	TICKET_ACK                          NotifyType = 16411
	TICKET_NACK                         NotifyType = 16412
	TICKET_OPAQUE                       NotifyType = 16413
	LINK_ID                             NotifyType = 16414 // RFC 5739
	USE_WESP_MODE                       NotifyType = 16415 // RFC 5840
	ROHC_SUPPORTED                      NotifyType = 16416 // RFC 5857
	EAP_ONLY_AUTHENTICATION             NotifyType = 16417 // RFC 5998
	CHILDLESS_IKEV2_SUPPORTED           NotifyType = 16418 // RFC 6023
	QUICK_CRASH_DETECTION               NotifyType = 16419 // RFC 6290
	IKEV2_MESSAGE_ID_SYNC_SUPPORTED     NotifyType = 16420 // RFC 6311
	IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED NotifyType = 16421 // RFC 6311
	IKEV2_MESSAGE_ID_SYNC               NotifyType = 16422 // RFC 6311
	IPSEC_REPLAY_COUNTER_SYNC           NotifyType = 16423 // RFC 6311
	SECURE_PASSWORD_METHODS             NotifyType = 16424 // RFC 6467
	PSK_PERSIST                         NotifyType = 16425 // RFC 6631
	PSK_CONFIRM                         NotifyType = 16426 // RFC 6631
	ERX_SUPPORTED                       NotifyType = 16427 // RFC 6867
	IFOM_CAPABILITY                     NotifyType = 16428 // 3GPP TS 24.303
	SENDER_REQUEST_ID                   NotifyType = 16429 // RFC 9838
	IKEV2_FRAGMENTATION_SUPPORTED       NotifyType = 16430 // RFC 7383
	SIGNATURE_HASH_ALGORITHMS           NotifyType = 16431 // RFC 7427
	CLONE_IKE_SA_SUPPORTED              NotifyType = 16432 // RFC 7791
	CLONE_IKE_SA                        NotifyType = 16433 // RFC 7791
	PUZZLE                              NotifyType = 16434 // RFC 8019
	USE_PPK                             NotifyType = 16435 // RFC 8784
	PPK_IDENTITY                        NotifyType = 16436 // RFC 8784
	NO_PPK_AUTH                         NotifyType = 16437 // RFC 8784
	INTERMEDIATE_EXCHANGE_SUPPORTED     NotifyType = 16438 // RFC 9242
	IP4_ALLOWED                         NotifyType = 16439 // RFC 8983
	IP6_ALLOWED                         NotifyType = 16440 // RFC 8983
	ADDITIONAL_KEY_EXCHANGE             NotifyType = 16441 // RFC 9370
	USE_AGGFRAG                         NotifyType = 16442 // RFC 9347
	SUPPORTED_AUTH_METHODS              NotifyType = 16443 // RFC 9593
	SA_RESOURCE_INFO                    NotifyType = 16444 // RFC 9611
	USE_PPK_INT                         NotifyType = 16445 // RFC 9867
	PPK_IDENTITY_KEY                    NotifyType = 16446 // RFC 9867
)

var notifyNames = map[NotifyType]string{
	1: "UNSUPPORTED_CRITICAL_PAYLOAD", 4: "INVALID_IKE_SPI", 5: "INVALID_MAJOR_VERSION",
	7: "INVALID_SYNTAX", 9: "INVALID_MESSAGE_ID", 11: "INVALID_SPI", 14: "NO_PROPOSAL_CHOSEN",
	17: "INVALID_KE_PAYLOAD", 24: "AUTHENTICATION_FAILED", 34: "SINGLE_PAIR_REQUIRED",
	35: "NO_ADDITIONAL_SAS", 36: "INTERNAL_ADDRESS_FAILURE", 37: "FAILED_CP_REQUIRED",
	38: "TS_UNACCEPTABLE", 39: "INVALID_SELECTORS", 40: "UNACCEPTABLE_ADDRESSES",
	41: "UNEXPECTED_NAT_DETECTED", 42: "USE_ASSIGNED_HoA", 43: "TEMPORARY_FAILURE",
	44: "CHILD_SA_NOT_FOUND", 45: "INVALID_GROUP_ID", 46: "AUTHORIZATION_FAILED",
	47: "STATE_NOT_FOUND", 48: "TS_MAX_QUEUE", 12345: "MS_STATUS",
	16384: "INITIAL_CONTACT", 16385: "SET_WINDOW_SIZE", 16386: "ADDITIONAL_TS_POSSIBLE",
	16387: "IPCOMP_SUPPORTED", 16388: "NAT_DETECTION_SOURCE_IP", 16389: "NAT_DETECTION_DESTINATION_IP",
	16390: "COOKIE", 16391: "USE_TRANSPORT_MODE", 16392: "HTTP_CERT_LOOKUP_SUPPORTED",
	16393: "REKEY_SA", 16394: "ESP_TFC_PADDING_NOT_SUPPORTED", 16395: "NON_FIRST_FRAGMENTS_ALSO",
	16396: "MOBIKE_SUPPORTED", 16397: "ADDITIONAL_IP4_ADDRESS", 16398: "ADDITIONAL_IP6_ADDRESS",
	16399: "NO_ADDITIONAL_ADDRESSES", 16400: "UPDATE_SA_ADDRESSES", 16401: "COOKIE2",
	16402: "NO_NATS_ALLOWED", 16403: "AUTH_LIFETIME", 16404: "MULTIPLE_AUTH_SUPPORTED",
	16405: "ANOTHER_AUTH_FOLLOWS", 16406: "REDIRECT_SUPPORTED", 16407: "REDIRECT",
	16408: "REDIRECTED_FROM", 16409: "TICKET_LT_OPAQUE", 16410: "TICKET_REQUEST", 16411: "TICKET_ACK",
	16412: "TICKET_NACK", 16413: "TICKET_OPAQUE", 16414: "LINK_ID", 16415: "USE_WESP_MODE",
	16416: "ROHC_SUPPORTED", 16417: "EAP_ONLY_AUTHENTICATION", 16418: "CHILDLESS_IKEV2_SUPPORTED",
	16419: "QUICK_CRASH_DETECTION", 16420: "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
	16421: "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED", 16422: "IKEV2_MESSAGE_ID_SYNC",
	16423: "IPSEC_REPLAY_COUNTER_SYNC", 16424: "SECURE_PASSWORD_METHODS", 16425: "PSK_PERSIST",
	16426: "PSK_CONFIRM", 16427: "ERX_SUPPORTED", 16428: "IFOM_CAPABILITY", 16429: "SENDER_REQUEST_ID",
	16430: "IKEV2_FRAGMENTATION_SUPPORTED", 16431: "SIGNATURE_HASH_ALGORITHMS",
	16432: "CLONE_IKE_SA_SUPPORTED", 16433: "CLONE_IKE_SA", 16434: "PUZZLE", 16435: "USE_PPK",
	16436: "PPK_IDENTITY", 16437: "NO_PPK_AUTH", 16438: "INTERMEDIATE_EXCHANGE_SUPPORTED",
	16439: "IP4_ALLOWED", 16440: "IP6_ALLOWED", 16441: "ADDITIONAL_KEY_EXCHANGE", 16442: "USE_AGGFRAG",
	16443: "SUPPORTED_AUTH_METHODS", 16444: "SA_RESOURCE_INFO", 16445: "USE_PPK_INT",
	16446: "PPK_IDENTITY_KEY",
}

// Notify type ranges (RFC 7296 section 3.10.1, IANA).
const (
	notifyErrorPrivateLo  = 8192
	notifyErrorPrivateHi  = 16383
	notifyStatusPrivateLo = 40960
)

// String returns the IANA name; unassigned values name their range.
func (n NotifyType) String() string {
	if s, ok := notifyNames[n]; ok {
		return s
	}
	v := strconv.Itoa(int(n))
	switch {
	case n >= notifyErrorPrivateLo && n <= notifyErrorPrivateHi:
		return "PRIVATE_ERROR(" + v + ")"
	case n >= notifyStatusPrivateLo:
		return "PRIVATE_STATUS(" + v + ")"
	case n < notifyErrorPrivateLo:
		return "ERROR(" + v + ")"
	}
	return "STATUS(" + v + ")"
}

// IsError reports whether n is in an error range (0..16383, RFC 7296
// section 3.10.1); an unrecognized error type in a response means the
// request failed completely.
func (n NotifyType) IsError() bool { return n < 16384 }
