package esp

import (
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"
)

// Option configures NewUserspace.
type Option func(*config)

type config struct {
	udp       []*net.UDPConn
	nonESP    func(pkt []byte, from netip.AddrPort)
	rawESP    bool
	workers   int
	batch     int
	events    int
	keepalive time.Duration
	tick      time.Duration
	logger    *slog.Logger
	now       func() time.Time
	inBufSize int
	local     []localUDP
}

func defaultConfig() config {
	return config{
		workers:   runtime.GOMAXPROCS(0),
		batch:     64,
		events:    256,
		keepalive: DefaultNATKeepalive,
		tick:      time.Second,
		logger:    slog.New(slog.DiscardHandler),
		now:       time.Now,
		inBufSize: 64 << 10,
	}
}

// DefaultNATKeepalive is the interval of NAT keepalives on idle
// UDP-encapsulated SAs: RFC 3948 section 4 suggests 20 seconds, which
// outlives common NAT UDP timeouts (30 s and up).
const DefaultNATKeepalive = 20 * time.Second

// WithUDPConn hands the engine a UDP socket (normally the IKE transport's
// port-4500 socket) for ESP in UDP. The engine sends on it and reads it in
// batches: ESP packets go to the data path, keepalives are dropped, and
// IKE packets (non-ESP marker, RFC 3948 section 2.2) go to the function
// set by WithNonESPHandler. Repeat the option for IPv4 and IPv6 sockets.
// Transports that read the socket themselves use WithUDPSendConn and
// Userspace.HandleUDPBatch (or HandleUDP) instead. Close sets a past read deadline to stop
// reading but does not close the socket: its owner does.
func WithUDPConn(c *net.UDPConn) Option {
	return func(cf *config) { cf.udp = append(cf.udp, c); cf.nonESP = nonNilHandler(cf.nonESP) }
}

// WithUDPSendConn registers a UDP socket for sending only; the caller reads
// it and passes ESP packets to Userspace.HandleUDPBatch or HandleUDP
// (quic-go's shared-socket pattern in reverse: the IKE transport owns
// reading).
func WithUDPSendConn(c *net.UDPConn) Option {
	return func(cf *config) { cf.udp = append(cf.udp, c); cf.nonESP = nil }
}

// WithNonESPHandler sets the receiver of IKE packets arriving on sockets
// given with WithUDPConn. pkt still starts with the 4-byte non-ESP marker
// and is valid only during the call; the handler must copy what it keeps
// and must not block for long, since it runs on the socket's read loop.
func WithNonESPHandler(f func(pkt []byte, from netip.AddrPort)) Option {
	return func(cf *config) { cf.nonESP = f }
}

func nonNilHandler(f func([]byte, netip.AddrPort)) func([]byte, netip.AddrPort) {
	if f == nil {
		return func([]byte, netip.AddrPort) {}
	}
	return f
}

// WithRawESP opens IP protocol 50 sockets (IPv4 and IPv6) for SAs without
// UDP encapsulation. It needs CAP_NET_RAW.
func WithRawESP() Option { return func(cf *config) { cf.rawESP = true } }

// WithWorkers sets the number of crypto goroutines (default GOMAXPROCS).
func WithWorkers(n int) Option { return func(cf *config) { cf.workers = n } }

// WithBatchSize sets the packets per batch of TUN and socket I/O (default 64).
func WithBatchSize(n int) Option { return func(cf *config) { cf.batch = n } }

// WithEventBuffer sets the capacity of the Events channel (default 256).
func WithEventBuffer(n int) Option { return func(cf *config) { cf.events = n } }

// WithNATKeepalive sets the NAT keepalive interval for SAs with
// NATKeepalive set; 0 disables keepalives.
func WithNATKeepalive(d time.Duration) Option { return func(cf *config) { cf.keepalive = d } }

// WithLogger sets the logger for engine-level problems (socket or TUN
// failures). Packets are never logged, only counted.
func WithLogger(l *slog.Logger) Option { return func(cf *config) { cf.logger = l } }

// WithClock replaces time.Now for lifetimes and last-use stamps (tests).
func WithClock(now func() time.Time) Option { return func(cf *config) { cf.now = now } }

// WithHousekeepingInterval sets how often time lifetimes and keepalives
// are checked (default 1 s).
func WithHousekeepingInterval(d time.Duration) Option { return func(cf *config) { cf.tick = d } }

// WithInboundBufferSize sets the size of each inbound packet buffer
// (default 64 KiB). Large buffers let the TUN device coalesce decrypted
// TCP segments (GRO) before handing them to the kernel; small ones save
// memory: the engine holds about (2*workers+2)*batch of them.
func WithInboundBufferSize(n int) Option { return func(cf *config) { cf.inBufSize = n } }

func (cf *config) validate() error {
	switch {
	case cf.workers < 1 || cf.workers > 1024:
		return errOpt("WithWorkers", "must be 1..1024")
	case cf.batch < 1 || cf.batch > 1024:
		return errOpt("WithBatchSize", "must be 1..1024")
	case cf.events < 1:
		return errOpt("WithEventBuffer", "must be positive")
	case cf.keepalive < 0:
		return errOpt("WithNATKeepalive", "must not be negative")
	case cf.tick <= 0:
		return errOpt("WithHousekeepingInterval", "must be positive")
	case cf.inBufSize < 2048 || cf.inBufSize > 1<<17:
		return errOpt("WithInboundBufferSize", "must be 2048..131072")
	case cf.now == nil:
		return errOpt("WithClock", "nil clock")
	case cf.logger == nil:
		return errOpt("WithLogger", "nil logger")
	}
	if err := validateLocal(cf.local); err != nil {
		return err
	}
	for _, c := range cf.udp {
		if c == nil {
			return errOpt("WithUDPConn", "nil socket")
		}
	}
	return nil
}
