package ipsec

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Secret holds key material, a pre-shared key or a password. Its String,
// Format, MarshalText and slog LogValue methods never reveal the bytes, so a
// Secret that slips into a log line or an error prints as "<redacted>".
type Secret []byte

const redacted = "<redacted>"

// String returns "<redacted>".
func (Secret) String() string { return redacted }

// GoString returns "<redacted>" for %#v.
func (Secret) GoString() string { return redacted }

// Format prints "<redacted>" whatever the verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps slog from printing the bytes.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders (JSON, YAML) from writing the bytes.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Equal compares two secrets in constant time (for equal lengths).
func (s Secret) Equal(o Secret) bool { return subtle.ConstantTimeCompare(s, o) == 1 }
