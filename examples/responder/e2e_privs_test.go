package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// heldCaps is what a thread of the responder should hold.
type heldCaps struct {
	eff, inh, bnd capSet // permitted = effective, ambient = inheritable
}

// asRoot: started as root, the responder drops everything but
// CAP_NET_ADMIN, from the bounding set too.
var asRoot = heldCaps{eff: 1 << unix.CAP_NET_ADMIN, bnd: 1 << unix.CAP_NET_ADMIN}

// checkDroppedCaps reads /proc/PID/status of the running responder, and
// the status of each of its threads, and checks the capability sets
// (CAP_NET_ADMIN only, effective and permitted), and that no_new_privs
// is set.
func checkDroppedCaps(t *testing.T, pid int, want heldCaps) {
	t.Helper()
	if 1<<unix.CAP_NET_ADMIN != 0x1000 {
		t.Fatal("CAP_NET_ADMIN is not 12")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	hex := func(s capSet) string { return fmt.Sprintf("%016x", uint64(s)) }
	for _, line := range []string{"CapEff:\t" + hex(want.eff), "CapPrm:\t" + hex(want.eff), "CapBnd:\t" + hex(want.bnd),
		"CapInh:\t" + hex(want.inh), "CapAmb:\t" + hex(want.inh), "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), "\n"+line+"\n") {
			t.Errorf("/proc/%d/status lacks %q:\n%s", pid, line, status)
		}
	}
	threads, err := processThreadCaps(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range threads {
		if tc.eff != want.eff || tc.prm != want.eff || tc.bnd != want.bnd || tc.inh != want.inh || tc.amb != want.inh || !tc.noNewPrivs {
			t.Errorf("thread %s: effective %s, permitted %s, bounding %s, inheritable %s, ambient %s, no_new_privs %v", tc.tid, tc.eff, tc.prm, tc.bnd, tc.inh, tc.amb, tc.noNewPrivs)
		}
	}
	if len(threads) < 2 {
		t.Errorf("only %d thread(s): the check of every thread checked nothing", len(threads))
	}
	t.Logf("responder (pid %d, %d threads): capabilities %s, bounding set %s", pid, len(threads), threads[0].eff, threads[0].bnd)
}

// privsNet is the server with two clients in their own namespaces, an
// "Internet" host behind the uplink eth2 (which routes the clients'
// transfer network back, not the pools), and a LAN host that is not a
// VPN client and tries to use the server as a router.
type privsNet struct {
	topo          *testnet.Topology
	second, inet  *testnet.NS
	lan           *testnet.NS
	secondAddress string
}

const (
	privsInetHost = "198.51.100.194"
	privsLANHost  = "203.0.113.66"
)

func newPrivsNet(t *testing.T) *privsNet {
	n := &privsNet{topo: testnet.New(t, testnet.NoNAT), second: testnet.NewNS(t, "c2"), inet: testnet.NewNS(t, "inet"), lan: testnet.NewNS(t, "lan")}
	testnet.Link(t, n.second, "eth0", n.topo.Server, "eth1")
	n.topo.Server.AddAddr("eth1", "203.0.113.1/26")
	n.second.AddAddr("eth0", "203.0.113.2/26")
	n.secondAddress = "203.0.113.1"
	testnet.Link(t, n.inet, "eth0", n.topo.Server, "eth2")
	n.topo.Server.AddAddr("eth2", "198.51.100.193/27")
	n.inet.AddAddr("eth0", privsInetHost+"/27")
	testnet.Link(t, n.lan, "eth0", n.topo.Server, "eth3")
	n.topo.Server.AddAddr("eth3", "203.0.113.65/26")
	n.lan.AddAddr("eth0", privsLANHost+"/26")
	n.lan.Run("ip", "route", "add", "default", "via", "203.0.113.65")
	// The Internet host can answer the LAN host: only the responder's
	// forward filter stands in the way.
	n.inet.Run("ip", "route", "add", "203.0.113.64/26", "via", "198.51.100.193")
	return n
}

// TestEndToEndPrivileges starts the responder as root with masquerading
// on the uplink, and checks, once it serves: its threads hold
// CAP_NET_ADMIN only; two clients still connect, ping the server's
// inside addresses and, through the masquerade, the Internet host, and
// reach each other; a LAN host that is no client is not forwarded
// (forwarding was off before the start); SIGTERM still deletes the
// TUN device and the nftables table and restores the forwarding
// sysctls. With -isolate-clients, the two clients no longer reach
// each other, everything else alike.
func TestEndToEndPrivileges(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "nft", "ping")
	state := t.TempDir()
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate-clients=%v", isolate), func(t *testing.T) {
			runPrivsCase(t, state, isolate, asRoot, func(ns *testnet.NS, args ...string) *responderProcess {
				return startResponder(t, ns, args...)
			})
		})
	}
}

// runPrivsCase is one start of TestEndToEndPrivileges: start runs the
// responder with args in the server namespace.
func runPrivsCase(t *testing.T, state string, isolate bool, want heldCaps, start func(*testnet.NS, ...string) *responderProcess) {
	n := newPrivsNet(t)
	srv := n.topo.Server
	fwd4, fwd6 := srv.Run("cat", sysctlForward4), srv.Run("cat", sysctlForward6)
	t.Cleanup(func() {
		// Registered before the responder starts, so it runs after
		// the responder's stop: the clean-up worked without root.
		if out, err := srv.Try("nft", "list", "table", "inet", nftTable); err == nil {
			t.Errorf("nftables table left behind after the stop:\n%s", out)
		}
		if got := srv.Run("cat", sysctlForward4); got != fwd4 {
			t.Errorf("ip_forward %q after stop, %q before", got, fwd4)
		}
		if got := srv.Run("cat", sysctlForward6); got != fwd6 {
			t.Errorf("IPv6 forwarding %q after stop, %q before", got, fwd6)
		}
	})
	args := []string{"-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String() + "," + n.secondAddress,
		"-pool", testnet.Pool4.String() + "," + testnet.Pool6.String(),
		"-dns", testnet.DNS4.String(), "-masquerade", "eth2"}
	if isolate {
		args = append(args, "-isolate-clients")
	}
	resp := start(srv, args...)
	checkDroppedCaps(t, resp.Cmd.Process.Pid, want)
	if !strings.Contains(resp.Stderr.String(), "privileges dropped") {
		t.Errorf("the log does not say the privileges were dropped:\n%s", resp.Stderr.String())
	}
	password := howTo(resp.Stdout.String(), "password")
	if strings.HasPrefix(password, "in ") {
		// A later start points to the file.
		var u UserConfig
		data, err := os.ReadFile(filepath.Join(state, demoUserFile))
		if err == nil {
			err = yaml.Unmarshal(data, &u)
		}
		if err != nil {
			t.Fatal(err)
		}
		password = u.Password
	}
	if len(password) < 16 {
		t.Fatalf("printed password %q", password)
	}
	user := demoUserName
	a := eapPersona("ios-ikev2-eap", n.topo.Client, testnet.ServerAddr4.String(), user, password)
	b := eapPersona("android-ikev2-eap", n.second, n.secondAddress, user, password)
	clis, vips := connectAll(t, resp, a, b)
	if len(vips[0]) == 0 || len(vips[1]) == 0 {
		t.Fatalf("virtual IPs %v", vips)
	}
	// The pools' traffic is forwarded and masqueraded.
	if out, err := a.ns.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", vips[0][0].String(), privsInetHost); err != nil {
		t.Errorf("client to the Internet host through the masquerade: %v\n%s\n%s", err, out, srv.Run("nft", "list", "ruleset"))
	}
	// Client to client.
	out, err := a.ns.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", vips[0][0].String(), vips[1][0].String())
	if isolate && err == nil {
		t.Errorf("client %v reached client %v with isolate_clients on:\n%s", vips[0][0], vips[1][0], out)
	}
	if !isolate && err != nil {
		t.Errorf("client %v to client %v with isolate_clients off: %v\n%s", vips[0][0], vips[1][0], err, out)
	}
	// Anything else is not forwarded, since the responder turned
	// forwarding on.
	if strings.TrimSpace(fwd4) == "0" {
		if out, err := n.lan.Try("ping", "-c", "2", "-i", "0.2", "-W", "1", privsInetHost); err == nil {
			t.Errorf("the server forwards a LAN host's traffic that is not from a pool:\n%s\n%s", out, srv.Run("nft", "list", "ruleset"))
		}
	} else {
		t.Logf("forwarding was on before the start (%q): the LAN host's traffic is the operator's", fwd4)
	}
	// A client still checks out after all that (the engine still
	// answers: no operation failed for want of a privilege).
	checkPersona(t, a, clis[0])
	resp.stop(t)
	if strings.Contains(resp.Stderr.String(), "removing the forwarding set-up") {
		t.Errorf("the clean-up at stop failed:\n%s", resp.Stderr.String())
	}
}

// TestEndToEndPrivilegesUnprivilegedUser runs the responder the way
// goipsec-responder.service does: as an unprivileged user (nobody) with
// CAP_NET_ADMIN and CAP_NET_BIND_SERVICE as ambient capabilities, the
// bounding set limited to them and no_new_privs, its state directory
// owned by that user. It starts, binds UDP 500, drops
// CAP_NET_BIND_SERVICE once serving (the bounding set is the unit's to
// set: without CAP_SETPCAP it stays), the clients connect, and at stop
// nft, run with the ambient CAP_NET_ADMIN, removes the table.
func TestEndToEndPrivilegesUnprivilegedUser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "nft", "ping", "setpriv")
	const nobody = 65534
	// The test binary where nobody can run it, and a state directory of
	// its own, as StateDirectory= makes it.
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "responder")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	const caps = "net_admin,+net_bind_service"
	want := heldCaps{eff: 1 << unix.CAP_NET_ADMIN, inh: 1 << unix.CAP_NET_ADMIN, bnd: 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_BIND_SERVICE}
	runPrivsCase(t, state, false, want, func(ns *testnet.NS, args ...string) *responderProcess {
		argv := append([]string{"--reuid=" + strconv.Itoa(nobody), "--regid=" + strconv.Itoa(nobody), "--clear-groups",
			"--inh-caps=-all,+" + caps, "--ambient-caps=+" + caps, "--bounding-set=-all,+" + caps, "--no-new-privs", bin}, args...)
		resp := startResponderCommand(t, ns, "setpriv", argv...)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", resp.Cmd.Process.Pid))
		if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", nobody, nobody, nobody, nobody)) {
			t.Errorf("the responder does not run as nobody (%v):\n%s", err, status)
		}
		return resp
	})
}

// TestEndToEndPrivilegesUserSwitch starts the responder as root with
// -user nobody (user: in the file): once set up it runs as nobody
// (every ID, every thread) with CAP_NET_ADMIN in its permitted,
// effective, inheritable and ambient sets and nothing else, clients
// connect, and at stop nft, run as nobody, still removes the table.
func TestEndToEndPrivilegesUserSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "nft", "ping")
	as, err := lookupRunAs("nobody")
	if err != nil || as == nil {
		t.Skipf("no user nobody: %v", err)
	}
	want := heldCaps{eff: 1 << unix.CAP_NET_ADMIN, inh: 1 << unix.CAP_NET_ADMIN, bnd: 1 << unix.CAP_NET_ADMIN}
	runPrivsCase(t, t.TempDir(), false, want, func(ns *testnet.NS, args ...string) *responderProcess {
		resp := startResponder(t, ns, append(args, "-user", "nobody")...)
		threads, err := processThreadCaps(strconv.Itoa(resp.Cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range threads {
			if tc.uid != as.uid || tc.gid != as.gid {
				t.Errorf("thread %s runs as uid %d gid %d, want nobody (%d, %d)", tc.tid, tc.uid, tc.gid, as.uid, as.gid)
			}
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", resp.Cmd.Process.Pid))
		if !strings.Contains(string(status), fmt.Sprintf("\nGroups:\t%d \n", as.gid)) {
			t.Errorf("supplementary groups are not nobody's group only:\n%s", status)
		}
		return resp
	})
}

// startResponderCommand is startResponder for a responder started
// through another program (name args...), which execs it.
func startResponderCommand(t *testing.T, ns *testnet.NS, name string, args ...string) *responderProcess {
	t.Helper()
	proc, err := ns.Start([]string{reexecEnv + "=1"}, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	p := &responderProcess{Process: proc, ns: ns}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("responder log:\n%s", p.Stderr.String())
		}
	})
	if !waitFor(60*time.Second, func() bool {
		select {
		case err := <-p.Done:
			p.stopped = true
			t.Fatalf("responder exited early: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout.String(), p.Stderr.String())
		default:
		}
		return strings.Contains(p.Stdout.String(), "listening on:")
	}) {
		t.Fatalf("responder did not start within 60 s\n%s", p.Stderr.String())
	}
	return p
}
