package esp

import "sync/atomic"

// Stats are the engine-wide counters. Every packet the engine drops is
// counted under exactly one reason; there is no per-packet logging.
type Stats struct {
	InPackets, InBytes   uint64 // accepted inbound packets, inner bytes
	OutPackets, OutBytes uint64 // sent outbound packets, inner bytes
	// InLocal counts the accepted inbound packets (included in InPackets)
	// handed to a WithLocalUDP handler instead of the TUN device.
	InLocal uint64

	InUnknownSPI uint64 // no inbound SA for the SPI
	InTruncated  uint64 // too short for header, IV and ICV, or not block aligned
	InAuth       uint64 // ICV verification failed (forged or corrupted)
	InReplay     uint64 // duplicate or older than the window
	InPadding    uint64 // pad length larger than the payload
	InDummy      uint64 // next header 59 (RFC 4303 section 2.6)
	InSelector   uint64 // decrypted packet outside the SA's policy (RFC 4301 section 5.2)
	InMalformed  uint64 // decrypted payload is no valid IP packet for the mode
	InExpired    uint64 // SA past its hard lifetime
	// InSocketDrops counts the datagrams the kernel dropped on the
	// engine's sockets (UDP, also those given with WithUDPSendConn, and
	// raw ESP) because their receive queues were full, as the kernel
	// counts them (SO_MEMINFO, Linux; since each socket was opened, so
	// drops before the engine got a shared socket are included). They
	// grow when the readers fall behind the peer.
	InSocketDrops uint64
	// InTUNDrops counts the decrypted packets the kernel dropped after
	// the engine wrote them to the TUN device (the device's rx_dropped,
	// Linux).
	InTUNDrops uint64

	// OutTUNDrops counts the packets the kernel dropped on the TUN
	// device because the engine's TUN reader fell behind and the
	// device's queue was full (its tx_dropped, Linux).
	OutTUNDrops uint64

	OutNoPolicy    uint64 // no outbound policy matched
	OutDiscard     uint64 // a discard policy matched
	OutBypass      uint64 // a bypass policy matched (the userspace engine cannot send clear text)
	OutNoSA        uint64 // protect policy without outbound SA (an acquire was raised)
	OutSeqOverflow uint64 // the SA's sequence numbers ran out (RFC 4303 section 3.3.3)
	OutMalformed   uint64 // not an IP packet, or too large for the buffer
	OutNoSocket    uint64 // no socket for the SA's encapsulation or address family

	SendErrors     uint64 // socket send failures (packets)
	TUNWriteErrors uint64 // packets the TUN device refused (a write of segments it coalesced counts once)
	KeepalivesSent uint64 // NAT keepalives sent
	KeepalivesRecv uint64 // NAT keepalives received and dropped
	NonESP         uint64 // IKE packets passed to the non-ESP handler
	EventsDropped  uint64 // events lost because the Events channel was full
}

type counters struct {
	inPackets, inBytes, outPackets, outBytes                                    atomic.Uint64
	inUnknownSPI, inTruncated, inAuth, inReplay, inPadding, inDummy, inSelector atomic.Uint64
	inMalformed, inExpired, inLocal                                             atomic.Uint64
	outNoPolicy, outDiscard, outBypass, outNoSA, outSeqOverflow, outMalformed   atomic.Uint64
	outNoSocket, sendErrors, tunWriteErrors                                     atomic.Uint64
	keepalivesSent, keepalivesRecv, nonESP, eventsDropped                       atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		InPackets: c.inPackets.Load(), InBytes: c.inBytes.Load(),
		OutPackets: c.outPackets.Load(), OutBytes: c.outBytes.Load(), InLocal: c.inLocal.Load(),
		InUnknownSPI: c.inUnknownSPI.Load(), InTruncated: c.inTruncated.Load(), InAuth: c.inAuth.Load(),
		InReplay: c.inReplay.Load(), InPadding: c.inPadding.Load(), InDummy: c.inDummy.Load(),
		InSelector: c.inSelector.Load(), InMalformed: c.inMalformed.Load(), InExpired: c.inExpired.Load(),
		OutNoPolicy: c.outNoPolicy.Load(), OutDiscard: c.outDiscard.Load(), OutBypass: c.outBypass.Load(),
		OutNoSA: c.outNoSA.Load(), OutSeqOverflow: c.outSeqOverflow.Load(), OutMalformed: c.outMalformed.Load(),
		OutNoSocket: c.outNoSocket.Load(), SendErrors: c.sendErrors.Load(), TUNWriteErrors: c.tunWriteErrors.Load(),
		KeepalivesSent: c.keepalivesSent.Load(), KeepalivesRecv: c.keepalivesRecv.Load(),
		NonESP: c.nonESP.Load(), EventsDropped: c.eventsDropped.Load(),
	}
}

// countInErr files an inbound drop under its reason.
func (c *counters) countInErr(err error) {
	switch err {
	case ErrUnknownSPI:
		c.inUnknownSPI.Add(1)
	case ErrTruncated:
		c.inTruncated.Add(1)
	case ErrAuth:
		c.inAuth.Add(1)
	case ErrReplay:
		c.inReplay.Add(1)
	case ErrPadding:
		c.inPadding.Add(1)
	case ErrDummy:
		c.inDummy.Add(1)
	case ErrSelector:
		c.inSelector.Add(1)
	case ErrExpired:
		c.inExpired.Add(1)
	default:
		c.inMalformed.Add(1)
	}
}
