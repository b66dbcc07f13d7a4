package main

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
)

// TestMetricsExposition renders known SAs, counters and pools and parses
// the output with the e2e test's text-format parser.
func TestMetricsExposition(t *testing.T) {
	m := newMetrics()
	m.alert(ike.Alert{Kind: ike.AlertAuthFailed, Err: errors.New("bad password")})
	m.alert(ike.Alert{Kind: ike.AlertAuthFailed})
	m.alert(ike.Alert{Kind: ike.AlertProposalMismatch})
	m.rekeyed(ike.RekeyEvent{Scope: ike.RekeyChildren})
	m.rekeyed(ike.RekeyEvent{Scope: ike.RekeyChildren})
	m.rekeyed(ike.RekeyEvent{Scope: ike.RekeyIKE})
	pool, err := ipsec.NewPool(netip.MustParsePrefix("198.51.100.64/26"))
	if err != nil {
		t.Fatal(err)
	}
	pool.Reserve(netip.MustParseAddr("198.51.100.65"))
	for _, owner := range []string{"a", "b", "c"} {
		if _, err := pool.Acquire(t.Context(), owner, netip.Addr{}); err != nil {
			t.Fatal(err)
		}
	}
	pool6, _ := ipsec.NewPool(netip.MustParsePrefix("2001:db8:100:1::/120"))
	sas := []ipsec.IKESAInfo{
		{Version: 2, State: "ESTABLISHED", Children: []ipsec.ChildSAInfo{
			{State: "INSTALLED", BytesIn: 100, BytesOut: 200, PacketsIn: 1, PacketsOut: 2},
			{State: "REKEYED", BytesIn: 10, BytesOut: 20, PacketsIn: 3, PacketsOut: 4},
		}},
		{Version: 1, State: "ESTABLISHED", Children: []ipsec.ChildSAInfo{{State: "INSTALLED", BytesIn: 1000, PacketsIn: 5}}},
		{Version: 2, State: "DELETING"},
	}
	var b strings.Builder
	m.write(&b, sas, ike.Stats{HalfOpen: 7, CookiesSent: 8, Rejected: 9, Dropped: 10}, []ipsec.AddressPool{pool, pool6})
	got := parseMetrics(t, b.String())
	for k, want := range map[string]float64{
		`goipsec_ike_sas{state="ESTABLISHED"}`:                       2,
		`goipsec_ike_sas{state="DELETING"}`:                          1,
		`goipsec_ike_sas_half_open`:                                  7,
		`goipsec_clients{ike="v1"}`:                                  1,
		`goipsec_clients{ike="v2"}`:                                  1,
		`goipsec_child_sas{state="INSTALLED"}`:                       2,
		`goipsec_child_sas{state="REKEYED"}`:                         1,
		`goipsec_esp_bytes{direction="in"}`:                          1110,
		`goipsec_esp_bytes{direction="out"}`:                         220,
		`goipsec_esp_packets{direction="in"}`:                        9,
		`goipsec_esp_packets{direction="out"}`:                       6,
		`goipsec_auth_failures_total`:                                2,
		`goipsec_alerts_total{kind="auth-failed"}`:                   2,
		`goipsec_alerts_total{kind="proposal-mismatch"}`:             1,
		`goipsec_alerts_total{kind="malformed"}`:                     0,
		`goipsec_rekeys_total{scope="child"}`:                        2,
		`goipsec_rekeys_total{scope="ike"}`:                          1,
		`goipsec_ike_cookies_sent_total`:                             8,
		`goipsec_ike_sa_init_rejected_total`:                         9,
		`goipsec_ike_packets_dropped_total`:                          10,
		`goipsec_pool_addresses_leased{pool="198.51.100.64/26"}`:     3,
		`goipsec_pool_addresses{pool="198.51.100.64/26"}`:            61,
		`goipsec_pool_addresses_leased{pool="2001:db8:100:1::/120"}`: 0,
		`goipsec_pool_addresses{pool="2001:db8:100:1::/120"}`:        254,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if strings.Contains(b.String(), "bad password") {
		t.Error("an alert's error text leaked into the metrics")
	}
}

func TestPromFormatting(t *testing.T) {
	for in, want := range map[string]string{`a"b`: `a\"b`, `c:\d`: `c:\\d`, "e\nf": `e\nf`} {
		if got := promEscape(in); got != want {
			t.Errorf("promEscape(%q) = %q, want %q", in, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 42: "42", 1.5: "1.5", math.Inf(1): "+Inf", 1e20: "1e+20"} {
		if got := promFloat(v); got != want {
			t.Errorf("promFloat(%v) = %q, want %q", v, got, want)
		}
	}
	if got := promFloat(math.NaN()); got != "NaN" {
		t.Errorf("promFloat(NaN) = %q", got)
	}
}

// TestDropMetrics: every drop reason of the data plane is exported, with
// its value.
func TestDropMetrics(t *testing.T) {
	var b strings.Builder
	writeDropMetrics(&b, esp.Stats{InSocketDrops: 5, OutTUNDrops: 6, InReplay: 7, SendErrors: 8}, ike.TransportStats{RecvDrops: 9})
	got := parseMetrics(t, b.String())
	for k, want := range map[string]float64{
		`goipsec_dataplane_drops_total{direction="in",reason="socket"}`: 5,
		`goipsec_dataplane_drops_total{direction="out",reason="tun"}`:   6,
		`goipsec_dataplane_drops_total{direction="in",reason="replay"}`: 7,
		`goipsec_dataplane_drops_total{direction="out",reason="send"}`:  8,
		`goipsec_dataplane_drops_total{direction="in",reason="auth"}`:   0,
		`goipsec_transport_recv_drops_total`:                            9,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
}

// TestMetricsPprof: the profiles are served only when asked for, next to
// /metrics.
func TestMetricsPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		stop, addr, err := serveMetrics("127.0.0.1:0", func(w io.Writer) { io.WriteString(w, "x 1\n") }, on, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) (int, string) {
			t.Helper()
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := get("/metrics"); code != 200 || body != "x 1\n" {
			t.Errorf("pprof=%v: /metrics = %d %q", on, code, body)
		}
		code, body := get("/debug/pprof/heap?debug=1")
		if on && (code != 200 || !strings.Contains(body, "heap profile")) {
			t.Errorf("pprof on: /debug/pprof/heap = %d %.80q", code, body)
		}
		if !on && code != 404 {
			t.Errorf("pprof off: /debug/pprof/heap = %d, want 404", code)
		}
		stop()
	}
}
