package strongswan

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
	"github.com/goipsec/ipsec/internal/testpki"
)

// The IKEv1 interop harness. The IKEv1 profiles (ikev1-main-psk,
// ikev1-aggr-keyid, ikev1-main-rsa, ikev1-main-psk-transport) protect
// traffic between two inner networks instead of handing out virtual IPs
// (Mode Config belongs to XAuth): the client holds V1ClientInner4 on lo,
// the server testnet.Inner4, and neither has a route to the other outside
// the tunnel, so a ping that is answered went through ESP. RunV1 builds
// the namespaces, starts the server side, then the client side (which
// brings the tunnel up), and pings; each side is a V1Start callback, so a
// test swaps strongSwan on either side for another implementation
// (V1StrongSwanServer, V1StrongSwanClient are strongSwan's).

// V1ClientInner4 is the client's inner address in the IKEv1 tunnel
// profiles (CLIENT_TS defaults to it as a /32); the server's is
// testnet.Inner4 inside SERVER_TS, 198.51.100.0/24.
var V1ClientInner4 = netip.MustParseAddr("203.0.113.2")

// V1PSK is the pre-shared key RunV1 puts into the profiles' PSK variable
// unless the case sets its own.
const V1PSK = "goipsec-v1-interop-psk-0123456789"

// V1Case is one IKEv1 interop run: a profile pair (client and server
// profiles of the same name), the topology, and variables that override
// the profiles' defaults.
type V1Case struct {
	// Profile names the client profile and the server profile it pairs
	// with (they share the name).
	Profile string
	// NAT selects a direct link or a NAT router between the namespaces.
	NAT testnet.NATMode
	// Vars override the profiles' "#@ default" values and RunV1's own
	// (SERVER, PSK, GROUP_ID, SERVER_ID, CLIENT_DN).
	Vars map[string]string
	// Key is the key type of the run's certificates (the zero value is
	// RSA 2048; testpki.ECDSAP256 for ECDSA signatures with the RSA
	// profile, whose auth = pubkey takes either).
	Key testpki.KeyType
	// KernelESP makes the strongSwan sides use kernel ESP (the test VM);
	// the zero value is kernel-libipsec (tunnel mode, always ESP in UDP).
	KernelESP bool
	// Check replaces the default traffic check (pings from
	// V1ClientInner4 to testnet.Inner4, all answered); the transport-mode
	// profiles need one, as their selectors cover udp/1701 only.
	Check func(t *testing.T, env *V1Env)
}

// V1Env is what the start callbacks of a run share.
type V1Env struct {
	// Case is the run's case.
	Case V1Case
	// Topo is the run's topology (client, server, optional NAT).
	Topo *testnet.Topology
	// Vars are the values for both profiles: RunV1's defaults with the
	// case's Vars applied.
	Vars map[string]string
	// PKI holds the CA, server and client certificates (Case.Key) the
	// RSA profile uses: the client's subject is CLIENT_DN, the server's
	// names are SERVER_ID and the server's IPv4 and IPv6 addresses.
	PKI *testpki.PKI
}

// Var returns a variable as the kind ("client" or "server") profile of
// the run sees it: the run's value, else the profile's default, else "".
// A side that is not strongSwan configures itself from it.
func (e *V1Env) Var(kind, key string) string {
	if v, ok := e.Vars[key]; ok {
		return v
	}
	d, _ := Defaults(kind, e.Case.Profile)
	return d[key]
}

// ClientFiles are the swanctl files of the client side: the CA, the
// client's certificate and key.
func (e *V1Env) ClientFiles() Files {
	return Files{"x509ca/ca.pem": e.PKI.CA.CertPEM(), "x509/client.pem": e.PKI.Client.CertPEM(), "private/client.key": e.PKI.Client.KeyPEM()}
}

// ServerFiles are the swanctl files of the server side: the CA, the
// server's certificate and key.
func (e *V1Env) ServerFiles() Files {
	return Files{"x509ca/ca.pem": e.PKI.CA.CertPEM(), "x509/server.pem": e.PKI.Server.CertPEM(), "private/server.key": e.PKI.Server.KeyPEM()}
}

// V1Peer is one running side of a run.
type V1Peer struct {
	// Name says what runs there ("strongSwan client", "goipsec
	// responder"), for messages.
	Name string
	// Charon is the daemon of a strongSwan side, nil for others.
	Charon *Charon
	// Status returns the side's SA state for failure messages (for
	// strongSwan: swanctl --list-sas). Optional.
	Status func() string
	// Kill ends the side without a Delete (a dead peer, for DPD tests).
	// Optional.
	Kill func()
}

// V1Start starts one side of a run. The server side's must return once
// the side accepts IKE; the client side's once the IKE SA and the CHILD
// SA are up, failing the test otherwise.
type V1Start func(t *testing.T, env *V1Env) *V1Peer

// V1Run is a run whose tunnel is up and carried the check's traffic.
type V1Run struct {
	// Env is the run's environment.
	Env *V1Env
	// Client and Server are the two sides.
	Client, Server *V1Peer
}

// RunV1 builds the topology of c, adds the inner addresses, proves that
// the inner networks cannot reach each other yet, starts the server side
// and then the client side, and checks traffic through the tunnel (c.Check
// or a ping from V1ClientInner4 to testnet.Inner4 with every echo
// answered). The run stays up until the test ends, so the caller can
// continue (kill a side, wait for rekeys, ping longer with Env.Ping).
func RunV1(t *testing.T, c V1Case, startServer, startClient V1Start) *V1Run {
	t.Helper()
	testnet.Require(t, "ip", "ping")
	env := &V1Env{Case: c, Vars: map[string]string{
		"SERVER":    testnet.ServerAddr4.String(),
		"PSK":       V1PSK,
		"GROUP_ID":  "ExampleGroup",
		"SERVER_ID": "vpn.example.com",
		"CLIENT_DN": "C=XX, O=goipsec test, CN=client@example.com",
	}}
	for k, v := range c.Vars {
		env.Vars[k] = v
	}
	pki, err := testpki.New(c.Key, "client@example.com", env.Vars["SERVER_ID"], testnet.ServerAddr4.String(), testnet.ServerAddr6.String())
	if err != nil {
		t.Fatal(err)
	}
	env.PKI = pki
	env.Topo = testnet.New(t, c.NAT)
	env.Topo.Client.AddAddr("lo", V1ClientInner4.String()+"/32")
	if c.Check == nil {
		// Without the tunnel the inner networks are unreachable: the
		// pings below prove the tunnel, not the topology.
		if sent, recv, out := env.Ping(1, 0); recv != 0 {
			t.Fatalf("inner networks reachable before the tunnel (%d/%d):\n%s", recv, sent, out)
		}
	}
	run := &V1Run{Env: env}
	// Registered after the side's own clean-ups, so it runs before them,
	// while the side still runs.
	logStatus := func(p *V1Peer) {
		t.Cleanup(func() {
			if t.Failed() && p.Status != nil {
				t.Logf("%s state:\n%s", p.Name, p.Status())
			}
		})
	}
	run.Server = startServer(t, env)
	logStatus(run.Server)
	run.Client = startClient(t, env)
	logStatus(run.Client)
	if c.Check != nil {
		c.Check(t, env)
		return run
	}
	sent, recv, out := env.Ping(3, 300*time.Millisecond)
	if sent == 0 || recv != sent {
		t.Fatalf("ping %v -> %v through the tunnel: %d of %d answered\n%s", V1ClientInner4, testnet.Inner4, recv, sent, out)
	}
	return run
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// Ping sends count echo requests every interval (at least 0.2 s for
// counts above one, ping's limit for users; 0 means one second) from
// V1ClientInner4 in the client namespace to testnet.Inner4, each waiting
// at most 2 s for its reply, and returns how many were sent and answered
// and ping's output. A continuous ping through rekeys is Ping(n, 200ms).
func (e *V1Env) Ping(count int, interval time.Duration) (sent, received int, out string) {
	args := []string{"-n", "-c", strconv.Itoa(count), "-W", "2", "-I", V1ClientInner4.String()}
	if interval > 0 {
		args = append(args, "-i", strconv.FormatFloat(interval.Seconds(), 'f', 3, 64))
	}
	out, _ = e.Topo.Client.Try("ping", append(args, testnet.Inner4.String())...)
	sent, received = ParsePing(out)
	return sent, received, out
}

// ParsePing reads the packets transmitted and received from ping's
// summary line; both are 0 when there is none.
func ParsePing(out string) (sent, received int) {
	m := pingStats.FindStringSubmatch(out)
	if m == nil {
		return 0, 0
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received
}

// V1StrongSwanServer starts charon with the server profile c.Profile in
// the server namespace (kernel ESP when the case says so).
func V1StrongSwanServer(t *testing.T, env *V1Env) *V1Peer {
	t.Helper()
	p, err := Render("server", env.Case.Profile, env.Vars)
	if err != nil {
		t.Fatal(err)
	}
	ch := StartWith(t, env.Topo.Server, p, "", env.ServerFiles(), Options{KernelESP: env.Case.KernelESP})
	return &V1Peer{Name: "strongSwan server", Charon: ch, Status: ch.ListSAs, Kill: ch.Kill}
}

// V1StrongSwanClient starts charon with the client profile c.Profile in
// the client namespace and initiates its CHILD SA (and so Main or
// Aggressive Mode, then Quick Mode); it fails the test unless both SAs
// are up.
func V1StrongSwanClient(t *testing.T, env *V1Env) *V1Peer {
	t.Helper()
	name := env.Case.Profile
	p, err := Render("client", name, env.Vars)
	if err != nil {
		t.Fatal(err)
	}
	ch := StartWith(t, env.Topo.Client, p, "", env.ClientFiles(), Options{KernelESP: env.Case.KernelESP})
	peer := &V1Peer{Name: "strongSwan client", Charon: ch, Status: ch.ListSAs, Kill: ch.Kill}
	if out, err := ch.Initiate(name, 20*time.Second); err != nil {
		t.Fatalf("initiate %s: %v\n%s\nclient log:\n%s", name, err, out, tail(ch.Log(), 80))
	}
	if err := V1Established(ch.ListSAs(), name); err != nil {
		t.Fatalf("%v\n%s", err, ch.ListSAs())
	}
	return peer
}

// V1Established checks in `swanctl --list-sas` output that connection
// name has an established IKEv1 SA and an installed CHILD SA.
func V1Established(listSAs, name string) error {
	st := ParseSAs(listSAs, name)
	if !st.IKEUp || !st.ChildUp {
		return fmt.Errorf("strongswan: %s: IKE SA up %v, CHILD SA installed %v", name, st.IKEUp, st.ChildUp)
	}
	for _, l := range strings.Split(listSAs, "\n") {
		if strings.HasPrefix(l, name+": ") && strings.Contains(l, "ESTABLISHED") && !strings.Contains(l, "IKEv1") {
			return fmt.Errorf("strongswan: %s: not IKEv1: %s", name, l)
		}
	}
	return nil
}
