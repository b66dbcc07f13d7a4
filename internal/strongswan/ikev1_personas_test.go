package strongswan

import (
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

// v1Profiles are the IKEv1 profile pairs (client and server of one name)
// and what distinguishes them on the wire.
var v1Profiles = []struct {
	name       string
	exchange   string // strongSwan's name of the Phase 1 exchange in its log
	aggressive bool
	auth       string
}{
	{"ikev1-main-psk", "ID_PROT", false, "psk"},
	{"ikev1-aggr-keyid", "AGGRESSIVE", true, "psk"},
	{"ikev1-main-rsa", "ID_PROT", false, "pubkey"},
	{"ikev1-main-psk-transport", "ID_PROT", false, "psk"},
}

// TestV1ProfilesRender: every IKEv1 profile renders with nothing but the
// server address and the PSK, as IKEv1, in the right Phase 1 mode, with
// Apple's first proposal first; the variables the interop tests turn
// (rekey, reauth, DPD, proposals, selectors) reach the configuration.
func TestV1ProfilesRender(t *testing.T) {
	base := map[string]string{"SERVER": "192.0.2.1", "PSK": "x"}
	for _, p := range v1Profiles {
		for _, kind := range []string{"client", "server"} {
			r, err := Render(kind, p.name, base)
			if err != nil {
				t.Errorf("%s/%s: %v", kind, p.name, err)
				continue
			}
			conf := r.Conf
			if !strings.Contains(conf, "version = 1\n") {
				t.Errorf("%s/%s: not IKEv1", kind, p.name)
			}
			if got := strings.Contains(conf, "aggressive = yes"); got != p.aggressive {
				t.Errorf("%s/%s: aggressive = %v, want %v", kind, p.name, got, p.aggressive)
			}
			if !strings.Contains(conf, `proposals = "aes256-sha256-modp2048, `) {
				t.Errorf("%s/%s: Apple's first proposal is not first:\n%s", kind, p.name, conf)
			}
			if !strings.Contains(conf, `esp_proposals = "aes256-sha256, aes256-sha1, `) {
				t.Errorf("%s/%s: Apple's ESP proposals missing", kind, p.name)
			}
			if strings.Count(conf, "auth = "+p.auth+"\n") != 2 {
				t.Errorf("%s/%s: want auth = %s both ways:\n%s", kind, p.name, p.auth, conf)
			}
			mode := "tunnel"
			if strings.HasSuffix(p.name, "-transport") {
				mode = "transport"
			}
			if !strings.Contains(conf, "mode = "+mode+"\n") {
				t.Errorf("%s/%s: not %s mode", kind, p.name, mode)
			}
			if kind == "client" && r.Server != p.name {
				t.Errorf("client/%s pairs with %q", p.name, r.Server)
			}
			if kind == "server" && p.aggressive && !strings.Contains(strings.Join(r.Charon, "\n"), "i_dont_care_about_security_and_use_aggressive_mode_psk = yes") {
				t.Errorf("server/%s: strongSwan refuses Aggressive Mode PSK without the opt-in", p.name)
			}
			vars := map[string]string{
				"SERVER": "192.0.2.1", "PSK": "x", "REAUTH_TIME": "20s", "REKEY_TIME": "21s",
				"CHILD_REKEY_TIME": "22s", "CHILD_LIFE_TIME": "40s", "DPD_DELAY": "5s", "DPD_TIMEOUT": "15s",
				"PROPOSALS": "aes128-sha1-modp1024", "ESP_PROPOSALS": "aes128-sha1",
				"CLIENT_TS": "203.0.113.0/28", "SERVER_TS": "198.51.100.1/32",
			}
			r, err = Render(kind, p.name, vars)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				`reauth_time = "20s"`, `rekey_time = "21s"`, `rekey_time = "22s"`, `life_time = "40s"`,
				`dpd_delay = "5s"`, `dpd_timeout = "15s"`, `proposals = "aes128-sha1-modp1024"`,
				`esp_proposals = "aes128-sha1"`, `"203.0.113.0/28"`, `"198.51.100.1/32"`,
			} {
				if !strings.Contains(r.Conf, want) {
					t.Errorf("%s/%s: %s not in\n%s", kind, p.name, want, r.Conf)
				}
			}
		}
	}
}

func TestParsePing(t *testing.T) {
	for _, tc := range []struct {
		out        string
		sent, recv int
	}{
		{"--- 198.51.100.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 602ms\n", 3, 3},
		{"5 packets transmitted, 2 received, +3 errors, 60% packet loss, time 4005ms\n", 5, 2},
		// busybox ping (the test VM)
		{"--- 198.51.100.1 ping statistics ---\n4 packets transmitted, 4 packets received, 0% packet loss\n", 4, 4},
		{"ping: bind: Cannot assign requested address\n", 0, 0},
	} {
		s, r := ParsePing(tc.out)
		if s != tc.sent || r != tc.recv {
			t.Errorf("ParsePing(%q) = %d, %d; want %d, %d", tc.out, s, r, tc.sent, tc.recv)
		}
	}
}

// TestV1StrongSwanPersonas proves the IKEv1 tunnel profiles and RunV1:
// strongSwan against strongSwan (kernel-libipsec) for each, directly and
// behind a NAT (the NAT router masquerades with random ports, so the
// server sees neither 500 nor 4500), with pings between the inner
// networks. It asserts what each profile is for: the Phase 1 exchange
// (Main or Aggressive Mode), the identities (address, KEY_ID, DN), the
// algorithms of Apple's first proposal, and NAT-T behind the NAT.
func TestV1StrongSwanPersonas(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	Require(t)
	for _, p := range v1Profiles {
		if strings.HasSuffix(p.name, "-transport") {
			continue // kernel-libipsec has no transport mode: internal/vmclient runs it
		}
		for _, nat := range []testnet.NATMode{testnet.NoNAT, testnet.NATRandomPort} {
			label := "direct"
			if nat != testnet.NoNAT {
				label = "nat"
			}
			t.Run(p.name+"/"+label, func(t *testing.T) {
				run := RunV1(t, V1Case{Profile: p.name, NAT: nat}, V1StrongSwanServer, V1StrongSwanClient)
				cli, srv := run.Client.Charon, run.Server.Charon
				if err := V1Established(srv.ListSAs(), p.name); err != nil {
					t.Errorf("server: %v\n%s", err, srv.ListSAs())
				}
				st := ParseSAs(cli.ListSAs(), p.name)
				if want := "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"; st.IKEAlg != want {
					t.Errorf("IKE algorithms %q, want Apple's first proposal %q", st.IKEAlg, want)
				}
				if want := "ESP:AES_CBC-256/HMAC_SHA2_256_128"; !strings.Contains(st.ESPAlg, want) {
					t.Errorf("ESP algorithms %q, want %q", st.ESPAlg, want)
				}
				if log := cli.Log(); !strings.Contains(log, "generating "+p.exchange+" request 0") {
					t.Errorf("client did not start %s:\n%s", p.exchange, tail(log, 40))
				}
				srvSAs := srv.ListSAs()
				var remoteID string
				switch p.name {
				case "ikev1-main-psk":
					remoteID = run.Env.Topo.ClientAddr4.String() // the private address behind a NAT
				case "ikev1-aggr-keyid":
					remoteID = "ExampleGroup"
				case "ikev1-main-rsa":
					remoteID = "C=XX, O=goipsec test, CN=client@example.com"
				}
				if !strings.Contains(srvSAs, "remote '"+remoteID+"'") {
					t.Errorf("server does not see the client as %q:\n%s", remoteID, srvSAs)
				}
				if p.auth == "pubkey" && !strings.Contains(srv.Log(), "authentication of '"+remoteID+"' with RSA_EMSA_PKCS1_NULL successful") {
					t.Errorf("server did not authenticate the client with an RSA signature:\n%s", tail(srv.Log(), 40))
				}
				if nat != testnet.NoNAT && !strings.Contains(cli.Log(), "local host is behind NAT") {
					t.Errorf("client did not detect the NAT:\n%s", tail(cli.Log(), 60))
				}
				if !strings.Contains(cli.ListSAs(), "TUNNEL-in-UDP") {
					t.Errorf("CHILD SA not ESP in UDP (kernel-libipsec needs it):\n%s", cli.ListSAs())
				}
			})
		}
	}
}

// TestV1StrongSwanECDSA: the RSA profile with ECDSA P-256 certificates
// authenticates with ECDSA signatures (RFC 4754's auth method in IKEv1).
func TestV1StrongSwanECDSA(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	Require(t)
	run := RunV1(t, V1Case{Profile: "ikev1-main-rsa", Key: testpki.ECDSAP256}, V1StrongSwanServer, V1StrongSwanClient)
	// IKEv1 signs the hash itself: strongSwan names the scheme
	// ECDSA_WITH_NULL (RSA would be RSA_EMSA_PKCS1_NULL).
	if log := run.Server.Charon.Log(); !strings.Contains(log, "authentication of 'C=XX, O=goipsec test, CN=client@example.com' with ECDSA_WITH_NULL successful") {
		t.Errorf("server log shows no ECDSA authentication of the client:\n%s", tail(log, 40))
	}
}

// TestV1StrongSwanDPD proves the DPD variables: when the client dies
// without a Delete, the server's DPD (R-U-THERE every 2 s when the peer
// is silent, given up after 6 s) removes its SAs.
func TestV1StrongSwanDPD(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite skipped in -short mode")
	}
	Require(t)
	vars := map[string]string{"DPD_DELAY": "2s", "DPD_TIMEOUT": "6s"}
	run := RunV1(t, V1Case{Profile: "ikev1-main-psk", Vars: vars}, V1StrongSwanServer, V1StrongSwanClient)
	srv := run.Server.Charon
	run.Client.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for ParseSAs(srv.ListSAs(), "ikev1-main-psk").IKEUp {
		if time.Now().After(deadline) {
			t.Fatalf("server still has the dead client's SA after 30 s:\n%s", srv.ListSAs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	log := srv.Log()
	if !strings.Contains(log, "sending DPD request") {
		t.Errorf("server sent no DPD request:\n%s", tail(log, 30))
	}
}

func TestDefaults(t *testing.T) {
	d, err := Defaults("server", "ikev1-main-psk-transport")
	if err != nil {
		t.Fatal(err)
	}
	if d["CLIENT_TS"] != "dynamic[udp/1701]" || d["SERVER_TS"] != "dynamic[udp/1701]" {
		t.Errorf("selectors %q %q", d["CLIENT_TS"], d["SERVER_TS"])
	}
	if !strings.HasPrefix(d["PROPOSALS"], "aes256-sha256-modp2048, ") {
		t.Errorf("proposals %q", d["PROPOSALS"])
	}
	if _, ok := d["PSK"]; ok {
		t.Error("the PSK has a default")
	}
	if _, err := Defaults("server", "nokia"); err == nil {
		t.Error("unknown profile has defaults")
	}
}

func TestV1Established(t *testing.T) {
	v1 := `ikev1-main-psk: #1, ESTABLISHED, IKEv1, 2d8dc141283cea45_i* 5c820b0962808629_r
  local  '192.0.2.2' @ 192.0.2.2[4500]
  remote '192.0.2.1' @ 192.0.2.1[4500]
  AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
  ikev1-main-psk: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128
`
	if err := V1Established(v1, "ikev1-main-psk"); err != nil {
		t.Error(err)
	}
	noChild := strings.Join(strings.Split(v1, "\n")[:4], "\n")
	if err := V1Established(noChild, "ikev1-main-psk"); err == nil {
		t.Error("no CHILD SA accepted")
	}
	if err := V1Established(strings.Replace(v1, "IKEv1", "IKEv2", 1), "ikev1-main-psk"); err == nil || !strings.Contains(err.Error(), "not IKEv1") {
		t.Errorf("IKEv2 SA accepted: %v", err)
	}
	if err := V1Established(v1, "other"); err == nil {
		t.Error("another connection's SA accepted")
	}
}

func TestV1EnvVar(t *testing.T) {
	env := &V1Env{Case: V1Case{Profile: "ikev1-main-psk"}, Vars: map[string]string{"PSK": "k", "DPD_DELAY": "5s"}}
	for _, tc := range []struct{ kind, key, want string }{
		{"client", "PSK", "k"},
		{"server", "DPD_DELAY", "5s"},    // the run's value over both defaults
		{"client", "REAUTH_TIME", "48m"}, // the client's default
		{"server", "REAUTH_TIME", "0s"},  // the server's
		{"server", "CLIENT_TS", "203.0.113.2/32"},
		{"server", "NOPE", ""},
	} {
		if got := env.Var(tc.kind, tc.key); got != tc.want {
			t.Errorf("Var(%s, %s) = %q, want %q", tc.kind, tc.key, got, tc.want)
		}
	}
}
