package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// TestResponderWithoutNftBinary runs the responder with masquerading and
// client isolation in a namespace, its PATH an empty directory, so no
// nft command can be found: the table is in place (nft, from the test's
// own PATH, reads it back) and gone after SIGTERM, and the forwarding
// sysctls are restored.
func TestResponderWithoutNftBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	testnet.Require(t, "ip", "nft")
	ns := testnet.NewNS(t, "nonft")
	testnet.Link(t, ns, "eth9", testnet.NewNS(t, "nonftup"), "eth0")
	ns.AddAddr("eth9", "192.0.2.1/24")
	fwd4 := ns.Run("cat", sysctlForward4)
	emptyPath := t.TempDir()
	proc, err := ns.Start([]string{reexecEnv + "=1", "PATH=" + emptyPath}, os.Args[0],
		"-state", t.TempDir(), "-name", "vpn.example.com", "-listen", "192.0.2.1",
		"-pool", testnet.Pool4.String()+","+testnet.Pool6.String(), "-masquerade", "eth9", "-isolate-clients")
	if err != nil {
		t.Fatal(err)
	}
	p := &responderProcess{Process: proc, ns: ns}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("responder log:\n%s", p.Stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.Stdout.String(), "listening on:") {
		select {
		case err := <-p.Done:
			p.stopped = true
			t.Fatalf("responder exited early: %v\n%s", err, p.Stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder did not start within 60 s\n%s", p.Stderr.String())
		}
	}
	rules, err := ns.Try("nft", "-s", "list", "table", "inet", nftTable)
	if err != nil {
		t.Fatalf("no table while running: %v\n%s", err, rules)
	}
	for _, want := range []string{
		`oifname "eth9" ip saddr ` + testnet.Pool4.String() + ` masquerade`,
		`iifname "goipsec0" tcp flags syn tcp option maxseg size set rt mtu`,
		`ip saddr ` + testnet.Pool4.String() + ` ip daddr ` + testnet.Pool4.String() + ` counter drop comment "isolate_clients"`,
		`ip6 daddr ` + testnet.Pool6.String() + ` accept`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("table lacks %q:\n%s", want, rules)
		}
	}
	if strings.TrimSpace(fwd4) == "0" && !strings.Contains(rules, `meta nfproto ipv4 counter drop`) {
		t.Errorf("forwarding turned on but not confined:\n%s", rules)
	}
	p.stop(t)
	if out, err := ns.Try("nft", "list", "table", "inet", nftTable); err == nil {
		t.Errorf("table left after the stop:\n%s", out)
	}
	if got := ns.Run("cat", sysctlForward4); got != fwd4 {
		t.Errorf("ip_forward %q after the stop, %q before", got, fwd4)
	}
	if strings.Contains(p.Stderr.String(), "nft") && strings.Contains(p.Stderr.String(), "executable file not found") {
		t.Errorf("the responder looked for nft:\n%s", p.Stderr.String())
	}
}
