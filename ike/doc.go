// Package ike is the IKEv2 engine (RFC 7296) of goipsec: the UDP transport
// shared with IKEv1 and ESP-in-UDP, and (as it lands) the responder and
// initiator.
//
// The transport owns UDP 500 and 4500 on IPv4 and IPv6 and sorts what
// arrives: IKEv2 to this package's engines, IKEv1 to a registered handler,
// ESP in UDP to the data plane, NAT keepalives dropped.
//
//	Initiator                                 Responder
//	HDR, SAi1, KEi, Ni, N(NAT_DETECTION_*)  -->
//	                                        <--  HDR, SAr1, KEr, Nr, [CERTREQ], N(...)
//	HDR, SK {IDi, [CERT], [IDr], AUTH,
//	         SAi2, TSi, TSr, [CP(REQUEST)]} -->
//	                                        <--  HDR, SK {IDr, [CERT], AUTH,
//	                                                      SAr2, TSi, TSr, [CP(REPLY)]}
package ike
