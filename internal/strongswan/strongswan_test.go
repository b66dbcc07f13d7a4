package strongswan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

func TestRenderAllProfiles(t *testing.T) {
	vars := map[string]string{
		"SERVER": "192.0.2.1", "SERVER_ID": "vpn.example.com", "EAP_USER": `EXAMPLE\alice`, "EAP_PASS": `pa"ss`,
		"PSK": "x", "GROUP_ID": "g", "CLIENT_ID": "client@example.com", "POOL4": "198.51.100.64/26",
		"POOL6": "2001:db8:100:1::/120", "DNS4": "198.51.100.53", "DNS6": "2001:db8:100::53",
	}
	for _, kind := range []string{"client", "server"} {
		names := Profiles(kind)
		if len(names) < 5 {
			t.Fatalf("%s profiles: %v", kind, names)
		}
		for _, n := range names {
			p, err := Render(kind, n, vars)
			if err != nil {
				t.Errorf("%s/%s: %v", kind, n, err)
				continue
			}
			if p.About == "" || !strings.Contains(p.Conf, "connections {") {
				t.Errorf("%s/%s: no about line or connections section", kind, n)
			}
			if kind == "client" && p.Server == "" {
				t.Errorf("client/%s names no server profile", n)
			}
			if strings.Contains(p.Conf, "@") && strings.Contains(p.Conf, "@SERVER") {
				t.Errorf("%s/%s: placeholder left", kind, n)
			}
		}
	}
	p, _ := Render("client", "windows-ikev2-eap", vars)
	if !strings.Contains(p.Conf, `"EXAMPLE\\alice"`) {
		t.Errorf("backslash not escaped for swanctl: %s", p.Conf)
	}
	if _, err := Render("client", "ios-ikev2-eap", nil); err == nil || !strings.Contains(err.Error(), "@SERVER@") {
		t.Errorf("missing SERVER not reported: %v", err)
	}
	if _, err := Render("client", "nokia", nil); err == nil {
		t.Error("unknown profile rendered")
	}
}

func TestParseSAs(t *testing.T) {
	out := `ios-ikev2-eap: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
  local  '192.0.2.2' @ 192.0.2.2[4500] [198.51.100.65 2001:db8:100:1::1]
  remote 'vpn.example.com' @ 192.0.2.1[4500]
  AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
  established 1s ago, rekeying in 2962s
  ios-ikev2-eap: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128
`
	s := ParseSAs(out, "ios-ikev2-eap")
	if !s.IKEUp || !s.ChildUp {
		t.Fatalf("state %+v", s)
	}
	if s.IKEAlg != "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048" {
		t.Errorf("IKEAlg %q", s.IKEAlg)
	}
	if v4, ok := s.VIP(false); !ok || v4 != netip.MustParseAddr("198.51.100.65") {
		t.Errorf("vip4 %v", v4)
	}
	if v6, ok := s.VIP(true); !ok || v6 != netip.MustParseAddr("2001:db8:100:1::1") {
		t.Errorf("vip6 %v", v6)
	}
	if ParseSAs("", "x").IKEUp {
		t.Error("empty output is up")
	}
}

// TestPersonasAgainstStrongSwan is the harness's self-test: each client
// persona against its strongSwan responder, directly and through a NAT,
// with pings through the tunnel. It proves the harness before our own
// engine is put on either side of it.
func TestPersonasAgainstStrongSwan(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	Require(t)
	pki, err := testpki.New(testpki.RSA2048, "client@example.com", "vpn.example.com", testnet.ServerAddr4.String(), testnet.ServerAddr6.String())
	if err != nil {
		t.Fatal(err)
	}
	files := func(role string, c *testpki.Cert) Files {
		return Files{"x509ca/ca.pem": pki.CA.CertPEM(), "x509/" + role + ".pem": c.CertPEM(), "private/" + role + ".key": c.KeyPEM()}
	}
	cases := []struct {
		client string
		nat    testnet.NATMode
	}{
		{"ios-ikev2-eap", testnet.NoNAT},
		{"linux-ikev2-psk", testnet.NATRandomPort},
	}
	for _, c := range cases {
		t.Run(c.client, func(t *testing.T) {
			topo := testnet.New(t, c.nat)
			vars := map[string]string{
				"SERVER": testnet.ServerAddr4.String(), "SERVER_ID": "vpn.example.com",
				"EAP_PASS": "password", "PSK": "goipsec-interop-psk-0123456789",
				"CLIENT_ID": "client@example.com", "GROUP_ID": "ExampleGroup",
				"POOL4": testnet.Pool4.String(), "POOL6": testnet.Pool6.String(),
				"DNS4": testnet.DNS4.String(), "DNS6": testnet.DNS6.String(),
			}
			cp, err := Render("client", c.client, vars)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := Render("server", cp.Server, vars)
			if err != nil {
				t.Fatal(err)
			}
			Start(t, topo.Server, sp, Users(map[string]string{"alice": "password", `EXAMPLE\alice`: "password"}), files("server", pki.Server))
			cli := Start(t, topo.Client, cp, "", files("client", pki.Client))
			if out, err := cli.Initiate(c.client, 20*time.Second); err != nil {
				t.Fatalf("initiate: %v\n%s\nclient log:\n%s", err, out, tail(cli.Log(), 60))
			}
			st := ParseSAs(cli.ListSAs(), c.client)
			if !st.IKEUp || !st.ChildUp {
				t.Fatalf("SAs not up: %+v\n%s", st, cli.ListSAs())
			}
			for _, v6 := range []bool{false, true} {
				vip, ok := st.VIP(v6)
				if !ok {
					t.Errorf("no virtual IP (v6=%v): %+v", v6, st)
					continue
				}
				dst := testnet.Inner4
				if v6 {
					dst = testnet.Inner6
				}
				if !testnet.Pool4.Contains(vip) && !testnet.Pool6.Contains(vip) {
					t.Errorf("virtual IP %v outside the pools", vip)
				}
				out, err := topo.Client.Try("ping", "-c", "2", "-i", "0.3", "-W", "2", "-I", vip.String(), dst.String())
				if err != nil {
					t.Errorf("ping %v from %v through the tunnel: %v\n%s", dst, vip, err, out)
				}
			}
			if r := cli.Resolv(); !strings.Contains(r, testnet.DNS4.String()) {
				t.Errorf("DNS server not received: %q", r)
			}
		})
	}
}

// TestPluginListForKernelESP: the kernel ESP set-up loads the same plugins
// without kernel-libipsec, so kernel-netlink installs the SAs.
func TestPluginListForKernelESP(t *testing.T) {
	user, kern := strings.Fields(plugins), strings.Fields(kernelPlugins)
	if !slices.Contains(user, "kernel-libipsec") || slices.Contains(kern, "kernel-libipsec") {
		t.Errorf("kernel-libipsec: userspace list %v, kernel list %v", user, kern)
	}
	if !slices.Contains(kern, "kernel-netlink") || len(kern) != len(user)-1 {
		t.Errorf("kernel list %v is not the userspace list %v without kernel-libipsec", kern, user)
	}
}
