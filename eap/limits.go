package eap

// Defaults for the limits in ServerConfig and PeerConfig. A conversation
// is bounded in rounds and every buffer in size, so a hostile peer cannot
// keep a session or its memory alive.
const (
	// DefaultMaxRounds bounds the requests of one conversation. EAP-TLS
	// with a 16 KiB certificate chain in 1000-octet fragments needs about
	// 25; password methods need 4.
	DefaultMaxRounds = 64
	// DefaultTLSFragmentSize is the TLS data per EAP-TLS packet. It keeps
	// an IKE_AUTH message carrying it below a 1280-octet IPv6 MTU path, so
	// neither IKE nor IP fragmentation is needed (RFC 5216 section 2.1.5
	// leaves the size to the implementation).
	DefaultTLSFragmentSize = 1000
	// DefaultTLSMaxMessage bounds a reassembled EAP-TLS message (the TLS
	// Message Length of RFC 5216 section 3.1); 64 KiB is far above real
	// certificate chains.
	DefaultTLSMaxMessage = 64 << 10
	// MaxIdentityLen bounds an EAP identity. RFC 3748 sets no limit;
	// 253 is what RADIUS can carry in User-Name (RFC 2865 section 5.1),
	// where the identity ends up when a remote backend is used.
	MaxIdentityLen = 253
	// maxPasswordLen bounds a GTC password; MSCHAPv2 limits passwords to
	// 256 Unicode characters (RFC 2759 section 8.3 "Password").
	maxPasswordLen = 256 * 4
)
