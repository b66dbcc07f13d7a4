package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
)

// metrics keeps the counters that no snapshot holds: alerts by kind and
// rekeys by scope. Everything else is read from the responder when
// Prometheus scrapes.
type metrics struct {
	mu     sync.Mutex
	alerts map[string]uint64
	rekeys map[string]uint64 // "ike", "child"
}

func newMetrics() *metrics {
	m := &metrics{alerts: map[string]uint64{}, rekeys: map[string]uint64{"ike": 0, "child": 0}}
	// Present from the start at 0, so rate() works from the first scrape.
	for k := ike.AlertProposalMismatch; k <= ike.AlertIdentityLimit; k++ {
		m.alerts[k.String()] = 0
	}
	return m
}

// alert counts one ike.Alert (the Hooks.Alert callback).
func (m *metrics) alert(a ike.Alert) {
	m.mu.Lock()
	m.alerts[a.Kind.String()]++
	m.mu.Unlock()
}

// rekeyed counts one completed rekey (the Hooks.Rekeyed callback).
func (m *metrics) rekeyed(ev ike.RekeyEvent) {
	scope := "child"
	if ev.Scope == ike.RekeyIKE {
		scope = "ike"
	}
	m.mu.Lock()
	m.rekeys[scope]++
	m.mu.Unlock()
}

// promWriter writes the Prometheus text exposition format (version
// 0.0.4): a HELP and TYPE line per metric family, then its samples.
type promWriter struct {
	w io.Writer
}

func (p promWriter) family(name, typ, help string) {
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels are name/value pairs.
func (p promWriter) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=\"%s\"", labels[i], promEscape(labels[i+1]))
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(p.w, "%s %s\n", b.String(), promFloat(v))
}

// promEscape escapes a label value: backslash, double quote and newline.
func promEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func promFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// write renders every metric from the current SAs, the responder's
// counters and the pools.
func (m *metrics) write(w io.Writer, sas []ipsec.IKESAInfo, st ike.Stats, pools []ipsec.AddressPool) {
	p := promWriter{w}
	states := map[string]int{"ESTABLISHED": 0}
	childStates := map[string]int{"INSTALLED": 0}
	var bytesIn, bytesOut, pktsIn, pktsOut uint64
	clients := map[string]int{"v1": 0, "v2": 0}
	for _, sa := range sas {
		states[sa.State]++
		if sa.State == "ESTABLISHED" {
			clients[fmt.Sprintf("v%d", sa.Version)]++
		}
		for _, c := range sa.Children {
			childStates[c.State]++
			bytesIn += c.BytesIn
			bytesOut += c.BytesOut
			pktsIn += c.PacketsIn
			pktsOut += c.PacketsOut
		}
	}
	sorted := func(m map[string]int) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	p.family("goipsec_ike_sas", "gauge", "IKE SAs by state (half-open SAs, before IKE_AUTH completes, are in goipsec_ike_sas_half_open).")
	for _, k := range sorted(states) {
		p.sample("goipsec_ike_sas", float64(states[k]), "state", k)
	}
	p.family("goipsec_clients", "gauge", "Established IKE SAs by IKE version (v1: IKEv1 and Cisco IPSec clients).")
	for _, k := range sorted(clients) {
		p.sample("goipsec_clients", float64(clients[k]), "ike", k)
	}
	p.family("goipsec_ike_sas_half_open", "gauge", "IKE SAs between IKE_SA_INIT and a completed IKE_AUTH.")
	p.sample("goipsec_ike_sas_half_open", float64(st.HalfOpen))
	p.family("goipsec_child_sas", "gauge", "CHILD SAs by state.")
	for _, k := range sorted(childStates) {
		p.sample("goipsec_child_sas", float64(childStates[k]), "state", k)
	}
	// The byte and packet totals are sums over the SAs alive now (each
	// with the traffic of the CHILD SAs it replaced by rekeying): they
	// drop when a client leaves, so they are gauges, not counters.
	p.family("goipsec_esp_bytes", "gauge", "Bytes through the CHILD SAs that exist now and those they replaced by rekeying, by direction (in: from clients).")
	p.sample("goipsec_esp_bytes", float64(bytesIn), "direction", "in")
	p.sample("goipsec_esp_bytes", float64(bytesOut), "direction", "out")
	p.family("goipsec_esp_packets", "gauge", "Packets through the CHILD SAs that exist now, by direction.")
	p.sample("goipsec_esp_packets", float64(pktsIn), "direction", "in")
	p.sample("goipsec_esp_packets", float64(pktsOut), "direction", "out")

	m.mu.Lock()
	alerts := make(map[string]int, len(m.alerts))
	for k, v := range m.alerts {
		alerts[k] = int(v)
	}
	rekeys := map[string]int{}
	for k, v := range m.rekeys {
		rekeys[k] = int(v)
	}
	m.mu.Unlock()
	p.family("goipsec_rekeys_total", "counter", "Completed IKE and CHILD SA rekeys since start, by scope.")
	for _, k := range sorted(rekeys) {
		p.sample("goipsec_rekeys_total", float64(rekeys[k]), "scope", k)
	}
	p.family("goipsec_auth_failures_total", "counter", "Failed authentications (wrong password, untrusted certificate, wrong PSK) since start.")
	p.sample("goipsec_auth_failures_total", float64(alerts[ike.AlertAuthFailed.String()]))
	p.family("goipsec_alerts_total", "counter", "Peer-caused problems since start, by kind.")
	for _, k := range sorted(alerts) {
		p.sample("goipsec_alerts_total", float64(alerts[k]), "kind", k)
	}
	p.family("goipsec_ike_sa_init_rejected_total", "counter", "IKE_SA_INIT requests refused (limits, proposals, syntax).")
	p.sample("goipsec_ike_sa_init_rejected_total", float64(st.Rejected))
	p.family("goipsec_ike_cookies_sent_total", "counter", "COOKIE challenges sent (RFC 7296 section 2.6).")
	p.sample("goipsec_ike_cookies_sent_total", float64(st.CookiesSent))
	p.family("goipsec_ike_packets_dropped_total", "counter", "IKE packets dropped (malformed, unknown SPI, queue full).")
	p.sample("goipsec_ike_packets_dropped_total", float64(st.Dropped))

	p.family("goipsec_pool_addresses_leased", "gauge", "Virtual addresses leased to clients, by pool.")
	type poolInfo interface {
		Leases() map[netip.Addr]string
		Prefix() netip.Prefix
	}
	var sizes []float64
	var names []string
	for _, pl := range pools {
		pi, ok := pl.(poolInfo)
		if !ok {
			continue
		}
		pfx := pi.Prefix()
		p.sample("goipsec_pool_addresses_leased", float64(len(pi.Leases())), "pool", pfx.String())
		names = append(names, pfx.String())
		sizes = append(sizes, poolSize(pfx))
	}
	p.family("goipsec_pool_addresses", "gauge", "Addresses a pool can lease (without network, broadcast and the server's inside address).")
	for i, n := range names {
		p.sample("goipsec_pool_addresses", sizes[i], "pool", n)
	}
}

// poolSize is how many clients a pool serves: the prefix without the
// network address, the IPv4 broadcast address and the server's own
// inside address.
func poolSize(p netip.Prefix) float64 {
	host := p.Addr().BitLen() - p.Bits()
	n := math.Pow(2, float64(host)) - 2 // network address, server
	if p.Addr().Is4() {
		n-- // broadcast
	}
	return max(n, 0)
}

// serveMetrics serves GET /metrics on addr until stop is called. It
// returns the address actually bound (addr may use port 0).
//
// With withPprof it also serves the runtime profiles of net/http/pprof
// under /debug/pprof/ (heap, goroutines, CPU): what a running gateway
// holds per SA and where its CPU goes, without a rebuild.
func serveMetrics(addr string, write func(io.Writer), withPprof bool, log *slog.Logger) (stop func(), bound string, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var b strings.Builder
		write(&b)
		io.WriteString(w, b.String())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, l.Addr().String(), nil
}

// writeDropMetrics writes what the userspace data plane and the IKE
// transport dropped, by reason: a growing counter here is what costs TCP
// inside the tunnel its throughput (socket and tun reasons: the kernel
// dropped the packets because one of our readers fell behind).
func writeDropMetrics(w io.Writer, st esp.Stats, ts ike.TransportStats) {
	p := promWriter{w}
	p.family("goipsec_dataplane_drops_total", "counter", "Packets the userspace ESP data plane dropped, by direction and reason.")
	for _, d := range []struct {
		dir, reason string
		n           uint64
	}{
		{"in", "socket", st.InSocketDrops}, {"in", "tun", st.InTUNDrops}, {"in", "unknown_spi", st.InUnknownSPI},
		{"in", "truncated", st.InTruncated}, {"in", "auth", st.InAuth}, {"in", "replay", st.InReplay},
		{"in", "padding", st.InPadding}, {"in", "selector", st.InSelector}, {"in", "malformed", st.InMalformed},
		{"in", "expired", st.InExpired}, {"in", "tun_write", st.TUNWriteErrors},
		{"out", "tun", st.OutTUNDrops}, {"out", "no_policy", st.OutNoPolicy}, {"out", "discard", st.OutDiscard},
		{"out", "bypass", st.OutBypass}, {"out", "no_sa", st.OutNoSA}, {"out", "seq_overflow", st.OutSeqOverflow},
		{"out", "malformed", st.OutMalformed}, {"out", "no_socket", st.OutNoSocket}, {"out", "send", st.SendErrors},
	} {
		p.sample("goipsec_dataplane_drops_total", float64(d.n), "direction", d.dir, "reason", d.reason)
	}
	p.family("goipsec_transport_recv_drops_total", "counter", "Datagrams the kernel dropped on the IKE/NAT-T sockets because the transport's readers fell behind.")
	p.sample("goipsec_transport_recv_drops_total", float64(ts.RecvDrops))
}
