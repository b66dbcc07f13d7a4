// Package esp is the IPsec data plane: SA and policy types, the DataPlane
// interface the IKE engines drive, and Userspace, an ESP implementation
// (RFC 4303) that runs on any Linux host without kernel IPsec support.
//
// Userspace reads clear-text packets from a TUN device (golang.zx2c4.com/
// wireguard/tun, with batch I/O and TSO/GRO offloads), looks up the
// outbound policy and SA, seals the packets in place and sends them as ESP
// in UDP (RFC 3948) on a socket the IKE transport shares with it, or as raw
// ESP (IP protocol 50). Received packets are matched to SAs by SPI,
// authenticated and decrypted in place, checked against the anti-replay
// window (after the ICV, RFC 4303 section 3.4.3; RFC 6479 bitmap; ESN per
// RFC 4303 Appendix A) and against the SA's inbound policy (RFC 4301
// section 5.2), and written to the TUN device.
//
// # Sharing port 4500 with IKE
//
// There are two ways to hand ESP-in-UDP packets to the engine:
//
//   - WithUDPConn: the engine reads the socket with recvmmsg batches and
//     passes IKE packets (non-ESP marker) to WithNonESPHandler. This is
//     the fast path.
//   - WithUDPSendConn and Userspace.HandleUDPBatch: the IKE transport
//     reads the socket with recvmmsg batches
//     (transport.Transport.SetESPBatchHandler), keeps the IKE messages and
//     passes the ESP packets of each batch, which then take the same
//     pipeline as with WithUDPConn. The packets are copied once into the
//     engine's buffers, which costs little beside the crypto.
//   - WithUDPSendConn and Userspace.HandleUDP: one packet at a time,
//     decrypted and written to the TUN device before the call returns.
//
// Every socket the engine is given gets 7 MiB receive and send buffers
// (best effort, see Stats.InSocketDrops): with the kernel's default a
// reader that is busy for a moment loses packets of a fast peer, and TCP
// inside the tunnel takes each loss as congestion.
//
// # Local delivery (L2TP/IPsec)
//
// WithLocalUDP hands inbound transport-mode UDP datagrams to a local port
// (1701 for an in-process L2TP server) to a function instead of the TUN
// device, with the ReqID of the SA they came through (LocalDatagram);
// SendUDP sends a datagram back through the newest outbound SA of a ReqID
// without a policy lookup. Two L2TP clients behind one NAT negotiate
// identical selectors (the NAT's address, udp/1701), so the ReqID, which
// the IKE engine gives each client's SAs, is what tells them apart; on
// the TUN path the newest of the identical policies would take all the
// traffic. The inner UDP checksum is not verified on this path (RFC 3948
// section 3.1.2, see WithLocalUDP); on the TUN path, transport-mode TCP
// and UDP checksums are recomputed for the rebuilt IP header, because a
// NAT changed the addresses they cover.
//
// # Rekeying
//
// Inbound SAs are found by SPI, so old and new inbound SAs work side by
// side; an outbound policy uses the newest outbound SA of its ReqID. The
// IKE engine adds the new inbound SA, then the new outbound SA, and
// deletes the old pair after the peer switched: no packet is lost.
//
// # Performance
//
// Batches flow reader -> worker pool -> in-order writer, so crypto of
// different batches runs on all cores while each SA's packets leave in the
// order they came (wireguard-go's design). Buffers come from fixed pools
// ((2*workers+2) batches per direction; inbound buffers are 64 KiB so the
// TUN device can coalesce decrypted TCP segments, see
// WithInboundBufferSize), seal and open work in place with Headroom and
// Tailroom, and the per-packet path allocates nothing (TestZeroAllocs,
// TestEngineZeroAllocs). Runs of equal-size packets of one SA leave in a
// single UDP GSO send. The engine never logs per packet; see Stats and
// SAStats.
//
// Every drop has a counter in Stats, including those the kernel makes on
// our behalf: a socket's receive queue overflowing (InSocketDrops) and the
// TUN device's queues (InTUNDrops, OutTUNDrops).
//
// Raw ESP (IP protocol 50) has no segmentation offload: each packet
// crosses the kernel's IP stack on its own in both directions. The engine
// keeps the cost per packet down: it sends with sendmmsg on a socket of
// its own per address family that the runtime's poller does not watch
// (a socket in the poller's epoll set wakes it for every packet the kernel
// frees after sending; see sockio.RawSender), and a reader woken by the
// first packet of a burst tops its batch up with what arrived meanwhile
// before handing it on, so wake-ups, pipeline passes and TUN writes are
// per batch rather than per few packets.
//
// Known limits: the engine's own socket reader (WithUDPConn) falls back to
// reads without UDP GRO where the kernel refuses it; the source address of
// raw ESP is the one the routing table picks; HandleUDP writes each packet
// to the TUN device on its own (prefer WithUDPConn for throughput).
//
// # Differences from XFRM
//
// Inbound SAs are keyed by SPI alone (we allocate them), outbound SAs by
// SPI and destination. A decrypted packet must match an inbound policy of
// its SA's ReqID: install DirIn policies as well as DirOut ones. Bypass
// policies only count packets, because the userspace engine has no path
// for clear text besides the TUN device it serves.
package esp
