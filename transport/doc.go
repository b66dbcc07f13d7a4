// Package transport owns the UDP sockets of IKE and routes what arrives on
// them: IKE messages to the engines registered on it (IKEv2 responders and
// initiators of package ike, IKEv1 engines of package ikev1), ESP in UDP
// (RFC 3948) to the data plane, NAT keepalives dropped.
//
// One transport serves a whole process: a site-to-site gateway answers and
// dials its peers on the same ports 500 and 4500, and IKEv1 clients reach
// the same ports as IKEv2 ones. Engines register a PacketHandler; each
// claims the SPIs (IKEv2) or cookies (IKEv1) of its IKE SAs, and the Router
// sends every message to the engine that claimed it, the messages that
// open an SA to the responder of their version.
//
// On Linux the sockets are read with recvmmsg batches (internal/sockio),
// and once a userspace data plane registers for ESP the NAT-T sockets use
// UDP GRO: the ESP packets of each read go to it in one call
// (SetESPBatchHandler, esp.Userspace.HandleUDPBatch), so ESP in UDP takes
// the engine's batched pipeline while IKE is passed up as before.
//
// Package ike re-exports these names (ike.ListenUDP, ike.Transport, ...),
// so an IKEv2-only program need not import this package.
package transport
