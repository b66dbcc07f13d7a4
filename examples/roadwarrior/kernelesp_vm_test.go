package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/vmclient"
)

// espAlg matches the ESP algorithm in roadwarrior's tunnel-up line.
var espAlg = regexp.MustCompile(`tunnel up: .*, ESP [a-z0-9]`)

// TestKernelRoadwarriorToStrongSwanGateway runs roadwarrior on its
// built-in settings against a strongSwan gateway with kernel ESP
// (kernel-netlink, as a Linux gateway runs it), inside the test VM,
// without a NAT, over IPv4 and over IPv6: the tunnel comes up, pings to
// the gateway's inside addresses pass, and the gateway's kernel SAs are
// raw ESP (no UDP encapsulation, as no NAT was detected) with the pings
// counted in both directions. scripts/test's VM stage runs it; by hand
// (see internal/vmclient):
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 go test -c -o /tmp/roadwarrior.test ./examples/roadwarrior
//	cd examples/roadwarrior && GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST \
//	  ../../scripts/vmtest/run-in-vm "${files[@]}" /tmp/roadwarrior.test -test.run '^TestKernel' -test.v
func TestKernelRoadwarriorToStrongSwanGateway(t *testing.T) {
	vmclient.Require(t, "ping")
	const psk = "goipsec-roadwarrior-vm-psk-0123456789"
	for _, outer := range []struct {
		name           string
		server, client netip.Addr
	}{
		{"ipv4", testnet.ServerAddr4, testnet.ClientAddr4},
		{"ipv6", testnet.ServerAddr6, testnet.ClientAddr6},
	} {
		t.Run(outer.name, func(t *testing.T) {
			topo := testnet.New(t, testnet.NoNAT)
			// A gateway on kernel ESP routes its answers to the clients'
			// virtual addresses before the IPsec policy applies: it needs
			// routes to its pools.
			topo.Server.Run("ip", "route", "add", testnet.Pool4.String(), "dev", "eth0")
			topo.Server.Run("ip", "-6", "route", "add", testnet.Pool6.String(), "dev", "eth0")
			sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
				"SERVER_ID": "vpn.example.com", "PSK": psk,
				"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := vmclient.StartCharon(t, topo.Server, sp, "", nil)
			pskFile := filepath.Join(t.TempDir(), "psk")
			if err := os.WriteFile(pskFile, []byte(psk+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			const tunName = "gi-rw0"
			p := startRoadwarrior(t, topo.Client,
				"-server", outer.server.String(), "-auth", "psk", "-psk-file", pskFile,
				"-id", "client@example.com", "-remote-id", "vpn.example.com", "-tun", tunName,
				"-split", "198.51.100.0/24,2001:db8:100::/64", "-log-level", "debug")
			waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
			// The tunnel-up line names the CHILD SA's ESP algorithm; "ESP ,"
			// is a tunnel without a CHILD SA.
			if up := p.Stdout.String(); !espAlg.MatchString(up) {
				t.Errorf("tunnel up without a CHILD SA:\n%s", up)
			}
			if st := strongswan.ParseSAs(srv.ListSAs(), "ikev2-psk"); !st.IKEUp || !st.ChildUp {
				t.Errorf("strongSwan does not show the SAs up:\n%s", srv.ListSAs())
			}
			for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
				if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
					t.Errorf("ping %s through the tunnel: %v\n%s", dst, err, out)
				}
			}
			st := vmclient.States(t, topo.Server)
			if err := vmclient.Check(st, outer.server, outer.client, false, 3); err != nil {
				t.Errorf("gateway's kernel SAs, want raw ESP: %v\n%s\n%s", err, topo.Server.Run("ip", "-s", "xfrm", "state"), vmclient.XfrmStat(topo.Server))
			} else {
				t.Logf("gateway: %v", st)
			}
			p.stop(t, tunName)
		})
	}
}
