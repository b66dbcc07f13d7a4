package main

import "os"

// The operator's first command: does an iPhone get in with my gateway's
// proposals?
func Example() {
	run([]string{"-local", "aes256gcm16-prfsha256-ecp256, aes256-sha256-modp2048", "-peer", "ios"}, os.Stdout, os.Stderr)
	// Output:
	// peer: profile ios: iOS 16/17 built-in IKEv2, manual configuration in Settings (IKEv2)
	// chosen: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048 (peer proposal 1)
	// keywords: aes256-sha256-modp2048
}
