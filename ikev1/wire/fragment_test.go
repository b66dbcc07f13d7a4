package wire_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/goipsec/ipsec/ikev1/wire"
)

func bigMessage(t testing.TB, n int) []byte {
	t.Helper()
	m := &wire.Message{Header: wire.Header{ICookie: [8]byte{1, 1, 1, 1, 1, 1, 1, 1}, RCookie: [8]byte{2, 2, 2, 2, 2, 2, 2, 2}, Exchange: wire.Main, Flags: wire.FlagEncryption}, Encrypted: make([]byte, n)}
	for i := range m.Encrypted {
		m.Encrypted[i] = byte(i * 7)
	}
	m.Next = wire.PayloadID
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSplitAndReassemble(t *testing.T) {
	msg := bigMessage(t, 3000)
	const maxLen = 548
	frags, err := wire.SplitFragments(msg, wire.Aggressive, 0x1234, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	room := maxLen - wire.HeaderLen - 8
	if want := (len(msg) + room - 1) / room; len(frags) != want {
		t.Fatalf("%d fragments, want %d", len(frags), want)
	}
	var fs []*wire.Fragment
	for i, f := range frags {
		if len(f) > maxLen {
			t.Errorf("fragment %d is %d bytes", i+1, len(f))
		}
		m, err := wire.Parse(f)
		if err != nil {
			t.Fatalf("fragment %d: %v", i+1, err)
		}
		if m.ICookie != [8]byte{1, 1, 1, 1, 1, 1, 1, 1} || m.RCookie != [8]byte{2, 2, 2, 2, 2, 2, 2, 2} ||
			m.Exchange != wire.Aggressive || m.MessageID != 0 || m.Flags != 0 || len(m.Payloads) != 1 {
			t.Fatalf("fragment %d: %+v", i+1, m.Header)
		}
		fr := m.Payloads[0].(*wire.Fragment)
		if fr.ID != 0x1234 || int(fr.Number) != i+1 || fr.Last != (i == len(frags)-1) {
			t.Fatalf("fragment %d: %+v", i+1, fr)
		}
		if s := m.Summary(); s != "AGGRESSIVE request 0 [ FRAG ]" {
			t.Errorf("summary %q", s)
		}
		fs = append(fs, fr)
	}
	// Deliver shuffled with duplicates; the message completes exactly once.
	rng := rand.New(rand.NewPCG(1, 2))
	order := append(append([]*wire.Fragment(nil), fs...), fs[0], fs[len(fs)-1], fs[2])
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	r := wire.NewReassembler(16, 65535)
	completed := 0
	for _, f := range order {
		out, done, err := r.Add(f)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			completed++
			if !bytes.Equal(out, msg) {
				t.Fatal("reassembled message differs")
			}
			if r.Pending() {
				t.Error("still pending after completion")
			}
			r = wire.NewReassembler(16, 65535) // later duplicates would start a new set
		}
	}
	if completed != 1 {
		t.Fatalf("completed %d times", completed)
	}
	// A message that fits stays one fragment.
	small := bigMessage(t, 100)
	frags, err = wire.SplitFragments(small, wire.Main, 1, 1000)
	if err != nil || len(frags) != 1 {
		t.Fatalf("%d fragments %v", len(frags), err)
	}
}

func TestSplitErrors(t *testing.T) {
	var ee *wire.EncodeError
	if _, err := wire.SplitFragments(bigMessage(t, 10), wire.Main, 1, 36); !errors.As(err, &ee) {
		t.Errorf("no room: %v", err)
	}
	if _, err := wire.SplitFragments(bigMessage(t, 60000), wire.Main, 1, 200); !errors.As(err, &ee) {
		t.Errorf("over 255 fragments: %v", err)
	}
	if _, err := wire.SplitFragments([]byte{1, 2}, wire.Main, 1, 200); !errors.As(err, &ee) {
		t.Errorf("short message: %v", err)
	}
}

func TestReassemblerBounds(t *testing.T) {
	data := bytes.Repeat([]byte{9}, 100)
	cases := []struct {
		name string
		fs   []wire.Fragment
	}{
		{"number 0", []wire.Fragment{{ID: 1, Number: 0, Data: data}}},
		{"beyond max fragments", []wire.Fragment{{ID: 1, Number: 5, Data: data}}},
		{"after last", []wire.Fragment{{ID: 1, Number: 2, Last: true, Data: data}, {ID: 1, Number: 3, Data: data}}},
		{"second last", []wire.Fragment{{ID: 1, Number: 3, Last: true, Data: data}, {ID: 1, Number: 2, Last: true, Data: data}}},
		{"last below received", []wire.Fragment{{ID: 1, Number: 3, Data: data}, {ID: 1, Number: 2, Last: true, Data: data}}},
		{"too large", []wire.Fragment{{ID: 1, Number: 1, Data: data}, {ID: 1, Number: 2, Data: data}, {ID: 1, Number: 3, Data: data}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := wire.NewReassembler(4, 250)
			var err error
			for i := range c.fs {
				_, _, err = r.Add(&c.fs[i])
			}
			if !errors.Is(err, wire.ErrReassembly) {
				t.Fatalf("%v, want ErrReassembly", err)
			}
			if r.Pending() {
				t.Error("set kept after an error")
			}
			// The reassembler works again afterwards.
			out, done, err := r.Add(&wire.Fragment{ID: 2, Number: 1, Last: true, Data: []byte{5}})
			if err != nil || !done || !bytes.Equal(out, []byte{5}) {
				t.Errorf("after error: %x %v %v", out, done, err)
			}
		})
	}
	// A new fragment ID drops the old set; Reset drops everything.
	r := wire.NewReassembler(4, 1000)
	r.Add(&wire.Fragment{ID: 1, Number: 1, Data: []byte{1}})
	r.Add(&wire.Fragment{ID: 2, Number: 2, Last: true, Data: []byte{2}})
	if out, done, err := r.Add(&wire.Fragment{ID: 2, Number: 1, Data: []byte{3}}); err != nil || !done || !bytes.Equal(out, []byte{3, 2}) {
		t.Errorf("new ID: %x %v %v", out, done, err)
	}
	r.Add(&wire.Fragment{ID: 3, Number: 1, Data: []byte{1}})
	r.Reset()
	if r.Pending() {
		t.Error("pending after Reset")
	}
	if _, done, _ := r.Add(&wire.Fragment{ID: 3, Number: 2, Last: true, Data: []byte{2}}); done {
		t.Error("completed with a fragment discarded by Reset")
	}
	// A fragment's data is copied: the caller may reuse its buffer.
	r = wire.NewReassembler(4, 1000)
	buf := []byte{7, 7}
	r.Add(&wire.Fragment{ID: 4, Number: 1, Data: buf})
	buf[0] = 0
	if out, done, _ := r.Add(&wire.Fragment{ID: 4, Number: 2, Last: true, Data: []byte{8}}); !done || !bytes.Equal(out, []byte{7, 7, 8}) {
		t.Errorf("aliasing: %x %v", out, done)
	}
}
