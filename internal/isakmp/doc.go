// Package isakmp holds the parts of the ISAKMP wire format that IKEv1
// (RFC 2408/2409) and IKEv2 (RFC 7296) share, so that both codecs
// (ike/wire and ikev1/wire) use one audited implementation:
//
//   - Header: the fixed 28-byte message header. Both versions use the same
//     layout; only the meaning of the flag bits differs, so Header keeps the
//     raw flags byte and leaves interpretation to the version's codec.
//   - Reader: a bounds-checked byte cursor whose failures carry the absolute
//     message offset, so errors point at the faulty byte.
//   - Walk / Chain: the generic payload chain (Next Payload, Critical,
//     Payload Length). Which payload types end the chain (IKEv2 SK/SKF,
//     whose Next Payload field names the first inner payload) is knowledge
//     the caller passes in, because it differs between the versions.
//   - Builder: an append-style encoder that back-patches Next Payload and
//     length fields, allocating nothing when the caller's buffer is large
//     enough.
//
// The package neither logs nor knows SA state, and imports only the
// standard library (DESIGN.md section 1).
package isakmp
