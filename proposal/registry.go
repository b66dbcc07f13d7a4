package proposal

import "strconv"

// This file holds one table per IANA registry. Each supported algorithm is
// one keyed struct literal: its IANA number, the name operators see in
// strongSwan logs and in our errors, the strongSwan keyword(s), key sizes,
// flags and the IKEv1 values it maps to. Everything else in the package
// (keyword parsing and formatting, selection, lint, IKEv1 mapping, String
// methods) is derived from these tables, so adding an algorithm is one line.

// Usage says in which protocols a transform may appear.
type Usage uint8

// Usage bits.
const (
	UseIKE Usage = 1 << iota // IKE SA (IKEv2 IKE_SA_INIT, IKEv1 phase 1)
	UseESP                   // ESP CHILD SA (IKEv2) / IPsec SA (IKEv1 phase 2)
)

// EncrAlg describes one encryption transform (IKEv2 transform type 1).
type EncrAlg struct {
	// ID is the transform ID.
	ID   EncrID
	Name string // IANA name, e.g. ENCR_AES_GCM_16
	// Keyword is the strongSwan keyword stem: for algorithms with a key
	// length attribute the keyword is Keyword+bits+Suffix ("aes"+"256"+"gcm16").
	Keyword string
	// Suffix follows the key length in the canonical keyword.
	Suffix string
	// SuffixAliases are other suffixes strongSwan accepts ("gcm128", "gcm").
	SuffixAliases []string
	// KeyLens are the allowed Key Length attribute values in bits; empty
	// means the transform has no Key Length attribute (RFC 7296 3.3.5).
	KeyLens []uint16
	// BareKeyLen is the key length meant by the bare keyword without
	// digits ("aes" = AES-CBC-128), 0 if the bare keyword is not accepted.
	BareKeyLen uint16
	// AEAD marks combined-mode ciphers, which take no integrity transform.
	AEAD bool
	// Weak is set for algorithms RFC 8221/8247 deprecate; WeakReason says why.
	Weak       bool
	WeakReason string
	// Use says in which protocols the algorithm may appear.
	Use Usage
	// IKEv1Phase1 is the IKEv1 Encryption Algorithm attribute value
	// (RFC 2409 appendix A, RFC 3602); 0 = not defined for IKEv1 phase 1.
	IKEv1Phase1 uint16
	// IKEv1ESP is the IPsec DOI ESP transform ID (RFC 2407 4.4.4); 0 = none.
	IKEv1ESP uint8
}

// PRFAlg describes one pseudorandom function (transform type 2).
type PRFAlg struct {
	// ID is the transform ID.
	ID PRFID
	// Name is the IANA name, e.g. PRF_HMAC_SHA2_256.
	Name    string
	Keyword string // "prfsha256"
	// Weak is set for PRFs RFC 8247 deprecates; WeakReason says why.
	Weak       bool
	WeakReason string
	// IKEv1Hash is the IKEv1 phase-1 Hash Algorithm attribute value whose
	// HMAC is this PRF (RFC 2409 appendix A, RFC 4868); 0 = none.
	IKEv1Hash uint16
}

// IntegAlg describes one integrity transform (transform type 3).
type IntegAlg struct {
	// ID is the transform ID.
	ID IntegID
	// Name is the IANA name, e.g. AUTH_HMAC_SHA2_256_128.
	Name     string
	Keywords []string // canonical first: "sha256", then aliases
	// Weak is set for algorithms RFC 8221/8247 deprecate; WeakReason says
	// why. Use says in which protocols it may appear.
	Weak       bool
	WeakReason string
	Use        Usage
	// PRF is the PRF strongSwan implies for this integrity algorithm in an
	// IKE proposal without an explicit prf keyword.
	PRF PRFID
	// IKEv1Auth is the IPsec DOI Authentication Algorithm attribute value
	// for phase 2 (RFC 2407 4.5, RFC 4868); 0 = none.
	IKEv1Auth uint16
}

// KEAlg describes one key exchange method (transform types 4 and 6..12).
type KEAlg struct {
	// ID is the transform ID.
	ID KEID
	// Name is the IANA name, e.g. ECP_256.
	Name     string
	Keywords []string // canonical first: "curve25519", then "x25519"
	// Weak is set for groups RFC 8247 deprecates; WeakReason says why.
	Weak       bool
	WeakReason string
	// KEM marks post-quantum KEMs, usable only as additional key exchanges
	// in practice (RFC 9370) though the registry allows them in type 4.
	KEM bool
	// IKEv1Group is the IKEv1 Group Description value; 0 = not defined.
	IKEv1Group uint16
}

// ESNAlg describes one sequence number transform (transform type 5).
type ESNAlg struct {
	// ID is the transform ID.
	ID ESNID
	// Name is the IANA name, e.g. ESN.
	Name string
	// Keyword is the strongSwan keyword ("esn", "noesn").
	Keyword string
}

var aesKeyLens = []uint16{128, 192, 256}

// encrTable: RFC 7296 3.3.2, RFC 8221 and RFC 8247 for the weak flags.
var encrTable = []EncrAlg{
	{ID: EncrDES, Name: "ENCR_DES", Keyword: "des", Weak: true, WeakReason: "56-bit key (RFC 8221/8247 MUST NOT)", Use: UseIKE | UseESP, IKEv1Phase1: 1, IKEv1ESP: 2},
	{ID: Encr3DES, Name: "ENCR_3DES", Keyword: "3des", Weak: true, WeakReason: "64-bit block cipher (RFC 8221/8247 SHOULD NOT)", Use: UseIKE | UseESP, IKEv1Phase1: 5, IKEv1ESP: 3},
	// ENCR_NULL gives no confidentiality; RFC 7296 3.3.2 forbids it for IKE.
	{ID: EncrNULL, Name: "ENCR_NULL", Keyword: "null", Use: UseESP, IKEv1ESP: 11},
	{ID: EncrAESCBC, Name: "ENCR_AES_CBC", Keyword: "aes", KeyLens: aesKeyLens, BareKeyLen: 128, Use: UseIKE | UseESP, IKEv1Phase1: 7, IKEv1ESP: 12},
	{ID: EncrAESCTR, Name: "ENCR_AES_CTR", Keyword: "aes", Suffix: "ctr", KeyLens: aesKeyLens, Use: UseIKE | UseESP, IKEv1ESP: 13},
	{ID: EncrAESCCM8, Name: "ENCR_AES_CCM_8", Keyword: "aes", Suffix: "ccm8", SuffixAliases: []string{"ccm64"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 14},
	{ID: EncrAESCCM12, Name: "ENCR_AES_CCM_12", Keyword: "aes", Suffix: "ccm12", SuffixAliases: []string{"ccm96"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 15},
	{ID: EncrAESCCM16, Name: "ENCR_AES_CCM_16", Keyword: "aes", Suffix: "ccm16", SuffixAliases: []string{"ccm128", "ccm"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 16},
	{ID: EncrAESGCM8, Name: "ENCR_AES_GCM_8", Keyword: "aes", Suffix: "gcm8", SuffixAliases: []string{"gcm64"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 18},
	{ID: EncrAESGCM12, Name: "ENCR_AES_GCM_12", Keyword: "aes", Suffix: "gcm12", SuffixAliases: []string{"gcm96"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 19},
	{ID: EncrAESGCM16, Name: "ENCR_AES_GCM_16", Keyword: "aes", Suffix: "gcm16", SuffixAliases: []string{"gcm128", "gcm"}, KeyLens: aesKeyLens, AEAD: true, Use: UseIKE | UseESP, IKEv1ESP: 20},
	// AES-GMAC (RFC 4543) authenticates only; strongSwan parses it as ENCR.
	{ID: EncrNULLAuthAESGMAC, Name: "ENCR_NULL_AUTH_AES_GMAC", Keyword: "aes", Suffix: "gmac", KeyLens: aesKeyLens, AEAD: true, Use: UseESP, IKEv1ESP: 21},
	{ID: EncrCamelliaCBC, Name: "ENCR_CAMELLIA_CBC", Keyword: "camellia", KeyLens: aesKeyLens, BareKeyLen: 128, Use: UseIKE | UseESP, IKEv1Phase1: 8, IKEv1ESP: 22},
	{ID: EncrCamelliaCTR, Name: "ENCR_CAMELLIA_CTR", Keyword: "camellia", Suffix: "ctr", KeyLens: aesKeyLens, Use: UseIKE | UseESP},
	// RFC 7634: no Key Length attribute, the key is always 256 bits.
	{ID: EncrChaCha20Poly1305, Name: "ENCR_CHACHA20_POLY1305", Keyword: "chacha20poly1305", AEAD: true, Use: UseIKE | UseESP},
}

// prfTable: RFC 7296 3.3.2, RFC 4868, RFC 4434, RFC 4615.
var prfTable = []PRFAlg{
	{ID: PRFHMACMD5, Name: "PRF_HMAC_MD5", Keyword: "prfmd5", Weak: true, WeakReason: "MD5 (RFC 8247 MUST NOT)", IKEv1Hash: 1},
	{ID: PRFHMACSHA1, Name: "PRF_HMAC_SHA1", Keyword: "prfsha1", Weak: true, WeakReason: "SHA-1 (RFC 8247 MUST-, being phased out)", IKEv1Hash: 2},
	{ID: PRFAES128XCBC, Name: "PRF_AES128_XCBC", Keyword: "prfaesxcbc"},
	{ID: PRFHMACSHA2256, Name: "PRF_HMAC_SHA2_256", Keyword: "prfsha256", IKEv1Hash: 4},
	{ID: PRFHMACSHA2384, Name: "PRF_HMAC_SHA2_384", Keyword: "prfsha384", IKEv1Hash: 5},
	{ID: PRFHMACSHA2512, Name: "PRF_HMAC_SHA2_512", Keyword: "prfsha512", IKEv1Hash: 6},
	{ID: PRFAES128CMAC, Name: "PRF_AES128_CMAC", Keyword: "prfaescmac"},
}

// integTable: RFC 7296 3.3.2, RFC 4868 (truncated HMAC-SHA2), RFC 3566,
// RFC 4494, RFC 4595.
var integTable = []IntegAlg{
	{ID: IntegHMACMD596, Name: "AUTH_HMAC_MD5_96", Keywords: []string{"md5"}, Weak: true, WeakReason: "MD5 (RFC 8221/8247 MUST NOT)", Use: UseIKE | UseESP, PRF: PRFHMACMD5, IKEv1Auth: 1},
	{ID: IntegHMACSHA196, Name: "AUTH_HMAC_SHA1_96", Keywords: []string{"sha1", "sha"}, Weak: true, WeakReason: "SHA-1 (RFC 8221/8247 MUST-, being phased out)", Use: UseIKE | UseESP, PRF: PRFHMACSHA1, IKEv1Auth: 2},
	{ID: IntegAESXCBC96, Name: "AUTH_AES_XCBC_96", Keywords: []string{"aesxcbc"}, Use: UseIKE | UseESP, PRF: PRFAES128XCBC, IKEv1Auth: 9},
	{ID: IntegHMACMD5128, Name: "AUTH_HMAC_MD5_128", Keywords: []string{"md5_128"}, Weak: true, WeakReason: "MD5 (RFC 8221/8247 MUST NOT)", Use: UseIKE | UseESP, PRF: PRFHMACMD5},
	{ID: IntegHMACSHA1160, Name: "AUTH_HMAC_SHA1_160", Keywords: []string{"sha1_160"}, Weak: true, WeakReason: "SHA-1 (RFC 8247 being phased out)", Use: UseIKE | UseESP, PRF: PRFHMACSHA1},
	{ID: IntegAESCMAC96, Name: "AUTH_AES_CMAC_96", Keywords: []string{"aescmac"}, Use: UseIKE | UseESP, PRF: PRFAES128CMAC},
	{ID: IntegHMACSHA2256128, Name: "AUTH_HMAC_SHA2_256_128", Keywords: []string{"sha256", "sha2_256"}, Use: UseIKE | UseESP, PRF: PRFHMACSHA2256, IKEv1Auth: 5},
	{ID: IntegHMACSHA2384192, Name: "AUTH_HMAC_SHA2_384_192", Keywords: []string{"sha384", "sha2_384"}, Use: UseIKE | UseESP, PRF: PRFHMACSHA2384, IKEv1Auth: 6},
	{ID: IntegHMACSHA2512256, Name: "AUTH_HMAC_SHA2_512_256", Keywords: []string{"sha512", "sha2_512"}, Use: UseIKE | UseESP, PRF: PRFHMACSHA2512, IKEv1Auth: 7},
}

const weakMODP = "MODP group below 2048 bits (RFC 8247 SHOULD NOT / MUST NOT)"
const weak5114 = "RFC 5114 group of questionable origin (RFC 8247 SHOULD NOT)"

// keTable: RFC 7296 3.3.2, RFC 3526, RFC 5114, RFC 5903, RFC 6954 (brainpool),
// RFC 8031, RFC 9370 and draft-ietf-ipsecme-ikev2-mlkem.
var keTable = []KEAlg{
	// NONE only means "no (additional) key exchange" in ESP and ADDKE
	// transforms; strongSwan spells it modpnone or none.
	{ID: KENone, Name: "NONE", Keywords: []string{"modpnone", "none"}},
	{ID: KEMODP768, Name: "MODP_768", Keywords: []string{"modp768"}, Weak: true, WeakReason: weakMODP, IKEv1Group: 1},
	{ID: KEMODP1024, Name: "MODP_1024", Keywords: []string{"modp1024"}, Weak: true, WeakReason: weakMODP, IKEv1Group: 2},
	{ID: KEMODP1536, Name: "MODP_1536", Keywords: []string{"modp1536"}, Weak: true, WeakReason: weakMODP, IKEv1Group: 5},
	{ID: KEMODP2048, Name: "MODP_2048", Keywords: []string{"modp2048"}, IKEv1Group: 14},
	{ID: KEMODP3072, Name: "MODP_3072", Keywords: []string{"modp3072"}, IKEv1Group: 15},
	{ID: KEMODP4096, Name: "MODP_4096", Keywords: []string{"modp4096"}, IKEv1Group: 16},
	{ID: KEMODP6144, Name: "MODP_6144", Keywords: []string{"modp6144"}, IKEv1Group: 17},
	{ID: KEMODP8192, Name: "MODP_8192", Keywords: []string{"modp8192"}, IKEv1Group: 18},
	{ID: KEECP256, Name: "ECP_256", Keywords: []string{"ecp256"}, IKEv1Group: 19},
	{ID: KEECP384, Name: "ECP_384", Keywords: []string{"ecp384"}, IKEv1Group: 20},
	{ID: KEECP521, Name: "ECP_521", Keywords: []string{"ecp521"}, IKEv1Group: 21},
	{ID: KEMODP1024S160, Name: "MODP_1024_160", Keywords: []string{"modp1024s160"}, Weak: true, WeakReason: weak5114, IKEv1Group: 22},
	{ID: KEMODP2048S224, Name: "MODP_2048_224", Keywords: []string{"modp2048s224"}, Weak: true, WeakReason: weak5114, IKEv1Group: 23},
	{ID: KEMODP2048S256, Name: "MODP_2048_256", Keywords: []string{"modp2048s256"}, Weak: true, WeakReason: weak5114, IKEv1Group: 24},
	{ID: KEECP192, Name: "ECP_192", Keywords: []string{"ecp192"}, Weak: true, WeakReason: "96-bit security (RFC 8247 SHOULD NOT)", IKEv1Group: 25},
	{ID: KEECP224, Name: "ECP_224", Keywords: []string{"ecp224"}, Weak: true, WeakReason: "112-bit security", IKEv1Group: 26},
	{ID: KEBrainpool224, Name: "ECP_224_BP", Keywords: []string{"ecp224bp"}, Weak: true, WeakReason: "112-bit security", IKEv1Group: 27},
	{ID: KEBrainpool256, Name: "ECP_256_BP", Keywords: []string{"ecp256bp"}, IKEv1Group: 28},
	{ID: KEBrainpool384, Name: "ECP_384_BP", Keywords: []string{"ecp384bp"}, IKEv1Group: 29},
	{ID: KEBrainpool512, Name: "ECP_512_BP", Keywords: []string{"ecp512bp"}, IKEv1Group: 30},
	{ID: KECurve25519, Name: "CURVE_25519", Keywords: []string{"curve25519", "x25519"}},
	{ID: KECurve448, Name: "CURVE_448", Keywords: []string{"curve448", "x448"}},
	{ID: KEMLKEM512, Name: "ML_KEM_512", Keywords: []string{"mlkem512"}, KEM: true},
	{ID: KEMLKEM768, Name: "ML_KEM_768", Keywords: []string{"mlkem768"}, KEM: true},
	{ID: KEMLKEM1024, Name: "ML_KEM_1024", Keywords: []string{"mlkem1024"}, KEM: true},
}

// esnTable: RFC 7296 3.3.2 (transform type 5).
var esnTable = []ESNAlg{
	{ID: ESNNone, Name: "NO_EXT_SEQ", Keyword: "noesn"},
	{ID: ESNOn, Name: "EXT_SEQ", Keyword: "esn"},
}

// Names of registered IDs this package does not implement, so String still
// prints the IANA name of whatever a peer sends.
var (
	encrNames = map[EncrID]string{
		EncrDESIV64: "ENCR_DES_IV64", EncrRC5: "ENCR_RC5", EncrIDEA: "ENCR_IDEA",
		EncrCAST: "ENCR_CAST", EncrBlowfish: "ENCR_BLOWFISH", Encr3IDEA: "ENCR_3IDEA",
		EncrDESIV32: "ENCR_DES_IV32", EncrCamelliaCCM8: "ENCR_CAMELLIA_CCM_8",
		EncrCamelliaCCM12: "ENCR_CAMELLIA_CCM_12", EncrCamelliaCCM16: "ENCR_CAMELLIA_CCM_16",
		EncrAESCCM8IIV: "ENCR_AES_CCM_8_IIV", EncrAESGCM16IIV: "ENCR_AES_GCM_16_IIV",
		EncrChaCha20Poly1305IIV: "ENCR_CHACHA20_POLY1305_IIV",
	}
	prfNames   = map[PRFID]string{PRFHMACTiger: "PRF_HMAC_TIGER"}
	integNames = map[IntegID]string{
		IntegNone: "NONE", IntegDESMAC: "AUTH_DES_MAC", IntegKPDKMD5: "AUTH_KPDK_MD5",
		IntegAES128GMAC: "AUTH_AES_128_GMAC", IntegAES192GMAC: "AUTH_AES_192_GMAC",
		IntegAES256GMAC: "AUTH_AES_256_GMAC",
	}
	keNames = map[KEID]string{KEGOST256: "GOST3410_256", KEGOST512: "GOST3410_512"}
)

var typeNames = map[TransformType]string{
	TypeENCR: "ENCR", TypePRF: "PRF", TypeINTEG: "INTEG", TypeKE: "KE", TypeESN: "ESN",
	TypeADDKE1: "ADDKE1", TypeADDKE2: "ADDKE2", TypeADDKE3: "ADDKE3", TypeADDKE4: "ADDKE4",
	TypeADDKE5: "ADDKE5", TypeADDKE6: "ADDKE6", TypeADDKE7: "ADDKE7",
}

// Lookup indexes built once from the tables. They are initialized by
// expressions (not init) so that package-level variables such as the
// client profiles, which parse keywords, see them ready.
var (
	encrByID  = index(encrTable, func(a *EncrAlg) EncrID { return a.ID })
	prfByID   = index(prfTable, func(a *PRFAlg) PRFID { return a.ID })
	integByID = index(integTable, func(a *IntegAlg) IntegID { return a.ID })
	keByID    = index(keTable, func(a *KEAlg) KEID { return a.ID })
	esnByID   = index(esnTable, func(a *ESNAlg) ESNID { return a.ID })
)

func index[T any, K comparable](table []T, key func(*T) K) map[K]*T {
	m := make(map[K]*T, len(table))
	for i := range table {
		m[key(&table[i])] = &table[i]
	}
	return m
}

func unknownName(prefix string, v uint16) string {
	return prefix + "(" + strconv.Itoa(int(v)) + ")"
}

// String returns the transform type name, e.g. "KE" or "ADDKE1".
func (t TransformType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return unknownName("TRANSFORM_TYPE", uint16(t))
}

// String returns "IKE", "AH" or "ESP".
func (p Protocol) String() string {
	switch p {
	case ProtoIKE:
		return "IKE"
	case ProtoAH:
		return "AH"
	case ProtoESP:
		return "ESP"
	}
	return unknownName("PROTO", uint16(p))
}

// String returns the IANA name, e.g. "ENCR_AES_GCM_16", or "ENCR(99)".
func (id EncrID) String() string {
	if a, ok := encrByID[id]; ok {
		return a.Name
	}
	if n, ok := encrNames[id]; ok {
		return n
	}
	return unknownName("ENCR", uint16(id))
}

// String returns the IANA name, e.g. "PRF_HMAC_SHA2_256", or "PRF(99)".
func (id PRFID) String() string {
	if a, ok := prfByID[id]; ok {
		return a.Name
	}
	if n, ok := prfNames[id]; ok {
		return n
	}
	return unknownName("PRF", uint16(id))
}

// String returns the IANA name, e.g. "AUTH_HMAC_SHA2_256_128", or "INTEG(99)".
func (id IntegID) String() string {
	if a, ok := integByID[id]; ok {
		return a.Name
	}
	if n, ok := integNames[id]; ok {
		return n
	}
	return unknownName("INTEG", uint16(id))
}

// String returns the method name, e.g. "MODP_2048", "CURVE_25519", or "KE(99)".
func (id KEID) String() string {
	if a, ok := keByID[id]; ok {
		return a.Name
	}
	if n, ok := keNames[id]; ok {
		return n
	}
	return unknownName("KE", uint16(id))
}

// String returns "NO_EXT_SEQ", "EXT_SEQ" or "ESN(99)".
func (id ESNID) String() string {
	if a, ok := esnByID[id]; ok {
		return a.Name
	}
	return unknownName("ESN", uint16(id))
}

// LookupEncr returns the table entry of a supported encryption algorithm.
func LookupEncr(id EncrID) (EncrAlg, bool) {
	if a, ok := encrByID[id]; ok {
		return *a, true
	}
	return EncrAlg{}, false
}

// LookupPRF returns the table entry of a supported PRF.
func LookupPRF(id PRFID) (PRFAlg, bool) {
	if a, ok := prfByID[id]; ok {
		return *a, true
	}
	return PRFAlg{}, false
}

// LookupInteg returns the table entry of a supported integrity algorithm.
func LookupInteg(id IntegID) (IntegAlg, bool) {
	if a, ok := integByID[id]; ok {
		return *a, true
	}
	return IntegAlg{}, false
}

// LookupKE returns the table entry of a supported key exchange method.
func LookupKE(id KEID) (KEAlg, bool) {
	if a, ok := keByID[id]; ok {
		return *a, true
	}
	return KEAlg{}, false
}

// EncrAlgs returns a copy of the encryption table in table order.
func EncrAlgs() []EncrAlg { return append([]EncrAlg(nil), encrTable...) }

// PRFAlgs returns a copy of the PRF table.
func PRFAlgs() []PRFAlg { return append([]PRFAlg(nil), prfTable...) }

// IntegAlgs returns a copy of the integrity table.
func IntegAlgs() []IntegAlg { return append([]IntegAlg(nil), integTable...) }

// KEAlgs returns a copy of the key exchange table.
func KEAlgs() []KEAlg { return append([]KEAlg(nil), keTable...) }

// IsAEAD reports whether id is a combined-mode cipher that needs no
// integrity transform (RFC 5282).
func (id EncrID) IsAEAD() bool {
	a, ok := encrByID[id]
	return ok && a.AEAD
}

// ValidKeyLen reports whether keyLen (bits, 0 = attribute absent) is valid
// for id according to the table. Unsupported IDs are never valid.
func (id EncrID) ValidKeyLen(keyLen uint16) bool {
	a, ok := encrByID[id]
	if !ok {
		return false
	}
	if len(a.KeyLens) == 0 {
		return keyLen == 0
	}
	for _, k := range a.KeyLens {
		if k == keyLen {
			return true
		}
	}
	return false
}
