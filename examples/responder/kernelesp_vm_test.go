package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/vmclient"
)

// The tests in this file run real strongSwan clients with kernel ESP
// (charon with kernel-netlink, as on a Linux laptop) against the
// responder, inside the test VM: without a NAT the client sends raw ESP
// (IP protocol 50), which the host-side tests cannot see because
// kernel-libipsec always encapsulates ESP in UDP. scripts/test's VM
// stage runs them; by hand (see internal/vmclient):
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 go test -c -o /tmp/responder.test ./examples/responder
//	cd examples/responder && GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST \
//	  VMTEST_EXTRA_MODULES="nf_tables nft_chain_nat nft_masq nf_nat nf_conntrack ..." \
//	  ../../scripts/vmtest/run-in-vm "${files[@]}" /tmp/responder.test -test.run '^TestKernelStrongSwan' -test.v

// vmPSK and vmPassword are the test's credentials: the PSK peer
// client@example.com and the EAP user alice.
const (
	vmPSK      = "goipsec-vm-psk-0123456789abcdef"
	vmUser     = "alice"
	vmPassword = "vm-Pa55word-for-alice"
	vmPSKID    = "client@example.com"
)

// vmResponder is the responder of a VM test and its files.
type vmResponder struct {
	*responderProcess
	state, config string
	topo          *testnet.Topology
	plane         string
}

// startVMResponder starts the responder in topo's server namespace from
// a configuration file with a PSK peer and an EAP user, listening on the
// server's IPv4 and IPv6 address (and extraListen), on the given data
// plane.
func startVMResponder(t *testing.T, topo *testnet.Topology, plane string, extraListen ...string) *vmResponder {
	t.Helper()
	listen := append([]string{testnet.ServerAddr4.String(), testnet.ServerAddr6.String()}, extraListen...)
	state, dir := t.TempDir(), t.TempDir()
	conf := fmt.Sprintf(`server:
  name: vpn.example.com
  listen: [%s]
users:
  - name: %s
    password: %q
psk_peers:
  - id: %s
    psk: %q
pools: [%s, %s]
dns: [%s]
dataplane: %s
log:
  level: debug
`, strings.Join(listen, ", "), vmUser, vmPassword, vmPSKID, vmPSK, testnet.Pool4, testnet.Pool6, testnet.DNS4, plane)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state)
	if !waitFor(5*time.Second, func() bool { return strings.Contains(resp.Stderr.String(), "dataplane="+plane) }) {
		t.Errorf("the log does not say dataplane=%s:\n%s", plane, resp.Stderr.String())
	}
	return &vmResponder{responderProcess: resp, state: state, config: confPath, topo: topo, plane: plane}
}

// vmPersonas are the clients of the VM tests, both without forced
// encapsulation: a Linux strongSwan with PSK and the iOS persona with
// EAP-MSCHAPv2, each asking for an IPv4 and an IPv6 virtual address.
func vmPersonas(ns *testnet.NS, server netip.Addr) []persona {
	return []persona{
		{profile: "linux-ikev2-psk", ns: ns, server: server.String(), vars: map[string]string{"CLIENT_ID": vmPSKID, "PSK": vmPSK}},
		eapPersona("ios-ikev2-eap", ns, server.String(), vmUser, vmPassword),
	}
}

// startVMPersona is startPersona with kernel ESP.
func startVMPersona(t *testing.T, c persona, resp *responderProcess) *strongswan.Charon {
	t.Helper()
	p, files := renderPersona(t, c, resp)
	return vmclient.StartCharon(t, c.ns, p, "", files)
}

// checkWire checks what crossed the link between the client at client
// and the server at server: ESP states in both directions on the client
// (and on the server on the kernel plane), raw ESP or ESP in UDP as
// encap says, each with at least 3 packets (the pings).
func checkWire(t *testing.T, r *vmResponder, client, server netip.Addr, encap bool) {
	t.Helper()
	kind := "raw ESP"
	if encap {
		kind = "ESP in UDP"
	}
	st := vmclient.States(t, r.topo.Client)
	if err := vmclient.Check(st, client, server, encap, 3); err != nil {
		t.Errorf("client's kernel SAs, want %s: %v\n%s\nclient %s\nserver %s", kind, err, r.topo.Client.Run("ip", "-s", "xfrm", "state"),
			vmclient.XfrmStat(r.topo.Client), vmclient.XfrmStat(r.topo.Server))
	} else {
		t.Logf("client: %v", st)
	}
	if r.plane != "kernel" {
		return
	}
	// Behind a NAT the server sees the NAT's outside address.
	peer := client
	if r.topo.NAT != nil {
		peer = testnet.ClientAddr4
		if client.Is6() {
			peer = testnet.ClientAddr6
		}
	}
	sst := vmclient.States(t, r.topo.Server)
	if err := vmclient.Check(sst, server, peer, encap, 3); err != nil {
		t.Errorf("responder's kernel SAs, want %s: %v\n%s\n%s", kind, err, r.topo.Server.Run("ip", "-s", "xfrm", "state"), vmclient.XfrmStat(r.topo.Server))
	} else {
		t.Logf("responder: %v", sst)
	}
}

// connectVM starts the persona with kernel ESP, connects it and checks
// its virtual addresses, DNS, pings to both inside addresses and the
// encapsulation on the wire. The client is stopped at the end.
func connectVM(t *testing.T, r *vmResponder, c persona, client, server netip.Addr, encap bool) {
	t.Helper()
	cli := startVMPersona(t, c, r.responderProcess)
	if out, err := cli.Initiate(c.profile, 30*time.Second); err != nil {
		t.Fatalf("%s could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s\n%s", c.profile, err, out, cli.Log(), r.Stderr.String(), vmclient.XfrmStat(r.topo.Server))
	}
	if checkPersona(t, c, cli) != nil {
		checkWire(t, r, client, server, encap)
	}
	cli.Stop()
}

// vmPlanes are the responder's data planes.
var vmPlanes = []string{"userspace", "kernel"}

// testNoNAT: strongSwan IKEv2 clients with kernel ESP and no NAT, PSK
// and EAP-MSCHAPv2, over IPv4 and over IPv6 (each with an IPv4 and an
// IPv6 virtual address), connect to the responder on the given data
// plane and ping through raw ESP: their kernel SAs have no UDP
// encapsulation and count the pings in both directions.
func testNoNAT(t *testing.T, plane string) {
	vmclient.Require(t, "ping")
	topo := testnet.New(t, testnet.NoNAT)
	r := startVMResponder(t, topo, plane)
	for _, outer := range []struct{ client, server netip.Addr }{
		{topo.ClientAddr4, testnet.ServerAddr4},
		{topo.ClientAddr6, testnet.ServerAddr6},
	} {
		for _, c := range vmPersonas(topo.Client, outer.server) {
			name := c.profile + "/ipv4"
			if outer.server.Is6() {
				name = c.profile + "/ipv6"
			}
			t.Run(name, func(t *testing.T) {
				connectVM(t, r, c, outer.client, outer.server, false)
			})
		}
	}
}

// TestKernelStrongSwanNoNATUserspacePlane runs testNoNAT against the
// responder on its default userspace data plane.
func TestKernelStrongSwanNoNATUserspacePlane(t *testing.T) { testNoNAT(t, "userspace") }

// TestKernelStrongSwanNoNATKernelPlane runs testNoNAT against the
// responder with dataplane: kernel.
func TestKernelStrongSwanNoNATKernelPlane(t *testing.T) { testNoNAT(t, "kernel") }

// TestKernelStrongSwanBehindNAT: the same clients behind a NAT
// (nftables masquerade with random ports) still connect on each data
// plane, now with ESP in UDP, over IPv4 and over IPv6.
func TestKernelStrongSwanBehindNAT(t *testing.T) {
	vmclient.Require(t, "ping", "nft")
	for _, plane := range vmPlanes {
		t.Run(plane, func(t *testing.T) {
			topo := testnet.New(t, testnet.NATRandomPort)
			r := startVMResponder(t, topo, plane)
			psk, eap := vmPersonas(topo.Client, testnet.ServerAddr4)[0], vmPersonas(topo.Client, testnet.ServerAddr6)[1]
			t.Run(psk.profile+"/ipv4", func(t *testing.T) { connectVM(t, r, psk, topo.ClientAddr4, testnet.ServerAddr4, true) })
			t.Run(eap.profile+"/ipv6", func(t *testing.T) { connectVM(t, r, eap, topo.ClientAddr6, testnet.ServerAddr6, true) })
		})
	}
}

// TestKernelStrongSwanExportLinux: the strongSwan configuration that
// `responder export linux` writes (EAP, encap = no), used unchanged: the
// server's name resolves through the client namespace's hosts file. It
// connects without a NAT on each data plane and pings through raw ESP.
func TestKernelStrongSwanExportLinux(t *testing.T) {
	vmclient.Require(t, "ping")
	for _, plane := range vmPlanes {
		t.Run(plane, func(t *testing.T) {
			topo := testnet.New(t, testnet.NoNAT)
			r := startVMResponder(t, topo, plane)
			exported := filepath.Join(t.TempDir(), "swanctl")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"export", "linux", "--user", vmUser, "-config", r.config, "-state", r.state, "-include-password", "-o", exported}, &stdout, &stderr); code != 0 {
				t.Fatalf("export linux: %d %s", code, stderr.String())
			}
			conf, files := readExportedLinux(t, exported)
			if !strings.Contains(conf, `remote_addrs = "vpn.example.com"`) || !strings.Contains(conf, "encap = no") {
				t.Fatalf("the exported configuration changed: want remote_addrs = \"vpn.example.com\" and encap = no:\n%s", conf)
			}
			vmclient.Hosts(t, topo.Client, "vpn.example.com", testnet.ServerAddr4)
			cli := vmclient.StartCharon(t, topo.Client, &strongswan.Profile{Name: linuxConnName, Conf: conf}, "", files)
			if out, err := cli.Initiate(linuxConnName, 30*time.Second); err != nil {
				t.Fatalf("exported configuration: %v\n%s\n%s\nresponder:\n%s", err, out, cli.Log(), r.Stderr.String())
			}
			if checkPersona(t, persona{profile: linuxConnName, ns: topo.Client}, cli) != nil {
				checkWire(t, r, topo.ClientAddr4, testnet.ServerAddr4, false)
			}
		})
	}
}
