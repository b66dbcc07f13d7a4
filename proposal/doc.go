// Package proposal holds the IANA transform registries of IKEv2 and ESP, the
// strongSwan-style proposal keywords ("aes256gcm16-prfsha384-ecp384"),
// RFC 7296 section 2.7 proposal selection with an explanation of every
// mismatch, and the stock proposals of the native VPN clients.
//
// # Registries
//
// registry.go has one table per IANA registry (ENCR, PRF, INTEG, KE, ESN),
// one keyed struct literal per algorithm: IANA number and name, strongSwan
// keyword(s), allowed key lengths, AEAD and weak flags, where it may be used,
// and the IKEv1 values it maps to. String on every ID type prints the IANA
// name ("ENCR_AES_GCM_16", "MODP_2048"), unknown values print as "ENCR(99)".
//
// # Keywords
//
// Parse and String speak strongSwan's proposal syntax, with strongSwan's
// semantics, because operators copy their swanctl.conf strings: in an IKE
// proposal an integrity keyword also adds the PRF of the same hash unless a
// prf keyword is given; AEAD-only IKE proposals need a prf keyword (or an
// integrity keyword, which then contributes only its PRF); "modpnone" makes
// the KE optional in ESP and is dropped from IKE; ESP gets "noesn" by
// default; "ke1_mlkem768" is an RFC 9370 additional key exchange. Where
// strongSwan silently drops text (a PRF in ESP, ENCR_NULL in IKE) Parse
// returns a *ParseError instead. See keywords.go for the full list.
//
// # Selection
//
// Select implements RFC 7296 section 2.7 with strongSwan's rules for
// optional key exchanges; SelectOptions prefer the peer's order, skip KE for
// the CHILD SA in IKE_AUTH, or promote the group of the peer's KE payload.
// A failure is a *MismatchError (errors.Is ErrNoMatch) whose Explain lists
// both sides in strongSwan's log form, the transform types without overlap
// per pair, the client profile the peer matches and hints such as "enable
// modp1024 in the ike proposal". The analysis is lazy and bounded, so a
// flood of hostile proposals costs nothing unless it is logged.
//
// # Profiles and defaults
//
// profiles.go holds what iOS, macOS, Windows (default, GCM via PowerShell,
// the DH2048 registry key), Android strongSwan, Linux NetworkManager and
// iOS/macOS IKEv1 racoon send, including their CHILD rekey proposals.
// defaults.go offers a strict set and a compatible set that adds one
// clearly labelled weak proposal per client that needs it; a proposal
// negotiated from it reports its weak transforms through Weak so engines
// can log them. Lint warns about proposals Windows would truncate (it reads
// only 15 transforms per type).
//
// # IKEv1
//
// ikev1.go converts proposals to and from IKEv1 phase-1 attributes and IPsec
// DOI ESP transforms for the IKEv1 engine.
package proposal
