package vmclient

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// libreswan 4.10 is the second IKEv1 implementation of the VM tests
// (strongSwan is the first): pluto with kernel ESP (XFRM), started in a
// namespace with its own /run (pluto.ctl and pluto.pid are fixed paths)
// and its own NSS database, configured through an ipsec.conf that
// LibreswanConf renders. stage-clients unpacks it from Debian's .deb
// (installing it would remove strongSwan).

// LibreswanDir is where the staged pluto, whack and addconn are.
const LibreswanDir = "/usr/libexec/ipsec"

// LibreswanConn is one libreswan IKEv1 connection, "left" being the
// local side.
type LibreswanConn struct {
	// Name is the connection's name.
	Name string
	// Left and Right are the local and the peer's addresses.
	Left, Right netip.Addr
	// LeftSubnet and RightSubnet are the tunnel's networks; invalid
	// prefixes mean the hosts themselves.
	LeftSubnet, RightSubnet netip.Prefix
	// LeftProtoPort and RightProtoPort restrict the selectors, e.g.
	// "17/1701"; empty means all traffic.
	LeftProtoPort, RightProtoPort string
	// Transport selects transport mode instead of tunnel mode.
	Transport bool
	// IKE and ESP are libreswan's ike= and phase2alg= lists, e.g.
	// "aes256-sha2_256;modp2048" and "aes256-sha2_256".
	IKE, ESP string
	// PSK is the pre-shared key (Main Mode, wildcard: the peer's address).
	PSK string
	// Aggressive selects Aggressive Mode.
	Aggressive bool
	// LeftID and RightID are the identities ("" for the addresses), e.g.
	// "@vpn.example.com" for an FQDN.
	LeftID, RightID string
	// DPDDelay and DPDTimeout enable dead peer detection (0: off).
	DPDDelay, DPDTimeout time.Duration
	// RightPrivate, when valid, holds the private address of a peer
	// behind a NAT in transport mode (libreswan's L2TP server set-up): it
	// becomes virtual-private, and the peer's side rightsubnet=vhost:%priv,
	// so pluto accepts the private address the peer names in Quick Mode.
	RightPrivate netip.Prefix
}

// LibreswanConf renders ipsec.conf for conns with the NSS database in
// nssDir: IKEv1 accepted (libreswan 4 drops it unless told), no updown
// script (the test sets routes itself), every connection added, none
// started.
func LibreswanConf(nssDir string, conns ...LibreswanConn) string {
	var b strings.Builder
	fmt.Fprintf(&b, "config setup\n\tikev1-policy=accept\n\tnssdir=%s\n\tuniqueids=yes\n\tplutodebug=none\n", nssDir)
	var private []string
	for _, c := range conns {
		if c.RightPrivate.IsValid() {
			v := "%v4:"
			if c.RightPrivate.Addr().Is6() {
				v = "%v6:"
			}
			private = append(private, v+c.RightPrivate.Masked().String())
		}
	}
	if len(private) > 0 {
		fmt.Fprintf(&b, "\tvirtual-private=%s\n", strings.Join(private, ","))
	}
	b.WriteString("\n")
	for _, c := range conns {
		fmt.Fprintf(&b, "conn %s\n\tikev2=no\n\tauthby=secret\n\tauto=add\n\tpfs=no\n", c.Name)
		typ := "tunnel"
		if c.Transport {
			typ = "transport"
		}
		fmt.Fprintf(&b, "\ttype=%s\n\tleft=%s\n\tright=%s\n\tleftupdown=\"\"\n\trightupdown=\"\"\n", typ, c.Left, c.Right)
		if c.LeftSubnet.IsValid() {
			fmt.Fprintf(&b, "\tleftsubnet=%s\n", c.LeftSubnet)
		}
		if c.RightSubnet.IsValid() {
			fmt.Fprintf(&b, "\trightsubnet=%s\n", c.RightSubnet)
		} else if c.RightPrivate.IsValid() {
			b.WriteString("\trightsubnet=vhost:%priv\n")
		}
		if c.LeftProtoPort != "" {
			fmt.Fprintf(&b, "\tleftprotoport=%s\n", c.LeftProtoPort)
		}
		if c.RightProtoPort != "" {
			fmt.Fprintf(&b, "\trightprotoport=%s\n", c.RightProtoPort)
		}
		if c.LeftID != "" {
			fmt.Fprintf(&b, "\tleftid=%s\n", c.LeftID)
		}
		if c.RightID != "" {
			fmt.Fprintf(&b, "\trightid=%s\n", c.RightID)
		}
		if c.Aggressive {
			b.WriteString("\taggressive=yes\n")
		}
		if c.IKE != "" {
			fmt.Fprintf(&b, "\tike=%s\n", c.IKE)
		}
		if c.ESP != "" {
			fmt.Fprintf(&b, "\tphase2alg=%s\n", c.ESP)
		}
		if c.DPDDelay > 0 {
			fmt.Fprintf(&b, "\tdpddelay=%d\n\tdpdtimeout=%d\n\tdpdaction=clear\n", int(c.DPDDelay.Seconds()), int(c.DPDTimeout.Seconds()))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// LibreswanSecrets renders ipsec.secrets: each connection's PSK for its
// two addresses, or its identities where it has them.
func LibreswanSecrets(conns ...LibreswanConn) string {
	var b strings.Builder
	for _, c := range conns {
		l, r := c.Left.String(), c.Right.String()
		if c.LeftID != "" {
			l = c.LeftID
		}
		if c.RightID != "" {
			r = c.RightID
		}
		fmt.Fprintf(&b, "%s %s : PSK %q\n", l, r, c.PSK)
	}
	return b.String()
}

// Pluto is a running libreswan daemon in a namespace.
type Pluto struct {
	// Dir holds its configuration, NSS database, run directory and log.
	Dir  string
	ns   *testnet.NS
	proc *testnet.Process
}

// StartPluto initializes an NSS database, writes ipsec.conf and
// ipsec.secrets for conns, starts pluto in ns with its own /run and adds
// the connections. pluto is stopped, by its PID, when the test ends; when
// the test failed its log is logged.
func StartPluto(t testing.TB, ns *testnet.NS, conns ...LibreswanConn) *Pluto {
	t.Helper()
	dir := t.TempDir()
	p := &Pluto{Dir: dir, ns: ns}
	nss := filepath.Join(dir, "nss")
	if err := os.MkdirAll(nss, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("certutil", "-N", "-d", "sql:"+nss, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	conf, secrets := filepath.Join(dir, "ipsec.conf"), filepath.Join(dir, "ipsec.secrets")
	if err := os.WriteFile(conf, []byte(LibreswanConf(nss, conns...)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secrets, []byte(LibreswanSecrets(conns...)), 0o600); err != nil {
		t.Fatal(err)
	}
	// pluto's dump directory; pluto.ctl is created there too
	if err := os.MkdirAll(filepath.Join(dir, "run", "pluto"), 0o700); err != nil {
		t.Fatal(err)
	}
	p.proc = StartDaemon(t, ns, filepath.Join(dir, "run"), nil, filepath.Join(LibreswanDir, "pluto"),
		"--config", conf, "--secretsfile", secrets, "--nssdir", nss, "--nofork", "--stderrlog", "--log-no-time")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pluto (%s) status:\n%s\nlog:\n%s", ns.Name, p.Status(), p.Log())
		}
	})
	// pluto.ctl appears when pluto listens for whack.
	ctl := filepath.Join(dir, "run", "pluto", "pluto.ctl")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(ctl); err == nil {
			break
		}
		select {
		case err := <-p.proc.Done:
			t.Fatalf("pluto exited at start: %v\n%s", err, p.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pluto did not open %s in 15 s:\n%s", ctl, p.Log())
		}
	}
	// pluto.ctl exists before pluto has found its interfaces: an
	// initiate then fails with "need --listen before --initiate".
	// whack --listen returns once they are found.
	if out, err := p.Whack(10*time.Second, "--listen"); err != nil {
		t.Fatalf("whack --listen: %v\n%s\n%s", err, out, p.Log())
	}
	for _, c := range conns {
		out, err := p.run(10*time.Second, "addconn", "--config", conf, "--ctlsocket", ctl, c.Name)
		if err != nil {
			t.Fatalf("addconn %s: %v\n%s\n%s", c.Name, err, out, p.Log())
		}
	}
	return p
}

// run runs one of libreswan's tools inside the namespace.
func (p *Pluto) run(timeout time.Duration, tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := p.ns.Command(ctx, filepath.Join(LibreswanDir, tool), args...).CombinedOutput()
	return string(out), err
}

// Whack runs whack against this pluto.
func (p *Pluto) Whack(timeout time.Duration, args ...string) (string, error) {
	return p.run(timeout, "whack", append([]string{"--ctlsocket", filepath.Join(p.Dir, "run", "pluto", "pluto.ctl")}, args...)...)
}

// Up initiates connection name (Main or Aggressive Mode, then Quick
// Mode) and waits for the result.
func (p *Pluto) Up(name string, timeout time.Duration) (string, error) {
	return p.Whack(timeout, "--name", name, "--initiate")
}

// Status returns `whack --trafficstatus` and the states of `whack
// --status`.
func (p *Pluto) Status() string {
	ts, _ := p.Whack(5*time.Second, "--trafficstatus")
	st, _ := p.Whack(5*time.Second, "--status")
	var states []string
	for _, l := range strings.Split(st, "\n") {
		if strings.Contains(l, "STATE_") {
			states = append(states, l)
		}
	}
	return ts + strings.Join(states, "\n")
}

// Established reports whether pluto has an established ISAKMP SA
// (STATE_MAIN_I4/R3, STATE_AGGR_I2/R3) and an established IPsec SA
// (STATE_QUICK_I2/R2) for connection name.
func (p *Pluto) Established(name string) bool {
	st, _ := p.Whack(5*time.Second, "--status")
	var isakmp, ipsec bool
	for _, l := range strings.Split(st, "\n") {
		if !strings.Contains(l, `"`+name+`"`) {
			continue
		}
		for _, s := range []string{"STATE_MAIN_I4", "STATE_MAIN_R3", "STATE_AGGR_I2", "STATE_AGGR_R3"} {
			isakmp = isakmp || strings.Contains(l, s)
		}
		ipsec = ipsec || strings.Contains(l, "STATE_QUICK_I2") || strings.Contains(l, "STATE_QUICK_R2")
	}
	return isakmp && ipsec
}

// Log returns pluto's output so far.
func (p *Pluto) Log() string {
	if p.proc == nil {
		return ""
	}
	return p.proc.Stderr.String() + p.proc.Stdout.String()
}

// Kill ends pluto with SIGKILL: the peer gets no Delete.
func (p *Pluto) Kill() {
	if p.proc != nil && p.proc.Cmd.Process != nil {
		_ = p.proc.Cmd.Process.Kill()
	}
}

// libreswanConn derives a libreswan connection from an IKEv1 run's
// variables (strongswan.V1Env.Vars): the tunnel profiles' CLIENT_TS and
// SERVER_TS as subnets, the transport profile's dynamic[udp/1701] as
// 17/1701; LIBRESWAN_IKE and LIBRESWAN_ESP (default: Apple's first
// choices, aes256-sha2_256 with MODP-2048) as the proposals. client says
// which side libreswan plays.
func libreswanConn(t testing.TB, env *strongswan.V1Env, client bool) LibreswanConn {
	t.Helper()
	v := func(key string) string { return env.Var("server", key) }
	c := LibreswanConn{
		Name:      env.Case.Profile,
		Transport: strings.HasSuffix(env.Case.Profile, "-transport"),
		IKE:       "aes256-sha2_256;modp2048",
		ESP:       "aes256-sha2_256",
		PSK:       v("PSK"),
	}
	if s := v("LIBRESWAN_IKE"); s != "" {
		c.IKE = s
	}
	if s := v("LIBRESWAN_ESP"); s != "" {
		c.ESP = s
	}
	// Behind a NAT the server sees the NAT's outside address.
	clientAddr, serverAddr := env.Topo.ClientAddr4, testnet.ServerAddr4
	if !client && env.Topo.NAT != nil {
		clientAddr = testnet.ClientAddr4
	}
	sel := func(ts string) (netip.Prefix, string) {
		switch {
		case ts == "" || ts == "dynamic":
			return netip.Prefix{}, ""
		case strings.HasPrefix(ts, "dynamic[udp/") && strings.HasSuffix(ts, "]"):
			return netip.Prefix{}, "17/" + strings.TrimSuffix(strings.TrimPrefix(ts, "dynamic[udp/"), "]")
		}
		p, err := netip.ParsePrefix(ts)
		if err != nil {
			t.Fatalf("libreswan: selector %q: %v", ts, err)
		}
		return p, ""
	}
	cNet, cPort := sel(v("CLIENT_TS"))
	sNet, sPort := sel(v("SERVER_TS"))
	if client {
		c.Left, c.Right = clientAddr, serverAddr
		c.LeftSubnet, c.RightSubnet, c.LeftProtoPort, c.RightProtoPort = cNet, sNet, cPort, sPort
	} else {
		c.Left, c.Right = serverAddr, clientAddr
		c.LeftSubnet, c.RightSubnet, c.LeftProtoPort, c.RightProtoPort = sNet, cNet, sPort, cPort
		if env.Topo.NAT != nil {
			// The client's ID is its own, private address; pluto
			// expects the address it sees unless told.
			c.RightID = env.Topo.ClientAddr4.String()
			if c.Transport {
				// ... and in transport mode it names that address
				// in Quick Mode too.
				c.RightPrivate = netip.PrefixFrom(env.Topo.ClientAddr4, 32)
			}
		}
	}
	return c
}

// gateway returns the next hop from ns towards dst: the router `ip
// route get` names, or dst itself when it is on the link.
func gateway(ns *testnet.NS, dst netip.Addr) string {
	f := strings.Fields(ns.Run("ip", "route", "get", dst.String()))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			return f[i+1]
		}
	}
	return dst.String()
}

// V1LibreswanServer starts pluto as the server side of an IKEv1 run
// (Main Mode PSK; tunnel or transport mode as the profile says), with a
// route to the client's inner network (libreswan's updown script, which
// would add it, is not staged).
func V1LibreswanServer(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	c := libreswanConn(t, env, false)
	if c.RightSubnet.IsValid() {
		env.Topo.Server.Run("ip", "route", "add", c.RightSubnet.String(), "via", gateway(env.Topo.Server, c.Right), "src", testnet.Inner4.String())
	}
	p := StartPluto(t, env.Topo.Server, c)
	return &strongswan.V1Peer{Name: "libreswan server", Status: p.Status, Kill: p.Kill}
}

// V1LibreswanClient starts pluto as the client side of an IKEv1 run and
// brings the connection up, failing the test unless the ISAKMP SA and
// the IPsec SA are established.
func V1LibreswanClient(t *testing.T, env *strongswan.V1Env) *strongswan.V1Peer {
	t.Helper()
	c := libreswanConn(t, env, true)
	if c.RightSubnet.IsValid() {
		env.Topo.Client.Run("ip", "route", "add", c.RightSubnet.String(), "via", gateway(env.Topo.Client, c.Right), "src", strongswan.V1ClientInner4.String())
	}
	p := StartPluto(t, env.Topo.Client, c)
	if out, err := p.Up(c.Name, 30*time.Second); err != nil || !p.Established(c.Name) {
		t.Fatalf("libreswan: %s not established: %v\n%s", c.Name, err, out)
	}
	return &strongswan.V1Peer{Name: "libreswan client", Status: p.Status, Kill: p.Kill}
}
