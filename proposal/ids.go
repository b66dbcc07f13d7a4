package proposal

// This file holds the IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"
// numbers for transform types and transform IDs. The descriptive tables
// (names, keywords, key sizes, flags) live in registry.go and are keyed by
// these constants.

// TransformType is the IKEv2 transform type (RFC 7296 section 3.3.2,
// RFC 9370 for the additional key exchanges).
type TransformType uint8

// Transform types.
const (
	TypeENCR   TransformType = 1  // Encryption Algorithm
	TypePRF    TransformType = 2  // Pseudorandom Function
	TypeINTEG  TransformType = 3  // Integrity Algorithm
	TypeKE     TransformType = 4  // Key Exchange Method (was D-H group)
	TypeESN    TransformType = 5  // Sequence Numbers (was Extended Sequence Numbers)
	TypeADDKE1 TransformType = 6  // Additional Key Exchange 1 (RFC 9370)
	TypeADDKE2 TransformType = 7  // Additional Key Exchange 2
	TypeADDKE3 TransformType = 8  // Additional Key Exchange 3
	TypeADDKE4 TransformType = 9  // Additional Key Exchange 4
	TypeADDKE5 TransformType = 10 // Additional Key Exchange 5
	TypeADDKE6 TransformType = 11 // Additional Key Exchange 6
	TypeADDKE7 TransformType = 12 // Additional Key Exchange 7
)

// Protocol is the IKEv2 security protocol identifier (RFC 7296 section 3.3.1).
type Protocol uint8

// Security protocols.
const (
	ProtoIKE Protocol = 1
	ProtoAH  Protocol = 2
	ProtoESP Protocol = 3
)

// EncrID is an IKEv2 Transform Type 1 (encryption) ID.
type EncrID uint16

// Encryption transform IDs.
const (
	EncrDESIV64             EncrID = 1
	EncrDES                 EncrID = 2
	Encr3DES                EncrID = 3
	EncrRC5                 EncrID = 4
	EncrIDEA                EncrID = 5
	EncrCAST                EncrID = 6
	EncrBlowfish            EncrID = 7
	Encr3IDEA               EncrID = 8
	EncrDESIV32             EncrID = 9
	EncrNULL                EncrID = 11
	EncrAESCBC              EncrID = 12
	EncrAESCTR              EncrID = 13
	EncrAESCCM8             EncrID = 14
	EncrAESCCM12            EncrID = 15
	EncrAESCCM16            EncrID = 16
	EncrAESGCM8             EncrID = 18
	EncrAESGCM12            EncrID = 19
	EncrAESGCM16            EncrID = 20
	EncrNULLAuthAESGMAC     EncrID = 21
	EncrCamelliaCBC         EncrID = 23
	EncrCamelliaCTR         EncrID = 24
	EncrCamelliaCCM8        EncrID = 25
	EncrCamelliaCCM12       EncrID = 26
	EncrCamelliaCCM16       EncrID = 27
	EncrChaCha20Poly1305    EncrID = 28
	EncrAESCCM8IIV          EncrID = 29
	EncrAESGCM16IIV         EncrID = 30
	EncrChaCha20Poly1305IIV EncrID = 31
)

// PRFID is an IKEv2 Transform Type 2 (pseudorandom function) ID.
type PRFID uint16

// PRF transform IDs.
const (
	PRFHMACMD5     PRFID = 1
	PRFHMACSHA1    PRFID = 2
	PRFHMACTiger   PRFID = 3
	PRFAES128XCBC  PRFID = 4
	PRFHMACSHA2256 PRFID = 5
	PRFHMACSHA2384 PRFID = 6
	PRFHMACSHA2512 PRFID = 7
	PRFAES128CMAC  PRFID = 8
)

// IntegID is an IKEv2 Transform Type 3 (integrity) ID.
type IntegID uint16

// Integrity transform IDs.
const (
	IntegNone           IntegID = 0
	IntegHMACMD596      IntegID = 1
	IntegHMACSHA196     IntegID = 2
	IntegDESMAC         IntegID = 3
	IntegKPDKMD5        IntegID = 4
	IntegAESXCBC96      IntegID = 5
	IntegHMACMD5128     IntegID = 6
	IntegHMACSHA1160    IntegID = 7
	IntegAESCMAC96      IntegID = 8
	IntegAES128GMAC     IntegID = 9
	IntegAES192GMAC     IntegID = 10
	IntegAES256GMAC     IntegID = 11
	IntegHMACSHA2256128 IntegID = 12
	IntegHMACSHA2384192 IntegID = 13
	IntegHMACSHA2512256 IntegID = 14
)

// KEID is an IKEv2 Transform Type 4 (key exchange method, formerly
// Diffie-Hellman group) ID. The same numbers are used by IKEv1's Group
// Description attribute for the groups both versions share.
type KEID uint16

// Key exchange method IDs.
const (
	KENone         KEID = 0
	KEMODP768      KEID = 1
	KEMODP1024     KEID = 2
	KEMODP1536     KEID = 5
	KEMODP2048     KEID = 14
	KEMODP3072     KEID = 15
	KEMODP4096     KEID = 16
	KEMODP6144     KEID = 17
	KEMODP8192     KEID = 18
	KEECP256       KEID = 19
	KEECP384       KEID = 20
	KEECP521       KEID = 21
	KEMODP1024S160 KEID = 22 // RFC 5114 1024-bit MODP with 160-bit prime order subgroup
	KEMODP2048S224 KEID = 23 // RFC 5114 2048-bit MODP with 224-bit prime order subgroup
	KEMODP2048S256 KEID = 24 // RFC 5114 2048-bit MODP with 256-bit prime order subgroup
	KEECP192       KEID = 25
	KEECP224       KEID = 26
	KEBrainpool224 KEID = 27
	KEBrainpool256 KEID = 28
	KEBrainpool384 KEID = 29
	KEBrainpool512 KEID = 30
	KECurve25519   KEID = 31
	KECurve448     KEID = 32
	KEGOST256      KEID = 33
	KEGOST512      KEID = 34
	KEMLKEM512     KEID = 35 // draft-ietf-ipsecme-ikev2-mlkem
	KEMLKEM768     KEID = 36
	KEMLKEM1024    KEID = 37
)

// ESNID is an IKEv2 Transform Type 5 (sequence numbers) ID.
type ESNID uint16

// Sequence number transform IDs.
const (
	ESNNone ESNID = 0 // 32-bit sequence numbers
	ESNOn   ESNID = 1 // 64-bit extended sequence numbers
)
