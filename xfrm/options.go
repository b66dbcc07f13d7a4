package xfrm

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/goipsec/ipsec/esp"

	"github.com/vishvananda/netns"
)

// Transport is what DataPlane.UseTransport needs of an IKE transport: its
// NAT-T sockets. *ike.Transport satisfies it (this package does not
// import ike).
type Transport interface {
	// NATTConns returns the UDP sockets of the NAT-T port.
	NATTConns() []*net.UDPConn
}

// Option configures New.
type Option func(*config)

type config struct {
	ns          netns.NsHandle
	nsSet       bool
	ifID        uint32
	ifIDMin     uint32
	ifIDMax     uint32
	markValue   uint32
	markMask    uint32
	reqMin      uint32
	reqMax      uint32
	removeStale bool
	noForward   bool
	eventBuffer int
	logger      *slog.Logger
	kaConns     []*net.UDPConn
	kaInterval  time.Duration
}

func defaultConfig() config {
	return config{
		ns:          netns.None(),
		eventBuffer: 256,
		kaInterval:  esp.DefaultNATKeepalive,
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithNetNS makes the data plane work in the network namespace ns instead
// of the caller's. The handle may be closed after New returns.
func WithNetNS(ns netns.NsHandle) Option {
	return func(c *config) { c.ns, c.nsSet = ns, true }
}

// WithIfID puts every state and policy on the XFRM interface with this
// ID (Linux 4.19+). Traffic routed into an xfrm interface created with
// the same if_id uses them; other tunnels and overlapping client address
// ranges on other interface IDs stay separate. It also tags what this data
// plane owns.
func WithIfID(id uint32) Option { return func(c *config) { c.ifID = id } }

// WithIfIDRange declares the XFRM interface IDs min..max that single SAs
// and policies may carry (esp.SA.IfID, esp.Policy.IfID, set by the IKE
// engine from ike.ChildConfig.IfID), beside the default of WithIfID: one
// interface per peer, so peers with overlapping traffic selectors (two
// sites that both use 10.0.0.0/24) coexist, like strongSwan's per-connection
// if_id_in/if_id_out. AddSA and AddPolicy reject other nonzero IDs. The
// data plane owns every ID in the range: expire and acquire events carrying
// one are its own, and WithRemoveStale removes states and policies on them
// (with the mark and request ID range, if set), so the range must not
// overlap the IDs of another data plane or daemon.
func WithIfIDRange(min, max uint32) Option {
	return func(c *config) { c.ifIDMin, c.ifIDMax = min, max }
}

// WithMark sets an XFRM mark on every state and policy: only packets whose
// fwmark matches (value under mask) use them. The older alternative to
// WithIfID for separating tunnels; it also tags ownership.
func WithMark(value, mask uint32) Option {
	return func(c *config) { c.markValue, c.markMask = value, mask }
}

// WithReqIDRange declares that the request IDs min..max belong to this data
// plane: AddSA and AddPolicy reject others, and WithRemoveStale uses the
// range to recognise state a previous instance left behind.
func WithReqIDRange(min, max uint32) Option {
	return func(c *config) { c.reqMin, c.reqMax = min, max }
}

// WithRemoveStale makes New delete states and policies that carry this
// data plane's tags (WithIfID, WithMark, WithReqIDRange: all that are set
// must match), left behind by an earlier process that did not Close.
// At least one tag is required, so nothing foreign is ever removed.
func WithRemoveStale() Option { return func(c *config) { c.removeStale = true } }

// WithoutForwardPolicies stops New from adding a forward ("fwd") policy
// beside each inbound one. Gateways need them to route decrypted traffic
// onward; a host that only terminates its own traffic can go without.
func WithoutForwardPolicies() Option { return func(c *config) { c.noForward = true } }

// WithNATKeepalive makes the data plane send RFC 3948 section 2.3 NAT
// keepalives (a single 0xFF byte) on conn, the IKE socket on port 4500,
// to the peer of every outbound ESP-in-UDP SA that has NATKeepalive set,
// when the SA sent nothing for interval (0 selects
// esp.DefaultNATKeepalive). The kernel does not send them itself; without
// this option (or DataPlane.UseTransport, which adds the transport's
// sockets) the flag is ignored and the IKE transport must send them.
//
// Give it once per NAT-T socket when there is one per address family (as
// ike.ListenUDP opens them): each keepalive leaves through a socket of the
// peer's family. A nil conn sets only the interval. The last interval
// given applies to all.
func WithNATKeepalive(conn *net.UDPConn, interval time.Duration) Option {
	return func(c *config) {
		if conn != nil {
			c.kaConns = append(c.kaConns, conn)
		}
		if interval != 0 {
			c.kaInterval = interval
		}
	}
}

// WithEventBuffer sets the capacity of the Events channel (default 256).
func WithEventBuffer(n int) Option { return func(c *config) { c.eventBuffer = n } }

// WithLogger sets the logger (default: discard). The data plane logs
// installs at debug level and event-stream problems as warnings.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

func (c *config) validate() error {
	switch {
	case c.nsSet && !c.ns.IsOpen():
		return fmt.Errorf("xfrm: WithNetNS: namespace handle is not open")
	case c.markValue&^c.markMask != 0:
		return fmt.Errorf("xfrm: WithMark: value 0x%x has bits outside mask 0x%x", c.markValue, c.markMask)
	case c.ifIDMin > c.ifIDMax:
		return fmt.Errorf("xfrm: WithIfIDRange: min %d above max %d", c.ifIDMin, c.ifIDMax)
	case c.ifIDMax != 0 && c.ifIDMin == 0:
		// if_id 0 means "no interface": it cannot tag ownership.
		return fmt.Errorf("xfrm: WithIfIDRange: interface ID 0 is reserved (it means no xfrm interface)")
	case c.reqMin > c.reqMax:
		return fmt.Errorf("xfrm: WithReqIDRange: min %d above max %d", c.reqMin, c.reqMax)
	case c.reqMax != 0 && c.reqMin == 0:
		// ReqID 0 in a template means "any SA", so it cannot tag ownership.
		return fmt.Errorf("xfrm: WithReqIDRange: request ID 0 is reserved (it matches any SA)")
	case c.removeStale && !c.tagged():
		return fmt.Errorf("xfrm: WithRemoveStale: needs WithIfID, WithIfIDRange, WithMark or WithReqIDRange to recognise its own state")
	case c.eventBuffer < 1:
		return fmt.Errorf("xfrm: WithEventBuffer: %d, must be at least 1", c.eventBuffer)
	case c.kaInterval < 0:
		return fmt.Errorf("xfrm: WithNATKeepalive: negative interval %s", c.kaInterval)
	case c.logger == nil:
		return fmt.Errorf("xfrm: WithLogger: nil logger")
	}
	return nil
}

func (c *config) tagged() bool {
	return c.ifID != 0 || c.ifIDMax != 0 || c.markMask != 0 || c.reqMax != 0
}

// effIfID resolves an SA's or policy's IfID: 0 is the data plane's default.
func (c *config) effIfID(id uint32) uint32 {
	if id == 0 {
		return c.ifID
	}
	return id
}

// ifIDAllowed reports whether an SA or policy may carry IfID id: 0 (the
// default), the default itself, or one inside WithIfIDRange.
func (c *config) ifIDAllowed(id uint32) bool {
	return id == 0 || c.ownsIfID(id)
}

// ownsIfID reports whether a kernel object with interface ID id (0: none)
// may be this data plane's: the default of WithIfID or one of
// WithIfIDRange. The mark and request IDs must match as well.
func (c *config) ownsIfID(id uint32) bool {
	return id == c.ifID || (c.ifIDMax != 0 && id >= c.ifIDMin && id <= c.ifIDMax)
}

// ownsStaleIfID is ownsIfID for WithRemoveStale: when the default is "no
// interface" (0) and no mark or request ID range tags the data plane, the
// untagged state of the machine is not ours, only that on the range.
func (c *config) ownsStaleIfID(id uint32) bool {
	if id == 0 && c.ifID == 0 && c.markMask == 0 && c.reqMax == 0 {
		return false
	}
	return c.ownsIfID(id)
}

// ifIDRangeString describes the allowed IDs for errors.
func (c *config) ifIDRangeString() string {
	if c.ifIDMax == 0 {
		return fmt.Sprintf("only the default if_id %d (WithIfID); no WithIfIDRange", c.ifID)
	}
	return fmt.Sprintf("the default if_id %d (WithIfID) or WithIfIDRange %d-%d", c.ifID, c.ifIDMin, c.ifIDMax)
}

// reqIDAllowed reports whether r is inside the configured range.
func (c *config) reqIDAllowed(r uint32) bool {
	return c.reqMax == 0 || (r >= c.reqMin && r <= c.reqMax)
}
