package vmclient

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// The libreswan tests run in the VM: scripts/test's kernel stage, or by
// hand (stage-clients unpacks libreswan from Debian's .deb):
//
//	mapfile -t files < <(scripts/vmtest/stage-clients /tmp/root)
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV="GOIPSEC_VMTEST CI" VMTEST_SMP=2 \
//	  go test -exec "$PWD/scripts/vmtest/run-in-vm ${files[*]}" -run '^TestKernelLibreswan' ./internal/vmclient

func TestLibreswanConf(t *testing.T) {
	a := netip.MustParseAddr
	c := LibreswanConn{
		Name: "t", Left: a("192.0.2.2"), Right: a("192.0.2.1"),
		LeftSubnet: netip.MustParsePrefix("203.0.113.2/32"), RightSubnet: netip.MustParsePrefix("198.51.100.0/24"),
		IKE: "aes256-sha2_256;modp2048", ESP: "aes256-sha2_256", PSK: `p"sk`,
		DPDDelay: 5 * time.Second, DPDTimeout: 15 * time.Second,
	}
	conf := LibreswanConf("/x/nss", c)
	for _, want := range []string{
		"ikev1-policy=accept", "nssdir=/x/nss", "conn t\n", "ikev2=no", "authby=secret", "type=tunnel",
		"left=192.0.2.2\n", "right=192.0.2.1\n", "leftsubnet=203.0.113.2/32", "rightsubnet=198.51.100.0/24",
		"ike=aes256-sha2_256;modp2048", "phase2alg=aes256-sha2_256", `leftupdown=""`,
		"dpddelay=5\n", "dpdtimeout=15\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("%q not in\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "aggressive") || strings.Contains(conf, "protoport") || strings.Contains(conf, `p"sk`) {
		t.Errorf("unexpected option or the PSK in ipsec.conf:\n%s", conf)
	}
	c.Transport, c.LeftSubnet, c.RightSubnet = true, netip.Prefix{}, netip.Prefix{}
	c.LeftProtoPort, c.RightProtoPort = "17/1701", "17/1701"
	conf = LibreswanConf("/x/nss", c)
	for _, want := range []string{"type=transport", "leftprotoport=17/1701", "rightprotoport=17/1701"} {
		if !strings.Contains(conf, want) {
			t.Errorf("%q not in\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "subnet") || strings.Contains(conf, "virtual-private") {
		t.Errorf("transport mode with subnets:\n%s", conf)
	}
	// A transport-mode peer behind a NAT: its private address.
	c.RightPrivate = netip.MustParsePrefix("192.0.2.130/32")
	conf = LibreswanConf("/x/nss", c)
	for _, want := range []string{"\tvirtual-private=%v4:192.0.2.130/32\n", "\trightsubnet=vhost:%priv\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("%q not in\n%s", want, conf)
		}
	}
	if i, j := strings.Index(conf, "virtual-private"), strings.Index(conf, "conn t"); i > j {
		t.Errorf("virtual-private not in config setup:\n%s", conf)
	}
	c.RightPrivate = netip.Prefix{}
	if got, want := LibreswanSecrets(c), "192.0.2.2 192.0.2.1 : PSK \"p\\\"sk\"\n"; got != want {
		t.Errorf("secrets %q, want %q", got, want)
	}
}

// TestKernelLibreswanV1 runs libreswan 4.10 against strongSwan, both
// with kernel ESP, in both roles: IKEv1 Main Mode PSK in tunnel mode
// (pings between the inner networks), in transport mode for all traffic
// (pings between the hosts) and in transport mode for udp/1701 (L2TP's
// datagrams, 1701 to 1701), directly and with the client behind a NAT
// (NAT-T; NAT-OA in transport mode). Each time the client's kernel SAs
// must be raw ESP (ESP in UDP behind the NAT) in the negotiated mode and
// have carried the traffic both ways.
func TestKernelLibreswanV1(t *testing.T) {
	Require(t, "pluto", "whack", "addconn", "certutil", "ping")
	sides := []struct {
		name           string
		server, client strongswan.V1Start
	}{
		{"libreswan-client", strongswan.V1StrongSwanServer, V1LibreswanClient},
		{"libreswan-server", V1LibreswanServer, strongswan.V1StrongSwanClient},
	}
	cases := []struct {
		name, profile string
		vars          map[string]string
		mode          string
		check         func(t *testing.T, env *strongswan.V1Env)
	}{
		{"tunnel", "ikev1-main-psk", nil, "tunnel", nil},
		{"transport", "ikev1-main-psk-transport", map[string]string{"CLIENT_TS": "dynamic", "SERVER_TS": "dynamic"}, "transport", PingHosts},
		{"transport-udp1701", "ikev1-main-psk-transport", nil, "transport", UDP1701},
	}
	for _, s := range sides {
		for _, c := range cases {
			for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
				label := "direct"
				if nat != testnet.NoNAT {
					label = "nat"
				}
				t.Run(s.name+"/"+c.name+"/"+label, func(t *testing.T) {
					libreswanCase(t, s.server, s.client, c.profile, c.vars, c.mode, c.check, nat)
				})
			}
		}
	}
}

// libreswanCase is one case of TestKernelLibreswanV1: the run, then
// what both implementations and the client's kernel say about it.
func libreswanCase(t *testing.T, server, client strongswan.V1Start, profile string, vars map[string]string, mode string, check func(*testing.T, *strongswan.V1Env), nat testnet.NATMode) {
	t.Helper()
	run := strongswan.RunV1(t, strongswan.V1Case{Profile: profile, NAT: nat, Vars: vars, KernelESP: true, Check: check}, server, client)
	topo := run.Env.Topo
	// Both implementations ran IKEv1 Main Mode: strongSwan's SA is IKEv1
	// after an ID_PROT exchange, pluto's states are Main Mode's and Quick
	// Mode's.
	ss, lw := run.Server, run.Client
	if ss.Charon == nil {
		ss, lw = lw, ss
	}
	if err := strongswan.V1Established(ss.Charon.ListSAs(), profile); err != nil {
		t.Errorf("strongSwan: %v", err)
	}
	if log := ss.Charon.Log(); !strings.Contains(log, "ID_PROT request 0") {
		t.Errorf("strongSwan log without Main Mode")
	}
	status := lw.Status()
	if !strings.Contains(status, "STATE_MAIN_") || !strings.Contains(status, "STATE_QUICK_") {
		t.Errorf("pluto has no Main Mode and Quick Mode states:\n%s", status)
	}
	// Raw ESP without a NAT, ESP in UDP behind one, in the case's mode,
	// carrying the check's three packets each way.
	encap := nat != testnet.NoNAT
	st := States(t, topo.Client)
	if err := Check(st, topo.ClientAddr4, testnet.ServerAddr4, encap, 3); err != nil {
		t.Errorf("client's kernel SAs: %v\n%s", err, XfrmStat(topo.Client))
	}
	for _, x := range st {
		if x.Proto == "esp" && x.Mode != mode {
			t.Errorf("SA %v is not in %s mode", x, mode)
		}
	}
	t.Logf("client: %v", st)
}
