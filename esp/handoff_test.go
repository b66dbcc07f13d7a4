package esp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// TestHandleUDPBatch passes a transport's batch of ESP packets to the
// engine: all are delivered in order, a replayed batch is counted, not
// delivered, and packets that cannot be ESP are counted as truncated.
func TestHandleUDPBatch(t *testing.T) {
	a := newSide(t)
	c, ap := listenLoopback(t)
	ct := tuntest.NewChannelTUN()
	u, err := NewUserspace(ct.TUN(), WithUDPSendConn(c), WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	b := &side{u: u, tun: ct, conn: c, addr: ap}
	install(t, a, b, pairConf{suite: testSuites[0]})

	const n = 100 // more than one inbound batch (64)
	var sent [][]byte
	var pkts [][]byte
	var from []netip.AddrPort
	for i := range n {
		p := udpPacket(innerA4, innerB4, 1, 2, []byte{byte(i), 'b', 'a', 't', 'c', 'h'})
		sent = append(sent, p)
		a.tun.Outbound <- p
		buf := make([]byte, 2048)
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		m, f, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, buf[:m])
		from = append(from, f)
	}
	if err := u.HandleUDPBatch(pkts, from); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case got := <-ct.Inbound:
			if !bytes.Equal(got, sent[i]) {
				t.Fatalf("packet %d: got %x, want %x", i, got, sent[i])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d not delivered; stats %+v", i, u.Stats())
		}
	}
	if err := u.HandleUDPBatch(pkts[:10], from[:10]); err != nil {
		t.Fatal(err)
	}
	waitStat(t, u, "InReplay", func(s Stats) uint64 { return s.InReplay }, 10)
	big := make([]byte, 1<<17)
	big[0] = 1
	if err := u.HandleUDPBatch([][]byte{{}, big, pkts[0][:5]}, from[:3]); err != nil {
		t.Fatal(err)
	}
	waitStat(t, u, "InTruncated", func(s Stats) uint64 { return s.InTruncated }, 3)
	if st := u.Stats(); st.InPackets != n || st.InAuth != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := u.HandleUDPBatch(pkts[:1], nil); err == nil {
		t.Fatal("missing source addresses accepted")
	}
	select {
	case got := <-ct.Inbound:
		t.Fatalf("unexpected delivery %x", got)
	case <-time.After(50 * time.Millisecond):
	}
	u.Close()
	if err := u.HandleUDPBatch(pkts[:1], from[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestHandleUDPBatchClose closes the engine while another goroutine keeps
// passing batches: no panic (send on a closed channel), and every call
// returns.
func TestHandleUDPBatchClose(t *testing.T) {
	c, ap := listenLoopback(t)
	u, err := NewUserspace(newNullTUN(), WithUDPSendConn(c), WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 100)
	pkt[3] = 9 // an unknown SPI: counted, dropped
	pkts, from := [][]byte{pkt, pkt, pkt}, []netip.AddrPort{ap, ap, ap}
	done := make(chan error)
	go func() {
		for range 100000 {
			if err := u.HandleUDPBatch(pkts, from); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	u.Close()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("HandleUDPBatch did not return after Close")
	}
	if u.Stats().InUnknownSPI == 0 {
		t.Fatal("no packet was processed before Close")
	}
}
