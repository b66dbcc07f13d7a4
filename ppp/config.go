package ppp

import (
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
)

// Link carries PPP frames to the client. *l2tp.Session satisfies it.
type Link interface {
	// WriteFrame sends one PPP frame that starts at the protocol field.
	// The frame must not be retained after the call returns. It is
	// called from several goroutines (the caller of HandleFrame, WriteIP's
	// callers, the session's timers), never with the session's lock held.
	//
	// When the session ends by itself (the client terminated, failed to
	// authenticate or stopped answering echoes) and the Link also has a
	// Close() method, that is called once from a new goroutine, so the
	// L2TP session can send its CDN.
	WriteFrame(frame []byte) error
}

// AuthProtocol is an authentication protocol the server may ask for in the
// LCP Authentication-Protocol option.
type AuthProtocol uint8

// The authentication protocols.
const (
	// AuthMSCHAPv2 is Microsoft CHAP version 2 (RFC 2759), CHAP algorithm 0x81.
	AuthMSCHAPv2 AuthProtocol = iota + 1
	// AuthCHAPMD5 is CHAP with MD5 (RFC 1994), algorithm 5.
	AuthCHAPMD5
	// AuthPAP is the Password Authentication Protocol (RFC 1334): the
	// password travels in clear inside the (encrypted) tunnel.
	AuthPAP
)

// String returns the protocol's usual name.
func (a AuthProtocol) String() string {
	switch a {
	case AuthMSCHAPv2:
		return "MS-CHAPv2"
	case AuthCHAPMD5:
		return "CHAP-MD5"
	case AuthPAP:
		return "PAP"
	}
	return "auth(" + itoa(int(a)) + ")"
}

// Defaults, chosen like pppd's where pppd has one.
const (
	// DefaultMRU fits a PPP frame into L2TP over UDP over ESP on a 1500-byte
	// path (the value Android and NetworkManager configure).
	DefaultMRU = 1400
	// DefaultEchoInterval is how often an LCP Echo-Request probes the
	// client once the link is up (pppd's lcp-echo-interval in typical
	// server configurations).
	DefaultEchoInterval = 30 * time.Second
	// DefaultEchoFailures is how many unanswered Echo-Requests take the
	// link down (pppd's lcp-echo-failure).
	DefaultEchoFailures = 4
	// DefaultRestartTimer is the Restart timer of RFC 1661 section 4.6.
	DefaultRestartTimer = 3 * time.Second
	// DefaultMaxConfigure is Max-Configure of RFC 1661 section 4.6.
	DefaultMaxConfigure = 10
	// DefaultMaxTerminate is Max-Terminate of RFC 1661 section 4.6.
	DefaultMaxTerminate = 2
	// DefaultMaxFailure is Max-Failure of RFC 1661 section 4.6: how many
	// Configure-Naks before an option is rejected instead.
	DefaultMaxFailure = 5
	// DefaultAuthTimeout bounds the authentication phase.
	DefaultAuthTimeout = 30 * time.Second
	// DefaultAuthRetries is how many failed MS-CHAPv2 or CHAP answers a
	// client gets before the link is terminated (1: the first failure
	// ends the session, like pppd).
	DefaultAuthRetries = 1
)

// Config configures a Session. NewSession copies it.
type Config struct {
	// Users authenticates the client: the same store as EAP and XAuth.
	// When it also implements ipsec.PasswordVerifier (a RADIUS client,
	// say), PAP, CHAP-MD5 and MS-CHAPv2 answers are handed to it with
	// our challenge instead of being checked against LookupUser's
	// account; it is called on the session's goroutine with a 5-second
	// deadline.
	Users ipsec.UserStore
	// Auth lists the authentication protocols the server asks for, in
	// preference order; on a Configure-Nak the next listed one is tried.
	// Empty means MS-CHAPv2 then CHAP-MD5 (PAP only when listed).
	Auth []AuthProtocol
	// Pool leases the client's IPv4 address; the lease is released when
	// the session ends. A user's fixed ipsec.User.Addresses win over it.
	Pool ipsec.AddressPool
	// LocalAddr is the server's IPCP address (the gateway's inside address).
	LocalAddr netip.Addr
	// DNS are the name servers offered with RFC 1877 options 129 and 131
	// (the first two IPv4 addresses).
	DNS []netip.Addr
	// IPv6 enables IPV6CP (interface identifiers only, RFC 5072); when
	// false IPV6CP gets a Protocol-Reject.
	IPv6 bool
	// MRU is the Maximum-Receive-Unit the server asks for; 0 means
	// DefaultMRU.
	MRU uint16
	// EchoInterval is the period of LCP Echo-Requests once the link is
	// open; 0 means DefaultEchoInterval, negative disables them.
	EchoInterval time.Duration
	// EchoFailures is how many unanswered Echo-Requests in a row take the
	// link down; 0 means DefaultEchoFailures.
	EchoFailures int
	// DeliverIP receives the IP packets the client sends from its own
	// address: for IPv4 the IPCP address, for IPv6 the link-local address
	// made of its IPV6CP interface identifier (this package announces no
	// prefix, so a client has no other IPv6 address it can prove is its
	// own). Others are dropped and counted in Stats.Spoofed. pkt is valid
	// only during the call. It runs without the session's lock held, so it
	// may call WriteIP.
	DeliverIP func(s *Session, pkt []byte)
	// OnUp is called once, when IPCP opened: Info().Addr4 is the
	// client's address, to route to this session.
	OnUp func(s *Session)
	// OnDown is called once when the session ended (after OnUp or not);
	// Info() still reports the addresses the client had.
	OnDown func(s *Session)
	// Logger receives the session's events; nil discards them.
	Logger *slog.Logger

	// RestartTimer is RFC 1661's Restart timer; 0 means DefaultRestartTimer.
	RestartTimer time.Duration
	// MaxConfigure is RFC 1661's Max-Configure; 0 means DefaultMaxConfigure.
	MaxConfigure int
	// AuthTimeout bounds the authentication phase; 0 means DefaultAuthTimeout.
	AuthTimeout time.Duration
	// AuthRetries is how many failed CHAP or MS-CHAPv2 responses are
	// allowed before the link is terminated; 0 means DefaultAuthRetries.
	AuthRetries int
	// Rand is the source of magic numbers and challenges; nil means
	// crypto/rand. Tests use it to replay known-answer vectors.
	Rand io.Reader
}

// Phase is the PPP link phase of RFC 1661 section 3.2.
type Phase uint8

// The link phases.
const (
	PhaseDead Phase = iota
	PhaseEstablish
	PhaseAuthenticate
	PhaseNetwork
	PhaseTerminate
)

// String returns the phase's RFC 1661 name.
func (p Phase) String() string {
	switch p {
	case PhaseDead:
		return "Dead"
	case PhaseEstablish:
		return "Establish"
	case PhaseAuthenticate:
		return "Authenticate"
	case PhaseNetwork:
		return "Network"
	case PhaseTerminate:
		return "Terminate"
	}
	return "phase(" + itoa(int(p)) + ")"
}

// State is a control protocol automaton state (RFC 1661 section 4.2).
type State uint8

// The automaton states.
const (
	StateInitial State = iota
	StateStarting
	StateClosed
	StateStopped
	StateClosing
	StateStopping
	StateReqSent
	StateAckRcvd
	StateAckSent
	StateOpened
)

var stateNames = [...]string{"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"}

// String returns the state's RFC 1661 name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + itoa(int(s)) + ")"
}

// Stats counts a session's traffic and the frames it refused.
type Stats struct {
	// FramesIn and FramesOut count PPP frames received and sent.
	FramesIn, FramesOut uint64
	// PacketsIn, BytesIn count IP packets delivered to DeliverIP.
	PacketsIn, BytesIn uint64
	// PacketsOut, BytesOut count IP packets sent with WriteIP.
	PacketsOut, BytesOut uint64
	// Malformed counts frames or packets that could not be parsed.
	Malformed uint64
	// Dropped counts well-formed frames not accepted in the current phase.
	Dropped uint64
	// Spoofed counts IP packets whose source was not the client's address.
	Spoofed uint64
	// ProtocolRejects counts LCP Protocol-Rejects sent.
	ProtocolRejects uint64
	// EchoRequests and EchoReplies count LCP echoes sent and answered.
	EchoRequests, EchoReplies uint64
}

// SessionInfo is a snapshot of a session for status displays.
type SessionInfo struct {
	// User is the authenticated user name ("" before authentication).
	User string
	// Auth is the authentication protocol used (0 before authentication).
	Auth AuthProtocol
	// Addr4 is the client's IPv4 address once IPCP opened; it stays set
	// after the session ended.
	Addr4 netip.Addr
	// Addr6 is the client's IPv6 link-local address (fe80:: and its
	// interface identifier) once IPV6CP opened; it stays set after the
	// session ended.
	Addr6 netip.Addr
	// Phase is the link phase.
	Phase Phase
	// LCP, IPCP and IPV6CP are the automaton states.
	LCP, IPCP, IPV6CP State
	// MRU is the client's Maximum-Receive-Unit (what we may send).
	MRU uint16
	// Up is when IPCP opened (zero before).
	Up time.Time
	// Stats are the counters.
	Stats Stats
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
