package xfrm

import (
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/esp"
)

// FuzzParseEvent feeds arbitrary bytes to the decoders of the messages
// the kernel multicasts (and of GETSA replies): they must return an error
// or a value, never panic.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, sizeofUserExpire))
	acq := make([]byte, sizeofUserAcquire)
	acq[offAcqSel+40], acq[offAcqPolicy+40] = afInet, afInet
	f.Add(appendAttr(acq, attrIfID, u32(1)))
	exp := make([]byte, sizeofUserExpire)
	exp[offInfoFamily] = afInet6
	f.Add(appendAttr(appendAttr(exp, attrReplayESNVal, make([]byte, 28)), attrMark, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseExpire(b); err == nil && m.sa == nil {
			t.Fatal("nil SA without error")
		}
		if _, err := parseAcquire(b); err != nil && len(b) >= sizeofUserAcquire && b[offAcqSel+40] == 0 {
			return
		}
		_, _ = parseSAInfo(b, min(len(b), sizeofUsersaInfo))
		_ = parseAttrs(b, func(uint16, []byte) {})
	})
}

// FuzzPolicySelectors feeds peer-chosen traffic selectors (IPv4 ranges
// here) to the converter: it must fail cleanly or return prefixes that
// tile the range exactly, never more than maxKernelSelectors.
func FuzzPolicySelectors(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1, 192, 0, 2, 10, 0, 0, 0, 255, 255, 255, 255}, uint8(0), uint16(0), uint16(65535))
	f.Add([]byte{0, 0, 0, 1, 255, 255, 255, 255, 10, 0, 0, 0, 10, 0, 0, 0}, uint8(6), uint16(80), uint16(80))
	f.Fuzz(func(t *testing.T, b []byte, proto uint8, sp, ep uint16) {
		if len(b) < 16 {
			return
		}
		a := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
		src := esp.Selector{Start: a(0), End: a(4), Proto: proto, StartPort: sp, EndPort: ep}
		dst := esp.Selector{Start: a(8), End: a(12), Proto: proto, EndPort: 65535}
		ks, err := policySelectors(&esp.Policy{Src: src, Dst: dst})
		if err != nil {
			return
		}
		if len(ks) == 0 || len(ks) > maxKernelSelectors {
			t.Fatalf("%d kernel selectors", len(ks))
		}
		// Sources tile src: contiguous, starting and ending on its bounds.
		next := src.Start
		seen := map[netip.Prefix]bool{}
		for _, k := range ks {
			if seen[k.src] {
				continue
			}
			seen[k.src] = true
			if k.src.Addr() != next || k.src.Masked() != k.src {
				t.Fatalf("prefix %s does not continue at %s", k.src, next)
			}
			next = esp.PrefixSelector(k.src).End.Next()
		}
		if end := esp.PrefixSelector(ks[len(ks)-1].src).End; end != src.End {
			t.Fatalf("prefixes end at %s, range at %s", end, src.End)
		}
	})
}
