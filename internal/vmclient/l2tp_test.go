package vmclient

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/testnet"
)

func TestL2TPClientConfigs(t *testing.T) {
	server := netip.MustParseAddr("192.0.2.1")
	win := L2TPClient{Persona: L2TPWindows, User: "alice", Password: `pa"ss`}
	apple := L2TPClient{Persona: L2TPApple, User: "bob", Password: "pw"}

	for _, tc := range []struct {
		cl           L2TPClient
		want, absent []string
	}{
		{win, []string{"version = 1", "remote_addrs = 192.0.2.1", "proposals = aes256-sha1-ecp384, aes128-sha1-ecp256,",
			"mode = transport", "local_ts = dynamic[udp/1701]", "remote_ts = dynamic[udp/1701]", "esp_proposals = aes256-sha1, aes128-sha1, 3des-sha1",
			"reauth_time = 8h", `secret = "p\"sk"`}, []string{"encap", "aggressive", " id ="}},
		{apple, []string{"proposals = aes256-sha256-modp2048, aes256-sha1-modp2048,", "3des-md5-modp1024\n", "local_ts = dynamic[udp/50123]",
			"remote_ts = dynamic[udp/1701]", "reauth_time = 3000s", "esp_proposals = aes256-sha256, aes256-sha1, aes256-md5, aes128-sha256"}, []string{"ecp", "encap"}},
	} {
		conf := L2TPSwanctlConf(tc.cl, server, `p"sk`)
		for _, w := range tc.want {
			if !strings.Contains(conf, w) {
				t.Errorf("%s swanctl.conf: no %q in\n%s", tc.cl.Persona, w, conf)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(conf, a) {
				t.Errorf("%s swanctl.conf: %q in\n%s", tc.cl.Persona, a, conf)
			}
		}
	}
	// Apple's 14 transforms.
	if n := strings.Count(l2tpAppleProposals, ",") + 1; n != 14 {
		t.Errorf("Apple persona: %d IKE transforms, want 14", n)
	}

	x := L2TPXl2tpdConf(win, server, "/o")
	for _, w := range []string{"port = 1701\n", "lns = 192.0.2.1\n", "autodial = yes", "redial = no", "tunnel rws = 8\n", "pppoptfile = /o\n"} {
		if !strings.Contains(x, w) {
			t.Errorf("Windows xl2tpd.conf: no %q in\n%s", w, x)
		}
	}
	x = L2TPXl2tpdConf(apple, server, "/o")
	for _, w := range []string{"port = 50123\n", "tunnel rws = 4\n"} {
		if !strings.Contains(x, w) {
			t.Errorf("Apple xl2tpd.conf: no %q in\n%s", w, x)
		}
	}

	o := L2TPPPPOptions(win, "/l")
	for _, w := range []string{"noauth\n", "name \"alice\"\n", "user \"alice\"\n", "password \"pa\\\"ss\"\n", "refuse-pap\n", "refuse-chap\n", "refuse-mschap\n",
		"refuse-eap\n", "noccp\n", "mtu 1400\n", "mru 1400\n", "usepeerdns\n", "nodefaultroute\n", "logfile /l\n"} {
		if !strings.Contains(o, w) {
			t.Errorf("Windows pppd options: no %q in\n%s", w, o)
		}
	}
	if strings.Contains(o, "require-mschap-v2") {
		t.Errorf("a client must not demand that the server authenticate:\n%s", o)
	}
	o = L2TPPPPOptions(apple, "/l")
	if !strings.Contains(o, "mtu 1280\n") || strings.Contains(o, "refuse-mschap") || strings.Contains(o, "refuse-pap") {
		t.Errorf("Apple pppd options: want mtu 1280 and every authentication but EAP:\n%s", o)
	}
	// Android: MODP-1024 only, the floating port 50124, RWS 1, host name
	// "anonymous", and CCP offered (no noccp).
	android := L2TPClient{Persona: L2TPAndroid, User: "carol", Password: "pw"}
	sw := L2TPSwanctlConf(android, testnet.ServerAddr4, "k")
	if !strings.Contains(sw, "local_ts = dynamic[udp/50124]") || strings.Contains(sw, "modp2048") || !strings.Contains(sw, "aes256-sha1-modp1024") {
		t.Errorf("Android swanctl.conf:\n%s", sw)
	}
	if x := L2TPXl2tpdConf(android, testnet.ServerAddr4, "/o"); !strings.Contains(x, "tunnel rws = 1\n") || !strings.Contains(x, "hostname = anonymous\n") || !strings.Contains(x, "port = 50124\n") {
		t.Errorf("Android xl2tpd.conf:\n%s", x)
	}
	if x := L2TPXl2tpdConf(android, testnet.ServerAddr4, "/o"); !strings.Contains(x, "challenge = no\n") {
		t.Errorf("no tunnel secret, but xl2tpd challenges:\n%s", x)
	}
	android.TunnelSecret = "s3cret"
	if x := L2TPXl2tpdConf(android, testnet.ServerAddr4, "/o"); !strings.Contains(x, "challenge = yes\n") {
		t.Errorf("a tunnel secret, but xl2tpd does not challenge:\n%s", x)
	}
	if o := L2TPPPPOptions(android, "/log"); strings.Contains(o, "noccp") || strings.Contains(L2TPPPPOptions(L2TPClient{Persona: L2TPWindows}, "/log"), "noccp") == false {
		t.Errorf("Android pppd options must offer CCP, Windows' must not:\n%s", o)
	}
}

func TestL2TPCaseDefaults(t *testing.T) {
	c := L2TPCase{}.withDefaults()
	if len(c.Clients) != 1 || c.Clients[0].Persona != L2TPWindows || c.Clients[0].IKE != L2TPStrongSwan || c.Clients[0].User != c.User || c.Clients[0].Password != c.Password {
		t.Errorf("default clients %+v", c.Clients)
	}
	if c.PSK == "" || c.Pool != L2TPPool || c.Gateway != L2TPGateway || len(c.DNS) != 1 || c.Inside != testnet.Inner4 || c.UpTimeout == 0 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Error(err)
	}
	two := L2TPCase{Topology: L2TPTwoBehindNAT}.withDefaults()
	if len(two.Clients) != 2 || two.validate() != nil {
		t.Errorf("two behind one NAT: %+v %v", two.Clients, two.validate())
	}
	in := []L2TPClient{{Password: "own"}}
	c = L2TPCase{Clients: in}.withDefaults()
	if c.Clients[0].Password != "own" || in[0].Persona != "" {
		t.Errorf("client's own password lost or the caller's slice changed: %+v %+v", c.Clients, in)
	}
	for _, bad := range []L2TPCase{
		{Topology: L2TPTwoBehindNAT, Clients: []L2TPClient{{}}},
		{Topology: L2TPDirect, Clients: []L2TPClient{{}, {}}},
		{Clients: []L2TPClient{{Persona: "symbian"}}},
		{Clients: []L2TPClient{{Persona: L2TPAndroid, IKE: L2TPLibreswan}}},
		{Clients: []L2TPClient{{IKE: "racoon"}}},
		{Clients: []L2TPClient{{Persona: L2TPApple, IKE: L2TPLibreswan}}},
	} {
		if err := bad.withDefaults().validate(); err == nil {
			t.Errorf("case %+v accepted", bad)
		}
	}
}

func TestParsePPP(t *testing.T) {
	out := "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n" +
		"2: eth0    inet 192.0.2.2/25 scope global eth0\\       valid_lft forever preferred_lft forever\n" +
		"5: ppp0    inet 198.51.100.65 peer 198.51.100.254/32 scope global ppp0\\       valid_lft forever preferred_lft forever\n"
	ifc, l, p, ok := ParsePPPAddr(out)
	if !ok || ifc != "ppp0" || l != netip.MustParseAddr("198.51.100.65") || p != netip.MustParseAddr("198.51.100.254") {
		t.Errorf("ParsePPPAddr: %q %v %v %v", ifc, l, p, ok)
	}
	if _, _, _, ok := ParsePPPAddr(out[:strings.Index(out, "5:")]); ok {
		t.Error("ParsePPPAddr found ppp without one")
	}
	log := "rcvd [IPCP ConfNak id=0x1 <addr 198.51.100.65> <ms-dns1 198.51.100.53> <ms-dns2 198.51.100.54>]\n" +
		"local  IP address 198.51.100.65\nremote IP address 198.51.100.254\n" +
		"primary   DNS address 198.51.100.53\nsecondary DNS address 198.51.100.54\nprimary   DNS address 198.51.100.53\n"
	dns := ParsePPPDNS(log)
	if len(dns) != 2 || dns[0] != netip.MustParseAddr("198.51.100.53") || dns[1] != netip.MustParseAddr("198.51.100.54") {
		t.Errorf("ParsePPPDNS: %v", dns)
	}
	if got, want := plutoProposal(`"l2tp" #1: ISAKMP SA established {auth=PRESHARED_KEY cipher=AES_CBC_256 integ=HMAC_SHA1 group=DH20}`+"\n"), "auth=PRESHARED_KEY cipher=AES_CBC_256 integ=HMAC_SHA1 group=DH20"; got != want {
		t.Errorf("plutoProposal: %q, want %q", got, want)
	}
	// libreswan 4.10's wording
	if got := plutoProposal(`"l2tp" #1: IKE SA established {auth=PRESHARED_KEY cipher=AES_CBC_256 integ=HMAC_SHA1 group=DH20}`); !strings.HasSuffix(got, "group=DH20") {
		t.Errorf("plutoProposal (4.10): %q", got)
	}
	if got := plutoProposal("STATE_MAIN_I3\n"); got != "" {
		t.Errorf("plutoProposal without an SA: %q", got)
	}
	if d := ParseResolvConf("nameserver 198.51.100.53\n# x\nnameserver bogus\nnameserver 198.51.100.54\n"); len(d) != 2 || d[1] != netip.MustParseAddr("198.51.100.54") {
		t.Errorf("ParseResolvConf: %v", d)
	}
	if d := ParsePPPDNS("MS-CHAP authentication failed: E=691 Authentication failure\n"); len(d) != 0 {
		t.Errorf("ParsePPPDNS on a failure: %v", d)
	}
}

// TestL2TPProblems: Problems accepts a working client and names each
// way a result falls short.
func TestL2TPProblems(t *testing.T) {
	a := netip.MustParseAddr
	server, client := a("192.0.2.1"), a("192.0.2.2")
	run := &L2TPRun{Env: &L2TPEnv{Case: L2TPCase{}.withDefaults(), ServerAddr: server}}
	okPing := func(dst netip.Addr, size int) L2TPPing {
		return L2TPPing{Target: dst, Size: size, Sent: 3, Received: 3}
	}
	good := func() *L2TPResult {
		return &L2TPResult{
			Client: L2TPClient{Persona: L2TPWindows, IKE: L2TPStrongSwan}, Addr: client, IKEUp: true,
			Interface: "ppp0", Local: a("198.51.100.65"), Peer: L2TPGateway, MTU: 1400, DNS: []netip.Addr{testnet.DNS4},
			PingPeer: okPing(L2TPGateway, 0), PingInside: okPing(testnet.Inner4, 0), PingMTU: okPing(testnet.Inner4, mtuPingSize),
			Policy: "src 192.0.2.2/32 dst 192.0.2.1/32 proto udp sport 1701 dport 1701\n\tdir out priority 0\n",
			SAs: []State{
				{Src: client, Dst: server, Proto: "esp", Mode: "transport", Packets: 8},
				{Src: server, Dst: client, Proto: "esp", Mode: "transport", Packets: 8},
			},
		}
	}
	if p := run.Problems(good()); len(p) != 0 {
		t.Errorf("a working client has problems: %q", p)
	}
	for _, tc := range []struct {
		name  string
		spoil func(r *L2TPResult)
		want  string
	}{
		{"no IKE", func(r *L2TPResult) { r.IKEUp = false }, "IKE not up"},
		{"no ppp", func(r *L2TPResult) { r.Interface, r.AuthFailed = "", true }, "authentication failed: true"},
		{"address outside the pool", func(r *L2TPResult) { r.Local = a("198.51.100.5") }, "not in the pool"},
		{"wrong peer", func(r *L2TPResult) { r.Peer = a("198.51.100.1") }, "want the gateway"},
		{"no DNS", func(r *L2TPResult) { r.DNS = nil }, "DNS 198.51.100.53 not received"},
		{"peer unreachable", func(r *L2TPResult) { r.PingPeer.Received = 0 }, "ping 198.51.100.254"},
		{"inside lost one", func(r *L2TPResult) { r.PingInside.Received = 2 }, "ping 198.51.100.1 size 0: 2/3"},
		{"big ping lost", func(r *L2TPResult) { r.PingMTU.Received = 0 }, "MTU ping"},
		{"small MTU but the big ping passed", func(r *L2TPResult) { r.MTU = 1280 }, "should fail locally"},
		{"raw ESP behind no NAT expected", func(r *L2TPResult) { r.SAs[0].Encap, r.SAs[1].Encap = "espinudp", "espinudp" }, "not raw ESP"},
		{"tunnel mode", func(r *L2TPResult) { r.SAs[1].Mode = "tunnel" }, "not in transport mode"},
		{"SAs idle", func(r *L2TPResult) { r.SAs[1].Packets = 1 }, "carried 1 packets"},
		{"policy for another port", func(r *L2TPResult) {
			r.Client.Persona = L2TPApple
			r.MTU = 1280
			r.PingMTU = L2TPPing{Sent: 2, Output: "ping: local error: message too long, mtu=1280"}
		}, "sport 50123 dport 1701"},
	} {
		r := good()
		tc.spoil(r)
		p := strings.Join(run.Problems(r), "; ")
		if !strings.Contains(p, tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, p, tc.want)
		}
	}
	// A small MTU: the big ping must fail locally, and that is fine.
	r := good()
	r.MTU, r.PingMTU = 1280, L2TPPing{Sent: 2, Output: "ping: local error: message too long, mtu=1280"}
	if p := run.Problems(r); len(p) != 0 {
		t.Errorf("MTU 1280 with the big ping refused locally: %q", p)
	}
	// Behind a NAT the SAs must be ESP in UDP.
	run.Env.NAT = &testnet.NS{Name: "n"}
	if p := strings.Join(run.Problems(good()), "; "); !strings.Contains(p, "not ESP in UDP") {
		t.Errorf("raw ESP behind a NAT: %q", p)
	}
}
