// Command proposalcheck tells an operator whether a VPN client's proposals
// match the gateway's, and if not, why and what to change. It is the tool
// to reach for when a phone says "negotiation failed" and the gateway logs
// NO_PROPOSAL_CHOSEN.
//
//	go run ./examples/proposalcheck -peer windows
//	go run ./examples/proposalcheck -local "aes256-sha256-ecp256" -peer ios
//	go run ./examples/proposalcheck -proto esp -rekey -local "aes256-sha256-modp2048" -peer macos
//	go run ./examples/proposalcheck -local "aes256gcm16-prfsha256-ecp256" -peer "aes256-sha1-modp1024, aes128-sha1-modp1024"
//	go run ./examples/proposalcheck -list
//
// -local takes strongSwan proposal strings (comma separated); without it
// the library's compatible defaults are used (-set strict for the strict
// ones). -peer takes proposal strings or a client profile name (see -list).
// For -proto esp the peer's IKE_AUTH proposals are checked with KE ignored,
// as RFC 7296 section 1.2 has it; -rekey checks the CREATE_CHILD_SA rekey
// proposals instead, where KE means PFS. The exit status is 0 when a
// proposal is chosen, 1 on NO_PROPOSAL_CHOSEN and 2 on bad usage.
package main
