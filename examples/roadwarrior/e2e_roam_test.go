package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// Second uplink of the roaming topology: the client's eth1 into the NAT
// router, whose traffic the NAT sends out from its second outside address,
// so the gateway sees the move as a new address.
var (
	uplink2Client = "203.0.113.2"
	uplink2NAT    = "203.0.113.1"
	natOutside2   = "192.0.2.3"
)

// roamTopology is the standard NAT topology plus a second uplink for the
// client (a default route of lower priority through eth1); moving is
// taking eth0 down, as when Wi-Fi goes.
func roamTopology(t *testing.T) *testnet.Topology {
	t.Helper()
	topo := testnet.New(t, testnet.NATRandomPort)
	c, n := topo.Client, topo.NAT
	testnet.Link(t, c, "eth1", n, "eth2")
	c.AddAddr("eth1", uplink2Client+"/24")
	n.AddAddr("eth2", uplink2NAT+"/24")
	n.AddAddr("eth1", natOutside2+"/25")
	n.Run("nft", "insert rule inet gi-nat post iifname eth2 oifname eth1 snat ip to "+natOutside2)
	c.Run("ip", "route", "add", "default", "via", uplink2NAT, "dev", "eth1", "metric", "100")
	return topo
}

// TestEndToEndRoaming runs a full tunnel over the client's first uplink,
// takes that uplink down, and checks that roadwarrior moves the SA to the
// second one (MOBIKE: the gateway's host route follows the new uplink
// first, then UPDATE_SA_ADDRESSES), that the ping through the tunnel
// works again, and that the gateway still holds the same IKE SA, now
// with the client's new address: against strongSwan (MOBIKE on by
// default; full tunnel, then back to the first uplink when it returns)
// and against examples/responder (split tunnel). A gateway without MOBIKE
// gets a reauthentication from the new address instead, and roadwarrior
// applies the new SA's virtual addresses.
func TestEndToEndRoaming(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping", "nft")
	ping := func(t *testing.T, topo *testnet.Topology, when string) {
		t.Helper()
		for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
			// strongSwan's userspace data plane (libipsec, as in these
			// tests) cannot update an SA's addresses: after a move it
			// rekeys the CHILD SA, which can take a retransmission (2 s)
			// first. Wait for the first answer, then expect every one.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if _, err := topo.Client.Try("ping", "-c", "1", "-W", "1", dst); err == nil {
					break
				}
			}
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
				t.Errorf("%s: ping %s through the tunnel: %v\n%s", when, dst, err, out)
			}
		}
	}
	move := func(t *testing.T, topo *testnet.Topology, p *rwProcess, tunName string) {
		t.Helper()
		topo.Client.Run("ip", "link", "set", "eth0", "down")
		waitLines(t, p.Stdout, p.Done, "tunnel moved:", 1, 30*time.Second)
		if !strings.Contains(p.Stdout.String(), "tunnel moved: local "+uplink2Client+" (was "+testnet.LANAddr4.String()+")") {
			t.Errorf("unexpected move:\n%s", p.Stdout.String())
		}
		if out, _ := topo.Client.Try("ip", "-4", "route", "get", testnet.ServerAddr4.String()); !strings.Contains(out, "dev eth1") {
			t.Errorf("the gateway's host route did not follow the uplink: %s", out)
		}
		if strings.Count(p.Stdout.String(), "tunnel up:") != 1 || strings.Contains(p.Stdout.String(), "tunnel down:") {
			t.Errorf("the tunnel was rebuilt instead of moved:\n%s", p.Stdout.String())
		}
	}

	t.Run("strongswan", func(t *testing.T) {
		topo := roamTopology(t)
		const psk = "goipsec-roadwarrior-psk-0123456789"
		sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
			"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
			"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := strongswan.Start(t, topo.Server, sp, "", nil)
		pskFile := filepath.Join(t.TempDir(), "psk")
		if err := os.WriteFile(pskFile, []byte(psk), 0o600); err != nil {
			t.Fatal(err)
		}
		const tunName = "gi-rw6"
		p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-auth", "psk", "-psk-file", pskFile,
			"-remote-id", "vpn.example.com", "-tun", tunName, "-dpd", "2s")
		waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
		ping(t, topo, "before the move")
		spis := regexp.MustCompile(`ikev2-psk: #\d+, ESTABLISHED, IKEv2, (\S+ \S+)`)
		before := spis.FindStringSubmatch(srv.ListSAs())
		if before == nil || !strings.Contains(srv.ListSAs(), testnet.ClientAddr4.String()+"[") {
			t.Fatalf("strongSwan's SA before the move:\n%s", srv.ListSAs())
		}
		move(t, topo, p, tunName)
		ping(t, topo, "after the move")
		list := srv.ListSAs()
		after := spis.FindStringSubmatch(list)
		if after == nil || after[1] != before[1] {
			t.Errorf("IKE SA %v before the move, %v after: want the same SA\n%s", before[1:], after, list)
		}
		if !strings.Contains(list, natOutside2+"[") {
			t.Errorf("strongSwan does not show the new address %s:\n%s", natOutside2, list)
		}

		// The first uplink comes back and is preferred again: back to it.
		topo.Client.Run("ip", "link", "set", "eth0", "up")
		topo.Client.Run("ip", "route", "add", "default", "via", testnet.NATInside4.String(), "dev", "eth0")
		waitLines(t, p.Stdout, p.Done, "tunnel moved:", 2, 30*time.Second)
		if !strings.Contains(p.Stdout.String(), "tunnel moved: local "+testnet.LANAddr4.String()+" (was "+uplink2Client+")") {
			t.Errorf("unexpected move back:\n%s", p.Stdout.String())
		}
		ping(t, topo, "after moving back")
		if after := spis.FindStringSubmatch(srv.ListSAs()); after == nil || after[1] != before[1] {
			t.Errorf("IKE SA %v before the moves, %v after moving back: want the same SA", before[1:], after)
		}
		p.stop(t, tunName)
		if out, _ := topo.Client.Try("ip", "-4", "route", "show", testnet.ServerAddr4.String()+"/32"); strings.TrimSpace(out) != "" {
			t.Errorf("host route to the gateway left behind: %s", out)
		}
	})

	t.Run("strongswan-without-mobike", func(t *testing.T) {
		topo := roamTopology(t)
		const psk = "goipsec-roadwarrior-psk-0123456789"
		sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
			"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
			"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		const v2 = "version = 2\n"
		if !strings.Contains(sp.Conf, v2) {
			t.Fatalf("profile ikev2-psk no longer has %q", v2)
		}
		sp.Conf = strings.Replace(sp.Conf, v2, v2+"    mobike = no\n", 1)
		srv := strongswan.Start(t, topo.Server, sp, "", nil)
		pskFile := filepath.Join(t.TempDir(), "psk")
		if err := os.WriteFile(pskFile, []byte(psk), 0o600); err != nil {
			t.Fatal(err)
		}
		const tunName = "gi-rw9"
		p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-auth", "psk", "-psk-file", pskFile,
			"-remote-id", "vpn.example.com", "-tun", tunName, "-dpd", "2s")
		waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
		ping(t, topo, "before the move")
		topo.Client.Run("ip", "link", "set", "eth0", "down")
		waitLines(t, p.Stdout, p.Done, "tunnel moved:", 1, 30*time.Second)
		// Reauthentication: a new IKE SA from the new address replaces
		// the old one at the gateway.
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(srv.ListSAs(), natOutside2+"[") && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		list := srv.ListSAs()
		if st := strongswan.ParseSAs(list, "ikev2-psk"); !st.IKEUp || !st.ChildUp || !strings.Contains(list, natOutside2+"[") {
			t.Errorf("strongSwan has no SA from the new address %s after reauthentication:\n%s", natOutside2, list)
		}
		// The new SA may come with other virtual addresses (strongSwan
		// holds the old lease until the old SA is gone): the TUN device
		// carries exactly the current ones.
		tunMatches := func() (string, string, bool) {
			out, _ := topo.Client.Try("ip", "-4", "-o", "addr", "show", "dev", tunName)
			m := regexp.MustCompile(` inet (\S+)/32 `).FindAllStringSubmatch(out, -1)
			list := srv.ListSAs()
			return out, list, len(m) == 1 && strings.Contains(list, "["+m[0][1]+" ")
		}
		out, list, ok := tunMatches()
		for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); out, list, ok = tunMatches() {
			time.Sleep(200 * time.Millisecond)
		}
		if !ok {
			t.Errorf("TUN addresses after reauthentication:\n%s\nwant only the one strongSwan assigned now:\n%s", out, list)
		}
		ping(t, topo, "after the move (reauthenticated)")
		p.stop(t, tunName)
	})

	t.Run("responder", func(t *testing.T) {
		topo := roamTopology(t)
		r := startResponder(t, topo.Server, respArgs()...)
		const tunName = "gi-rw7"
		p := startRoadwarrior(t, topo.Client, "-server", testnet.ServerAddr4.String(), "-remote-id", "vpn.example.com",
			"-auth", "eap", "-user", "demo", "-password-file", r.demoPasswordFile(t), "-ca", filepath.Join(r.state, "ca.pem"),
			"-tun", tunName, "-dpd", "2s", "-split", testnet.Pool4.String())
		waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 45*time.Second)
		inside4 := testnet.Pool4.Addr().Next()
		pingInside := func(when string) {
			if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", inside4.String()); err != nil {
				t.Errorf("%s: ping the responder's inside address %v: %v\n%s", when, inside4, err, out)
			}
		}
		pingInside("before the move")
		spis := regexp.MustCompile(`#1: ESTABLISHED, IKEv2, (\S+ \S+),`)
		st := r.status(t)
		before := spis.FindStringSubmatch(st)
		if before == nil || !strings.Contains(st, "remote "+testnet.ClientAddr4.String()+":") {
			t.Fatalf("responder status before the move:\n%s", st)
		}
		move(t, topo, p, tunName)
		pingInside("after the move")
		st = r.status(t)
		after := spis.FindStringSubmatch(st)
		if after == nil || after[1] != before[1] {
			t.Errorf("IKE SA %v before the move, %v after: want the same SA\n%s", before[1:], after, st)
		}
		if !strings.Contains(st, "remote "+natOutside2+":") {
			t.Errorf("responder status does not show the new address %s:\n%s", natOutside2, st)
		}
		p.stop(t, tunName)
	})
}
