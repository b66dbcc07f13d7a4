package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/vmclient"
)

// l2tpVMServer starts the responder as the L2TP/IPsec gateway of a
// vmclient L2TP case on the given data plane: the case's PSK for every
// address, its user, pool and DNS server, everything else the built-in
// configuration (L2TP on) and extra, more of the configuration file. The
// status function is `responder status`.
func l2tpVMServer(plane, extra string) vmclient.L2TPServerStart {
	return func(t *testing.T, env *vmclient.L2TPEnv) func() string {
		c := env.Case
		var users strings.Builder
		for u, pw := range env.Users {
			fmt.Fprintf(&users, "  - name: %s\n    password: %q\n", u, pw)
		}
		conf := fmt.Sprintf(`server:
  name: vpn.example.com
  listen: [%s]
users:
%spools: [%s]
dns: [%s]
dataplane: %s
ikev1:
  psks:
    - peer: "*"
      psk: %q
log:
  level: debug
%s`, env.ServerAddr, users.String(), c.Pool, c.DNS[0], plane, c.PSK, extra)
		path := filepath.Join(env.Dir, "responder.yaml")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		state := t.TempDir()
		resp := startResponder(t, env.Server, "-config", path, "-state", state)
		if !waitFor(5*time.Second, func() bool { return strings.Contains(resp.Stderr.String(), "dataplane="+plane) }) {
			t.Fatalf("the log does not say dataplane=%s:\n%s", plane, resp.Stderr.String())
		}
		return func() string {
			var o, e bytes.Buffer
			run(context.Background(), []string{"status", "-state", state}, &o, &e)
			return o.String() + e.String() + "\nresponder log:\n" + resp.Stderr.String()
		}
	}
}

// l2tpVMCase is a case whose PPP peer address is the responder's: the
// pool's first address, which the responder keeps for itself.
func l2tpVMCase(c vmclient.L2TPCase) vmclient.L2TPCase {
	c.Pool = vmclient.L2TPPool
	c.Gateway = c.Pool.Addr().Next()
	return c
}

// TestKernelL2TP runs real L2TP/IPsec clients (strongSwan with kernel ESP
// in transport mode, or libreswan, then xl2tpd and pppd with kernel PPP)
// against the responder on both data planes: the Windows-like persona
// directly (raw ESP) and behind a NAT (ESP in UDP, NAT-OA), the
// Apple-like one (floating L2TP port, MTU 1280) and the Android-like one
// (MODP-1024, receive window 1, CCP offered and refused) behind a NAT, libreswan
// as the Windows-like client's IKEv1 side, two Windows-like clients
// behind one NAT (same address and ports after the NAT), and a wrong
// password. Each client gets a pool address and the DNS server by IPCP,
// pings the responder's PPP address and the address behind it, and a
// 1,400-byte packet with DF passes; status lists the L2TP session with
// the user under its IKEv1 SA.
func TestKernelL2TP(t *testing.T) {
	vmclient.Require(t, "ping")
	win, apple := vmclient.L2TPClient{Persona: vmclient.L2TPWindows}, vmclient.L2TPClient{Persona: vmclient.L2TPApple}
	android := vmclient.L2TPClient{Persona: vmclient.L2TPAndroid}
	lsw := vmclient.L2TPClient{Persona: vmclient.L2TPWindows, IKE: vmclient.L2TPLibreswan}
	for _, plane := range vmPlanes {
		t.Run(plane, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				c    vmclient.L2TPCase
			}{
				{"windows/direct", vmclient.L2TPCase{Topology: vmclient.L2TPDirect, Clients: []vmclient.L2TPClient{win}}},
				{"windows/nat", vmclient.L2TPCase{Topology: vmclient.L2TPBehindNAT, Clients: []vmclient.L2TPClient{win}}},
				{"apple/nat", vmclient.L2TPCase{Topology: vmclient.L2TPBehindNAT, Clients: []vmclient.L2TPClient{apple}}},
				{"android/nat", vmclient.L2TPCase{Topology: vmclient.L2TPBehindNAT, Clients: []vmclient.L2TPClient{android}}},
				{"windows-libreswan/direct", vmclient.L2TPCase{Topology: vmclient.L2TPDirect, Clients: []vmclient.L2TPClient{lsw}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel() // two at a time (-test.parallel is the VM's CPUs)
					t0 := time.Now()
					srv := l2tpVMServer(plane, "")
					var status func() string
					run := vmclient.RunL2TP(t, l2tpVMCase(tc.c), func(t *testing.T, env *vmclient.L2TPEnv) func() string {
						status = srv(t, env)
						return status
					})
					run.WantUp(t)
					if r := run.Results[0]; r.Client.Persona == vmclient.L2TPAndroid &&
						(!strings.Contains(r.Log, "sent [CCP ConfReq") || !strings.Contains(r.Log, "Protocol-Reject for 'Compression Control Protocol'")) {
						t.Errorf("the Android-like client did not offer CCP, or the responder did not refuse it:\n%s", r.Log)
					}
					st := status()
					if !strings.Contains(st, "L2TP: [alice] MS-CHAPv2, "+run.Results[0].Local.String()) {
						t.Errorf("status does not list the L2TP session of alice at %v:\n%s", run.Results[0].Local, st)
					}
					t.Logf("%s/%s: %v", plane, tc.name, time.Since(t0).Round(10*time.Millisecond))
				})
			}
			t.Run("windows+windows/two-behind-nat", func(t *testing.T) {
				t.Parallel()
				t0 := time.Now()
				run := vmclient.RunL2TP(t, l2tpVMCase(vmclient.L2TPCase{Topology: vmclient.L2TPTwoBehindNAT, UpTimeout: 15 * time.Second}), l2tpVMServer(plane, ""))
				if plane == "userspace" {
					// The userspace data plane hands each datagram to the
					// L2TP server with the IPsec SA it came through.
					run.WantUp(t)
					if r := run.Results; len(r) == 2 && r[0].Local == r[1].Local {
						t.Errorf("both clients got %v", r[0].Local)
					}
				} else {
					// The kernel's policies cannot tell two clients with
					// the same address and ports apart (CLIENTS.md 8.1):
					// the responder must still serve one of them.
					working := 0
					for i, r := range run.Results {
						if len(run.Problems(r)) == 0 {
							working++
						}
						t.Logf("client %d: ppp %q %v; %v; %v", i, r.Interface, r.Local, r.PingPeer, r.PingInside)
					}
					if working == 0 {
						t.Errorf("neither of two Windows-like clients behind one NAT works on the kernel data plane")
					}
				}
				t.Logf("%s/two-behind-nat: %v", plane, time.Since(t0).Round(10*time.Millisecond))
			})
			t.Run("windows/wrong-password", func(t *testing.T) {
				t.Parallel()
				bad := win
				bad.Password = "not-the-password"
				run := vmclient.RunL2TP(t, l2tpVMCase(vmclient.L2TPCase{Topology: vmclient.L2TPDirect, Clients: []vmclient.L2TPClient{bad}}), l2tpVMServer(plane, ""))
				run.WantAuthFailed(t, 0)
			})
		})
	}
}

// TestKernelL2TPSettings: the l2tp: settings take effect on the wire. With
// auth [chap], a tunnel secret, an MTU of 1300 and a device name, an
// Android-like client with the tunnel secret (xl2tpd challenges the
// server and answers its challenge) logs in with CHAP-MD5, its ppp0 gets
// MTU 1300 from the server's MRU, the PPP traffic goes through the named
// device, and a client with another tunnel secret gets no tunnel.
func TestKernelL2TPSettings(t *testing.T) {
	vmclient.Require(t, "ping")
	const extra = `l2tp:
  auth: [chap]
  tunnel_secret: "l2tp-tunnel-secret-1"
  mtu: 1300
  device: pppclients
`
	t.Run("right-secret", func(t *testing.T) {
		t.Parallel()
		cl := vmclient.L2TPClient{Persona: vmclient.L2TPAndroid, TunnelSecret: "l2tp-tunnel-secret-1"}
		var status func() string
		var server *testnet.NS
		run := vmclient.RunL2TP(t, l2tpVMCase(vmclient.L2TPCase{Topology: vmclient.L2TPDirect, Clients: []vmclient.L2TPClient{cl}}),
			func(t *testing.T, env *vmclient.L2TPEnv) func() string {
				server = env.Server
				status = l2tpVMServer("userspace", extra)(t, env)
				return status
			})
		run.WantUp(t)
		r := run.Results[0]
		if r.MTU != 1300 {
			t.Errorf("ppp0 MTU %d, want 1300 (the server's MRU)", r.MTU)
		}
		if st := status(); !strings.Contains(st, "L2TP: [alice] CHAP-MD5, "+r.Local.String()) {
			t.Errorf("status does not show alice logged in with CHAP-MD5:\n%s", st)
		}
		if out := server.Run("ip", "-s", "link", "show", "pppclients"); !strings.Contains(out, "pppclients") {
			t.Errorf("no device pppclients:\n%s", out)
		} else if route := server.Run("ip", "route", "get", r.Local.String()); !strings.Contains(route, "dev pppclients") {
			t.Errorf("the client's address is not routed to pppclients: %s", route)
		}
	})
	t.Run("wrong-secret", func(t *testing.T) {
		t.Parallel()
		cl := vmclient.L2TPClient{Persona: vmclient.L2TPAndroid, TunnelSecret: "another-secret"}
		c := l2tpVMCase(vmclient.L2TPCase{Topology: vmclient.L2TPDirect, Clients: []vmclient.L2TPClient{cl}, UpTimeout: 8 * time.Second})
		run := vmclient.RunL2TP(t, c, l2tpVMServer("userspace", extra))
		if r := run.Results[0]; !r.IKEUp || r.PPPUp() {
			t.Errorf("a client with another tunnel secret: IKE up %v, ppp up %v; want IKE up and no tunnel\n%s", r.IKEUp, r.PPPUp(), r.Log)
		}
	})
}
