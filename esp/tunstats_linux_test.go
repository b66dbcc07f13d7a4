//go:build linux

package esp

import (
	"net"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec/internal/testnet"
)

// TestOutTUNDrops stalls the engine's TUN reader (every outbound batch
// held by the test) and sends more than the TUN device's queue holds:
// what the kernel drops on the device shows in Stats.OutTUNDrops.
func TestOutTUNDrops(t *testing.T) {
	requireRoot(t)
	testnet.Require(t, "ip")
	ns := testnet.NewNS(t, "tund")
	var u *Userspace
	if err := ns.Do(func() error {
		dev, err := tun.CreateTUN("gitund0", 1400)
		if err != nil {
			return err
		}
		u, err = NewUserspace(dev, WithWorkers(1))
		if err != nil {
			dev.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.link == nil {
		t.Fatal("no link statistics for a kernel TUN device")
	}
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "gitund0")
	ns.Run("ip", "link", "set", "gitund0", "up")

	// Hold every free outbound batch: the reader blocks in getBatch.
	stop := make(chan struct{})
	held := make(chan []*batch)
	go func() {
		var bs []*batch
		for {
			select {
			case b := <-u.outFree:
				bs = append(bs, b)
			case <-stop:
				held <- bs
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for _, b := range <-held {
			u.outFree <- b
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := ns.Do(func() error {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 9})
		if err != nil {
			return err
		}
		defer c.Close()
		pkt := make([]byte, 100)
		for range 3000 { // the device queue holds 500
			c.Write(pkt) // errors (ENOBUFS) are fine: we want the queue full
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for u.Stats().OutTUNDrops == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := u.Stats()
	_, tx, ok := u.link.drops()
	if !ok || st.OutTUNDrops == 0 || st.OutTUNDrops > tx || st.OutTUNDrops > 3000 {
		t.Fatalf("OutTUNDrops %d (device tx_dropped %d, %v) after 3000 packets to a stalled reader", st.OutTUNDrops, tx, ok)
	}
}
