// Package vmclient runs real VPN clients with kernel ESP inside the
// project's test VM (scripts/vmtest/run-in-vm), where the kernel has
// ESP: strongSwan's charon with kernel-netlink (not kernel-libipsec,
// which always encapsulates ESP in UDP and cannot do transport mode),
// so a client that is not behind a NAT sends raw ESP (IP protocol 50),
// as Linux, macOS, iOS and Windows do. It is test support only.
//
// The VM has neither strongSwan nor a Go toolchain. The host stages the
// programs into a root tree that run-in-vm copies in
// (scripts/vmtest/stage-clients: charon, swanctl, every plugin and the
// libraries ldd names for each, plus what is loaded at run time and ldd
// cannot see: libgcc_s.so.1 for pthread_cancel, the OpenSSL legacy
// provider for MD4 (EAP-MSCHAPv2), /etc/protocols; nft, ping; xl2tpd and
// pppd when installed). The VM stage of scripts/test builds it, passes
// one fixed VMTEST_EXTRA_MODULES list (nftables NAT, PPP, L2TP) so the
// initramfs is built once, and runs the TestKernel* tests with
// GOIPSEC_VMTEST=1:
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 go test -c -o /tmp/responder.test ./examples/responder
//	(cd examples/responder && GOIPSEC_VMTEST=1 VMTEST_PASSENV="GOIPSEC_VMTEST CI" \
//	  VMTEST_EXTRA_MODULES="..." ../../scripts/vmtest/run-in-vm "${files[@]}" \
//	  /tmp/responder.test -test.run '^TestKernelStrongSwan' -test.v)
//
// Inside the VM, each daemon runs in its own network namespace
// (internal/testnet) with its own /run, bind-mounted over /run in the
// namespace's mount namespace (charon.pid, and later /var/run/xl2tpd,
// pppN.pid are fixed paths): internal/strongswan does that for charon,
// and StartCharon starts it with kernel ESP; StartDaemon does it for any
// other daemon (xl2tpd, pppd). Hosts makes a server name resolve in one
// namespace, so exported configurations run unchanged. States and Check read
// `ip -s xfrm state` to prove what went over the wire: raw ESP (no encap)
// or ESP in UDP, and packets in both directions.
//
// libreswan 4.10 (libreswan.go) is the second IKEv1 implementation:
// stage-clients unpacks pluto, whack, addconn and certutil from Debian's
// .debs (installing libreswan would remove strongSwan), StartPluto runs
// pluto with kernel ESP in a namespace with its own /run and NSS
// database, and V1LibreswanClient and V1LibreswanServer are its sides for
// strongswan.RunV1 (the test adds the tunnel routes libreswan's updown
// script would); PingHosts and UDP1701 are the transport-mode traffic
// checks. scripts/test runs the TestKernel* tests of this package and of
// the packages whose tests import it (ikev1: our engine on the kernel
// data plane against libreswan and strongSwan) in their own VM stage,
// with the staged clients:
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV="GOIPSEC_VMTEST CI" VMTEST_SMP=2 \
//	  go test -p 1 -exec "$PWD/scripts/vmtest/run-in-vm ${files[*]}" -run '^TestKernel' ./internal/vmclient ./ikev1
//
// L2TP/IPsec clients (l2tp.go): RunL2TP runs the personas of
// shared/interop/IKEV1-L2TP.md section 4 — Windows-like (1701 at both
// ends, receive window 8, MS-CHAPv2 only, ECP groups first) and
// Apple-like (floating port 50123, receive window 4, MTU 1280, Apple's 14
// transforms) on strongSwan, the Windows-like one also on libreswan —
// with xl2tpd (kernel L2TP) and pppd, directly, behind a NAT and two
// behind one NAT, against a server the test starts in the server
// namespace, and returns per client IKE, the kernel SAs, ppp's
// addresses, the DNS received, pings and the daemons' logs.
// TestKernelL2TPReference proves it against strongSwan + xl2tpd + pppd.
package vmclient

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// EnvVM is set to 1 by the VM stage of scripts/test: the test runs
// inside the VM, whose kernel has ESP.
const EnvVM = "GOIPSEC_VMTEST"

// StagedList is the file stage-clients writes inside the staged root:
// the names of the programs it staged, one per line.
const StagedList = "/etc/goipsec-vmclients"

// InVM reports whether the test runs inside the test VM.
func InVM() bool { return os.Getenv(EnvVM) == "1" }

// Require skips the test outside the VM, always, also under CI: the
// host kernel has no ESP, and scripts/test runs these tests in the VM.
// Inside the VM it checks root and that the staged root holds charon,
// swanctl and each named program (stage-clients' list): when one is
// missing the test fails under CI (CI=true) and skips elsewhere.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	if !InVM() {
		t.Skip("runs in the test VM with the staged clients (the host kernel has no ESP): see internal/vmclient's doc for the command")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	staged := map[string]bool{}
	if b, err := os.ReadFile(StagedList); err == nil {
		for _, l := range strings.Fields(string(b)) {
			staged[l] = true
		}
	}
	for _, p := range append([]string{"charon", "swanctl"}, programs...) {
		_, err := exec.LookPath(p)
		switch p {
		case "charon":
			_, err = os.Stat(strongswan.CharonPath)
		case "pluto", "whack", "addconn":
			_, err = os.Stat(filepath.Join(LibreswanDir, p))
		}
		if !staged[p] || err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("test VM without %s (stage them with scripts/vmtest/stage-clients and pass its --file options to run-in-vm; %s lists what was staged)",
		strings.Join(missing, ", "), StagedList)
	if testnet.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// StartCharon starts charon with kernel ESP in ns (see strongswan.Start
// for the rest: configuration, private /run, swanctl --load-all, stop
// at the end of the test).
func StartCharon(t testing.TB, ns *testnet.NS, p *strongswan.Profile, extraConf string, files strongswan.Files) *strongswan.Charon {
	t.Helper()
	return strongswan.StartWith(t, ns, p, extraConf, files, strongswan.Options{KernelESP: true})
}

// Hosts makes name resolve to addr for programs started with `ip netns
// exec` in ns (iproute2 bind-mounts /etc/netns/NS/hosts over
// /etc/hosts), so a configuration naming the server by its DNS name is
// used unchanged. The file is removed when the test ends.
func Hosts(t testing.TB, ns *testnet.NS, name string, addr netip.Addr) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	content := fmt.Sprintf("127.0.0.1 localhost\n::1 localhost\n%s %s\n", addr, name)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// State is one XFRM state as `ip -s xfrm state` shows it.
type State struct {
	// Src and Dst are the outer addresses.
	Src, Dst netip.Addr
	Proto    string // esp, ah, comp
	// SPI is the security parameter index.
	SPI  uint32
	Mode string // tunnel, transport
	// Encap is the encapsulation type (espinudp) or "" for raw ESP.
	Encap string
	// EncapSport and EncapDport are the UDP ports of an encapsulated SA.
	EncapSport, EncapDport uint16
	Bytes, Packets         uint64 // lifetime current
}

// String formats the state on one line for test logs.
func (s State) String() string {
	e := "raw"
	if s.Encap != "" {
		e = fmt.Sprintf("%s %d->%d", s.Encap, s.EncapSport, s.EncapDport)
	}
	return fmt.Sprintf("%s %s->%s spi 0x%08x %s %s %d packets", s.Proto, s.Src, s.Dst, s.SPI, s.Mode, e, s.Packets)
}

// ParseStates reads the output of `ip -s xfrm state`.
func ParseStates(out string) ([]State, error) {
	var states []State
	var cur *State
	wantCounters := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			if f[0] != "src" || len(f) < 4 || f[2] != "dst" {
				return nil, fmt.Errorf("vmclient: xfrm state: unexpected line %q", line)
			}
			src, err1 := netip.ParseAddr(f[1])
			dst, err2 := netip.ParseAddr(f[3])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("vmclient: xfrm state: bad addresses in %q", line)
			}
			states = append(states, State{Src: src, Dst: dst})
			cur = &states[len(states)-1]
			wantCounters = false
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("vmclient: xfrm state: %q before any state", line)
		}
		switch {
		case f[0] == "proto" && len(f) >= 4:
			cur.Proto = f[1]
			spi := f[3]
			if i := strings.IndexByte(spi, '('); i >= 0 {
				spi = spi[:i]
			}
			v, err := strconv.ParseUint(strings.TrimPrefix(spi, "0x"), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("vmclient: xfrm state: bad SPI in %q", line)
			}
			cur.SPI = uint32(v)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "mode" {
					cur.Mode = f[i+1]
				}
			}
		case f[0] == "encap" && len(f) >= 7 && f[1] == "type":
			cur.Encap = f[2]
			sp, err1 := strconv.ParseUint(f[4], 10, 16)
			dp, err2 := strconv.ParseUint(f[6], 10, 16)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("vmclient: xfrm state: bad encap ports in %q", line)
			}
			cur.EncapSport, cur.EncapDport = uint16(sp), uint16(dp)
		case f[0] == "lifetime" && len(f) == 2 && f[1] == "current:":
			wantCounters = true
		case wantCounters && strings.HasSuffix(f[0], "(bytes),"):
			wantCounters = false
			b, err1 := strconv.ParseUint(strings.TrimSuffix(f[0], "(bytes),"), 10, 64)
			p, err2 := strconv.ParseUint(strings.TrimSuffix(f[len(f)-1], "(packets)"), 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("vmclient: xfrm state: bad counters in %q", line)
			}
			cur.Bytes, cur.Packets = b, p
		}
	}
	return states, nil
}

// States returns the XFRM states of ns (`ip -s xfrm state`).
func States(t testing.TB, ns *testnet.NS) []State {
	t.Helper()
	out := ns.Run("ip", "-s", "xfrm", "state")
	st, err := ParseStates(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return st
}

// Check reports whether the ESP states between a and b (both
// directions) exist, are all raw ESP (encap false) or all ESP in UDP
// (encap true), and carried at least minPackets packets each way.
func Check(states []State, a, b netip.Addr, encap bool, minPackets uint64) error {
	var out, in []State
	for _, s := range states {
		if s.Proto != "esp" {
			continue
		}
		switch {
		case s.Src == a && s.Dst == b:
			out = append(out, s)
		case s.Src == b && s.Dst == a:
			in = append(in, s)
		}
	}
	if len(out) == 0 || len(in) == 0 {
		return fmt.Errorf("want ESP states %s->%s and %s->%s, have %v", a, b, b, a, states)
	}
	var problems []string
	for _, dir := range [][]State{out, in} {
		var packets uint64
		for _, s := range dir {
			if encap && s.Encap != "espinudp" {
				problems = append(problems, fmt.Sprintf("not ESP in UDP: %v", s))
			}
			if !encap && s.Encap != "" {
				problems = append(problems, fmt.Sprintf("not raw ESP: %v", s))
			}
			packets += s.Packets
		}
		if packets < minPackets {
			problems = append(problems, fmt.Sprintf("%s->%s carried %d packets, want at least %d", dir[0].Src, dir[0].Dst, packets, minPackets))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// XfrmStat returns the nonzero counters of /proc/net/xfrm_stat in ns
// (XfrmInNoStates, XfrmInStateMismatch, ...): what the kernel dropped
// and why, for failure messages.
func XfrmStat(ns *testnet.NS) string {
	out, err := ns.Try("cat", "/proc/net/xfrm_stat")
	if err != nil {
		return fmt.Sprintf("xfrm_stat: %v %s", err, out)
	}
	var nz []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[1] != "0" {
			nz = append(nz, f[0]+"="+f[1])
		}
	}
	if len(nz) == 0 {
		return "xfrm_stat: all zero"
	}
	return "xfrm_stat: " + strings.Join(nz, " ")
}

// StartDaemon runs name with args in ns with its own /run: runDir is
// bind-mounted over /run in the mount namespace `ip netns exec` creates,
// so daemons with fixed pid, socket and state paths (charon.pid,
// /var/run/xl2tpd, pppN.pid, /run/pluto) can run once per namespace.
// env is added to the test's environment. The process is terminated
// (SIGTERM, then SIGKILL after 5 s), by its PID, when the test ends.
func StartDaemon(t testing.TB, ns *testnet.NS, runDir string, env []string, name string, args ...string) *testnet.Process {
	t.Helper()
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// sh execs the daemon, so the PID the test holds is the daemon's.
	sh := append([]string{"-c", `mount --bind "$1" /run && shift && exec "$@"`, "sh", runDir, name}, args...)
	p, err := ns.Start(env, "sh", sh...)
	if err != nil {
		t.Fatalf("start %s in %s: %v", name, ns.Name, err)
	}
	t.Cleanup(func() {
		if inTime, _ := p.Terminate(5 * time.Second); !inTime {
			t.Logf("%s did not stop within 5 s of SIGTERM; killed", name)
		}
	})
	return p
}
