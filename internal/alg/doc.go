// Package alg maps transform IDs of the proposal package to working
// cryptographic primitives: AEADs and ciphers with integrity (Crypter),
// pseudorandom functions and key exchange methods.
package alg
