package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// TestKillSwitchWithoutNftBinary runs roadwarrior -kill-switch with its
// PATH an empty directory, so no nft command can be found, against a
// gateway that does not answer: the table is in place while it retries
// (nft, from the test's own PATH, reads it back: the gateway's address
// in the set, the drop policy) and traffic outside the tunnel is
// dropped; after SIGTERM the table is gone.
func TestKillSwitchWithoutNftBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	testnet.Require(t, "ping", "nft")
	topo := testnet.New(t, testnet.NoNAT)
	pskFile := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(pskFile, []byte("goipsec-roadwarrior-psk-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := testnet.ServerAddr4.String()
	const tunName = "gi-rw9"
	table := killSwitchTable(tunName)
	proc, err := topo.Client.Start([]string{reexecEnv + "=1", "PATH=" + t.TempDir()}, os.Args[0],
		"-server", server, "-auth", "psk", "-psk-file", pskFile, "-remote-id", "vpn.example.com", "-tun", tunName,
		"-kill-switch", "-retransmit-timeout", "500ms", "-retransmit-tries", "2", "-dial-timeout", "3s", "-max-backoff", "2s")
	if err != nil {
		t.Fatal(err)
	}
	p := &rwProcess{Process: proc, ns: topo.Client}
	t.Cleanup(func() {
		if !p.exited {
			_ = p.Cmd.Process.Kill()
			<-p.Done
		}
		if t.Failed() {
			t.Logf("roadwarrior stderr:\n%s", p.Stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Stderr.String(), "connection failed") && time.Now().Before(deadline) {
		select {
		case err := <-p.Done:
			p.exited = true
			t.Fatalf("roadwarrior exited: %v\n%s", err, p.Stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	rules, err := topo.Client.Try("nft", "-s", "list", "table", "inet", table)
	if err != nil {
		t.Fatalf("no kill switch table while running: %v\n%s\n%s", err, rules, p.Stderr.String())
	}
	for _, want := range []string{"policy drop;", "elements = { " + server + " }", `oifname "` + tunName + `" accept`} {
		if !strings.Contains(rules, want) {
			t.Errorf("table lacks %q:\n%s", want, rules)
		}
	}
	if _, err := topo.Client.Try("ping", "-c", "1", "-W", "1", server); err == nil {
		t.Error("ping outside the tunnel works while the kill switch is on")
	}
	p.stop(t, tunName)
	if out, err := topo.Client.Try("nft", "list", "table", "inet", table); err == nil {
		t.Errorf("kill switch table left after exit:\n%s", out)
	}
	if out, err := topo.Client.Try("ping", "-c", "1", "-W", "1", server); err != nil {
		t.Errorf("ping after exit: %v\n%s", err, out)
	}
}
