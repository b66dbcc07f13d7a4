package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/xfrm"
)

// dataPlane is the ESP data plane the responder runs on, with the
// device that holds the server's inside addresses.
type dataPlane struct {
	esp.DataPlane
	// device is the TUN device (userspace) or the dummy device with the
	// inside addresses (kernel); it goes away in close.
	device string
	kernel bool
	close  func() error
}

// newUserspaceDataPlane creates the TUN device with the inside
// addresses and the userspace ESP engine on it, fed by the transport's
// ESP-in-UDP packets and sending through its NAT-T sockets.
//
// local, when not nil, receives the decrypted L2TP datagrams (transport
// mode, udp/1701) instead of the TUN device: the in-process L2TP server.
func newUserspaceDataPlane(tr *ike.Transport, name string, mtu int, inside []netip.Prefix, local func(esp.LocalDatagram), log *slog.Logger) (*dataPlane, error) {
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("TUN %s: %w", name, err)
	}
	tunName, err := dev.Name()
	if err == nil {
		err = configureTUN(tunName, inside)
	}
	if err != nil {
		dev.Close()
		return nil, err
	}
	var dpOpts []esp.Option
	for _, c := range tr.NATTConns() {
		dpOpts = append(dpOpts, esp.WithUDPSendConn(c))
	}
	dpOpts = append(dpOpts, rawESPOptions(log)...)
	if local != nil {
		dpOpts = append(dpOpts, esp.WithLocalUDP(l2tpPort, local))
	}
	dp, err := esp.NewUserspace(dev, dpOpts...)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("data plane: %w", err)
	}
	// The transport reads port 4500 in batches and hands the ESP of each
	// batch to the engine's pipeline (parallel crypto, batched TUN writes).
	tr.SetESPBatchHandler(func(pkts [][]byte, remotes []netip.AddrPort) { _ = dp.HandleUDPBatch(pkts, remotes) })
	// Closing the data plane closes the TUN device, which takes its
	// addresses and routes with it.
	return &dataPlane{DataPlane: dp, device: tunName, close: dp.Close}, nil
}

// probeReqID is the request ID of the probe state: far above the IDs
// the IKE engine hands out (counting from 1).
const probeReqID = 0xFFFF_FF00

// openKernelDataPlane opens the XFRM data plane and proves that the
// kernel can hold an ESP state: XFRM's netlink family exists even in
// kernels built without ESP (this project's CI kernel), where only the
// first state install fails. It runs before any socket is opened, so a
// failure leaves nothing behind.
func openKernelDataPlane(log *slog.Logger) (*xfrm.DataPlane, error) {
	dp, err := xfrm.New(xfrm.WithLogger(log))
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, fieldErr("dataplane", "kernel: the kernel data plane (XFRM) exists only on Linux; use dataplane: userspace")
	}
	if err != nil {
		return nil, fieldErr("dataplane", "kernel: %v (not root, or no XFRM in this kernel); use dataplane: userspace", err)
	}
	var b [4]byte
	rand.Read(b[:])
	spi := binary.BigEndian.Uint32(b[:])&0x0FFF_FFFF | 0x1000_0000
	lo := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
	probe := &esp.SA{
		SPI: spi, Dir: esp.DirIn, Mode: esp.ModeTunnel, Src: lo, Dst: lo,
		Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, Integ: proposal.IntegNone,
		EncrKey: make([]byte, 16+4), ReqID: probeReqID,
	}
	if err := dp.AddSA(context.Background(), probe); err != nil {
		dp.Close()
		return nil, fieldErr("dataplane", "kernel: this kernel cannot install ESP states (%v): load the esp4/esp6 modules or use dataplane: userspace", err)
	}
	if err := dp.DeleteSA(context.Background(), probe.ID()); err != nil {
		dp.Close()
		return nil, fieldErr("dataplane", "kernel: removing the probe state: %v", err)
	}
	return dp, nil
}

// startKernelDataPlane hands the transport's sockets to the kernel data
// plane (UseTransport: ESP in UDP on the NAT-T sockets is decapsulated by
// XFRM from then on, IKE bypasses the IPsec policies on both ports, and
// the data plane sends the NAT keepalives the kernel does not) and puts
// the inside addresses on a dummy device, with the pools' prefix lengths.
// The policies decide what is encrypted, but the kernel looks up a route
// before it consults them: the pool routes on the dummy device give
// every packet to a client one (a gateway without a default route could
// not even answer a ping otherwise), and a packet for a client without
// an SA ends on the dummy device instead of leaking out of the uplink
// in the clear.
func startKernelDataPlane(dp *xfrm.DataPlane, tr *ike.Transport, name string, inside []netip.Prefix) (*dataPlane, error) {
	if err := dp.UseTransport(tr); err != nil {
		dp.Close()
		return nil, fieldErr("dataplane", "kernel: handing the IKE sockets to the kernel data plane: %v", err)
	}
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(link); err != nil {
		dp.Close()
		return nil, fmt.Errorf("dummy device %s for the inside addresses: %w", name, err)
	}
	remove := func() error { return netlink.LinkDel(link) }
	for _, p := range inside {
		a := &netlink.Addr{IPNet: netlink.NewIPNet(p.Addr().AsSlice())}
		a.IPNet.Mask = netmask(p)
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, a); err != nil {
			remove()
			dp.Close()
			return nil, fmt.Errorf("dummy device %s: address %s: %w", name, p.Addr(), err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		remove()
		dp.Close()
		return nil, fmt.Errorf("dummy device %s: up: %w", name, err)
	}
	return &dataPlane{DataPlane: dp, device: name, kernel: true, close: func() error {
		// States and policies first, so no client traffic leaks in the
		// clear while the device goes.
		err := dp.Close()
		if err2 := remove(); err == nil {
			err = err2
		}
		return err
	}}, nil
}

// rawESPOptions enables raw ESP (IP protocol 50, IPv4 and IPv6) for
// clients that are not behind a NAT: iPhones, Macs and Windows on IPv6 or
// a public address, Linux with kernel ESP. Where the sockets cannot be
// opened it says so once at start; the IKE engine then forces UDP
// encapsulation for every client (as strongSwan's encap = yes), so no
// client fails at its CHILD SA.
func rawESPOptions(log *slog.Logger) []esp.Option {
	if err := esp.ProbeRawESP(); err != nil {
		log.Warn("raw ESP is not available: every client will be asked to encapsulate ESP in UDP (port 4500), as if behind a NAT", "err", err)
		return nil
	}
	return []esp.Option{esp.WithRawESP()}
}
