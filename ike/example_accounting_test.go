package ike_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/iketest"
)

// printAccounting is an ike.Accounting that prints; a RADIUS client would
// queue each record as an Accounting-Request instead (the methods must
// not block).
// (Session IDs are unique in the process, so the example prints whether
// records name the same session rather than the numbers.)
type printAccounting struct {
	stopped chan struct{}
	session *uint64
}

func (a printAccounting) Start(r ike.AccountingRecord) {
	*a.session = r.SessionID
	fmt.Printf("start: session of %s, NAS-Port from the session ID: %v\n", r.Info.RemoteID, uint64(r.NASPort) == r.SessionID&0xffffffff)
}

func (a printAccounting) Interim(r ike.AccountingRecord) {
	fmt.Printf("interim: same session %v, %d bytes in, %d out\n", r.SessionID == *a.session, r.Info.BytesIn, r.Info.BytesOut)
}

func (a printAccounting) Stop(r ike.AccountingRecord) {
	fmt.Printf("stop: same session %v, %d bytes in, %d out, %d packets in, %d out\n",
		r.SessionID == *a.session, r.Info.BytesIn, r.Info.BytesOut, r.Info.PacketsIn, r.Info.PacketsOut)
	close(a.stopped)
}

// Accounting across rekeys: a gateway reports each session's start,
// interim updates and stop, with counters that go on across CHILD and IKE
// rekeys. Here a client on an in-memory network rekeys its CHILD SA ten
// times and its IKE SA twice while iketest.DataPlane simulates traffic;
// the gateway's Stop record equals what its data plane counted, to the
// byte.
func Example_accounting() {
	network := iketest.NewNetwork(1)
	gwAddr, clientAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	gwDP, clientDP := iketest.NewDataPlane(), iketest.NewDataPlane()
	psk := ipsec.Secret("example psk, use a long random one")
	acct := printAccounting{stopped: make(chan struct{}), session: new(uint64)}
	gw, err := ike.NewResponder(network.Endpoint(gwAddr),
		ike.WithPeers(ike.StaticPeers(&ike.PeerConfig{
			Name: "psk", LocalID: ipsec.FQDN("vpn.example.com"),
			Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		})),
		ike.WithDataPlane(gwDP),
		ike.WithAccounting(acct, 5*time.Minute)) // interim updates every 5 minutes (none in this short run)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gw.Serve(ctx)

	// The client waits for each rekey to finish before the next one.
	childGone, ikeRekeyed := make(chan struct{}, 1), make(chan struct{}, 1)
	client, err := ike.NewInitiator(network.Endpoint(clientAddr), ike.WithDataPlane(clientDP),
		ike.WithRetransmission(100*time.Millisecond, 1.5, 10),
		ike.WithHooks(&ike.Hooks{
			ChildDown: func(ipsec.IKESAInfo, ipsec.ChildSAInfo) { childGone <- struct{}{} },
			Rekeyed: func(ev ike.RekeyEvent) {
				if ev.Scope == ike.RekeyIKE {
					ikeRekeyed <- struct{}{}
				}
			},
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)
	sa, err := client.Dial(ctx, netip.AddrPortFrom(gwAddr, ike.PortIKE), &ike.PeerConfig{
		Name: "psk", LocalID: ipsec.Email("alice@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	traffic := func() {
		for range 10 {
			clientDP.Transmit(gwDP, 0, 1200) // upload
			gwDP.Transmit(clientDP, 0, 400)  // download
		}
	}
	for i := range 10 {
		traffic()
		sa.Rekey(ctx, ike.RekeyChildren)
		<-childGone // the old CHILD SA is deleted: its traffic moved on
		if i == 3 || i == 7 {
			traffic()
			sa.Rekey(ctx, ike.RekeyIKE)
			<-ikeRekeyed
		}
	}
	traffic()
	fmt.Printf("client: %d bytes out, %d in\n", sa.Info().BytesOut, sa.Info().BytesIn)
	sa.Close(ctx)
	<-acct.stopped
	in, out := gwDP.Totals()
	fmt.Printf("gateway data plane: %d bytes in, %d out, %d packets in, %d out\n", in.Bytes, out.Bytes, in.Packets, out.Packets)
	// Output:
	// start: session of alice@example.com, NAS-Port from the session ID: true
	// client: 156000 bytes out, 52000 in
	// stop: same session true, 156000 bytes in, 52000 out, 130 packets in, 130 out
	// gateway data plane: 156000 bytes in, 52000 out, 130 packets in, 130 out
}
