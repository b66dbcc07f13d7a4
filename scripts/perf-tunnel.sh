#!/usr/bin/env bash
# perf-tunnel.sh: TCP throughput (iperf3) through wireguard-go and through
# goipsec's userspace ESP engine, one after the other on the same veth pair
# between two network namespaces; prints both and the ratio ours/wireguard-go.
#
#   sudo ./scripts/perf-tunnel.sh                 # 3 runs x 10 s, ESP in UDP
#   SECS=5 RUNS=1 ENCAP=0 ./scripts/perf-tunnel.sh # raw ESP (IP protocol 50)
#
# wireguard-go is built from the Go module proxy at the version go.mod pins
# (go install into a temporary GOBIN); `wg` comes from Debian's
# wireguard-tools. Our side is the esp package's test binary running
# TestPerfEndpoint (one static AES-128-GCM SA pair, keys from /dev/urandom).
# Namespaces gi-perf-<pid>-{a,b}; underlay 198.51.100.1/.2 (veth); tunnel
# 192.0.2.1/.2. Everything is removed on exit; only our own PIDs are killed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
RUNS=${RUNS:-3}
ENCAP=${ENCAP:-1}

[ "$(id -u)" = 0 ] || { echo "perf-tunnel: needs root (netns, TUN)" >&2; exit 1; }
for t in ip iperf3 wg python3 go; do
  command -v "$t" >/dev/null || { echo "perf-tunnel: needs $t (apt-get install iproute2 iperf3 wireguard-tools python3)" >&2; exit 1; }
done

WGVER=$(awk '$1=="golang.zx2c4.com/wireguard"{print $2}' go.mod)
work=$(mktemp -d /tmp/gi-perf.XXXXXX)
NA=gi-perf-$$-a
NB=gi-perf-$$-b
VA=gipv$$a
VB=gipv$$b
VA=${VA:0:15}
VB=${VB:0:15}
pids=()

stop_pids() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_pids
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building wireguard-go $WGVER and the esp test binary" >&2
GOBIN="$work/bin" GOFLAGS=-buildvcs=false go install "golang.zx2c4.com/wireguard@$WGVER"
CGO_ENABLED=0 GOFLAGS=-buildvcs=false go test -c -o "$work/esp.test" ./esp

ip netns add "$NA"
ip netns add "$NB"
ip link add "$VA" netns "$NA" type veth peer name "$VB" netns "$NB"
ip -n "$NA" addr add 198.51.100.1/24 dev "$VA"
ip -n "$NB" addr add 198.51.100.2/24 dev "$VB"
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set "$VA" up
ip -n "$NB" link set "$VB" up

ip netns exec "$NB" iperf3 -s -p 5201 >"$work/iperf-server.log" 2>&1 &
iperf_pid=$!
sleep 0.5

# measure LABEL: RUNS iperf3 runs from A to B's tunnel address.
measure() {
  local label=$1 i
  ip netns exec "$NA" ping -c 2 -W 2 192.0.2.2 >/dev/null || { echo "perf-tunnel: $label tunnel does not pass ping" >&2; exit 1; }
  for i in $(seq "$RUNS"); do
    ip netns exec "$NA" iperf3 -c 192.0.2.2 -p 5201 -t "$SECS" -J >"$work/$label-$i.json"
  done
}

wait_link() { # ns ifname
  for _ in $(seq 100); do ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "perf-tunnel: interface $2 did not appear in $1" >&2; exit 1
}

# --- wireguard-go -------------------------------------------------------
umask 077
wg genkey >"$work/a.key"; wg pubkey <"$work/a.key" >"$work/a.pub"
wg genkey >"$work/b.key"; wg pubkey <"$work/b.key" >"$work/b.pub"
start_wg() { # ns side ifname
  mkdir -p "$work/$2-run"
  # ip netns exec gives the process a private mount namespace, so the bind
  # mount keeps wireguard-go's UAPI socket out of the host's /run.
  ip netns exec "$1" sh -c "mount --bind $work/$2-run /run && exec $work/bin/wireguard -f $3" >"$work/wg-$2.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do [ -S "$work/$2-run/wireguard/$3.sock" ] && return 0; sleep 0.05; done
  echo "perf-tunnel: wireguard-go did not start"; cat "$work/wg-$2.log"; exit 1
}
start_wg "$NA" a giwga; PA=${pids[-1]}
start_wg "$NB" b giwgb; PB=${pids[-1]}
nsenter -t "$PA" -m -n wg set giwga private-key "$work/a.key" listen-port 51820 \
  peer "$(cat "$work/b.pub")" endpoint 198.51.100.2:51820 allowed-ips 192.0.2.2/32
nsenter -t "$PB" -m -n wg set giwgb private-key "$work/b.key" listen-port 51820 \
  peer "$(cat "$work/a.pub")" endpoint 198.51.100.1:51820 allowed-ips 192.0.2.1/32
ip -n "$NA" addr add 192.0.2.1/24 dev giwga; ip -n "$NA" link set giwga up
ip -n "$NB" addr add 192.0.2.2/24 dev giwgb; ip -n "$NB" link set giwgb up
echo "== wireguard-go: iperf3 ${RUNS}x${SECS}s" >&2
measure wg
stop_pids

# --- goipsec userspace ESP ----------------------------------------------
k1=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
k2=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_esp() { # ns tun local peer inner peerinner spiout spiin keyout keyin
  ip netns exec "$1" env ESP_PERF_ENDPOINT=1 ESP_PERF_TUN="$2" ESP_PERF_LOCAL="$3" ESP_PERF_PEER="$4" \
    ESP_PERF_INNER="$5" ESP_PERF_PEER_INNER="$6" ESP_PERF_SPI_OUT="$7" ESP_PERF_SPI_IN="$8" \
    ESP_PERF_KEY_OUT="$9" ESP_PERF_KEY_IN="${10}" ESP_PERF_ENCAP="$ENCAP" ESP_PERF_SECONDS=$((RUNS * SECS * 2 + 60)) \
    "$work/esp.test" -test.run '^TestPerfEndpoint$' -test.v >"$work/esp-$2.log" 2>&1 &
  pids+=("$!")
  wait_link "$1" "$2"
  ip -n "$1" addr add "$5" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" route add "$6" dev "$2" src "${5%/*}"
}
start_esp "$NA" giespa 198.51.100.1 198.51.100.2 192.0.2.1/32 192.0.2.2/32 0x1001 0x2002 "$k1" "$k2"
start_esp "$NB" giespb 198.51.100.2 198.51.100.1 192.0.2.2/32 192.0.2.1/32 0x2002 0x1001 "$k2" "$k1"
mode="ESP in UDP"; [ "$ENCAP" = 1 ] || mode="raw ESP"
echo "== goipsec userspace ESP (aes128gcm16, $mode): iperf3 ${RUNS}x${SECS}s" >&2
measure esp
stop_pids
kill "$iperf_pid" 2>/dev/null || true; wait "$iperf_pid" 2>/dev/null || true

python3 - "$work" "$RUNS" "$mode" <<'PY'
import json, statistics, sys
work, runs, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def med(label):
    v = []
    for i in range(1, runs + 1):
        j = json.load(open(f"{work}/{label}-{i}.json"))
        if "error" in j:
            sys.exit(f"perf-tunnel: iperf3 {label} run {i}: {j['error']}")
        v.append(j["end"]["sum_received"]["bits_per_second"] / 1e9)
    return statistics.median(v), v
wg, wgv = med("wg")
es, esv = med("esp")
print(f"wireguard-go          {wg:6.2f} Gbit/s (median of {' '.join(f'{x:.2f}' for x in wgv)})")
print(f"goipsec esp ({mode:10s}) {es:6.2f} Gbit/s (median of {' '.join(f'{x:.2f}' for x in esv)})")
print(f"ratio goipsec/wireguard-go: {es / wg:.2f}x")
PY
