package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// servePprof serves Go's runtime profiles (net/http/pprof: CPU, heap,
// goroutines) on addr, a loopback address and port, until ctx ends: where
// the client's CPU goes while traffic flows, without a rebuild (-pprof).
// It returns the address actually bound.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	if err := checkPprofAddr(addr); err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return l.Addr().String(), nil
}

// checkPprofAddr accepts loopback addresses only: the profiles show the
// program's internals (and a CPU profile costs CPU), so they are not
// served to the network.
func checkPprofAddr(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("want a loopback IP:PORT such as 127.0.0.1:6060")
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: the profiles are served on loopback only", ap.Addr())
	}
	return nil
}
