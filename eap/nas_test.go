package eap

import (
	"context"
	"net/netip"
	"testing"
)

func TestNASContext(t *testing.T) {
	if _, ok := NASFromContext(context.Background()); ok {
		t.Error("a NAS context in context.Background()")
	}
	want := NAS{ClientAddr: netip.MustParseAddrPort("192.0.2.2:4500"), LocalAddr: netip.MustParseAddrPort("192.0.2.1:4500"), SPIi: 1, SPIr: 2, SessionID: 7, Port: 7}
	ctx, cancel := context.WithCancel(ContextWithNAS(context.Background(), want))
	defer cancel()
	if got, ok := NASFromContext(ctx); !ok || got != want {
		t.Errorf("NASFromContext = %+v, %v; want %+v", got, ok, want)
	}
}
