package esptest

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
	"github.com/google/go-cmp/cmp"
)

func TestDataPlaneRecords(t *testing.T) {
	d := New()
	ctx := context.Background()
	sa := &esp.SA{SPI: 0x1234, Dir: esp.DirOut, Src: netip.MustParseAddrPort("198.51.100.1:4500"),
		Dst: netip.MustParseAddrPort("198.51.100.2:4500"), Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: []byte{1, 2, 3}}
	if err := d.AddSA(ctx, sa); err != nil {
		t.Fatal(err)
	}
	sa.EncrKey[0] = 9 // the fake keeps its own copy
	if got := d.SA(sa.ID()); got == nil || got.EncrKey[0] != 1 {
		t.Fatalf("SA copy %v", got)
	}
	if err := d.AddSA(ctx, sa); !errors.Is(err, esp.ErrSAExists) {
		t.Fatalf("duplicate AddSA: %v", err)
	}
	d.SetStats(sa.ID(), esp.SAStats{Packets: 5})
	if st, err := d.SAStats(sa.ID()); err != nil || st.Packets != 5 {
		t.Fatalf("stats %+v %v", st, err)
	}
	p := esp.Policy{Dir: esp.DirOut, Src: esp.AnySelector(true), Dst: esp.AnySelector(true), ReqID: 1}
	if err := d.AddPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]esp.Policy{p}, d.Policies(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("policies (-want +got):\n%s", diff)
	}
	d.Err = errors.New("injected")
	if err := d.DeleteSA(ctx, sa.ID()); err == nil || err.Error() != "injected" {
		t.Fatalf("injected error: %v", err)
	}
	if err := d.DeleteSA(ctx, sa.ID()); err != nil {
		t.Fatal(err)
	}
	if err := d.DeletePolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, c := range d.Calls() {
		methods = append(methods, c.Method)
	}
	want := []string{"AddSA", "AddSA", "AddPolicy", "DeleteSA", "DeleteSA", "DeletePolicy"}
	if diff := cmp.Diff(want, methods); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	d.Emit(esp.Event{Kind: esp.EventSoftExpire, SA: sa.ID()})
	if e := <-d.Events(); e.Kind != esp.EventSoftExpire {
		t.Fatalf("event %v", e)
	}
	d.Close()
	if err := d.AddSA(ctx, sa); !errors.Is(err, esp.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
