// Package wire is the IKEv2 message codec (RFC 7296 section 3, RFC 7383
// fragmentation, RFC 9242 IKE_INTERMEDIATE, RFC 9370 IKE_FOLLOWUP_KE).
//
// Parse decodes a message into typed payload structs whose byte fields
// alias the input; Message.Append encodes one into a caller buffer,
// back-patching Next Payload and length fields, without allocating when
// the buffer is large enough. The codec checks syntax only: which payloads
// an exchange needs is the engine's business (DESIGN.md section 4).
//
// Encrypted payloads go through the small Crypter interface, which
// internal/alg's Crypter satisfies, so this package imports nothing above
// internal/isakmp:
//
//	m, err := wire.Parse(pkt)            // SK stays encrypted
//	buf, err = m.Open(crypter, buf[:0])  // verify, decrypt, parse inner chain
//	out, err := reply.AppendSealed(out[:0], crypter, rand)
//	frags, err := reply.AppendFragments(nil, crypter, rand, wire.FragmentSize(1280, true, true))
//
// SKF fragments are opened one by one and collected by a Reassembler;
// ParsePayloads decodes the reassembled inner chain.
//
// Unknown payload types are kept as *Unknown; an unknown payload marked
// critical makes Parse fail with *CriticalPayloadError, which the engine
// answers with UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 section 2.5).
// Errors in the encoding are *ParseError values with the absolute offset,
// the payload type and a reason.
//
// Choices where the RFC leaves room, and why:
//   - The critical bit and reserved bits of known payloads are ignored on
//     receipt and written as zero (RFC 7296 sections 2.5, 3.2), so a
//     message that sets them re-encodes differently; everything else
//     re-encodes byte for byte.
//   - Proposal and transform "last substructure" values other than 0/2
//     and 0/3 are rejected, as are transform counts that disagree with the
//     encoding: such a proposal cannot be interpreted unambiguously.
//   - SKF fragments: unencrypted payloads preceding SK travel in fragment
//     1 only; the AAD of each fragment covers the IKE header and the SKF
//     header including Fragment Number and Total Fragments (RFC 7383 2.5;
//     strongSwan does the same). A non-zero Next Payload in fragments
//     after the first is ignored, as strongSwan does. The Reassembler
//     reports fragments of the message it completed last with
//     ErrFragmentOfCompleted so the engine can resend its response.
//   - Summary uses strongSwan's abbreviations, including "E" for a still
//     encrypted SK payload and "EF(n/total)" for a fragment.
//   - Key exchange method names are the identifier forms (MODP_2048,
//     ECP_256, CURVE_25519, ML_KEM_768) because the IANA registry names
//     groups in prose.
package wire
