package eap

import (
	"context"
	"net/netip"
)

// NAS is what a network access server knows about the access request a
// conversation belongs to, beside the EAP packets: what a RADIUS client
// puts into an Access-Request (RFC 2865, RFC 3579) and its accounting
// (RFC 2866). The IKE engine (package ike) attaches it to the context of
// every Backend call (Start and each Exchange); a Backend reads it with
// NASFromContext. It is a context value, not a new method, so that every
// existing Backend keeps working unchanged and one that does not care
// never sees it.
type NAS struct {
	// ClientAddr is the client's outer address and port, as the IKE SA
	// sees it (Calling-Station-Id; behind a NAT, the NAT's address).
	ClientAddr netip.AddrPort
	// LocalAddr is our address the client reached (NAS-IP-Address or
	// NAS-IPv6-Address, Called-Station-Id).
	LocalAddr netip.AddrPort
	// SPIi and SPIr identify the IKE SA being authenticated.
	SPIi, SPIr uint64
	// SessionID is the session's ipsec.IKESAInfo.SessionID, the number
	// the engine's accounting reports too (Acct-Session-Id).
	SessionID uint64
	// Port is the session's NAS-Port (RFC 2865 section 5.5), one number
	// per session; its NAS-Port-Type is Virtual (5).
	Port uint32
}

type nasKey struct{}

// ContextWithNAS returns a copy of ctx that carries nas for a Backend.
func ContextWithNAS(ctx context.Context, nas NAS) context.Context {
	return context.WithValue(ctx, nasKey{}, nas)
}

// NASFromContext returns the NAS attached by ContextWithNAS; ok is false
// when there is none (a Server driven without an IKE engine).
func NASFromContext(ctx context.Context) (nas NAS, ok bool) {
	nas, ok = ctx.Value(nasKey{}).(NAS)
	return nas, ok
}
