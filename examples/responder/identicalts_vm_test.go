package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/vmclient"
)

// sameTSConn is a strongSwan client of the PSK peer that asks for the
// virtual address vip (0.0.0.0: any) and a CHILD SA for the server's
// inside network only. unique = never keeps it from sending
// INITIAL_CONTACT, as a client that reconnects from elsewhere without
// it, so the responder keeps the older IKE SA of the same identity.
func sameTSConn(server, vip string) *strongswan.Profile {
	return &strongswan.Profile{Name: "same", Conf: fmt.Sprintf(`connections {
  same {
    version = 2
    remote_addrs = "%s"
    proposals = default
    vips = %s
    unique = never
    local {
      auth = psk
      id = "%s"
    }
    remote {
      auth = psk
      id = "vpn.example.com"
    }
    children {
      same {
        remote_ts = 198.51.100.0/24
        esp_proposals = default
      }
    }
  }
}
secrets {
  ike-psk {
    id = "vpn.example.com"
    secret = "%s"
  }
}
`, server, vip, vmPSKID, vmPSK)}
}

// inPackets is the number of packets the ESP states towards addr in ns
// carried.
func inPackets(t *testing.T, ns *testnet.NS, addr netip.Addr) uint64 {
	t.Helper()
	var n uint64
	for _, s := range vmclient.States(t, ns) {
		if s.Proto == "esp" && s.Dst == addr {
			n += s.Packets
		}
	}
	return n
}

// TestKernelStrongSwanIdenticalSelectors: two strongSwan clients with
// kernel ESP, the same identity and the same virtual address (the
// second asks for the address the first holds and sends no
// INITIAL_CONTACT, as a client reconnecting from another network), so
// both CHILD SAs negotiate identical traffic selectors. On each data
// plane both connect, the responder's answers go through the newer SA
// only, and after the first client's Delete the second keeps working.
func TestKernelStrongSwanIdenticalSelectors(t *testing.T) {
	vmclient.Require(t, "ping")
	for _, plane := range vmPlanes {
		t.Run(plane, func(t *testing.T) {
			topo := testnet.New(t, testnet.NoNAT)
			c1 := topo.Client
			c2 := testnet.NewNS(t, "c2")
			testnet.Link(t, c2, "eth0", topo.Server, "eth1")
			topo.Server.AddAddr("eth1", "203.0.113.1/24")
			c2.AddAddr("eth0", "203.0.113.2/24")
			c2Addr, c2Server := netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("203.0.113.1")
			r := startVMResponder(t, topo, plane, c2Server.String())
			gw := testnet.Pool4.Addr().Next().String()
			ping := func(ns *testnet.NS, vip netip.Addr, when string) {
				t.Helper()
				if out, err := ns.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip.String(), gw); err != nil {
					t.Errorf("%s: ping %s from %s: %v\n%s\n%s", when, gw, vip, err, out, vmclient.XfrmStat(r.topo.Server))
				}
			}

			first := vmclient.StartCharon(t, c1, sameTSConn(testnet.ServerAddr4.String(), "0.0.0.0"), "", nil)
			if out, err := first.Initiate("same", 30*time.Second); err != nil {
				t.Fatalf("first client: %v\n%s\n%s", err, out, first.Log())
			}
			vip, ok := strongswan.ParseSAs(first.ListSAs(), "same").VIP(false)
			if !ok {
				t.Fatalf("first client without a virtual address:\n%s", first.ListSAs())
			}
			ping(c1, vip, "first client alone")
			in1 := inPackets(t, c1, topo.ClientAddr4)

			second := vmclient.StartCharon(t, c2, sameTSConn(c2Server.String(), vip.String()), "", nil)
			if out, err := second.Initiate("same", 30*time.Second); err != nil {
				t.Fatalf("second client with the same selectors: %v\n%s\n%s\nresponder:\n%s", err, out, second.Log(), r.Stderr.String())
			}
			if strings.Contains(second.Log(), "N(INIT_CONTACT)") {
				t.Fatalf("the second client sent INITIAL_CONTACT: the test needs two IKE SAs of one identity")
			}
			if st := strongswan.ParseSAs(second.ListSAs(), "same"); !st.ChildUp || len(st.VIPs) != 1 || st.VIPs[0] != vip {
				t.Fatalf("second client: want its CHILD SA with the first one's address %s:\n%s", vip, second.ListSAs())
			}
			if st := strongswan.ParseSAs(first.ListSAs(), "same"); !st.ChildUp {
				t.Errorf("the first client lost its CHILD SA when the second connected:\n%s", first.ListSAs())
			}
			// The newer SA carries the responder's traffic to the address.
			ping(c2, vip, "second client")
			if in := inPackets(t, c2, c2Addr); in < 3 {
				t.Errorf("second client received %d ESP packets, want the 3 answers", in)
			}
			if in := inPackets(t, c1, topo.ClientAddr4); in != in1 {
				t.Errorf("the first client received %d ESP packets after the second connected: the older SA still carries the traffic", in-in1)
			}

			// The first client leaves with a Delete: the second keeps working.
			if out, err := first.Swanctl(20*time.Second, "--terminate", "--ike", "same"); err != nil {
				t.Fatalf("first client's terminate: %v\n%s", err, out)
			}
			if !waitFor(10*time.Second, func() bool { return !strings.Contains(first.ListSAs(), "ESTABLISHED") }) {
				t.Fatalf("first client still up after terminate:\n%s", first.ListSAs())
			}
			before := inPackets(t, c2, c2Addr)
			ping(c2, vip, "second client after the first one's Delete")
			if in := inPackets(t, c2, c2Addr); in < before+3 {
				t.Errorf("second client received %d ESP packets after the first one's Delete, want 3", in-before)
			}
			if st := strongswan.ParseSAs(second.ListSAs(), "same"); !st.ChildUp {
				t.Errorf("second client's CHILD SA gone:\n%s", second.ListSAs())
			}
			if plane == "kernel" {
				t.Logf("responder: %v", vmclient.States(t, topo.Server))
			}
		})
	}
}
