// Package kdf derives IKE and IPsec keys from key exchange results:
//
//   - IKEv2 (RFC 7296): prf+ (section 2.13), SKEYSEED and SK_d, SK_ai,
//     SK_ar, SK_ei, SK_er, SK_pi, SK_pr (2.14), CHILD SA KEYMAT with and
//     without PFS (2.17), rekeyed SKEYSEED (2.18) and the RFC 9370 forms
//     for additional key exchanges (IKE_INTERMEDIATE / IKE_FOLLOWUP_KE and
//     CREATE_CHILD_SA with several KE payloads), and the IKE_INTERMEDIATE
//     IntAuth chain of RFC 9242 section 3.3.2.
//   - IKEv1 (RFC 2409): SKEYID for signature, pre-shared key and public
//     key encryption authentication, SKEYID_d/_a/_e (section 5), the
//     encryption key expansion of Appendix B, Quick Mode KEYMAT with and
//     without PFS (5.5) and the Phase 1/Phase 2 CBC IVs (Appendix B).
//
// The pseudorandom function is an alg.PRF. Derived secrets are of type
// Key, which formats as "[redacted N bytes]" under every fmt verb so that
// a stray log line cannot leak them; pass them on as []byte.
package kdf
