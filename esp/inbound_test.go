package esp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// inboundRig is an engine with one inbound SA (tunnel mode, AES-GCM) and
// a sealing suite with the same key, so tests can craft valid ESP packets
// with any plaintext and feed them through HandleUDP.
type inboundRig struct {
	u    *Userspace
	tun  *tuntest.ChannelTUN
	s    suite
	sc   *scratch
	seq  uint64
	peer netip.AddrPort
}

func newInboundRig(t *testing.T) *inboundRig {
	t.Helper()
	c, ap := listenLoopback(t)
	ct := tuntest.NewChannelTUN()
	u, err := NewUserspace(ct.TUN(), WithUDPSendConn(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	peer := netip.MustParseAddrPort("127.0.0.1:9")
	ts := testSuites[0]
	sa := &SA{SPI: 0x7000, Dir: DirIn, Src: peer, Dst: ap, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, 7), ReqID: 1}
	if err := u.AddSA(t.Context(), sa); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []bool{true, false} {
		if err := u.AddPolicy(t.Context(), Policy{Dir: DirIn, Src: AnySelector(fam), Dst: AnySelector(fam), ReqID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return &inboundRig{u: u, tun: ct, s: mustSuiteKey(t, 7), sc: newScratch(), peer: peer}
}

// send seals plaintext with next header nh and hands it to HandleUDP.
func (r *inboundRig) send(t *testing.T, plaintext []byte, nh byte) error {
	t.Helper()
	r.seq++
	buf := make([]byte, Headroom+len(plaintext)+Tailroom)
	copy(buf[Headroom:], plaintext)
	pkt, err := r.s.seal(r.sc, buf, Headroom, len(plaintext), nh, 0x7000, r.seq, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- r.u.HandleUDP(pkt, r.peer) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("HandleUDP blocked")
	}
	return nil
}

func TestInboundTFCPaddingTrimmed(t *testing.T) {
	r := newInboundRig(t)
	inner := udpPacket(innerA4, innerB4, 1, 2, []byte("payload"))
	padded := append(bytes.Clone(inner), make([]byte, 100)...) // RFC 4303 section 2.7 TFC padding
	got := make(chan []byte, 1)
	go func() { got <- <-r.tun.Inbound }()
	if err := r.send(t, padded, protoIPv4); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, inner) {
		t.Fatalf("delivered %d bytes, want the %d-byte inner packet without TFC padding", len(g), len(inner))
	}
}

func TestInboundDummyAndBadInner(t *testing.T) {
	r := newInboundRig(t)
	if err := r.send(t, []byte{1, 2, 3, 4}, protoNoNext); !errors.Is(err, ErrDummy) {
		t.Fatalf("dummy packet: %v", err)
	}
	if err := r.send(t, []byte{0x45, 0, 0, 1}, protoIPv4); !errors.Is(err, ErrInnerPacket) {
		t.Fatalf("garbage inner packet: %v", err)
	}
	v6 := udpPacket(innerA6, innerB6, 1, 2, nil)
	if err := r.send(t, v6, protoIPv4); !errors.Is(err, ErrInnerPacket) {
		t.Fatalf("IPv6 packet labelled IPv4: %v", err)
	}
	if err := r.send(t, v6, protoTCP); !errors.Is(err, ErrUnsupportedNH) {
		t.Fatalf("transport next header on a tunnel SA: %v", err)
	}
	st := r.u.Stats()
	if st.InDummy != 1 || st.InMalformed != 3 || st.InPackets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func mustSuiteKey(t *testing.T, seed byte) suite {
	t.Helper()
	ts := testSuites[0]
	c, err := newCrypter(&SA{SPI: 0x7000, Encr: ts.encr, EncrKeyBits: ts.bits, EncrKey: keyBytes(ts.encKeyLen, seed)})
	if err != nil {
		t.Fatal(err)
	}
	return newSuite(c)
}
