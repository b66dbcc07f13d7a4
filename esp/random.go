package esp

import "crypto/rand"

// fillRandom fills b from the operating system's CSPRNG; crypto/rand.Read
// never fails on supported platforms (Go 1.24+ crashes the program instead
// of returning weak randomness).
func fillRandom(b []byte) { _, _ = rand.Read(b) }
