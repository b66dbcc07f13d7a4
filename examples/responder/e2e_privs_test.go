package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// checkDroppedCaps reads /proc/PID/status of the running responder, and
// the status of each of its threads, and checks that it holds
// CAP_NET_ADMIN and nothing else: effective, permitted and bounding set,
// no ambient or inheritable capabilities, no_new_privs set.
func checkDroppedCaps(t *testing.T, pid int) {
	t.Helper()
	const want = "0000000000001000" // 1 << CAP_NET_ADMIN (12)
	if 1<<unix.CAP_NET_ADMIN != 0x1000 {
		t.Fatal("CAP_NET_ADMIN is not 12")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"CapEff:\t" + want, "CapPrm:\t" + want, "CapBnd:\t" + want, "CapInh:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), "\n"+line+"\n") {
			t.Errorf("/proc/%d/status lacks %q:\n%s", pid, line, status)
		}
	}
	threads, err := processThreadCaps(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range threads {
		if tc.eff != 1<<unix.CAP_NET_ADMIN || tc.prm != tc.eff || tc.bnd != tc.eff || tc.inh != 0 || tc.amb != 0 || !tc.noNewPrivs {
			t.Errorf("thread %s: effective %s, permitted %s, bounding %s, inheritable %s, ambient %s, no_new_privs %v", tc.tid, tc.eff, tc.prm, tc.bnd, tc.inh, tc.amb, tc.noNewPrivs)
		}
	}
	if len(threads) < 2 {
		t.Errorf("only %d thread(s): the check of every thread checked nothing", len(threads))
	}
	t.Logf("responder (pid %d, %d threads): capabilities %s", pid, len(threads), threads[0].eff)
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
			resp := startResponder(t, srv, args...)
			checkDroppedCaps(t, resp.Cmd.Process.Pid)
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
		})
	}
}
