package xfrm

import (
	"testing"
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
