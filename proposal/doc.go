// Package proposal holds the IANA transform registries of IKEv2 and ESP, the
// strongSwan-style proposal keywords ("aes256gcm16-prfsha384-ecp384"),
// RFC 7296 section 2.7 proposal selection with an explanation of every
// mismatch, and the stock proposals of the native VPN clients.
package proposal
