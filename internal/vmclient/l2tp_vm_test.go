package vmclient

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
)

// The L2TP/IPsec harness against a reference server made of the daemons
// an L2TP/IPsec gateway is built from today: strongSwan (IKEv1 Main Mode
// PSK, transport mode, kernel ESP), xl2tpd as the LNS and pppd
// (MS-CHAPv2, an address from a local range, ms-dns). It proves the
// harness before our server is put in its place. In the VM only
// (scripts/test's "real clients in qemu" stage), or by hand:
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV="GOIPSEC_VMTEST CI" VMTEST_SMP=2 \
//	  VMTEST_EXTRA_MODULES="<scripts/test's list>" \
//	  go test -exec "$PWD/scripts/vmtest/run-in-vm ${files[*]}" -run '^TestKernelL2TP' -v ./internal/vmclient

// referenceConf is the reference gateway's swanctl.conf: every persona's
// proposals, udp/1701 on our side, any UDP port on the client's (Apple's
// floating port).
func referenceConf(psk string) string {
	return fmt.Sprintf(`connections {
  l2tp-ref {
    version = 1
    proposals = aes256-sha1-ecp384, aes128-sha1-ecp256, aes256-sha256-modp2048, aes256-sha1-modp2048, aes256-sha1-modp1024, 3des-sha1-modp1024
    local {
      auth = psk
    }
    remote {
      auth = psk
    }
    children {
      l2tp-ref {
        mode = transport
        local_ts = dynamic[udp/1701]
        remote_ts = dynamic[udp]
        esp_proposals = aes256-sha256, aes256-sha1, aes128-sha1, 3des-sha1
      }
    }
  }
}
secrets {
  ike-psk {
    secret = "%s"
  }
}
`, swanQuote(psk))
}

// referenceServer is an L2TPServerStart: charon, then xl2tpd as the LNS
// with pppd requiring MS-CHAPv2 from the case's account, handing out the
// pool and the DNS servers, the gateway as its own address.
func referenceServer(t *testing.T, env *L2TPEnv) func() string {
	t.Helper()
	c, s := env.Case, env.Server
	ch := StartCharon(t, s, &strongswan.Profile{Name: "l2tp-ref", Conf: referenceConf(c.PSK)}, "", nil)
	dir := env.Dir
	pppLog := filepath.Join(dir, "pppd.log")
	first, last := c.Pool.Addr(), c.Pool.Addr()
	for n := 1; n < 1<<(32-c.Pool.Bits())-2; n++ {
		last = last.Next()
	}
	var opts strings.Builder
	opts.WriteString("require-mschap-v2\nrefuse-pap\nrefuse-chap\nrefuse-mschap\nnoccp\nmtu 1400\nmru 1400\nnodefaultroute\n")
	for _, d := range c.DNS {
		fmt.Fprintf(&opts, "ms-dns %s\n", d)
	}
	fmt.Fprintf(&opts, "lcp-echo-interval 30\nlcp-echo-failure 4\ndebug\nlogfile %s\n", pppLog)
	writeFile(t, filepath.Join(dir, "options.xl2tpd"), opts.String())
	if err := os.MkdirAll(filepath.Join(dir, "etc-ppp"), 0o755); err != nil {
		t.Fatal(err)
	}
	var secrets strings.Builder
	for u, p := range env.Users {
		fmt.Fprintf(&secrets, "%s * %s *\n", pppQuote(u), pppQuote(p))
	}
	writeFile(t, filepath.Join(dir, "etc-ppp", "chap-secrets"), secrets.String())
	conf := filepath.Join(dir, "xl2tpd.conf")
	writeFile(t, conf, fmt.Sprintf(`[global]
port = 1701
access control = no

[lns default]
ip range = %s-%s
local ip = %s
require authentication = yes
refuse pap = yes
name = l2tp-ref
ppp debug = yes
length bit = yes
pppoptfile = %s
`, first.Next(), last, c.Gateway, filepath.Join(dir, "options.xl2tpd")))
	lns := StartXl2tpd(t, s, dir, conf)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Run("ss", "-uln"), ":1701 ") {
		select {
		case err := <-lns.Done:
			t.Fatalf("reference xl2tpd exited: %v\n%s", err, lns.Stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("reference xl2tpd does not listen on 1701 after 10 s\n%s", lns.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() string {
		b, _ := os.ReadFile(pppLog)
		return ch.ListSAs() + "\nxl2tpd (LNS):\n" + tail(lns.Stderr.String(), 80) + "\npppd (LNS):\n" + tail(string(b), 80)
	}
}

// TestKernelL2TPReference runs every persona and topology of the harness
// against the reference gateway: the Windows-like and the Apple-like
// clients on strongSwan and the Windows-like client on libreswan, each
// directly and behind a NAT; two clients behind one NAT (Windows-like
// and Apple-like: the reference tells them apart by the L2TP port); and
// a wrong password, which PPP must refuse after IKE came up. Each
// working client gets an address from the pool and the DNS server,
// pings the PPP peer and the inside address, passes a 1,400-byte DF
// ping (its MTU allowing), and its kernel SAs are transport mode, raw
// ESP or ESP in UDP as the topology says.
func TestKernelL2TPReference(t *testing.T) {
	win, apple := L2TPClient{Persona: L2TPWindows}, L2TPClient{Persona: L2TPApple}
	lsw := L2TPClient{Persona: L2TPWindows, IKE: L2TPLibreswan}
	RequireL2TP(t, L2TPCase{Clients: []L2TPClient{lsw}})
	// The cases run two at a time (the VM's two CPUs; most of a case is
	// waiting): the whole test in one VM boot stays under 90 s.
	start := time.Now()
	t.Cleanup(func() { t.Logf("all cases: %v", time.Since(start).Round(10*time.Millisecond)) })
	for _, c := range []struct {
		name string
		c    L2TPCase
	}{
		{"windows/direct", L2TPCase{Topology: L2TPDirect, Clients: []L2TPClient{win}}},
		{"windows/nat", L2TPCase{Topology: L2TPBehindNAT, Clients: []L2TPClient{win}}},
		{"apple/direct", L2TPCase{Topology: L2TPDirect, Clients: []L2TPClient{apple}}},
		{"apple/nat", L2TPCase{Topology: L2TPBehindNAT, Clients: []L2TPClient{apple}}},
		{"windows-libreswan/direct", L2TPCase{Topology: L2TPDirect, Clients: []L2TPClient{lsw}}},
		{"windows-libreswan/nat", L2TPCase{Topology: L2TPBehindNAT, Clients: []L2TPClient{lsw}}},
		{"windows+apple/two-behind-nat", L2TPCase{Topology: L2TPTwoBehindNAT, Clients: []L2TPClient{win, apple}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Now()
			run := RunL2TP(t, c.c, referenceServer)
			run.WantUp(t)
			for i, r := range run.Results {
				want := "ECP_384" // Windows' first choice
				if r.Client.Persona == L2TPApple {
					want = "MODP_2048" // Apple's first choices
				}
				if r.Client.IKE == L2TPLibreswan {
					want = "group=DH20" // ECP-384, libreswan's name
				}
				if !strings.Contains(r.IKEProposal, want) {
					t.Errorf("client %d (%s): IKE proposal %q, want %s", i, r.Client.Persona, r.IKEProposal, want)
				}
			}
			if c.c.Topology == L2TPTwoBehindNAT && len(run.Results) == 2 && run.Results[0].Local == run.Results[1].Local {
				t.Errorf("both clients got %v", run.Results[0].Local)
			}
			t.Logf("%s: %v", c.name, time.Since(t0).Round(10*time.Millisecond))
		})
	}
	// Two Windows-like clients behind one NAT send the same datagrams
	// (192.0.2.2:1701 to 192.0.2.1:1701 after the NAT): the reference's
	// kernel policies and xl2tpd cannot tell them apart (one outbound
	// policy, one peer address), so not both can work, the known limit
	// of such gateways (CLIENTS.md 8.1). The harness must see that.
	t.Run("windows+windows/two-behind-nat", func(t *testing.T) {
		t.Parallel()
		t0 := time.Now()
		run := RunL2TP(t, L2TPCase{Topology: L2TPTwoBehindNAT, UpTimeout: 8 * time.Second}, referenceServer)
		working := 0
		for i, r := range run.Results {
			p := run.Problems(r)
			if len(p) == 0 {
				working++
			}
			t.Logf("client %d: ppp %q %v; %v; %v; %d problems", i, r.Interface, r.Local, r.PingPeer, r.PingInside, len(p))
		}
		if working == 2 {
			t.Errorf("both Windows-like clients behind one NAT work against the reference: the harness misses that they share one address and port")
		}
		t.Logf("windows+windows: %v", time.Since(t0).Round(10*time.Millisecond))
	})
	t.Run("windows/wrong-password", func(t *testing.T) {
		t.Parallel()
		t0 := time.Now()
		bad := win
		bad.Password = "not-the-password"
		run := RunL2TP(t, L2TPCase{Topology: L2TPDirect, Clients: []L2TPClient{bad}}, referenceServer)
		run.WantAuthFailed(t, 0)
		if r := run.Results[0]; !strings.Contains(r.Log, "MS-CHAP") {
			t.Errorf("the client did not try MS-CHAPv2:\n%s", r.Log)
		}
		t.Logf("wrong password: %v", time.Since(t0).Round(10*time.Millisecond))
	})
}
