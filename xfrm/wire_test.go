package xfrm

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

func attrsOf(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	m := map[uint16][]byte{}
	if err := parseAttrs(b, func(typ uint16, d []byte) { m[typ] = d }); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEncodeState(t *testing.T) {
	sa := &esp.SA{SPI: 0xc0ffee01, Dir: esp.DirOut, Src: netip.MustParseAddrPort("192.0.2.1:4500"), Dst: netip.MustParseAddrPort("198.51.100.2:4501"),
		Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: bytes.Repeat([]byte{1}, 20), ESN: true, ReqID: 42,
		Lifetime: esp.Lifetime{Soft: esp.Limits{Packets: 1000, Time: 1500 * time.Millisecond}, Hard: esp.Limits{Bytes: 1 << 40}}}
	algs, err := kernelAlgs(sa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeState(sa, algs, &stateTags{ifID: 9, markValue: 1, markMask: 3})
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(b[72:]) != 0xc0ffee01 || b[76] != 50 || he.Uint32(b[208:]) != 42 || he.Uint16(b[212:]) != 2 ||
		b[214] != 1 || b[215] != 0 || b[216] != 128|32 || he.Uint16(b[40:]) != 0 {
		t.Errorf("usersa_info fields wrong: % x", b[56:224])
	}
	if !bytes.Equal(b[56:60], []byte{198, 51, 100, 2}) || !bytes.Equal(b[80:84], []byte{192, 0, 2, 1}) {
		t.Errorf("addresses wrong: % x / % x", b[56:72], b[80:96])
	}
	lft := b[96:]
	for i, want := range []uint64{xfrmInf, 1 << 40, 1000, xfrmInf, 2, 0} {
		if got := he.Uint64(lft[8*i:]); got != want {
			t.Errorf("lifetime field %d = %d, want %d", i, got, want)
		}
	}
	a := attrsOf(t, b[sizeofUsersaInfo:])
	aead := a[attrAlgAEAD]
	if string(bytes.TrimRight(aead[:64], "\x00")) != "rfc4106(gcm(aes))" || he.Uint32(aead[64:]) != 160 || he.Uint32(aead[68:]) != 128 || !bytes.Equal(aead[72:], sa.EncrKey) {
		t.Errorf("AEAD attribute % x", aead)
	}
	if e := a[attrEncap]; len(e) != 24 || he.Uint16(e) != 2 || binary.BigEndian.Uint16(e[2:]) != 4500 || binary.BigEndian.Uint16(e[4:]) != 4501 {
		t.Errorf("encap attribute % x", e)
	}
	if r := a[attrReplayESNVal]; len(r) != 24+4*32 || he.Uint32(r) != 32 || he.Uint32(r[20:]) != 1024 {
		t.Errorf("replay ESN attribute % x", r)
	}
	if m := a[attrMark]; len(m) != 8 || he.Uint32(m) != 1 || he.Uint32(m[4:]) != 3 {
		t.Errorf("mark % x", m)
	}
	if id := a[attrIfID]; len(id) != 4 || he.Uint32(id) != 9 {
		t.Errorf("if_id % x", id)
	}
	for _, typ := range []uint16{attrAlgCrypt, attrAlgAuthTrunc, attrAlgAuth} {
		if _, ok := a[typ]; ok {
			t.Errorf("unexpected attribute %d for an AEAD", typ)
		}
	}

	// A small window without ESN stays in the legacy field.
	small := *sa
	small.ESN, small.ReplayWindow, small.Mode = false, 32, esp.ModeTransport
	b, _ = encodeState(&small, algs, &stateTags{})
	if b[215] != 32 || b[216] != 0 || he.Uint16(b[40:]) != 2 || b[214] != 0 {
		t.Errorf("legacy window/transport: window %d flags %d sel family %d mode %d", b[215], b[216], he.Uint16(b[40:]), b[214])
	}
	if _, ok := attrsOf(t, b[sizeofUsersaInfo:])[attrReplayESNVal]; ok {
		t.Error("ESN replay attribute for a 32-packet window without ESN")
	}
	small.ReplayWindow = maxReplayWindow + 1
	if _, err := encodeState(&small, algs, &stateTags{}); err == nil {
		t.Error("window above the kernel maximum accepted")
	}

	// The same bytes decode as the kernel's expire message would.
	exp := append(append([]byte(nil), b[:sizeofUsersaInfo]...), 1, 0, 0, 0, 0, 0, 0, 0)
	m, err := parseExpire(exp)
	if err != nil {
		t.Fatal(err)
	}
	if !m.hard || m.sa.spi != sa.SPI || m.sa.dst != sa.Dst.Addr() || m.sa.src != sa.Src.Addr() || m.sa.reqid != 42 {
		t.Errorf("expire decoded as %+v", m.sa)
	}
}

func TestParseAcquire(t *testing.T) {
	b := make([]byte, sizeofUserAcquire)
	pkt := kselector{src: netip.MustParsePrefix("198.51.100.1/32"), dst: netip.MustParsePrefix("203.0.113.9/32"), proto: 17, srcPort: 40000, dstPort: 53}
	pol := kselector{src: netip.MustParsePrefix("198.51.100.0/24"), dst: netip.MustParsePrefix("0.0.0.0/0")}
	putSelector(b[offAcqSel:], &pkt)
	putSelector(b[offAcqPolicy:], &pol)
	b[offAcqPolicyDir] = 1
	b = appendAttr(b, attrIfID, u32(5))
	m, err := parseAcquire(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.packet != pkt || m.policy != pol || m.policyDir != 1 || m.ifID != 5 || m.hasMark {
		t.Errorf("acquire decoded as %+v", m)
	}
	for n := range sizeofUserAcquire {
		if _, err := parseAcquire(b[:n]); err == nil {
			t.Fatalf("%d-byte prefix accepted", n)
		}
	}
}

func TestBypassPolicy(t *testing.T) {
	b := bypassPolicy(1, afInet6)
	if len(b) != sizeofUserpolicyInfo || he.Uint16(b[40:]) != afInet6 || b[56+64+32+8] != 1 || b[56+64+32+9] != 0 {
		t.Errorf("bypass policy % x", b)
	}
	for i := range 4 {
		if he.Uint64(b[56+8*i:]) != xfrmInf {
			t.Errorf("lifetime limit %d not infinite", i)
		}
	}
}
