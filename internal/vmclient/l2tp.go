package vmclient

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// The L2TP/IPsec clients of the VM tests (../../shared/interop/IKEV1-L2TP.md
// section 4): an IKEv1 side with kernel ESP in transport mode for UDP
// (strongSwan's charon with kernel-netlink, or libreswan's pluto), xl2tpd
// 1.3.18 as the LAC with kernel L2TP (PPPoL2TP), and pppd 2.4.9, set up as
// the personas of the clients built into Windows and Apple's systems.
// RunL2TP builds the topology (direct, behind a NAT, two clients behind
// one NAT), starts the server under test (a function of the test, run in
// the server namespace), brings every client up and reports what each
// got: IKE up, its kernel SAs, ppp's addresses, the DNS servers IPCP
// gave, pings to the PPP peer, to an inside address and with a
// 1,400-byte unfragmentable packet, and the daemons' logs.

// L2TPPersona is the client software a persona imitates.
type L2TPPersona string

// The personas (IKEV1-L2TP.md section 4).
const (
	// L2TPWindows is the Windows 10/11 client: Main Mode PSK with ECP
	// groups first, transport mode udp/1701 at both ends, xl2tpd from
	// port 1701 with a receive window of 8, MS-CHAPv2 only, MTU/MRU
	// 1400, DNS requested.
	L2TPWindows L2TPPersona = "windows"
	// L2TPApple is the macOS/iOS client: Main Mode PSK with Apple's 14
	// transforms, transport mode from the floating port 50123 to 1701,
	// receive window 4, MTU 1280 (MRU 1400), any authentication the
	// server asks for but EAP.
	L2TPApple L2TPPersona = "apple"
	// L2TPAndroid is Android's legacy client (racoon and mtpd, up to
	// Android 11): Main Mode PSK with 16 MODP-1024 transforms, transport
	// mode from the floating port 50124, receive window 1, host name
	// "anonymous", and pppd without noccp: it offers CCP, which the
	// server must refuse without ending the link.
	L2TPAndroid L2TPPersona = "android"
)

// L2TPIKE is the IKEv1 implementation of a client.
type L2TPIKE string

// The IKEv1 sides.
const (
	// L2TPStrongSwan is strongSwan 5.9.8's charon with kernel-netlink
	// (the default).
	L2TPStrongSwan L2TPIKE = "strongswan"
	// L2TPLibreswan is libreswan 4.10's pluto (Windows persona only).
	L2TPLibreswan L2TPIKE = "libreswan"
)

// L2TPTopology is the network between the clients and the server.
type L2TPTopology int

// The topologies.
const (
	// L2TPDirect links one client (192.0.2.2) to the server (192.0.2.1).
	L2TPDirect L2TPTopology = iota
	// L2TPBehindNAT puts one client (192.0.2.130) behind an nft
	// masquerading router whose outside address is 192.0.2.2.
	L2TPBehindNAT
	// L2TPTwoBehindNAT puts two clients (192.0.2.130 and 192.0.2.194,
	// each on its own link to the router) behind one masquerading
	// router (192.0.2.2): the server sees both at one address.
	L2TPTwoBehindNAT
)

// String names the topology for subtest names.
func (tp L2TPTopology) String() string {
	switch tp {
	case L2TPDirect:
		return "direct"
	case L2TPBehindNAT:
		return "nat"
	case L2TPTwoBehindNAT:
		return "two-behind-nat"
	}
	return fmt.Sprintf("topology(%d)", int(tp))
}

// Defaults of an L2TPCase.
var (
	// L2TPPool is the server's PPP address pool (IPCP).
	L2TPPool = testnet.Pool4
	// L2TPGateway is the server's own PPP address (the IPCP peer address
	// the clients see) unless the case sets another.
	L2TPGateway = netip.MustParseAddr("198.51.100.254")
)

// L2TPPSK is the pre-shared key of a case that sets none.
const L2TPPSK = "goipsec-l2tp-psk-0123456789"

// L2TPClient is one client of a case.
type L2TPClient struct {
	// Persona is what the client imitates; "" is L2TPWindows.
	Persona L2TPPersona
	// IKE is its IKEv1 implementation; "" is L2TPStrongSwan.
	IKE L2TPIKE
	// User and Password are its PPP credentials; empty means the case's.
	User, Password string
	// TunnelSecret, when set, is the L2TP tunnel secret (Android's "L2TP
	// secret"): xl2tpd challenges the server and answers its challenge.
	TunnelSecret string
}

// L2TPCase is one run: the topology, the clients, and what the server
// is told to accept.
type L2TPCase struct {
	// Topology is the network; L2TPTwoBehindNAT needs two clients.
	Topology L2TPTopology
	// Clients are brought up in order; nil means one L2TPWindows client
	// (two for L2TPTwoBehindNAT).
	Clients []L2TPClient
	// PSK is the IKE pre-shared key (default L2TPPSK).
	PSK string
	// User and Password are the PPP account the server accepts (default
	// "alice", "l2tp-password").
	User, Password string
	// Pool is the server's PPP address pool (default L2TPPool), Gateway
	// its own PPP address (default L2TPGateway), DNS what IPCP hands out
	// (default testnet.DNS4), Inside the address behind the server the
	// clients ping through the tunnel (default testnet.Inner4, which the
	// topology puts on the server's lo).
	Pool    netip.Prefix
	Gateway netip.Addr
	DNS     []netip.Addr
	Inside  netip.Addr
	// UpTimeout bounds the wait for each client's ppp interface (default
	// 20 s).
	UpTimeout time.Duration
}

// L2TPEnv is what the server start function gets: its namespace and
// what it must accept.
type L2TPEnv struct {
	// Case is the case with its defaults filled in.
	Case L2TPCase
	// Server is the server's namespace: eth0 192.0.2.1/25 (ServerAddr),
	// lo 198.51.100.1/32 (testnet.Inner4).
	Server *testnet.NS
	// NAT is the router's namespace, nil for L2TPDirect.
	NAT *testnet.NS
	// ServerAddr is the server's outer address, 192.0.2.1.
	ServerAddr netip.Addr
	// PeerAddr is where the clients' packets come from as the server
	// sees them: the client's address, or the NAT's outside address.
	PeerAddr netip.Addr
	// Users maps each PPP user name to the password the server must
	// accept (the case's account only: a client with another password
	// must be refused).
	Users map[string]string
	// Dir is a directory for the server's files.
	Dir string
}

// L2TPServerStart starts the server under test in env.Server and returns
// once it accepts IKE on 500/4500 and L2TP on 1701. It registers its own
// clean-up with t. status, when not nil, is logged when the test fails.
type L2TPServerStart func(t *testing.T, env *L2TPEnv) (status func() string)

// L2TPPing is the result of one ping.
type L2TPPing struct {
	// Target is the address pinged; Size is the ICMP payload size
	// (-s), 0 for ping's default.
	Target netip.Addr
	Size   int
	// Sent and Received count the echo requests and answers.
	Sent, Received int
	// Output is ping's output.
	Output string
}

// OK reports whether at least one request was sent and all were answered.
func (p L2TPPing) OK() bool { return p.Sent > 0 && p.Received == p.Sent }

// String is one line for test logs.
func (p L2TPPing) String() string {
	return fmt.Sprintf("ping %v size %d: %d/%d", p.Target, p.Size, p.Received, p.Sent)
}

// L2TPResult is what one client got.
type L2TPResult struct {
	// Client is the client as run (defaults filled in).
	Client L2TPClient
	// NS is the client's namespace and Addr its own outer address.
	NS   *testnet.NS
	Addr netip.Addr
	// IKEUp reports the IKE SA and the IPsec SA established (swanctl
	// --list-sas or pluto's states).
	IKEUp bool
	// IKEProposal is the negotiated ISAKMP proposal as swanctl
	// --list-sas shows it (e.g. AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/ECP_384)
	// or pluto logs it (e.g. "auth=PRESHARED_KEY cipher=AES_CBC_256
	// integ=HMAC_SHA1 group=DH20").
	IKEProposal string
	// Policy is the client's `ip xfrm policy` after the pings.
	Policy string
	// SAs are the client's kernel states (ip -s xfrm state) after the
	// pings.
	SAs []State
	// Interface is the ppp interface ("" when none came up); Local and
	// Peer its IPCP addresses; MTU its MTU.
	Interface   string
	Local, Peer netip.Addr
	MTU         int
	// DNS are the servers pppd received (usepeerdns, from pppd's log).
	DNS []netip.Addr
	// AuthFailed reports that pppd logged a failed authentication, and
	// AuthError is that line (e.g. "MS-CHAP authentication failed: E=691
	// Authentication failure").
	AuthFailed bool
	AuthError  string
	// PingPeer pings the PPP peer address, PingInside the case's Inside
	// address, PingMTU Inside with a 1,400-byte IP packet and DF
	// (ping -M do -s 1372). They are zero when ppp did not come up.
	PingPeer, PingInside, PingMTU L2TPPing
	// IKETime is how long IKE took to come up, PPPTime how long xl2tpd
	// and pppd then took until the ppp interface had its address (or
	// failed).
	IKETime, PPPTime time.Duration
	// Log is xl2tpd's and pppd's output, and the IKE daemon's log when
	// the client did not come up.
	Log string
}

// PPPUp reports whether the client's ppp interface got an address.
func (r *L2TPResult) PPPUp() bool { return r.Interface != "" && r.Local.IsValid() }

// L2TPRun is a finished RunL2TP: the clients stay up until the test ends.
type L2TPRun struct {
	// Env is what the server was given.
	Env *L2TPEnv
	// Results are the clients' results, in the case's order.
	Results []*L2TPResult
}

// mtuPingSize is the ICMP payload of the MTU check: 1372 + 8 + 20 = a
// 1,400-byte IP packet, the personas' and the servers' MRU.
const mtuPingSize = 1372

// withDefaults fills in the case's defaults.
func (c L2TPCase) withDefaults() L2TPCase {
	if c.Clients == nil {
		c.Clients = []L2TPClient{{}}
		if c.Topology == L2TPTwoBehindNAT {
			c.Clients = []L2TPClient{{}, {}}
		}
	}
	c.Clients = append([]L2TPClient(nil), c.Clients...)
	if c.PSK == "" {
		c.PSK = L2TPPSK
	}
	if c.User == "" {
		c.User = "alice"
	}
	if c.Password == "" {
		c.Password = "l2tp-password"
	}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.Persona == "" {
			cl.Persona = L2TPWindows
		}
		if cl.IKE == "" {
			cl.IKE = L2TPStrongSwan
		}
		if cl.User == "" {
			cl.User = c.User
		}
		if cl.Password == "" {
			cl.Password = c.Password
		}
	}
	if !c.Pool.IsValid() {
		c.Pool = L2TPPool
	}
	if !c.Gateway.IsValid() {
		c.Gateway = L2TPGateway
	}
	if c.DNS == nil {
		c.DNS = []netip.Addr{testnet.DNS4}
	}
	if !c.Inside.IsValid() {
		c.Inside = testnet.Inner4
	}
	if c.UpTimeout == 0 {
		c.UpTimeout = 20 * time.Second
	}
	return c
}

// validate rejects cases the harness cannot run.
func (c L2TPCase) validate() error {
	want := 1
	if c.Topology == L2TPTwoBehindNAT {
		want = 2
	}
	if len(c.Clients) != want {
		return fmt.Errorf("vmclient: L2TP topology %v needs %d clients, the case has %d", c.Topology, want, len(c.Clients))
	}
	for i, cl := range c.Clients {
		switch cl.Persona {
		case L2TPWindows, L2TPApple, L2TPAndroid:
		default:
			return fmt.Errorf("vmclient: L2TP client %d: unknown persona %q", i, cl.Persona)
		}
		switch cl.IKE {
		case L2TPStrongSwan:
		case L2TPLibreswan:
			if cl.Persona != L2TPWindows {
				return fmt.Errorf("vmclient: L2TP client %d: libreswan runs the Windows persona only", i)
			}
		default:
			return fmt.Errorf("vmclient: L2TP client %d: unknown IKE side %q", i, cl.IKE)
		}
	}
	return nil
}

// l2tpPort is the client's L2TP source port: Windows 1701, Apple a
// floating port.
func (cl L2TPClient) l2tpPort() int {
	switch cl.Persona {
	case L2TPApple:
		return 50123
	case L2TPAndroid:
		return 50124
	}
	return 1701
}

// RequireL2TP checks what RunL2TP needs in the VM (Require's programs:
// charon, swanctl, xl2tpd, pppd, ping, nft, and libreswan's programs
// when a client uses it).
func RequireL2TP(t testing.TB, c L2TPCase) {
	t.Helper()
	progs := []string{"xl2tpd", "pppd", "ping", "nft"}
	for _, cl := range c.withDefaults().Clients {
		if cl.IKE == L2TPLibreswan {
			progs = append(progs, "pluto", "whack", "addconn", "certutil")
			break
		}
	}
	Require(t, progs...)
}

// RunL2TP runs one case: the topology, the server (start, in
// env.Server), then each client in order (IKE, then xl2tpd and pppd,
// waiting for its ppp interface or its failure), then the pings of every
// client once all are up. It fails the test only when the harness itself
// fails (a daemon does not start, IKE does not come up); what the L2TP
// and PPP side got is in the results, for the test to judge (WantUp,
// WantAuthFailed). Everything stops when the test ends.
func RunL2TP(t *testing.T, c L2TPCase, start L2TPServerStart) *L2TPRun {
	t.Helper()
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	RequireL2TP(t, c)
	env := &L2TPEnv{Case: c, ServerAddr: testnet.ServerAddr4, Users: map[string]string{c.User: c.Password}, Dir: t.TempDir()}
	clientNS, clientAddrs := l2tpTopology(t, env)
	status := start(t, env)
	logged := false
	logStatus := func() {
		if t.Failed() && status != nil && !logged {
			logged = true
			t.Logf("server status:\n%s", status())
		}
	}
	// When a client's start fails the test, after that client's
	// clean-ups; else the one below logs first.
	t.Cleanup(logStatus)
	run := &L2TPRun{Env: env}
	for i, cl := range c.Clients {
		r := &L2TPResult{Client: cl, NS: clientNS[i], Addr: clientAddrs[i]}
		run.Results = append(run.Results, r)
		startL2TPClient(t, env, i, r)
	}
	// Registered after the clients' clean-ups, so it runs before them:
	// the server's state while the clients are still up.
	t.Cleanup(logStatus)
	// All clients are up (or failed): now the traffic, so two clients
	// behind one NAT prove they work at the same time.
	// The pings run at the same time (each ping waits, mostly).
	var wg sync.WaitGroup
	for _, r := range run.Results {
		if !r.PPPUp() {
			continue
		}
		// nodefaultroute: only the inside address goes through ppp.
		r.NS.Run("ip", "route", "replace", c.Inside.String()+"/32", "dev", r.Interface)
		wg.Go(func() { r.PingPeer = ping(r.NS, r.Peer, 0, 3) })
		wg.Go(func() { r.PingInside = ping(r.NS, c.Inside, 0, 3) })
		wg.Go(func() { r.PingMTU = ping(r.NS, c.Inside, mtuPingSize, 2) })
	}
	wg.Wait()
	for _, r := range run.Results {
		if r.PPPUp() {
			r.SAs = States(t, r.NS)
			r.Policy = r.NS.Run("ip", "xfrm", "policy")
		}
	}
	return run
}

// l2tpTopology builds the case's network and returns the clients'
// namespaces and addresses.
func l2tpTopology(t *testing.T, env *L2TPEnv) ([]*testnet.NS, []netip.Addr) {
	t.Helper()
	switch env.Case.Topology {
	case L2TPDirect, L2TPBehindNAT:
		mode := testnet.NoNAT
		if env.Case.Topology == L2TPBehindNAT {
			mode = testnet.NATRandomPort
		}
		topo := testnet.New(t, mode)
		env.Server, env.NAT, env.PeerAddr = topo.Server, topo.NAT, testnet.ClientAddr4
		return []*testnet.NS{topo.Client}, []netip.Addr{topo.ClientAddr4}
	}
	// Two clients, each on its own /26 link to the router (no bridge
	// module in the VM), masqueraded to its outside address.
	testnet.Require(t, "ip", "nft")
	s, n := testnet.NewNS(t, "s"), testnet.NewNS(t, "n")
	s.AddAddr("lo", testnet.Inner4.String()+"/32")
	testnet.Link(t, n, "eth1", s, "eth0")
	s.AddAddr("eth0", testnet.ServerAddr4.String()+"/25")
	n.AddAddr("eth1", testnet.ClientAddr4.String()+"/25")
	var nss []*testnet.NS
	var addrs []netip.Addr
	for i, lan := range []struct{ router, client string }{{"192.0.2.129", "192.0.2.130"}, {"192.0.2.193", "192.0.2.194"}} {
		c := testnet.NewNS(t, fmt.Sprintf("c%d", i+1))
		dev := fmt.Sprintf("lan%d", i)
		testnet.Link(t, c, "eth0", n, dev)
		c.AddAddr("eth0", lan.client+"/26")
		n.AddAddr(dev, lan.router+"/26")
		c.Run("ip", "route", "add", "default", "via", lan.router)
		nss = append(nss, c)
		addrs = append(addrs, netip.MustParseAddr(lan.client))
	}
	n.Run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	n.Run("nft", "add table inet gi-nat")
	n.Run("nft", "add chain inet gi-nat post { type nat hook postrouting priority srcnat; policy accept; }")
	n.Run("nft", "add rule inet gi-nat post oifname eth1 masquerade random")
	env.Server, env.NAT, env.PeerAddr = s, n, testnet.ClientAddr4
	return nss, addrs
}

// l2tpWindowsProposals are Windows 10/11's Main Mode proposals (ECP
// first), l2tpAppleProposals the 14 transforms of Apple's L2TP client
// (CLIENTS.md 8.2).
const (
	l2tpWindowsProposals = "aes256-sha1-ecp384, aes128-sha1-ecp256, aes256-sha1-modp2048, 3des-sha1-modp2048, 3des-sha1-modp1024"
	l2tpWindowsESP       = "aes256-sha1, aes128-sha1, 3des-sha1"
	l2tpAppleProposals   = "aes256-sha256-modp2048, aes256-sha1-modp2048, aes256-md5-modp2048, aes256-sha512-modp2048, aes256-sha256-modp1536, aes256-sha1-modp1536, aes256-md5-modp1536, aes256-sha256-modp1024, aes256-sha1-modp1024, aes256-md5-modp1024, aes128-sha1-modp1024, aes128-md5-modp1024, 3des-sha1-modp1024, 3des-md5-modp1024"
	l2tpAppleESP         = "aes256-sha256, aes256-sha1, aes256-md5, aes128-sha256, aes128-sha1, aes128-md5, 3des-sha256, 3des-sha1, 3des-md5"
	// Android's racoon: every transform with MODP-1024 (DES left out),
	// CLIENTS.md 8.4.
	l2tpAndroidProposals = "aes256-sha384-modp1024, aes256-sha256-modp1024, aes256-sha512-modp1024, aes256-sha1-modp1024, aes256-md5-modp1024, aes128-sha512-modp1024, aes128-sha384-modp1024, aes128-sha256-modp1024, aes128-sha1-modp1024, aes128-md5-modp1024, 3des-sha256-modp1024, 3des-sha1-modp1024, 3des-md5-modp1024"
	l2tpAndroidESP       = "aes256-sha512, aes256-sha384, aes256-sha1, aes256-sha256, aes256-md5, aes128-sha512, aes128-sha384, aes128-sha1, aes128-sha256, aes128-md5, 3des-sha1, 3des-md5"
	// libreswan's Windows-like list: ECP first, then MODP-2048 (it is
	// built without MODP-1024).
	l2tpLibreswanIKE = "aes256-sha1;dh20,aes128-sha1;dh19,aes256-sha1;modp2048"
	l2tpLibreswanESP = "aes256-sha1,aes128-sha1"
)

// L2TPConnName is the name of the clients' IKE connection and CHILD SA.
const L2TPConnName = "l2tp"

// L2TPSwanctlConf renders the client's swanctl.conf for its persona
// (IKEV1-L2TP.md 4.2): Main Mode PSK without an ID (ID_IPV4_ADDR, the
// wildcard PSK), transport mode from the persona's L2TP port to the
// server's udp/1701, no forced encapsulation.
func L2TPSwanctlConf(cl L2TPClient, server netip.Addr, psk string) string {
	props, esp, reauth := l2tpWindowsProposals, l2tpWindowsESP, "8h"
	switch cl.Persona {
	case L2TPApple:
		props, esp, reauth = l2tpAppleProposals, l2tpAppleESP, "3000s"
	case L2TPAndroid:
		props, esp = l2tpAndroidProposals, l2tpAndroidESP
	}
	return fmt.Sprintf(`connections {
  %[1]s {
    version = 1
    remote_addrs = %[2]s
    proposals = %[3]s
    reauth_time = %[4]s
    rekey_time = 0
    keyingtries = 1
    local {
      auth = psk
    }
    remote {
      auth = psk
    }
    children {
      %[1]s {
        mode = transport
        local_ts = dynamic[udp/%[5]d]
        remote_ts = dynamic[udp/1701]
        esp_proposals = %[6]s
        life_time = 1h
      }
    }
  }
}
secrets {
  ike-l2tp {
    secret = "%[7]s"
  }
}
`, L2TPConnName, server, props, reauth, cl.l2tpPort(), esp, swanQuote(psk))
}

// swanQuote escapes a value for a double-quoted swanctl string.
func swanQuote(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`)
}

// pppQuote quotes a word for a pppd options or secrets file.
func pppQuote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// L2TPXl2tpdConf renders the client's xl2tpd.conf (IKEV1-L2TP.md 4.4):
// the persona's source port and receive window, kernel L2TP, one LAC
// that dials at start and does not redial.
func L2TPXl2tpdConf(cl L2TPClient, server netip.Addr, pppOptions string) string {
	rws, host := 8, "WIN-TEST"
	switch cl.Persona {
	case L2TPApple:
		rws, host = 4, "macbook"
	case L2TPAndroid:
		rws, host = 1, "anonymous"
	}
	return fmt.Sprintf(`[global]
port = %d
access control = no

[lac vpn]
lns = %s
autodial = yes
redial = no
length bit = yes
tunnel rws = %d
hostname = %s
challenge = %s
ppp debug = yes
pppoptfile = %s
`, cl.l2tpPort(), server, rws, host, map[bool]string{false: "no", true: "yes"}[cl.TunnelSecret != ""], pppOptions)
}

// L2TPPPPOptions renders the client's pppd options: the credentials,
// the persona's authentication and MTU, DNS requested, no CCP (but the
// Android persona offers it), a log file. A client does not authenticate the server (noauth); the
// Windows persona refuses everything but MS-CHAPv2.
func L2TPPPPOptions(cl L2TPClient, logFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "noauth\nname %s\nuser %s\npassword %s\nrefuse-eap\n", pppQuote(cl.User), pppQuote(cl.User), pppQuote(cl.Password))
	mtu := 1400
	switch cl.Persona {
	case L2TPWindows:
		b.WriteString("refuse-pap\nrefuse-chap\nrefuse-mschap\n")
	case L2TPApple:
		mtu = 1280
	}
	if cl.Persona == L2TPAndroid {
		// pppd's CCP stays silent unless it wants a compression method;
		// Android's asks for MPPE, this one for Deflate (MPPE would make
		// pppd end the link when refused).
		b.WriteString("deflate 15\n")
	} else {
		b.WriteString("noccp\n")
	}
	fmt.Fprintf(&b, "mtu %d\nmru 1400\nnoipdefault\nusepeerdns\nipcp-accept-local\nipcp-accept-remote\nnodefaultroute\n", mtu)
	fmt.Fprintf(&b, "lcp-echo-interval 30\nlcp-echo-failure 4\ndebug\nlogfile %s\n", logFile)
	return b.String()
}

// startDaemonBind is StartDaemon with more bind mounts: each pair's
// first directory is mounted over its second (e.g. a private /etc/ppp:
// pppd reads its secrets and writes resolv.conf at fixed paths).
func startDaemonBind(t testing.TB, ns *testnet.NS, runDir string, binds [][2]string, env []string, name string, args ...string) *testnet.Process {
	t.Helper()
	// StartDaemon's shell has mounted runDir over /run; this one mounts
	// the rest and execs the daemon.
	script := "true"
	var pre []string
	for i, b := range binds {
		if err := os.MkdirAll(b[1], 0o755); err != nil {
			t.Fatal(err)
		}
		script += fmt.Sprintf(` && mount --bind "$%d" "$%d"`, 2*i+1, 2*i+2)
		pre = append(pre, b[0], b[1])
	}
	script += fmt.Sprintf(` && shift %d && exec "$@"`, 2*len(binds))
	return StartDaemon(t, ns, runDir, env, "sh", append(append([]string{"-c", script, "sh"}, pre...), append([]string{name}, args...)...)...)
}

// StartXl2tpd runs xl2tpd in the foreground with conf in ns, with its own
// /run (dir/run, holding xl2tpd/l2tp-control) and its own /etc/ppp
// (dir/etc-ppp: pppd's chap-secrets and resolv.conf), stopped when the
// test ends. LAC and LNS alike. Its tunnel secrets are read from
// dir/l2tp-secrets (xl2tpd's format, "* * secret"), empty unless the
// caller wrote it.
func StartXl2tpd(t testing.TB, ns *testnet.NS, dir, conf string) *testnet.Process {
	t.Helper()
	for _, d := range []string{"run/xl2tpd", "etc-ppp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secrets := filepath.Join(dir, "l2tp-secrets")
	if _, err := os.Stat(secrets); err != nil {
		writeFile(t, secrets, "")
	}
	p := startDaemonBind(t, ns, filepath.Join(dir, "run"), [][2]string{{filepath.Join(dir, "etc-ppp"), "/etc/ppp"}}, nil,
		"xl2tpd", "-D", "-c", conf, "-s", secrets)
	// Runs before StartDaemon's clean-up: xl2tpd with a live call does
	// not stop on SIGTERM within seconds, so its pppd processes (their
	// PIDs in pppN.pid in xl2tpd's /run) are ended first.
	t.Cleanup(func() { stopPPPD(filepath.Join(dir, "run")) })
	return p
}

// stopPPPD ends the pppd processes whose PID files are in runDir:
// SIGTERM (pppd sends an LCP Terminate-Request), SIGKILL after 2 s.
func stopPPPD(runDir string) {
	files, _ := filepath.Glob(filepath.Join(runDir, "ppp*.pid"))
	var procs []*os.Process
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil || pid <= 1 {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.SIGTERM) == nil {
			procs = append(procs, p)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, p := range procs {
		for p.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = p.Signal(syscall.SIGKILL)
	}
}

// startL2TPClient brings client i up: IKE (failing the test when it does
// not come up), then xl2tpd and pppd, waiting for ppp or its failure.
func startL2TPClient(t *testing.T, env *L2TPEnv, i int, r *L2TPResult) {
	t.Helper()
	c, cl := env.Case, r.Client
	ns := r.NS
	dir := t.TempDir()
	var ikeLog func() string
	t0 := time.Now()
	switch cl.IKE {
	case L2TPStrongSwan:
		p := &strongswan.Profile{Name: "l2tp-" + string(cl.Persona), Conf: L2TPSwanctlConf(cl, env.ServerAddr, c.PSK)}
		ch := StartCharon(t, ns, p, "", nil)
		ikeLog = ch.Log
		out, err := ch.Initiate(L2TPConnName, 20*time.Second)
		if err != nil {
			t.Fatalf("client %d (%s): initiate: %v\n%s\n%s", i, cl.Persona, err, out, ch.Log())
		}
		sas := ch.ListSAs()
		if err := strongswan.V1Established(sas, L2TPConnName); err != nil {
			t.Fatalf("client %d (%s): %v\n%s", i, cl.Persona, err, sas)
		}
		r.IKEProposal = strongswan.ParseSAs(sas, L2TPConnName).IKEAlg
	case L2TPLibreswan:
		conn := LibreswanConn{
			Name: L2TPConnName, Left: r.Addr, Right: env.ServerAddr, Transport: true,
			LeftProtoPort: fmt.Sprintf("17/%d", cl.l2tpPort()), RightProtoPort: "17/1701",
			IKE: l2tpLibreswanIKE, ESP: l2tpLibreswanESP, PSK: c.PSK,
		}
		p := StartPluto(t, ns, conn)
		ikeLog = p.Log
		if out, err := p.Up(conn.Name, 30*time.Second); err != nil || !p.Established(conn.Name) {
			t.Fatalf("client %d (libreswan): %s not established: %v\n%s", i, conn.Name, err, out)
		}
		r.IKEProposal = plutoProposal(p.Log())
	}
	r.IKEUp = true
	r.IKETime = time.Since(t0)
	t0 = time.Now()

	pppLog := filepath.Join(dir, "pppd.log")
	opts := filepath.Join(dir, "options.l2tpd.client")
	conf := filepath.Join(dir, "xl2tpd.conf")
	writeFile(t, opts, L2TPPPPOptions(cl, pppLog))
	writeFile(t, conf, L2TPXl2tpdConf(cl, env.ServerAddr, opts))
	if cl.TunnelSecret != "" {
		writeFile(t, filepath.Join(dir, "l2tp-secrets"), "* * "+cl.TunnelSecret+"\n")
	}
	proc := StartXl2tpd(t, ns, dir, conf)
	logs := func() string {
		b, _ := os.ReadFile(pppLog)
		return "xl2tpd:\n" + proc.Stderr.String() + proc.Stdout.String() + "pppd:\n" + string(b)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client %d (%s/%s) %s", i, cl.Persona, cl.IKE, logs())
		}
	})
	deadline := time.Now().Add(c.UpTimeout)
	for {
		if ifc, local, peer, mtu, ok := pppAddr(ns); ok {
			r.Interface, r.Local, r.Peer, r.MTU = ifc, local, peer, mtu
			break
		}
		b, _ := os.ReadFile(pppLog)
		if line := lineWith(string(b), "authentication failed"); line != "" {
			r.AuthFailed, r.AuthError = true, line
		}
		exited := false
		select {
		case <-proc.Done:
			exited = true
		default:
		}
		// After a failure pppd exits, and xl2tpd (redial = no) closes
		// the call: give it a moment to write its side.
		if r.AuthFailed || exited || time.Now().After(deadline) {
			time.Sleep(300 * time.Millisecond)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.PPPTime = time.Since(t0)
	// DNS is logged right after IPCP, before the interface has its
	// address or at once: wait briefly for the line.
	for range 20 {
		b, _ := os.ReadFile(pppLog)
		r.DNS = ParsePPPDNS(string(b))
		if len(r.DNS) == 0 {
			// usepeerdns also writes them to /etc/ppp/resolv.conf,
			// which is xl2tpd's private etc-ppp.
			rc, _ := os.ReadFile(filepath.Join(dir, "etc-ppp", "resolv.conf"))
			r.DNS = ParseResolvConf(string(rc))
		}
		if len(r.DNS) > 0 || !r.PPPUp() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.Log = logs()
	if !r.PPPUp() {
		r.Log += "IKE:\n" + tail(ikeLog(), 60)
	}
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// pppAddr finds the ppp interface of ns with an IPv4 address.
func pppAddr(ns *testnet.NS) (ifc string, local, peer netip.Addr, mtu int, ok bool) {
	out, err := ns.Try("ip", "-o", "-4", "addr", "show")
	if err != nil {
		return "", netip.Addr{}, netip.Addr{}, 0, false
	}
	ifc, local, peer, ok = ParsePPPAddr(out)
	if !ok {
		return "", netip.Addr{}, netip.Addr{}, 0, false
	}
	if l, err := ns.Try("ip", "-o", "link", "show", "dev", ifc); err == nil {
		fmt.Sscanf(afterWord(l, "mtu"), "%d", &mtu)
	}
	return ifc, local, peer, mtu, true
}

var plutoSARE = regexp.MustCompile(`(?:ISAKMP|IKE) SA established \{([^}]*)\}`)

// plutoProposal returns what pluto logged about its established ISAKMP
// SA ("" when it logged nothing).
func plutoProposal(log string) string {
	if m := plutoSARE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// lineWith returns the first line of s containing sub, trimmed, or "".
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func afterWord(s, w string) string {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == w {
			return f[i+1]
		}
	}
	return ""
}

var pppAddrRE = regexp.MustCompile(`(?m)^\d+:\s+(ppp\d+)\s+inet\s+(\S+)\s+peer\s+([0-9.]+)`)

// ParsePPPAddr reads the first ppp interface with a point-to-point IPv4
// address from `ip -o -4 addr show`.
func ParsePPPAddr(out string) (ifc string, local, peer netip.Addr, ok bool) {
	m := pppAddrRE.FindStringSubmatch(out)
	if m == nil {
		return "", netip.Addr{}, netip.Addr{}, false
	}
	l, err1 := netip.ParseAddr(m[2])
	p, err2 := netip.ParseAddr(m[3])
	if err1 != nil || err2 != nil {
		return "", netip.Addr{}, netip.Addr{}, false
	}
	return m[1], l, p, true
}

var pppDNSRE = regexp.MustCompile(`(?m)(?:primary|secondary)\s+DNS address\s+([0-9.]+)`)

// ParsePPPDNS reads the DNS servers pppd logged as received (usepeerdns:
// "primary   DNS address 198.51.100.53").
func ParsePPPDNS(log string) []netip.Addr {
	var out []netip.Addr
	for _, m := range pppDNSRE.FindAllStringSubmatch(log, -1) {
		if a, err := netip.ParseAddr(m[1]); err == nil && !containsAddr(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// ParseResolvConf reads the nameserver lines of a resolv.conf.
func ParseResolvConf(s string) []netip.Addr {
	var out []netip.Addr
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && !containsAddr(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// pingPath is iputils' ping (staged), which knows -M do; busybox's does
// not.
func pingPath() string {
	if _, err := os.Stat("/usr/bin/ping"); err == nil {
		return "/usr/bin/ping"
	}
	return "ping"
}

// ping sends count echo requests to dst from ns (size 0: ping's
// default; otherwise -s size with DF set, -M do).
func ping(ns *testnet.NS, dst netip.Addr, size, count int) L2TPPing {
	// -W 1 per reply, -w 2 for the whole run: a lost path costs 2 s,
	// not count*2 s.
	args := []string{"-n", "-c", fmt.Sprint(count), "-i", "0.3", "-W", "1", "-w", "2"}
	if size > 0 {
		args = append(args, "-M", "do", "-s", fmt.Sprint(size))
	}
	out, _ := ns.Try(pingPath(), append(args, dst.String())...)
	p := L2TPPing{Target: dst, Size: size, Output: out}
	p.Sent, p.Received = strongswan.ParsePing(out)
	return p
}

// Problems lists what keeps r from being a working L2TP/IPsec client of
// run: IKE up; the client's kernel ESP SAs in transport mode, raw ESP
// without a NAT and ESP in UDP behind one, having carried the pings; ppp
// up with a local address from the pool and the gateway as its peer;
// the case's DNS servers received; the pings to the peer and the inside
// address answered; the 1,400-byte ping answered when the interface's
// MTU allows it (else refused locally, not lost). Empty means working.
func (run *L2TPRun) Problems(r *L2TPResult) []string {
	c := run.Env.Case
	var p []string
	if !r.IKEUp {
		p = append(p, "IKE not up")
	}
	if !r.PPPUp() {
		return append(p, fmt.Sprintf("no ppp interface with an address (authentication failed: %v)", r.AuthFailed))
	}
	if !c.Pool.Contains(r.Local) {
		p = append(p, fmt.Sprintf("ppp local address %v not in the pool %v", r.Local, c.Pool))
	}
	if r.Peer != c.Gateway {
		p = append(p, fmt.Sprintf("ppp peer address %v, want the gateway %v", r.Peer, c.Gateway))
	}
	for _, d := range c.DNS {
		if !containsAddr(r.DNS, d) {
			p = append(p, fmt.Sprintf("DNS %v not received (got %v)", d, r.DNS))
		}
	}
	for _, pg := range []L2TPPing{r.PingPeer, r.PingInside} {
		if !pg.OK() {
			p = append(p, pg.String()+"\n"+pg.Output)
		}
	}
	if r.MTU >= 20+8+mtuPingSize {
		if !r.PingMTU.OK() {
			p = append(p, "MTU "+r.PingMTU.String()+"\n"+r.PingMTU.Output)
		}
	} else if r.PingMTU.Received != 0 || !strings.Contains(r.PingMTU.Output, "too long") {
		p = append(p, fmt.Sprintf("MTU %d: a 1,400-byte DF ping should fail locally: %s\n%s", r.MTU, r.PingMTU, r.PingMTU.Output))
	}
	encap := run.Env.NAT != nil
	if err := Check(r.SAs, r.Addr, run.Env.ServerAddr, encap, 6); err != nil {
		p = append(p, "kernel SAs: "+err.Error())
	}
	if sel := fmt.Sprintf("proto udp sport %d dport 1701", r.Client.l2tpPort()); !strings.Contains(r.Policy, sel) {
		p = append(p, fmt.Sprintf("the client's IPsec policies are not for %q:\n%s", sel, r.Policy))
	}
	for _, s := range r.SAs {
		if s.Proto == "esp" && s.Mode != "transport" {
			p = append(p, fmt.Sprintf("SA %v not in transport mode", s))
		}
	}
	return p
}

// WantUp fails the test unless every client is working (Problems).
func (run *L2TPRun) WantUp(t testing.TB) {
	t.Helper()
	for i, r := range run.Results {
		if p := run.Problems(r); len(p) > 0 {
			t.Errorf("client %d (%s/%s at %v): %s\n%s", i, r.Client.Persona, r.Client.IKE, r.Addr, strings.Join(p, "; "), r.Log)
			continue
		}
		t.Logf("client %d (%s/%s at %v): IKE %v %s; PPP %v %s %v peer %v mtu %d dns %v; %v; %v; %v; SAs %v",
			i, r.Client.Persona, r.Client.IKE, r.Addr, r.IKETime.Round(time.Millisecond), r.IKEProposal, r.PPPTime.Round(time.Millisecond), r.Interface, r.Local, r.Peer, r.MTU, r.DNS, r.PingPeer, r.PingInside, r.PingMTU, r.SAs)
	}
}

// WantAuthFailed fails the test unless client i's IKE came up and its
// PPP authentication was refused: no ppp address, pppd logged the
// failure.
func (run *L2TPRun) WantAuthFailed(t testing.TB, i int) {
	t.Helper()
	r := run.Results[i]
	if !r.IKEUp || r.PPPUp() || !r.AuthFailed {
		t.Errorf("client %d: IKE up %v, ppp up %v, authentication failed %v: want IKE up and PPP refused\n%s", i, r.IKEUp, r.PPPUp(), r.AuthFailed, r.Log)
		return
	}
	t.Logf("client %d (%s/%s at %v): IKE %v %s; PPP refused after %v: %s", i, r.Client.Persona, r.Client.IKE, r.Addr,
		r.IKETime.Round(time.Millisecond), r.IKEProposal, r.PPPTime.Round(time.Millisecond), r.AuthError)
}
