package ike

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/goipsec/ipsec/transport"
)

// The transport (UDP sockets, the routing of messages to engines) lives in
// package transport, below both IKE engines, so that IKEv2 and IKEv1
// engines share one. These names keep the IKEv2 engine's API whole; new
// code may use package transport directly.

// Default UDP ports: IKE (RFC 7296 section 2) and NAT traversal
// (RFC 3948 section 2.1).
const (
	PortIKE  = transport.PortIKE
	PortNATT = transport.PortNATT
)

// Conn is what the engines need from a transport; see transport.Conn.
type Conn = transport.Conn

// Packet is one IKE datagram; see transport.Packet.
type Packet = transport.Packet

// PacketHandler is an IKE engine as a transport sees it; see
// transport.PacketHandler.
type PacketHandler = transport.PacketHandler

// Role is the part we play in an IKE SA; see transport.Role.
type Role = transport.Role

// The two roles.
const (
	RoleInitiator = transport.RoleInitiator
	RoleResponder = transport.RoleResponder
)

// Router routes IKE messages to the engines of one transport; see
// transport.Router.
type Router = transport.Router

// Registration is an engine's place on a transport; see
// transport.Registration.
type Registration = transport.Registration

// Transport owns the UDP sockets of IKE; see transport.Transport.
type Transport = transport.Transport

// TransportStats counts what the transport dropped or passed on; see
// transport.Stats.
type TransportStats = transport.Stats

// TransportOption configures ListenUDP; see transport.Option.
type TransportOption = transport.Option

// WithListenAddrs sets the addresses to listen on; see
// transport.WithListenAddrs.
func WithListenAddrs(addrs ...netip.Addr) TransportOption { return transport.WithListenAddrs(addrs...) }

// WithPorts sets the IKE and NAT-T ports; see transport.WithPorts.
func WithPorts(ike, natt int) TransportOption { return transport.WithPorts(ike, natt) }

// WithTransportLogger sets the transport's logger; see
// transport.WithLogger.
func WithTransportLogger(l *slog.Logger) TransportOption { return transport.WithLogger(l) }

// ListenUDP opens the IKE and NAT-T sockets; see transport.ListenUDP.
func ListenUDP(ctx context.Context, opts ...TransportOption) (*Transport, error) {
	return transport.ListenUDP(ctx, opts...)
}
