//go:build linux

package esp

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// tooBigSender refuses the datagram at index bad of each call with
// EMSGSIZE, as sockio.RawSender does for one above the device's MTU, and
// passes the others to the real sender.
type tooBigSender struct {
	rawSender
	bad   int
	calls int
}

func (s *tooBigSender) send(bufs [][]byte, to []netip.Addr) (int, error) {
	s.calls++
	if s.bad < len(bufs) {
		n, err := s.rawSender.send(bufs[:s.bad], to[:s.bad])
		if err != nil {
			return n, err
		}
		s.bad = len(bufs) + 1 // once
		return n, syscall.EMSGSIZE
	}
	return s.rawSender.send(bufs, to)
}

// TestRawESPTooBig: a raw ESP packet the batched sender refuses as larger
// than the device's MTU still leaves, through the kernel's path that
// fragments, and the packets behind it go on in the batch.
func TestRawESPTooBig(t *testing.T) {
	testnet.Require(t)
	dev := newNullTUN()
	u, err := NewUserspace(dev, WithRawESP(), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	fake := &tooBigSender{rawSender: u.raw4.snd, bad: 1}
	u.raw4.snd = fake
	lo := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
	ts := testSuites[0]
	spi := uint32(0x5d00_0000) | uint32(time.Now().UnixNano()&0xffff)
	for _, dir := range []Direction{DirOut, DirIn} {
		sa := &SA{SPI: spi, Dir: dir, Src: lo, Dst: lo, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 3), ReqID: 1}
		if err := u.AddSA(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
		l, r := PrefixSelector(netip.MustParsePrefix("192.0.2.1/32")), PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
		if err := u.AddPolicy(t.Context(), Policy{Dir: dir, Src: l, Dst: r, ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	const k = 4
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1000))
	bo := <-u.outFree
	defer func() { u.outFree <- bo }()
	for i := range k {
		copy(bo.pkts[i].buf[Headroom:], inner)
		bo.sizes[i] = len(inner)
	}
	bo.n = k
	u.classifyOut(bo)
	sealBatch(bo, newScratch())
	u.sendBatch(bo)
	for deadline := time.Now().Add(5 * time.Second); ; {
		dev.mu.Lock()
		w := dev.written
		dev.mu.Unlock()
		if w == k {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TUN got %d of %d packets; stats %+v", w, k, u.Stats())
		}
		runtime.Gosched()
	}
	if st := u.Stats(); st.SendErrors != 0 || st.InPackets != k || fake.calls != 2 {
		t.Fatalf("send errors %d, in %d, sender calls %d; stats %+v", st.SendErrors, st.InPackets, fake.calls, st)
	}
}
