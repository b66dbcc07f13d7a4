package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndKillSwitch runs roadwarrior with -kill-switch while the
// gateway is stopped: a ping to an outside address (the server's address,
// which is not IKE or ESP) fails while it runs; the tunnel still comes up
// when the gateway starts, and pings through it work; when the gateway
// dies, the ping outside fails again between the reconnection attempts;
// after SIGTERM the table is gone and the ping outside works again. A run
// that fails at start (the TUN name is taken) leaves no table behind.
func TestEndToEndKillSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping", "nft")
	topo := testnet.New(t, testnet.NATRandomPort)
	const psk = "goipsec-roadwarrior-psk-0123456789"
	pskFile := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(pskFile, []byte(psk), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := testnet.ServerAddr4.String()
	// pingOutside is nil when both families get through, an error when
	// either does not; pingBlocked when neither does.
	pingOutside := func() error {
		for _, dst := range []string{outside, testnet.ServerAddr6.String()} {
			if out, err := topo.Client.Try("ping", "-c", "1", "-W", "1", dst); err != nil {
				return fmt.Errorf("ping %s: %v: %s", dst, err, out)
			}
		}
		return nil
	}
	pingBlocked := func() bool {
		for _, dst := range []string{outside, testnet.ServerAddr6.String()} {
			if _, err := topo.Client.Try("ping", "-c", "1", "-W", "1", dst); err == nil {
				return false
			}
		}
		return true
	}
	tableGone := func(name string) bool {
		out, _ := topo.Client.Try("nft", "list", "tables")
		return !strings.Contains(out, name)
	}
	if err := pingOutside(); err != nil {
		t.Fatalf("ping %s fails before roadwarrior runs: %v", outside, err)
	}
	args := []string{"-server", outside, "-auth", "psk", "-psk-file", pskFile, "-remote-id", "vpn.example.com",
		"-kill-switch", "-dpd", "1s", "-retransmit-timeout", "500ms", "-retransmit-tries", "2", "-dial-timeout", "3s", "-max-backoff", "2s"}

	// A failed start (eth0 is no TUN device) removes the table too.
	bad := startRoadwarrior(t, topo.Client, append(args, "-tun", "eth0")...)
	select {
	case err := <-bad.Done:
		bad.exited = true
		if err == nil {
			t.Error("roadwarrior -tun eth0 exited 0, want 1")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("roadwarrior -tun eth0 did not fail")
	}
	if log := bad.Stderr.String(); !strings.Contains(log, "kill switch on") || !strings.Contains(log, "kill switch off") {
		t.Errorf("the failed start did not install and remove the kill switch:\n%s", log)
	}
	if !tableGone(killSwitchTable("eth0")) {
		t.Error("kill switch table left behind after a failed start")
	}
	if err := pingOutside(); err != nil {
		t.Errorf("ping %s fails after a failed start: %v", outside, err)
	}

	const tunName = "gi-rw8"
	table := killSwitchTable(tunName)
	p := startRoadwarrior(t, topo.Client, append(args, "-tun", tunName)...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Stderr.String(), "connection failed") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if tableGone(table) {
		t.Fatalf("no kill switch table while the gateway is stopped:\n%s", p.Stderr.String())
	}
	if !pingBlocked() {
		t.Error("ping outside the tunnel works while the kill switch is on and the gateway is stopped")
	}

	sp, err := strongswan.Render("server", "ikev2-psk", map[string]string{
		"SERVER_ID": "vpn.example.com", "PSK": psk, "GROUP_ID": "g",
		"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(), "DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := strongswan.Start(t, topo.Server, sp, "", nil)
	waitLines(t, p.Stdout, p.Done, "tunnel up:", 1, 30*time.Second)
	for _, dst := range []string{testnet.Inner4.String(), testnet.Inner6.String()} {
		if out, err := topo.Client.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
			t.Errorf("ping %s through the tunnel with the kill switch on: %v\n%s", dst, err, out)
		}
	}

	srv.Kill()
	waitLines(t, p.Stdout, p.Done, "tunnel down:", 1, 30*time.Second)
	if !pingBlocked() {
		t.Error("ping outside the tunnel works between reconnection attempts")
	}

	p.stop(t, tunName)
	if !tableGone(table) {
		t.Error("kill switch table left behind after exit")
	}
	if err := pingOutside(); err != nil {
		t.Errorf("ping %s fails after roadwarrior exited: %v", outside, err)
	}
}
