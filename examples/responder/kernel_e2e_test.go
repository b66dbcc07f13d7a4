package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// TestKernelDataPlaneEndToEnd runs the responder with dataplane: kernel
// where the kernel has ESP: inside the project's test VM, which has
// neither strongSwan nor a Go toolchain, so the client is the
// roadwarrior example, built beforehand and copied in, and the NAT in
// front of it needs nft, copied in with its libraries. scripts/test's
// examples VM stage (examples_vm_e2e) does all of it: it stages nft and
// the kernel-ESP strongSwan clients with scripts/vmtest/stage-clients and
// uses the one VMTEST_EXTRA_MODULES list of scripts/test.
//
// The client (userspace ESP on a TUN device) logs in with the demo user,
// pings the server's inside address, which the kernel answers through
// its XFRM states; `status` shows the kernel's counters; SIGTERM
// removes the states, policies, the dummy device and the nftables
// table, although the responder holds only CAP_NET_ADMIN by then.
func TestKernelDataPlaneEndToEnd(t *testing.T) {
	if os.Getenv("GOIPSEC_VMTEST") != "1" {
		// Always a skip, even under CI=true: the host kernel has no ESP.
		t.Skip("runs in the test VM (the host kernel has no ESP); see the comment for the command")
	}
	rw := os.Getenv("GOIPSEC_ROADWARRIOR")
	if _, err := os.Stat(rw); err != nil {
		t.Fatalf("GOIPSEC_ROADWARRIOR=%q: %v", rw, err)
	}
	// Behind a NAT: the roadwarrior's userspace ESP sends ESP in UDP
	// only, and that is the path through the NAT-T socket the kernel
	// takes over (xfrm's UseTransport).
	testnet.Require(t, "ip", "nft")
	topo := testnet.New(t, testnet.NATRandomPort)
	state := t.TempDir()
	resp := startResponder(t, topo.Server, "-dataplane", "kernel", "-state", state, "-name", "vpn.example.com",
		"-listen", testnet.ServerAddr4.String(), "-pool", testnet.Pool4.String()+","+testnet.Pool6.String(),
		"-dns", testnet.DNS4.String())
	// The start line is logged just after the listening sockets are
	// announced on stdout: give it a moment.
	select {
	case <-waitChan(func() bool { return strings.Contains(resp.Stderr.String(), "dataplane=kernel") }, 5*time.Second):
	case <-time.After(6 * time.Second):
		t.Errorf("the log does not say which data plane runs:\n%s", resp.Stderr.String())
	}
	if out, err := topo.Server.Try("ip", "addr", "show", "goipsec0"); err != nil || !strings.Contains(out, testnet.Pool4.Addr().Next().String()) {
		t.Errorf("dummy device without the inside address: %v\n%s", err, out)
	}
	// The kernel data plane serves with CAP_NET_ADMIN alone (XFRM
	// netlink), and confines the forwarding it turned on.
	checkDroppedCaps(t, resp.Cmd.Process.Pid, asRoot)
	if out, err := topo.Server.Try("nft", "list", "table", "inet", nftTable); err != nil || !strings.Contains(out, "ip saddr "+testnet.Pool4.String()+" accept") {
		t.Errorf("no forward filter for the pools: %v\n%s", err, out)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(howTo(resp.Stdout.String(), "password")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testnet.Buffer
	cmd := topo.Client.Command(context.Background(), rw, "-server", testnet.ServerAddr4.String(), "-auth", "eap", "-user", demoUserName,
		"-password-file", pwFile, "-ca", filepath.Join(state, caCertFile), "-remote-id", "vpn.example.com", "-tun", "rw0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("roadwarrior:\n%s\n%s", stdout.String(), stderr.String())
		}
	})
	if !waitFor(45*time.Second, func() bool { return strings.Contains(stdout.String(), "tunnel up:") }) {
		t.Fatalf("no tunnel within 45 s\nroadwarrior:\n%s\n%s\nresponder:\n%s", stdout.String(), stderr.String(), resp.Stderr.String())
	}
	t.Logf("%s", strings.TrimSpace(stdout.String()))
	for _, gw := range []string{testnet.Pool4.Addr().Next().String(), testnet.Pool6.Addr().Next().String()} {
		if out, err := topo.Client.Try("ping", "-c", "3", "-W", "2", gw); err != nil {
			t.Errorf("ping %s through the kernel's ESP: %v\n%s\nxfrm states:\n%s", gw, err, out, topo.Server.Run("ip", "-s", "xfrm", "state"))
		}
	}
	states := topo.Server.Run("ip", "xfrm", "state")
	if strings.Count(states, "proto esp") != 2 || !strings.Contains(states, "encap type espinudp") {
		t.Errorf("want one inbound and one outbound ESP-in-UDP state in the kernel:\n%s", states)
	}
	var status, serr bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &status, &serr); code != 0 {
		t.Errorf("status: %d %s", code, serr.String())
	}
	if st := status.String(); !strings.Contains(st, "ESTABLISHED") || strings.Contains(st, " 0 packets") {
		t.Errorf("status without the kernel's traffic counters:\n%s", st)
	}
	resp.stop(t)
	if out := topo.Server.Run("ip", "xfrm", "state"); strings.TrimSpace(out) != "" {
		t.Errorf("XFRM states left after stop:\n%s", out)
	}
	if out := topo.Server.Run("ip", "xfrm", "policy"); strings.TrimSpace(out) != "" {
		t.Errorf("XFRM policies left after stop:\n%s", out)
	}
	if out, err := topo.Server.Try("nft", "list", "table", "inet", nftTable); err == nil {
		t.Errorf("nftables table left after stop:\n%s", out)
	}
}
