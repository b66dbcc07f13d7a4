package l2tp

import "time"

// Defaults and bounds, with the reasons.
const (
	// DefaultHostName is our Host Name AVP when Config.HostName is empty.
	DefaultHostName = "goipsec"
	// defaultReceiveWindow: Windows announces 8, Apple 4, Android 1; 8
	// queued control messages per tunnel is cheap.
	defaultReceiveWindow = 8
	// defaultPeerWindow: RFC 2661 section 4.4.3, an absent Receive Window
	// Size AVP means 4.
	defaultPeerWindow = 4
	// defaultHello: RFC 2661 section 6.5 leaves the interval open; 60 s
	// is what xl2tpd uses and stays under common NAT UDP timeouts
	// together with IPsec's own keepalives.
	defaultHello = 60 * time.Second
	// defaultRTO and maxRTO: RFC 2661 section 5.8 recommends 1 s doubling
	// and a cap of no less than 8 s.
	defaultRTO = time.Second
	maxRTO     = 8 * time.Second
	// defaultMaxRetransmits: RFC 2661 section 5.8 recommends 5.
	defaultMaxRetransmits = 5
	// defaultMaxTunnels and defaultMaxSessions bound memory against SCCRQ
	// floods; one client uses one tunnel with one session.
	defaultMaxTunnels  = 1024
	defaultMaxSessions = 1024
	// defaultTunnelsPerPeer: a client uses one tunnel; 16 leaves room
	// for several clients behind one NAT on the kernel data plane (where
	// Key is 0) and for a client reconnecting before its old tunnel
	// timed out.
	defaultTunnelsPerPeer = 16
	// defaultSessionsPerTunnel: real clients open one session.
	defaultSessionsPerTunnel = 8
	// defaultHalfOpen bounds a tunnel waiting for SCCCN or a session for
	// ICCN.
	defaultHalfOpen = 30 * time.Second
	// maxIDs: tunnel and session IDs are 16 bits; keeping the tables at
	// most half full keeps random allocation cheap.
	maxIDs = 32768
	// maxPending bounds control messages waiting for the peer's window.
	maxPending = 32
	// maxFrame bounds a PPP frame we send (UDP payload minus headers).
	maxFrame = 65535 - 8 - 16
)

// withDefaults returns cfg with zero fields set to their defaults.
func withDefaults(cfg Config) Config {
	if cfg.HostName == "" {
		cfg.HostName = DefaultHostName
	}
	if cfg.ReceiveWindow == 0 {
		cfg.ReceiveWindow = defaultReceiveWindow
	}
	if cfg.HelloInterval == 0 {
		cfg.HelloInterval = defaultHello
	}
	if cfg.RetransmitTimeout == 0 {
		cfg.RetransmitTimeout = defaultRTO
	}
	if cfg.MaxRetransmits == 0 {
		cfg.MaxRetransmits = defaultMaxRetransmits
	}
	if cfg.MaxTunnels == 0 {
		cfg.MaxTunnels = defaultMaxTunnels
	}
	if cfg.MaxTunnelsPerPeer == 0 {
		cfg.MaxTunnelsPerPeer = defaultTunnelsPerPeer
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = defaultMaxSessions
	}
	if cfg.MaxSessionsPerTunnel == 0 {
		cfg.MaxSessionsPerTunnel = defaultSessionsPerTunnel
	}
	if cfg.HalfOpenTimeout == 0 {
		cfg.HalfOpenTimeout = defaultHalfOpen
	}
	return cfg
}
