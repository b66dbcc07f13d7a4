package wire_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"
)

// bigAuth is the sample IKE_AUTH with a 3000-byte certificate, the case
// RFC 7383 exists for.
func bigAuth() *wire.Message {
	m := sampleMessages()[1]
	sk := m.Payloads[0].(*wire.SK)
	cert := make([]byte, 3000)
	for i := range cert {
		cert[i] = byte(i * 7)
	}
	sk.Payloads = append([]wire.Payload{sk.Payloads[0], &wire.Cert{Encoding: wire.CertX509Signature, Data: cert}}, sk.Payloads[1:]...)
	return m
}

func TestFragmentRoundTrip(t *testing.T) {
	for name, c := range crypters() {
		for _, size := range []int{wire.FragmentSize(576, false, true), wire.FragmentSize(1280, true, false), 1000, 9000} {
			m := bigAuth()
			frags, err := m.AppendFragments(nil, c, &zeroRand{}, size)
			if err != nil {
				t.Fatal(err)
			}
			wantTotal := 1
			if size < 3500 {
				wantTotal = 2
			}
			if len(frags) < wantTotal {
				t.Errorf("%s/%d: %d fragments", name, size, len(frags))
			}
			// Deliver in random order with duplicates.
			order := rand.New(rand.NewPCG(1, uint64(size))).Perm(len(frags))
			order = append(order, order[0])
			var r wire.Reassembler
			done := false
			for k, i := range order {
				f := frags[i]
				if len(f) > size {
					t.Fatalf("%s/%d: fragment %d is %d bytes", name, size, i+1, len(f))
				}
				pm, err := wire.Parse(f)
				if err != nil {
					t.Fatal(err)
				}
				if pm.Header.NextPayload != wire.PayloadSKF || pm.Header.MessageID != 1 {
					t.Fatalf("fragment header %+v", pm.Header)
				}
				skf := pm.Payloads[0].(*wire.SKF)
				if int(skf.Number) != i+1 || int(skf.Total) != len(frags) {
					t.Fatalf("fragment %d says %d/%d", i+1, skf.Number, skf.Total)
				}
				if (skf.Number == 1) != (skf.FirstPayload == wire.PayloadIDi) || (skf.Number != 1 && skf.FirstPayload != 0) {
					t.Fatalf("fragment %d first payload %v", skf.Number, skf.FirstPayload)
				}
				if _, err := pm.Open(c, nil); err != nil {
					t.Fatal(err)
				}
				d, err := r.Add(pm.Header.MessageID, skf)
				if k == len(order)-1 {
					// The duplicate arrives after completion.
					if !errors.Is(err, wire.ErrFragmentOfCompleted) || d {
						t.Fatalf("late duplicate: %v %v", d, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if d {
					if done || k != len(frags)-1 {
						t.Fatalf("completed at delivery %d of %d", k, len(frags))
					}
					done = true
				}
			}
			if !done {
				t.Fatalf("%s/%d: never completed", name, size)
			}
			first, inner := r.Result()
			ps, err := wire.ParsePayloads(first, inner)
			if err != nil {
				t.Fatal(err)
			}
			want := bigAuth().Payloads[0].(*wire.SK).Payloads
			if d := cmp.Diff(want, ps, cmpOpts); d != "" {
				t.Fatalf("%s/%d reassembled (-want +got):\n%s", name, size, d)
			}
		}
	}
}

func TestFragmentSizeTooSmall(t *testing.T) {
	if _, err := bigAuth().AppendFragments(nil, newGCM(testKey), &zeroRand{}, 60); !errors.Is(err, wire.ErrFragmentSize) {
		t.Errorf("err = %v", err)
	}
	if _, err := (&wire.Message{}).AppendFragments(nil, newGCM(testKey), &zeroRand{}, 1000); !errors.Is(err, wire.ErrNoSK) {
		t.Errorf("no SK: %v", err)
	}
}

func TestFragmentSize(t *testing.T) {
	if got := wire.FragmentSize(1500, false, false); got != 1472 {
		t.Errorf("IPv4: %d", got)
	}
	if got := wire.FragmentSize(1280, true, true); got != 1228 {
		t.Errorf("IPv6 NAT-T: %d", got)
	}
}

func frag(n, total uint16, first wire.PayloadType, pt string) *wire.SKF {
	return &wire.SKF{Number: n, Total: total, FirstPayload: first, Plaintext: []byte(pt)}
}

// TestReassemblerRules covers RFC 7383 section 2.6: missing fragments,
// duplicates, changing totals, limits, and a new message ID.
func TestReassemblerRules(t *testing.T) {
	var r wire.Reassembler
	add := func(id uint32, f *wire.SKF) bool {
		t.Helper()
		d, err := r.Add(id, f)
		if err != nil {
			t.Fatalf("Add(%d, %d/%d): %v", id, f.Number, f.Total, err)
		}
		return d
	}
	// Missing fragment: never completes.
	if add(1, frag(1, 3, wire.PayloadIDi, "aa")) || add(1, frag(3, 3, 0, "cc")) {
		t.Fatal("completed early")
	}
	if id, ok := r.InProgress(); !ok || id != 1 {
		t.Fatal("not in progress")
	}
	// Duplicate.
	if add(1, frag(3, 3, 0, "XX")) {
		t.Fatal("duplicate completed")
	}
	// Larger total: start over (sender re-fragmented smaller).
	if add(1, frag(2, 4, 0, "b")) {
		t.Fatal("completed")
	}
	// Smaller total is discarded.
	if _, err := r.Add(1, frag(2, 3, 0, "zz")); !errors.Is(err, wire.ErrFragmentTotalStale) {
		t.Fatalf("stale total: %v", err)
	}
	add(1, frag(4, 4, 0, "d"))
	add(1, frag(1, 4, wire.PayloadIDi, "a"))
	if !add(1, frag(3, 4, 0, "c")) {
		t.Fatal("not completed")
	}
	first, b := r.Result()
	if first != wire.PayloadIDi || string(b) != "abcd" {
		t.Fatalf("Result = %v %q", first, b)
	}
	if _, ok := r.InProgress(); ok {
		t.Fatal("still in progress after completion")
	}
	// Fragments of the completed message are recognised as retransmissions.
	if _, err := r.Add(1, frag(2, 4, 0, "b")); !errors.Is(err, wire.ErrFragmentOfCompleted) {
		t.Fatalf("retransmitted fragment: %v", err)
	}
	// A new message ID replaces an unfinished set.
	add(5, frag(1, 2, wire.PayloadSA, "x"))
	add(6, frag(2, 2, 0, "q"))
	if add(5, frag(2, 2, 0, "y")) {
		t.Fatal("set of message 5 should have been dropped")
	}
	// Single fragment.
	if !add(7, frag(1, 1, wire.PayloadNotify, "n")) {
		t.Fatal("single fragment not complete")
	}
	// Errors.
	for _, tc := range []struct {
		f   *wire.SKF
		err error
	}{
		{&wire.SKF{Number: 1, Total: 1}, wire.ErrFragmentNotOpened},
		{frag(0, 1, 0, "a"), wire.ErrFragmentInvalid},
		{frag(2, 1, 0, "a"), wire.ErrFragmentInvalid},
		{frag(1, 1000, 0, "a"), wire.ErrTooManyFragments},
	} {
		if _, err := r.Add(9, tc.f); !errors.Is(err, tc.err) {
			t.Errorf("Add(%+v) = %v, want %v", tc.f, err, tc.err)
		}
	}
	small := wire.Reassembler{MaxBytes: 3}
	small.Add(1, frag(1, 2, 0, "ab"))
	if _, err := small.Add(1, frag(2, 2, 0, "cd")); !errors.Is(err, wire.ErrReassemblyTooLarge) {
		t.Errorf("MaxBytes: %v", err)
	}
	// The caller's buffer may be reused after Add.
	var r2 wire.Reassembler
	buf := []byte("hello")
	r2.Add(1, &wire.SKF{Number: 1, Total: 2, Plaintext: buf})
	copy(buf, "XXXXX")
	r2.Add(1, &wire.SKF{Number: 2, Total: 2, Plaintext: []byte("!")})
	if _, b := r2.Result(); !bytes.Equal(b, []byte("hello!")) {
		t.Errorf("fragment not copied: %q", b)
	}
}

func TestFragmentSummary(t *testing.T) {
	frags, err := bigAuth().AppendFragments(nil, newGCM(testKey), &zeroRand{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := wire.Parse(frags[1])
	if got, want := m.Summary(), "IKE_AUTH request 1 [ EF(2/4) ]"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// TestReassemblerLimitBypass is the regression test for a peer that
// alternates fragment numbers so each set fails with
// ErrReassemblyTooLarge after parking a large fragment in a new slot: the
// limit must bound what the Reassembler keeps, not only the current set.
func TestReassemblerLimitBypass(t *testing.T) {
	var r wire.Reassembler
	limit := wire.DefaultMaxReassembledLen
	big := bytes.Repeat([]byte{0xa5}, limit*15/16)
	check := func(step string) {
		t.Helper()
		if got := wire.RetainedBytes(&r); got > limit {
			t.Fatalf("%s: %d bytes retained, limit %d", step, got, limit)
		}
	}
	tooLarge := 0
	for n := uint16(1); n < wire.DefaultMaxFragments; n++ {
		// Fragment n of a new set is accepted, n+1 overflows the set.
		r.Add(1, &wire.SKF{Number: n, Total: wire.DefaultMaxFragments, Plaintext: big})
		check("after accepted fragment")
		if _, err := r.Add(1, &wire.SKF{Number: n + 1, Total: wire.DefaultMaxFragments, Plaintext: big}); errors.Is(err, wire.ErrReassemblyTooLarge) {
			tooLarge++
		}
		check("after ErrReassemblyTooLarge")
	}
	if tooLarge == 0 {
		t.Fatal("the limit never triggered")
	}
	r.Reset()
	if got := wire.RetainedBytes(&r); got != 0 {
		t.Fatalf("%d bytes retained after Reset", got)
	}
	// The Reassembler still works after the attack.
	r.Add(2, frag(2, 2, 0, "b"))
	if done, err := r.Add(2, frag(1, 2, wire.PayloadIDi, "a")); !done || err != nil {
		t.Fatalf("legitimate message after the attack: done %v, %v", done, err)
	}
	if first, b := r.Result(); first != wire.PayloadIDi || string(b) != "ab" {
		t.Fatalf("Result = %v %q", first, b)
	}
}
