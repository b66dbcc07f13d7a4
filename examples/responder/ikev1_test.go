package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/ppp"
)

// TestDefaultConfigIKEv1 pins what the built-in configuration does for
// IKEv1: on, Main Mode with the demo key for every address, certificate
// clients, no Aggressive Mode, L2TP/IPsec (transport mode for udp/1701
// and the L2TP server with MS-CHAPv2 and CHAP), DPD and the lifetimes of
// the native clients.
func TestDefaultConfigIKEv1(t *testing.T) {
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate([]netip.Prefix{uplink})
	if err != nil {
		t.Fatal(err)
	}
	v := s.v1
	if v == nil || !v.enabled || !v.demoPSK || !v.certificates || v.allowAggressive || !v.l2tp {
		t.Fatalf("default IKEv1 settings: %+v", v)
	}
	if l := s.l2tp; !l.enabled || l.mtu != 1400 || !l.ipv6 || l.secret != nil || l.device != "goipsec0l" || len(l.auth) != 2 ||
		l.auth[0] != ppp.AuthMSCHAPv2 || l.auth[1] != ppp.AuthCHAPMD5 || l.hello != time.Minute || l.maxSessions != 1000 {
		t.Errorf("default L2TP settings: %+v", l)
	}
	if v.dpdDelay != 30*time.Second || v.dpdTimeout != 150*time.Second || v.lifetime != 3*time.Hour || v.ipsecLifetime != time.Hour {
		t.Errorf("default IKEv1 timers: DPD %v/%v, lifetimes %v/%v", v.dpdDelay, v.dpdTimeout, v.lifetime, v.ipsecLifetime)
	}
	srv := &v1Server{s: v, demoPSK: "demo-key-0123456789abcdef"}
	cfg, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: netip.MustParseAddrPort("192.0.2.7:500"), Method: ikev1.AuthPSK})
	if err != nil || cfg.Auth != ikev1.AuthPSK || string(cfg.PSK) != srv.demoPSK || cfg.AllowAggressive {
		t.Fatalf("Main Mode PSK lookup on the default configuration: %+v, %v", cfg, err)
	}
	// L2TP's transport SA first: udp/1701 on the server's side, any
	// port on the client's (Apple and Android use an ephemeral one).
	if len(cfg.Children) != 2 || !cfg.Children[0].Transport || cfg.Children[1].Transport {
		t.Fatalf("children %+v", cfg.Children)
	}
	if l := cfg.Children[0]; len(l.LocalTS) != 2 || l.LocalTS[0] != l2tpSelector(true, 1701) || len(l.RemoteTS) != 2 || l.RemoteTS[0] != l2tpSelector(true, 0) {
		t.Errorf("L2TP selectors %v %v", l.LocalTS, l.RemoteTS)
	}
	// The tunnel: everything on the server's side, the client's own
	// address on its side (never any address it names).
	ch := cfg.Children[1]
	if len(ch.LocalTS) != 2 || ch.LocalTS[0] != esp.AnySelector(true) || ch.LocalTS[1] != esp.AnySelector(false) {
		t.Errorf("local selectors %v", ch.LocalTS)
	}
	if len(ch.RemoteTS) != 1 || ch.RemoteTS[0] != esp.PrefixSelector(netip.MustParsePrefix("192.0.2.7/32")) {
		t.Errorf("remote selectors %v", ch.RemoteTS)
	}
	if _, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: netip.MustParseAddrPort("192.0.2.7:500"), Aggressive: true, RemoteID: ipsec.KeyID([]byte("g")), Method: ikev1.AuthPSK}); err == nil {
		t.Error("Aggressive Mode answered on the default configuration")
	}
}

func TestConfigIKEv1Errors(t *testing.T) {
	const key = "0123456789abcdef0123"
	for _, c := range []struct{ name, yaml, want string }{
		{"peer-and-id", "ikev1: {allow_aggressive: true, psks: [{peer: '*', id: 'keyid:g', psk: " + key + "}]}\n", "ikev1.psks[0]"},
		{"neither", "ikev1: {psks: [{psk: " + key + "}]}\n", "ikev1.psks[0]"},
		{"bad-peer", "ikev1: {psks: [{peer: 'host.example.com', psk: " + key + "}]}\n", "ikev1.psks[0].peer"},
		{"peer-twice", "ikev1: {psks: [{peer: 192.0.2.1, psk: " + key + "}, {peer: 192.0.2.1/32, psk: " + key + "}]}\n", "ikev1.psks[1].peer"},
		{"short-psk", "ikev1: {psks: [{peer: '*', psk: short}]}\n", "ikev1.psks[0].psk"},
		{"psk-and-file", "ikev1: {psks: [{peer: '*', psk: " + key + ", psk_file: x}]}\n", "ikev1.psks[0].psk_file"},
		{"aggressive-not-allowed", "ikev1: {psks: [{id: 'keyid:g', psk: " + key + "}]}\n", "ikev1.psks[0].id"},
		{"subnet", "ikev1: {subnets: [10.0.0.0]}\n", "ikev1.subnets[0]"},
		{"client-subnet", "ikev1: {client_subnets: [10.0.0.0/33]}\n", "ikev1.client_subnets[0]"},
		{"client-subnet-everything", "ikev1: {client_subnets: [0.0.0.0/0]}\n", "ikev1.client_subnets[0]"},
		{"client-subnet-in-pool", "ikev1: {client_subnets: [198.51.100.128/28]}\n", "ikev1.client_subnets[0]: 198.51.100.128/28 overlaps the pool"},
		{"client-subnet-uplink", "ikev1: {client_subnets: [203.0.113.0/28]}\n", "ikev1.client_subnets[0]: 203.0.113.0/28 overlaps the host's network"},
		{"ike-proposal", "ikev1: {proposals: {ike: aes256gcm16-prfsha256-ecp256}}\n", "ikev1.proposals.ike"},
		{"esp-proposal", "ikev1: {proposals: {esp: nonsense}}\n", "ikev1.proposals.esp"},
		{"dpd-negative", "ikev1: {dpd_delay: -1s}\n", "ikev1.dpd_delay"},
		{"dpd-timeout", "ikev1: {dpd_delay: 60s, dpd_timeout: 10s}\n", "ikev1.dpd_timeout"},
		{"lifetime", "ikev1: {lifetime: 10s}\n", "ikev1.lifetime"},
		{"ipsec-lifetime", "ikev1: {ipsec_lifetime: 48h}\n", "ikev1.ipsec_lifetime"},
		{"group-not-aggressive", "ikev1: {group_name: Sales}\n", "ikev1.group_name"},
		{"group-short-secret", "ikev1: {allow_aggressive: true, group_name: Sales, group_secret: short}\n", "ikev1.group_secret"},
		{"group-secret-and-file", "ikev1: {group_secret: " + key + ", group_secret_file: x}\n", "ikev1.group_secret_file"},
		{"group-without-secret", "ikev1: {allow_aggressive: true, group_name: Sales, psks: [{peer: '*', psk: " + key + "}]}\n", "ikev1.group_secret"},
		{"secret-without-group", "ikev1: {group_secret: " + key + ", psks: [{peer: '*', psk: " + key + "}]}\n", "ikev1.group_secret"},
		{"group-twice", "ikev1: {allow_aggressive: true, group_name: Sales, group_secret: " + key + ", psks: [{id: 'keyid:Sales', psk: " + key + "}]}\n", "ikev1.psks[0].id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig(defaultConfig)
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeInto(cfg, []byte("pools: [198.51.100.0/24]\n"+c.yaml)); err != nil {
				t.Fatal(err)
			}
			_, err = cfg.validate([]netip.Prefix{uplink})
			var fe *fieldError
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &fe) || !strings.HasPrefix(c.want, fe.Field) {
				t.Fatalf("error %v: want a *fieldError naming %q", err, c.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("the key is in the error: %v", err)
			}
		})
	}
}

// TestIKEv1Lookup: Main Mode keys by the most specific address entry,
// Aggressive Mode by identity only when allowed, certificates only with
// client CAs, client_subnets as the clients' side, the L2TP transport SA
// first when enabled.
func TestIKEv1Lookup(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "net.psk")
	if err := os.WriteFile(keyFile, []byte("key-of-the-net-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	y := `
pools: [198.51.100.0/24]
subnets: [10.1.0.0/16]
ikev1:
  allow_aggressive: true
  client_subnets: [172.16.0.0/24]
  l2tp_transport: true
  dpd_delay: 0s
  psks:
    - {peer: "*", psk: "key-for-everyone-0123456789"}
    - {peer: 192.0.2.0/24, psk_file: ` + keyFile + `}
    - {peer: 192.0.2.9, psk: "key-of-the-host-0123456789"}
    - {id: "keyid:ExampleGroup", psk: "key-of-the-group-0123456789"}
`
	if err := decodeInto(c, []byte(y)); err != nil {
		t.Fatal(err)
	}
	s, err := c.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &v1Server{s: s.v1, global: s.subnets}
	q := func(addr string, aggressive bool, id ipsec.Identity, m ikev1.AuthMethod) (*ikev1.PeerConfig, error) {
		return srv.lookup(context.Background(), ikev1.PeerQuery{Remote: netip.MustParseAddrPort(addr), Aggressive: aggressive, RemoteID: id, Method: m})
	}
	for addr, want := range map[string]string{
		"192.0.2.9:500":          "key-of-the-host-0123456789",
		"192.0.2.10:4500":        "key-of-the-net-0123456789",
		"198.51.100.20:500":      "key-for-everyone-0123456789",
		"[2001:db8::1]:500":      "key-for-everyone-0123456789",
		"[::ffff:192.0.2.9]:500": "key-of-the-host-0123456789",
	} {
		cfg, err := q(addr, false, ipsec.Identity{}, ikev1.AuthPSK)
		if err != nil || string(cfg.PSK) != want {
			t.Errorf("%s: key of %v (%v), want the one of %s", addr, cfg.Name, err, want)
		}
	}
	cfg, err := q("203.0.113.5:500", true, ipsec.KeyID([]byte("ExampleGroup")), ikev1.AuthPSK)
	if err != nil || string(cfg.PSK) != "key-of-the-group-0123456789" || !cfg.AllowAggressive || !cfg.RemoteID.Equal(ipsec.KeyID([]byte("ExampleGroup"))) {
		t.Fatalf("Aggressive Mode by KEY_ID: %+v %v", cfg, err)
	}
	if _, err := q("203.0.113.5:500", true, ipsec.KeyID([]byte("Other")), ikev1.AuthPSK); err == nil {
		t.Error("Aggressive Mode with an unknown group answered")
	}
	if _, err := q("203.0.113.5:500", false, ipsec.Identity{}, ikev1.AuthPubkey); err == nil {
		t.Error("certificate client answered without client CAs")
	}
	if cfg.DPDDelay >= 0 {
		t.Errorf("dpd_delay 0s: DPDDelay %v, want negative (off)", cfg.DPDDelay)
	}
	if len(cfg.Children) != 2 || !cfg.Children[0].Transport || cfg.Children[1].Transport {
		t.Fatalf("children %+v", cfg.Children)
	}
	l2tp, tunnel := cfg.Children[0], cfg.Children[1]
	if l2tp.LocalTS[0].Proto != 17 || l2tp.LocalTS[0].StartPort != 1701 || l2tp.LocalTS[0].EndPort != 1701 || l2tp.RemoteTS[0].EndPort != 65535 {
		t.Errorf("L2TP selectors %v === %v", l2tp.LocalTS, l2tp.RemoteTS)
	}
	if len(tunnel.LocalTS) != 1 || tunnel.LocalTS[0] != esp.PrefixSelector(netip.MustParsePrefix("10.1.0.0/16")) ||
		len(tunnel.RemoteTS) != 1 || tunnel.RemoteTS[0] != esp.PrefixSelector(netip.MustParsePrefix("172.16.0.0/24")) {
		t.Errorf("tunnel selectors %v === %v", tunnel.LocalTS, tunnel.RemoteTS)
	}
	// Aggressive Mode off: an identity entry is refused at validation
	// (TestConfigIKEv1Errors) and a request at lookup.
	srv.s.allowAggressive = false
	if _, err := q("203.0.113.5:500", true, ipsec.KeyID([]byte("ExampleGroup")), ikev1.AuthPSK); err == nil {
		t.Error("Aggressive Mode answered with allow_aggressive off")
	}
}

func TestDemoV1PSK(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	psk, created, err := ensureDemoV1PSK(dir)
	if err != nil || !created || len(psk) < minPSKLength {
		t.Fatalf("first start: %q %v %v", psk, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, demoV1PSKFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, created, err := ensureDemoV1PSK(dir)
	if err != nil || created || again != psk {
		t.Errorf("second start: %q %v %v, want the same key", again, created, err)
	}
	// The how-to shows the key only on the start that created it.
	v := &v1Server{s: &v1Settings{enabled: true, demoPSK: true}, demoPSK: psk}
	if h := v1HowTo(v, true, dir, false); howTo(h, "IKEv1 PSK") != psk+" (every client address)" || strings.Contains(h, "L2TP") {
		t.Errorf("how-to on creation:\n%s", h)
	}
	if h := v1HowTo(v, false, dir, false); strings.Contains(h, psk) || !strings.Contains(h, demoV1PSKFile) {
		t.Errorf("how-to on a later start:\n%s", h)
	}
	// With L2TP/IPsec on, the how-to says how its clients log in.
	v.s.l2tp = true
	if h := v1HowTo(v, false, dir, false); !strings.Contains(howTo(h, "IKEv1"), "transport mode for L2TP/IPsec") || !strings.Contains(howTo(h, "L2TP/IPsec"), "MS-CHAPv2") {
		t.Errorf("how-to with L2TP:\n%s", h)
	}
}

// fakeV1Terminator is fakeTerminator that also knows IKEv1 session 3.
type fakeV1Terminator struct {
	fakeTerminator
	mu sync.Mutex
	v1 []uint64
}

func (f *fakeV1Terminator) TerminateV1(id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v1 = append(f.v1, id)
	if id != 3 {
		return errV1SessionNotFound
	}
	return nil
}

// TestStatusAndTerminateIKEv1: status lists IKEv1 SAs beside IKEv2 ones,
// as v1-N, and terminate v1-N reaches the IKEv1 engine, N the IKEv2 one,
// although both engines have a session 7... or 3.
func TestStatusAndTerminateIKEv1(t *testing.T) {
	state := t.TempDir()
	term := &fakeV1Terminator{}
	sas := []ipsec.IKESAInfo{
		{Version: 2, SessionID: 3, State: "ESTABLISHED", EAPIdentity: "alice"},
		{Version: 1, SessionID: 3, State: "ESTABLISHED", RemoteID: ipsec.AddrID(netip.MustParseAddr("192.0.2.2")), Proposal: "aes256-sha256-modp2048",
			EAPIdentity: "bob", VirtualIPs: []netip.Addr{netip.MustParseAddr("198.51.100.70")}, // a Cisco IPSec client's XAuth user and Mode Config address
			Children: []ipsec.ChildSAInfo{{Name: "v1", State: "INSTALLED", Proposal: "aes256-sha256", LocalTS: []string{"0.0.0.0/0"}, RemoteTS: []string{"203.0.113.2/32"}}}},
	}
	stop, err := serveControl(state, func() []ipsec.IKESAInfo { return sas }, term, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "#3: ESTABLISHED, IKEv2") || !strings.Contains(out.String(), "#v1-3: ESTABLISHED, IKEv1") ||
		!strings.Contains(out.String(), "  v1: INSTALLED, TUNNEL") || !strings.Contains(out.String(), "[192.0.2.2] XAuth: [bob]") ||
		!strings.Contains(out.String(), "virtual IPs 198.51.100.70") || !strings.Contains(out.String(), "EAP: [alice]") {
		t.Errorf("status: %d\n%s%s", code, out.String(), errb.String())
	}
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"v1-3", "-state", state}, 0, "terminated session #v1-3", ""},
		{[]string{"-state", state, "v1-3"}, 0, "terminated session #v1-3", ""},
		{[]string{"-state", state, "v1-4"}, 1, "", "no session #v1-4"},
		{[]string{"-state", state, "v2-3"}, 2, "", "not a session number"},
		{[]string{"-state", state, "v1-"}, 2, "", "not a session number"},
	} {
		var o, e bytes.Buffer
		code := run(context.Background(), append([]string{"terminate"}, tc.args...), &o, &e)
		if code != tc.code || !strings.Contains(o.String(), tc.out) || !strings.Contains(e.String(), tc.err) {
			t.Errorf("terminate %q: %d %q %q; want %d %q %q", tc.args, code, o.String(), e.String(), tc.code, tc.out, tc.err)
		}
	}
	term.mu.Lock()
	got := fmt.Sprint(term.v1)
	term.mu.Unlock()
	term.fakeTerminator.mu.Lock()
	v2calls := len(term.calls)
	term.fakeTerminator.mu.Unlock()
	if got != "[3 3 4]" || v2calls != 0 {
		t.Errorf("IKEv1 terminations %s and %d IKEv2 ones, want [3 3 4] and none", got, v2calls)
	}
}

// TestV1Claims: a second client naming an inside network that overlaps a
// first client's is refused; the same session (a Quick Mode rekey) or the
// same identity (a re-authentication) takes it over, and the end of the
// replaced IPsec SA does not free the network.
func TestV1Claims(t *testing.T) {
	c := &v1Claims{}
	alice := ipsec.IKESAInfo{SessionID: 1, RemoteID: ipsec.AddrID(netip.MustParseAddr("192.0.2.2"))}
	bob := ipsec.IKESAInfo{SessionID: 2, RemoteID: ipsec.AddrID(netip.MustParseAddr("192.0.2.3"))}
	child := func(spi uint32, ts ...string) ipsec.ChildSAInfo { return ipsec.ChildSAInfo{SPIIn: spi, RemoteTS: ts} }
	if _, clash := c.up(alice, child(10, "203.0.113.2/32")); clash {
		t.Fatal("first claim refused")
	}
	if o, clash := c.up(bob, child(20, "203.0.113.0/30")); !clash || o.session != 1 {
		t.Errorf("an overlapping claim of another client: %v %+v", clash, o)
	}
	if _, clash := c.up(bob, child(21, "203.0.113.3/32[udp/1701]")); clash {
		t.Error("a disjoint claim refused")
	}
	if _, clash := c.up(bob, ipsec.ChildSAInfo{SPIIn: 22, Transport: true, RemoteTS: []string{"203.0.113.2/32[udp/1701]"}}); clash {
		t.Error("transport mode SAs claim no inside network")
	}
	// Alice rekeys (same session), then re-authenticates (new session,
	// same identity); the ends of her older SAs keep the claim.
	if _, clash := c.up(alice, child(11, "203.0.113.2/32")); clash {
		t.Error("a rekey refused")
	}
	c.down(alice, child(10))
	reauth := alice
	reauth.SessionID = 3
	if _, clash := c.up(reauth, child(12, "203.0.113.2/32")); clash {
		t.Error("a re-authentication refused")
	}
	c.down(alice, child(11))
	if _, clash := c.up(bob, child(23, "203.0.113.2/32")); !clash {
		t.Error("the network was freed by the end of a replaced SA")
	}
	c.down(reauth, child(12))
	if _, clash := c.up(bob, child(24, "203.0.113.2/32")); clash {
		t.Error("the network is still claimed after its holder's last SA ended")
	}
}

// TestIKEv1LookupCiscoIPSec: a client proposing the XAuth methods gets
// XAuth against the IKEv2 users, the shared pools (the same objects) and
// the DNS settings, and a tunnel from its virtual address to the server's
// networks; the group name selects the Aggressive Mode key, the group
// secret is the Main Mode key of every address, and ikev1.xauth off
// refuses such clients. The default configuration has XAuth on.
func TestIKEv1LookupCiscoIPSec(t *testing.T) {
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if def, err := c.validate([]netip.Prefix{uplink}); err != nil || !def.v1.xauth || def.v1.groupName != "" {
		t.Fatalf("default: xauth %v, group %q, %v", def.v1.xauth, def.v1.groupName, err)
	}
	const secret = "group-secret-0123456789abcdef"
	y := "pools: [198.51.100.0/24]\nsubnets: [10.1.0.0/16]\ndns_domains: [corp.example.com]\n" +
		"ikev1: {allow_aggressive: true, group_name: Sales, group_secret: " + secret + "}\n"
	if err := decodeInto(c, []byte(y)); err != nil {
		t.Fatal(err)
	}
	s, err := c.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := ipsec.NewPool(netip.MustParsePrefix("198.51.100.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("pw-alice")})
	dns := []netip.Addr{netip.MustParseAddr("198.51.100.53"), netip.MustParseAddr("2001:db8::53")}
	srv := &v1Server{s: s.v1, global: s.subnets, users: users, pools: []ipsec.AddressPool{pool}, dns: dns, dnsDomains: s.dnsDomains}
	remote := netip.MustParseAddrPort("192.0.2.7:500")

	cfg, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Aggressive: true, RemoteID: ipsec.KeyID([]byte("Sales")), Method: ikev1.AuthPSK, XAuth: true})
	if err != nil || string(cfg.PSK) != secret || !cfg.AllowAggressive || cfg.XAuth == nil {
		t.Fatalf("Aggressive Mode with the group name: %+v %v", cfg, err)
	}
	x := cfg.XAuth
	if x.Users != ipsec.UserStore(users) || len(x.Pools) != 1 || x.Pools[0] != ipsec.AddressPool(pool) {
		t.Errorf("XAuth users %v, pools %v: not the IKEv2 ones", x.Users, x.Pools)
	}
	if len(x.DNS) != 1 || x.DNS[0] != dns[0] || x.DefaultDomain != "corp.example.com" || len(x.SplitDNS) != 1 {
		t.Errorf("DNS %v, domain %q, split DNS %v", x.DNS, x.DefaultDomain, x.SplitDNS)
	}
	if len(x.SplitInclude) != 1 || x.SplitInclude[0] != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("split-include %v, want the subnets", x.SplitInclude)
	}
	if len(cfg.Children) != 1 || len(cfg.Children[0].RemoteTS) != 0 || cfg.Children[0].LocalTS[0] != esp.PrefixSelector(netip.MustParsePrefix("10.1.0.0/16")) {
		t.Errorf("children %+v: want the virtual address (the engine's) to the subnets", cfg.Children)
	}
	// A blank group name: Main Mode with the group secret.
	cfg, err = srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Method: ikev1.AuthPSK, XAuth: true})
	if err != nil || string(cfg.PSK) != secret || cfg.XAuth == nil {
		t.Fatalf("Main Mode XAuth PSK: %+v %v", cfg, err)
	}
	// The same client without XAuth: no XAuth, its own address.
	// (L2TP's transport SA comes first; the tunnel is the last.)
	if cfg, err = srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Method: ikev1.AuthPSK}); err != nil || cfg.XAuth != nil || len(cfg.Children[len(cfg.Children)-1].RemoteTS) != 1 {
		t.Fatalf("Main Mode PSK without XAuth: %+v %v", cfg, err)
	}
	if _, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Aggressive: true, RemoteID: ipsec.KeyID([]byte("Other")), Method: ikev1.AuthPSK, XAuth: true}); err == nil {
		t.Error("an unknown group answered")
	}
	srv.pools = nil
	if _, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Method: ikev1.AuthPSK, XAuth: true}); err == nil || !strings.Contains(err.Error(), "IPv4 pool") {
		t.Errorf("an XAuth client without an IPv4 pool: %v", err)
	}
	srv.s.xauth = false
	if _, err := srv.lookup(context.Background(), ikev1.PeerQuery{Remote: remote, Method: ikev1.AuthPSK, XAuth: true}); err == nil {
		t.Error("an XAuth client answered with ikev1.xauth off")
	}
}
