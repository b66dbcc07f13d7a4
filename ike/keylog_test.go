package ike_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestKeyLogDecryptsCapture captures a strongSwan client's session with
// our responder and lets tshark decrypt it with our key log: IKE_AUTH
// payloads and the pings inside ESP must become visible.
func TestKeyLogDecryptsCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "tcpdump", "tshark")
	topo := testnet.New(t, testnet.NoNAT)
	psk := ipsec.Secret("goipsec-interop-psk-0123456789")
	cfg := &ike.PeerConfig{
		Name: "linux-psk", LocalID: ipsec.FQDN("vpn.example.com"),
		Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
		Pools: serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
	}
	g := startGateway(t, topo, cfg)
	pcap := filepath.Join(t.TempDir(), "session.pcap")
	dump := topo.Server.Command(t.Context(), "tcpdump", "-i", "eth0", "-U", "-n", "-w", pcap, "udp port 500 or udp port 4500")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump attaches
	runPersona(t, topo, g, "linux-ikev2-psk", nil, nil)
	time.Sleep(300 * time.Millisecond)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()

	var ikeRows, espRows []string
	for _, l := range strings.Split(strings.TrimSpace(g.keyLog.String()), "\n") {
		if strings.HasPrefix(l, `"IPv`) {
			espRows = append(espRows, l)
		} else if l != "" {
			ikeRows = append(ikeRows, l)
		}
	}
	if len(ikeRows) != 1 || len(espRows) != 2 {
		t.Fatalf("key log: %d IKE and %d ESP lines:\n%s", len(ikeRows), len(espRows), g.keyLog.String())
	}
	tshark := func(filter string, fields ...string) string {
		args := []string{"-r", pcap, "-o", "uat:ikev2_decryption_table:" + strings.Join(ikeRows, "\n"),
			"-o", "esp.enable_encryption_decode:TRUE", "-o", "uat:esp_sa:" + strings.Join(espRows, "\n"),
			"-Y", filter, "-T", "fields"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		cmd := exec.Command("tshark", args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %s: %v\n%s", filter, err, stderr.String())
		}
		return string(out)
	}
	// Decrypted IKE_AUTH: the initiator's identity and the traffic
	// selectors are inside SK and only readable with the right keys.
	ids := tshark("isakmp.exchangetype == 35", "isakmp.id.type")
	// ID_RFC822_ADDR (3) for the client, ID_FQDN (2) for us.
	if !strings.Contains(ids, "3") || !strings.Contains(ids, "2") {
		t.Errorf("tshark did not decrypt IKE_AUTH (ID types %q)", ids)
	}
	// Both directions' ESP keys: echo requests (client to us) and replies.
	requests := len(strings.Fields(tshark("icmp.type == 8 || icmpv6.type == 128", "frame.number")))
	replies := len(strings.Fields(tshark("icmp.type == 0 || icmpv6.type == 129", "frame.number")))
	if requests == 0 || replies == 0 {
		t.Errorf("tshark decrypted %d echo requests and %d replies inside ESP, want some of each", requests, replies)
	}
	t.Logf("tshark with our key log: ID types %q, %d echo requests and %d replies decrypted", strings.TrimSpace(ids), requests, replies)
}
