package isakmp_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/goipsec/ipsec/internal/isakmp"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// v1Spec walks IKEv1 chains; IKEv1 has no terminal payload types.
var v1Spec = isakmp.ChainSpec{}

func TestHeaderRoundTrip(t *testing.T) {
	h := isakmp.Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, NextPayload: 33,
		Version: 0x20, Exchange: 34, Flags: 0x08, MessageID: 7, Length: 28}
	b := isakmp.AppendHeader(nil, &h)
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		33, 0x20, 34, 0x08, 0, 0, 0, 7, 0, 0, 0, 28}
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendHeader = %x, want %x", b, want)
	}
	got, err := isakmp.ParseHeader(b)
	if err != nil || got != h {
		t.Fatalf("ParseHeader = %+v, %v", got, err)
	}
	if got.MajorVersion() != 2 || got.MinorVersion() != 0 {
		t.Errorf("version %d.%d", got.MajorVersion(), got.MinorVersion())
	}
	for i := range b {
		if _, err := isakmp.ParseHeader(b[:i]); err == nil {
			t.Errorf("prefix %d accepted", i)
		}
	}
	// Length field smaller than the header.
	bad := bytes.Clone(b)
	bad[27] = 27
	var e *isakmp.Error
	if _, err := isakmp.ParseHeader(bad); !errors.As(err, &e) || e.Offset != 24 {
		t.Errorf("short length: %v", err)
	}
}

func TestChainWalk(t *testing.T) {
	// Three payloads: type 1 -> 2 -> 3(terminal with inner 9).
	b := []byte{
		2, 0, 0, 6, 0xaa, 0xbb,
		3, 0x80, 0, 4,
		9, 0x01, 0, 5, 0xcc,
	}
	spec := isakmp.ChainSpec{Terminal: func(t uint8) bool { return t == 3 }}
	var got []isakmp.Payload
	err := isakmp.Walk(b, 28, 1, &spec, func(p isakmp.Payload) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d payloads", len(got))
	}
	if got[0].Type != 1 || got[0].Offset != 28 || !bytes.Equal(got[0].Body, []byte{0xaa, 0xbb}) {
		t.Errorf("p0 = %+v", got[0])
	}
	if got[1].Type != 2 || !got[1].Critical || got[1].Offset != 34 || len(got[1].Body) != 0 {
		t.Errorf("p1 = %+v", got[1])
	}
	if got[2].Type != 3 || got[2].Next != 9 || got[2].Reserved != 1 || !bytes.Equal(got[2].Body, []byte{0xcc}) {
		t.Errorf("p2 = %+v", got[2])
	}
	// Every strict prefix fails, with an offset inside the buffer.
	for i := range b {
		err := isakmp.Walk(b[:i], 28, 1, &spec, func(isakmp.Payload) error { return nil })
		var e *isakmp.Error
		if !errors.As(err, &e) {
			t.Errorf("prefix %d: err = %v", i, err)
			continue
		}
		if e.Offset < 28 || e.Offset > 28+i {
			t.Errorf("prefix %d: offset %d", i, e.Offset)
		}
	}
	// Without the terminal knowledge, the chain continues into type 9 and fails.
	if err := isakmp.Walk(b, 0, 1, nil, func(isakmp.Payload) error { return nil }); err == nil {
		t.Error("walk without terminal spec succeeded")
	}
	// Terminal payload followed by bytes.
	if err := isakmp.Walk(append(bytes.Clone(b), 0), 0, 1, &spec, func(isakmp.Payload) error { return nil }); err == nil {
		t.Error("bytes after terminal accepted")
	}
	// Trailing bytes after a normal end: an error unless allowed.
	tail := []byte{0, 0, 0, 4, 0xee}
	if err := isakmp.Walk(tail, 0, 1, nil, func(isakmp.Payload) error { return nil }); err == nil {
		t.Error("trailing byte accepted")
	}
	c := isakmp.NewChain(tail, 0, 1, &isakmp.ChainSpec{AllowTrailing: true})
	n := 0
	for c.Next() {
		n++
	}
	if c.Err() != nil || n != 1 || !bytes.Equal(c.Trailing(), []byte{0xee}) {
		t.Errorf("AllowTrailing: n=%d trailing=%x err=%v", n, c.Trailing(), c.Err())
	}
	// Payload limit.
	lim := isakmp.ChainSpec{MaxPayloads: 1}
	if err := isakmp.Walk(b, 0, 1, &lim, func(isakmp.Payload) error { return nil }); err == nil {
		t.Error("MaxPayloads ignored")
	}
	// Zero-length payload (the IKEv1 "zero length" capture's fault).
	if err := isakmp.Walk([]byte{0, 0, 0, 0}, 0, 1, nil, func(isakmp.Payload) error { return nil }); err == nil {
		t.Error("zero payload length accepted")
	}
	// Callback errors stop the walk.
	stop := errors.New("stop")
	if err := isakmp.Walk(b, 0, 1, &spec, func(isakmp.Payload) error { return stop }); err != stop {
		t.Errorf("callback error = %v", err)
	}
}

func TestReader(t *testing.T) {
	r := isakmp.NewReader([]byte{1, 0, 2, 0, 0, 0, 3, 9, 9}, 100, 33)
	a, _ := r.Uint8("a")
	b, _ := r.Uint16("b")
	c, _ := r.Uint32("c")
	if a != 1 || b != 2 || c != 3 || r.Offset() != 107 || r.Len() != 2 {
		t.Fatalf("a=%d b=%d c=%d off=%d len=%d", a, b, c, r.Offset(), r.Len())
	}
	if _, err := r.Uint32("d"); err == nil {
		t.Fatal("over-read succeeded")
	} else {
		var e *isakmp.Error
		if !errors.As(err, &e) || e.Offset != 109 || e.Payload != 33 {
			t.Errorf("err = %#v", err)
		}
	}
	if _, err := r.Bytes(-1, "neg"); err == nil {
		t.Error("negative length accepted")
	}
	sub, err := r.Sub(2, "sub", 34)
	if err != nil || sub.Offset() != 107 || !r.Empty() {
		t.Fatalf("Sub: %v off=%d", err, sub.Offset())
	}
	if rest := sub.Rest(); !bytes.Equal(rest, []byte{9, 9}) {
		t.Errorf("Rest = %x", rest)
	}
}

func TestBuilder(t *testing.T) {
	var bl isakmp.Builder
	bl.Reset(make([]byte, 0, 128))
	h := isakmp.Header{SPIi: 1, Version: 0x20, Exchange: 35, MessageID: 1}
	bl.BeginMessage(&h)
	p := bl.BeginPayload(35, false)
	bl.AddBytes([]byte{1, 2, 3})
	bl.EndPayload(p)
	sk := bl.BeginPayload(46, false)
	bl.AddUint16(0xbeef)
	bl.BeginChain(sk) // inner chain patches SK's Next Payload
	in := bl.BeginPayload(39, true)
	bl.AddUint32(0xdeadbeef)
	bl.EndPayload(in)
	bl.EndPayload(sk)
	n := bl.EndMessage()
	out, err := bl.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(out) || n != 28+7+6+8 {
		t.Fatalf("length %d, buffer %d", n, len(out))
	}
	hh, err := isakmp.ParseHeader(out)
	if err != nil || hh.NextPayload != 35 || hh.Length != uint32(n) {
		t.Fatalf("header %+v %v", hh, err)
	}
	wantBody := []byte{46, 0, 0, 7, 1, 2, 3, 39, 0, 0, 14, 0xbe, 0xef, 0, 0x80, 0, 8, 0xde, 0xad, 0xbe, 0xef}
	if !bytes.Equal(out[28:], wantBody) {
		t.Errorf("body %x, want %x", out[28:], wantBody)
	}
	// Overlong payload.
	bl.Reset(nil)
	m := bl.BeginPayload(1, false)
	bl.AddZeros(70000)
	bl.EndPayload(m)
	if _, err := bl.Bytes(); !errors.Is(err, isakmp.ErrTooLong) {
		t.Errorf("overlong payload: %v", err)
	}
}

func TestBuilderAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	h := isakmp.Header{Version: 0x20, Exchange: 37}
	allocs := testing.AllocsPerRun(100, func() {
		var bl isakmp.Builder
		bl.Reset(buf[:0])
		bl.BeginMessage(&h)
		p := bl.BeginPayload(41, false)
		bl.AddUint32(1)
		bl.EndPayload(p)
		bl.EndMessage()
		buf, _ = bl.Bytes()
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

// ikev1Terminal: IKEv1 has no terminal payloads; an encrypted IKEv1 body is
// not a chain at all (flag bit 0), which the caller checks.
func TestIKEv1Captures(t *testing.T) {
	for _, tc := range []struct {
		file    string
		wantBad bool
	}{
		{"testdata/ipsec.cap", false},
		{"testdata/ipsec-ikev1-isakmp-main-mode.pcap", false},
		{"testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap", false},
		{"testdata/ikev1-certs.pcap", false},
		{"testdata/ipsec-ikev1-payload-bad-length.pcap", true},
		{"testdata/ipsec-ikev1-zero-length.pcap", true},
	} {
		ps, err := capture.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		walked, bad := 0, 0
		for _, p := range ps {
			h, err := isakmp.ParseHeader(p.Payload)
			if err == nil && h.MajorVersion() != 1 {
				t.Errorf("%s frame %d: version %#x", tc.file, p.Frame, h.Version)
			}
			if err == nil && h.Flags&1 != 0 {
				continue // encrypted: the body is ciphertext
			}
			if err == nil {
				var types []uint8
				err = isakmp.Walk(p.Payload[isakmp.HeaderLen:h.Length], isakmp.HeaderLen, h.NextPayload, &v1Spec,
					func(pl isakmp.Payload) error {
						types = append(types, pl.Type)
						return nil
					})
				if err == nil && len(types) == 0 {
					t.Errorf("%s frame %d: no payloads", tc.file, p.Frame)
				}
			}
			if err != nil {
				bad++
				var e *isakmp.Error
				if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(p.Payload) {
					t.Errorf("%s frame %d: untyped or out-of-range error %v", tc.file, p.Frame, err)
				}
				if !tc.wantBad {
					t.Errorf("%s frame %d: %v", tc.file, p.Frame, err)
				}
				continue
			}
			walked++
		}
		if tc.wantBad && bad == 0 {
			t.Errorf("%s: malformed capture accepted", tc.file)
		}
		if !tc.wantBad && walked == 0 {
			t.Errorf("%s: nothing walked", tc.file)
		}
	}
}
