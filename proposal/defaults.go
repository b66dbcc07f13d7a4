package proposal

// Default proposal sets for a gateway (responder) and, with the same
// reasoning, an initiator. Two sets:
//
//   - Strict: nothing RFC 8221/8247 deprecate (no MODP-1024/1536, no 3DES/DES,
//     no MD5, no SHA-1). It accepts iOS, macOS, Android, Linux NM, Windows
//     with the PowerShell GCM settings or the NegotiateDH2048_AES256
//     registry key (IKE only: their ESP needs SHA-1, see Compatible), and
//     rejects Windows 10/11 defaults (MODP-1024 only) and IKEv1 racoon.
//   - Compatible: Strict first, then one extra proposal per weak need,
//     each named after the client profile that needs it, so the weak
//     transform can only be chosen when nothing strong matches. Engines
//     log the chosen proposal's Weak() lines.
//
// Order inside a proposal is our preference (Select prefers ours):
// AES-256-GCM before ChaCha20-Poly1305 (AES-NI gateways) before AES-128;
// SHA-256 before SHA-384/512 (what the clients send first, so no cost);
// Curve25519 and ECP-256 before ECP-384 and MODP-3072/2048 (fastest at
// >= 128-bit security). The engine passes the group of the peer's KE payload
// as SelectOptions.PreferKE, so any acceptable group the client already
// used wins over this order and no INVALID_KE_PAYLOAD round trip happens.
// HybridIKE holds post-quantum hybrid proposals (a classic key exchange
// plus ML-KEM in IKE_INTERMEDIATE, RFC 9242 and RFC 9370), for gateways to
// accept before the classic ones and for initiators that ask for them; a
// peer without IKE_INTERMEDIATE never matches them (it offers no
// additional key exchange), so listing them first changes nothing for it.

const (
	// RFC 8247 MUST/SHOULD+ AEAD for IKE; PRF SHA-2 (RFC 8247 2.2).
	strictIKEAEAD = "aes256gcm16-chacha20poly1305-aes128gcm16-prfsha256-prfsha384-prfsha512-curve25519-ecp256-ecp384-modp3072-modp2048"
	// Classic CBC + HMAC-SHA-2 for iOS/macOS (AES_CBC_256/SHA2_256/MODP_2048),
	// Windows with the registry key (AES-256/MODP-2048) and strongSwan clients.
	strictIKEClassic = "aes256-aes128-sha256-sha384-sha512-curve25519-ecp256-ecp384-modp3072-modp2048"
	// ESP: KE listed for PFS on rekey, made optional with modpnone because
	// macOS and Windows (without -PfsGroup) rekey without KE while iOS and
	// Windows with -PfsGroup send one (strongSwan interop/ios.adoc).
	strictESPAEAD    = "aes256gcm16-chacha20poly1305-aes128gcm16-curve25519-ecp256-ecp384-modp3072-modp2048-modpnone"
	strictESPClassic = "aes256-aes128-sha256-sha384-sha512-curve25519-ecp256-ecp384-modp3072-modp2048-modpnone"

	// Windows 10/11 defaults offer only MODP_1024 (profile "windows",
	// "windows11"); AES-256 with SHA-256 is the best of their 12 proposals,
	// and listing only AES-256 keeps Select from stopping at their AES-128 one.
	compatIKEWindows = "aes256-sha256-sha384-modp1024"
	// iOS/macOS IKEv1 racoon phase 1 hashes only with SHA-1 or MD5 and uses
	// DH group 2 (profiles "ios-ikev1", "ios-ikev1-cert"); SHA-1 over MD5.
	compatIKERacoon = "aes256-aes128-sha1-modp1024"
	// Windows default ESP (profiles "windows", "windows11", "windows-dh2048")
	// and racoon Quick Mode offer HMAC-SHA1-96 only.
	compatESPSHA1 = "aes256-aes128-sha1-curve25519-ecp256-ecp384-modp3072-modp2048-modpnone"

	// X25519 (or ECP-256/384) and then ML-KEM-768 or -1024 (strongSwan 6's
	// "x25519-ke1_mlkem768" and the like); AEAD and PRF as strictIKEAEAD.
	hybridIKE = "aes256gcm16-chacha20poly1305-aes128gcm16-prfsha256-prfsha384-prfsha512-curve25519-ecp256-ecp384-ke1_mlkem768-ke1_mlkem1024"
)

// StrictIKE returns the strict default IKE proposals, nothing RFC 8221 or
// RFC 8247 deprecate: AES-GCM, ChaCha20-Poly1305, and AES-CBC with
// HMAC-SHA-2; PRF SHA-2; Curve25519, ECP-256, ECP-384, MODP-3072 and
// MODP-2048. They accept iOS, macOS, Android, Linux NetworkManager and
// Windows with the PowerShell GCM settings or the NegotiateDH2048_AES256
// registry key, and refuse the Windows 10/11 defaults (MODP-1024 only) and
// IKEv1 racoon (use CompatibleIKE for those).
func StrictIKE() List { return mustParse(strictIKEAEAD+", "+strictIKEClassic, ProtoIKE) }

// StrictESP returns the strict default ESP proposals.
func StrictESP() List { return mustParse(strictESPAEAD+", "+strictESPClassic, ProtoESP) }

// HybridIKE returns the post-quantum hybrid IKE proposal: AES-GCM or
// ChaCha20-Poly1305, PRF SHA-2, Curve25519, ECP-256 or ECP-384, and as the
// first additional key exchange (ADDKE1) ML-KEM-768 or ML-KEM-1024. It
// needs IKE_INTERMEDIATE; put it before the classic proposals (e.g.
// append(HybridIKE(), CompatibleIKE()...)).
func HybridIKE() List { return mustParse(hybridIKE, ProtoIKE) }

// CompatibleIKE returns the strict IKE proposals followed by the weak
// proposals the Windows default and IKEv1 racoon profiles need.
func CompatibleIKE() List {
	return mustParse(strictIKEAEAD+", "+strictIKEClassic+", "+compatIKEWindows+", "+compatIKERacoon, ProtoIKE)
}

// CompatibleESP returns the strict ESP proposals followed by an
// HMAC-SHA1-96 proposal for Windows defaults and IKEv1 racoon.
func CompatibleESP() List {
	return mustParse(strictESPAEAD+", "+strictESPClassic+", "+compatESPSHA1, ProtoESP)
}
