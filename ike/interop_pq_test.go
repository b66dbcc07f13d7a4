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

// pqInteropCases are the hybrid proposals of the post-quantum interop
// tests (issue #22): x25519 with ML-KEM-768 as strongSwan 6 documents
// it, and two additional exchanges whose ML-KEM-1024 key (1568 bytes)
// fragments the IKE_INTERMEDIATE request (RFC 9242 section 3.4).
var pqInteropCases = []struct {
	name, proposal string
	fragmented     bool // an IKE_INTERMEDIATE request is fragmented
}{
	{"x25519-mlkem768", "aes256gcm16-prfsha384-x25519-ke1_mlkem768", false},
	{"mlkem768-mlkem1024", "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem1024", true},
}

// setProposals replaces the IKE proposals of a rendered swanctl.conf.
func setProposals(conf, proposals string) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "proposals =") {
			l = strings.SplitN(l, "proposals", 2)[0] + "proposals = " + proposals
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestInteropPQStrongSwan6Initiator: strongSwan 6 (built from Debian 13's
// source, see scripts/build-strongswan6) connects to our responder with
// x25519 plus ML-KEM in IKE_INTERMEDIATE, pings through the tunnel and
// rekeys the CHILD SA.
func TestInteropPQStrongSwan6Initiator(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	prefix := strongswan.Require6(t)
	testnet.Require(t, "tcpdump", "tshark")
	for _, c := range pqInteropCases {
		t.Run(c.name, func(t *testing.T) {
			topo := testnet.New(t, testnet.NATRandomPort)
			pcap := filepath.Join(t.TempDir(), "session.pcap")
			dump := topo.Server.Command(t.Context(), "tcpdump", "-i", "eth0", "-U", "-n", "-w", pcap, "udp port 500 or udp port 4500")
			if err := dump.Start(); err != nil {
				t.Fatal(err)
			}
			// tcpdump writes the pcap header once it captures.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if fi, err := os.Stat(pcap); err == nil && fi.Size() >= 24 {
					break
				}
			}
			time.Sleep(500 * time.Millisecond)
			psk := ipsec.Secret("goipsec-interop-psk-0123456789")
			cfg := &ike.PeerConfig{
				Name: "linux-psk", LocalID: ipsec.FQDN("vpn.example.com"),
				Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
				Pools: serverPools(t), DNS: []netip.Addr{testnet.DNS4, testnet.DNS6},
			}
			g := startGateway(t, topo, cfg, ike.WithProposals(ikeProposals(t, c.proposal)))
			cli, st := runPersonaWith(t, topo, g, "linux-ikev2-psk", nil, nil,
				func(conf string) string { return setProposals(conf, c.proposal) }, strongswan.Options{Prefix: prefix})
			if !strings.Contains(cli.Log(), "IKE_INTERMEDIATE") || !strings.Contains(g.log.String(), "IKE_INTERMEDIATE") {
				t.Errorf("no IKE_INTERMEDIATE exchange in the logs\nclient log:\n%s", cli.Log())
			}
			if !strings.Contains(st.IKEAlg, "ML_KEM_768") {
				t.Errorf("strongSwan's IKE SA algorithms %q lack ML_KEM_768", st.IKEAlg)
			}
			if c.fragmented && !strings.Contains(g.log.String(), "received IKE_INTERMEDIATE request 2 [ KE ]") {
				t.Errorf("the fragmented IKE_INTERMEDIATE request was not reassembled")
			}
			if c.fragmented && !strings.Contains(cli.Log(), "splitting IKE message") {
				t.Errorf("strongSwan did not fragment its ML-KEM-1024 IKE_INTERMEDIATE request\nclient log:\n%s", cli.Log())
			}
			rekeyChildAndPing(t, topo, g, cli, "linux-ikev2-psk", st)
			ikeRekeyWithoutFollowupKE(t, topo, g, cli, st)
			dump.Process.Signal(syscall.SIGINT)
			dump.Wait()
			checkTsharkIntermediate(t, pcap, c.fragmented)
			checkKeyLogDecryptsAuth(t, pcap, g.keyLog.String())
		})
	}
}

// checkTsharkIntermediate has tshark dissect the capture: the
// IKE_INTERMEDIATE exchanges (type 43) are there, requests and responses,
// between IKE_SA_INIT and IKE_AUTH, and with fragmented, some of them
// carry Encrypted Fragment payloads (53).
func checkTsharkIntermediate(t *testing.T, pcap string, fragmented bool) {
	t.Helper()
	cmd := exec.Command("tshark", "-r", pcap, "-Y", "isakmp", "-T", "fields", "-E", "separator=;", "-E", "aggregator=+",
		"-e", "isakmp.exchangetype", "-e", "isakmp.flags", "-e", "isakmp.nextpayload")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var order []string
	inter, interFrag := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ";")
		if len(f) < 3 {
			continue
		}
		if len(order) == 0 || order[len(order)-1] != f[0] {
			order = append(order, f[0])
		}
		if f[0] == "43" {
			inter++
			if strings.HasPrefix(f[2], "53") {
				interFrag++
			}
		}
	}
	got := strings.Join(order, " ")
	// tcpdump may miss the first packets as it attaches: IKE_SA_INIT
	// (34), when captured, comes first.
	if !strings.HasPrefix(strings.TrimPrefix(got, "34 "), "43 35") || inter < 2 {
		t.Errorf("tshark: exchange types in order %q (%d IKE_INTERMEDIATE messages), want IKE_SA_INIT, IKE_INTERMEDIATE, IKE_AUTH\n%s", got, inter, out)
	}
	if fragmented && interFrag == 0 {
		t.Errorf("tshark shows no fragmented IKE_INTERMEDIATE message\n%s", out)
	}
	names, _ := exec.Command("tshark", "-r", pcap, "-Y", "isakmp.exchangetype == 43", "-V").Output()
	if !strings.Contains(string(names), "IKE_INTERMEDIATE") {
		t.Logf("this tshark dissects exchange type 43 without naming it IKE_INTERMEDIATE")
	}
	t.Logf("tshark: %d IKE_INTERMEDIATE messages (%d fragments), exchanges %s", inter, interFrag, got)
}

// TestInteropPQInitiatorAgainstStrongSwan6: our initiator connects to a
// strongSwan 6 responder with x25519 plus ML-KEM and pings through.
func TestInteropPQInitiatorAgainstStrongSwan6(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	prefix := strongswan.Require6(t)
	vars := serverVars()
	psk := ipsec.Secret(vars["PSK"])
	for _, c := range pqInteropCases {
		t.Run(c.name, func(t *testing.T) {
			topo := testnet.New(t, testnet.NATRandomPort)
			sp, err := strongswan.Render("server", "ikev2-psk", vars)
			if err != nil {
				t.Fatal(err)
			}
			sp.Conf = setProposals(sp.Conf, c.proposal)
			srv := strongswan.StartWith(t, topo.Server, sp, "", nil, strongswan.Options{Prefix: prefix})
			rw := startRoadwarrior(t, topo)
			cfg := &ike.PeerConfig{
				Name: "ikev2-psk", LocalID: ipsec.Email("client@example.com"), RemoteID: ipsec.FQDN("vpn.example.com"),
				Local: ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}, Remote: ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk},
				Proposals:  ikeProposals(t, c.proposal),
				VirtualIPs: []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
			}
			rw.dialAndPing(t, topo, cfg, srv)
			if !strings.Contains(srv.Log(), "IKE_INTERMEDIATE") || !strings.Contains(rw.log.String(), "IKE_INTERMEDIATE") {
				t.Errorf("no IKE_INTERMEDIATE exchange in the logs\nstrongSwan log:\n%s", srv.Log())
			}
			if c.fragmented && (!strings.Contains(srv.Log(), "reassembled fragmented IKE message") || !strings.Contains(rw.log.String(), "IKE_INTERMEDIATE request 2 [ KE ] (2 fragments)")) {
				t.Errorf("our ML-KEM-1024 IKE_INTERMEDIATE request was not sent and reassembled in fragments\nstrongSwan log:\n%s", srv.Log())
			}
		})
	}
}

// ikeRekeyWithoutFollowupKE has strongSwan rekey its IKE SA with its
// proposal, which demands the additional key exchanges again
// (IKE_FOLLOWUP_KE, RFC 9370 section 2.2.4, not implemented here): our
// responder refuses with NO_PROPOSAL_CHOSEN and the IKE SA and the
// tunnel stay up.
func ikeRekeyWithoutFollowupKE(t *testing.T, topo *testnet.Topology, g *gateway, cli *strongswan.Charon, st strongswan.SAState) {
	t.Helper()
	before := g.resp.SAs()
	if out, err := cli.Swanctl(20*time.Second, "--rekey", "--ike", "linux-ikev2-psk"); err != nil {
		t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
	}
	time.Sleep(time.Second)
	after := g.resp.SAs()
	if len(before) != 1 || len(after) != 1 || after[0].SPIr != before[0].SPIr || after[0].State != "ESTABLISHED" {
		t.Errorf("IKE SAs before the refused rekey %+v, after %+v", before, after)
	}
	if !strings.Contains(cli.Log(), "NO_PROPOSAL_CHOSEN") {
		t.Errorf("strongSwan's IKE rekey was not refused with NO_PROPOSAL_CHOSEN\nclient log:\n%s", cli.Log())
	}
	vip, _ := st.VIP(false)
	if out, err := topo.Client.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", vip.String(), testnet.Inner4.String()); err != nil {
		t.Errorf("ping after the refused IKE rekey: %v\n%s", err, out)
	}
}

// checkKeyLogDecryptsAuth has tshark decrypt IKE_AUTH with our key log:
// the keys after the last additional key exchange protect it, and they
// are the ones the log gives for the SA's SPIs (a later line for the
// same SPIs replaces an earlier one in Wireshark's table).
func checkKeyLogDecryptsAuth(t *testing.T, pcap, keyLog string) {
	t.Helper()
	var ikeRows []string
	for _, l := range strings.Split(strings.TrimSpace(keyLog), "\n") {
		if l != "" && !strings.HasPrefix(l, `"IPv`) {
			ikeRows = append(ikeRows, l)
		}
	}
	cmd := exec.Command("tshark", "-r", pcap, "-o", "uat:ikev2_decryption_table:"+strings.Join(ikeRows, "\n"),
		"-Y", "isakmp.exchangetype == 35", "-T", "fields", "-e", "isakmp.id.type")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if ids := string(out); !strings.Contains(ids, "3") || !strings.Contains(ids, "2") {
		t.Errorf("tshark did not decrypt IKE_AUTH with our key log (%d IKE lines; ID types %q)", len(ikeRows), ids)
	}
}
