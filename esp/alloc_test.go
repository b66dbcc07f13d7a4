package esp

import (
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

func newTestSuite(t testing.TB, ts testSuite) suite {
	t.Helper()
	c, err := newCrypter(&SA{SPI: 0x1000, Encr: ts.encr, EncrKeyBits: ts.bits, Integ: ts.integ,
		EncrKey: keyBytes(ts.encKeyLen, 1), IntegKey: keyBytes(ts.integKeyLen, 2)})
	if err != nil {
		t.Fatal(err)
	}
	return newSuite(c)
}

// TestZeroAllocs asserts that steady-state seal, open and the replay
// check allocate nothing: at line rate every allocation is GC work.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items); run without -race")
	}
	inner := udpPacket(innerA4, innerB4, 1, 2, make([]byte, 1372))
	for _, ts := range append(testSuites, testSuite{"aes128ccm8", proposal.EncrAESCCM8, 128, proposal.IntegNone, 19, 0}) {
		for _, esn := range []bool{false, true} {
			s := newTestSuite(t, ts)
			sc := newScratch()
			buf := make([]byte, Headroom+len(inner)+Tailroom)
			w := newReplayWindow(1024)
			seq := uint64(0)
			run := func() {
				seq++
				copy(buf[Headroom:], inner)
				pkt, err := s.seal(sc, buf, Headroom, len(inner), protoIPv4, 0x1000, seq, esn, nil)
				if err != nil {
					t.Fatal(err)
				}
				full := w.infer(uint32(seq), esn)
				if !w.check(full) {
					t.Fatal("replay check rejected a new packet")
				}
				if _, _, err := s.open(sc, pkt, full, esn); err != nil {
					t.Fatal(err)
				}
				if !w.update(full) {
					t.Fatal("replay update rejected a new packet")
				}
			}
			run() // warm pools
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Errorf("%s esn=%v: %.1f allocations per seal+open+replay, want 0", ts.name, esn, n)
			}
		}
	}
	var f flow
	if n := testing.AllocsPerRun(100, func() { f, _ = parseFlow(inner) }); n != 0 || f.proto != protoUDP {
		t.Errorf("parseFlow: %.1f allocations", n)
	}
}
